//! Arrays that are either owned or lie in a read-only memory map of a file, so that an
//! index saved as a flat file opens without reading it: the kernel pages in what
//! queries touch, and the rest costs no memory.

use std::fs::File;
use std::ops::Deref;
use std::sync::Arc;

/// A whole file mapped read-only; unmapped when the last [`Slab`] over it goes.
#[derive(Debug)]
pub struct Map {
    ptr: *const u8,
    len: usize,
}

// The mapping is read-only and lives until drop: sharing it is sharing a `&[u8]`.
unsafe impl Send for Map {}
unsafe impl Sync for Map {}

impl Map {
    /// Maps all of `file`. Probes touch the tables at random, so the kernel is told not
    /// to read ahead: a cold query would otherwise read 128 KiB for every 4-byte load.
    pub fn new(file: &File) -> std::io::Result<Map> {
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::other("file too large to map"))?;
        if len == 0 {
            return Err(std::io::Error::other("empty file"));
        }
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh read-only shared mapping of a file we hold open; the pointer
        // is checked against MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the range is the mapping just made. Advice only; a failure is harmless.
        unsafe { libc::madvise(ptr, len, libc::MADV_RANDOM) };
        Ok(Map {
            ptr: ptr as *const u8,
            len,
        })
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr as *mut libc::c_void, self.len) };
    }
}

/// Types that may be read straight from a file's bytes: every bit pattern is a value,
/// and there is no padding. The files are little-endian; [`Slab::mapped`] refuses to map
/// on a big-endian machine.
///
/// # Safety
/// Implement only for such types.
pub unsafe trait Plain: Copy + 'static {}
unsafe impl Plain for u8 {}
unsafe impl Plain for u32 {}
unsafe impl Plain for u64 {}
unsafe impl Plain for [u64; 4] {}

/// An array owned in memory, or `len` values at a byte offset of a [`Map`].
#[derive(Debug)]
pub enum Slab<T: Plain> {
    Owned(Vec<T>),
    Mapped {
        map: Arc<Map>,
        start: usize,
        len: usize,
    },
}

impl<T: Plain> Default for Slab<T> {
    fn default() -> Self {
        Slab::Owned(Vec::new())
    }
}

impl<T: Plain> Clone for Slab<T> {
    fn clone(&self) -> Self {
        match self {
            Slab::Owned(v) => Slab::Owned(v.clone()),
            Slab::Mapped { map, start, len } => Slab::Mapped {
                map: Arc::clone(map),
                start: *start,
                len: *len,
            },
        }
    }
}

impl<T: Plain> From<Vec<T>> for Slab<T> {
    fn from(v: Vec<T>) -> Self {
        Slab::Owned(v)
    }
}

impl<T: Plain> Slab<T> {
    /// `len` values from byte `start` of `map`; `None` when they do not lie inside it or
    /// are misaligned, or when this machine is big-endian.
    pub fn mapped(map: &Arc<Map>, start: usize, len: usize) -> Option<Slab<T>> {
        let bytes = len.checked_mul(std::mem::size_of::<T>())?;
        let end = start.checked_add(bytes)?;
        let aligned = (map.ptr as usize + start) % std::mem::align_of::<T>() == 0;
        (cfg!(target_endian = "little") && end <= map.len && aligned).then(|| Slab::Mapped {
            map: Arc::clone(map),
            start,
            len,
        })
    }

    /// The values as an owned vector to change, copied out of the map first if mapped.
    pub fn to_mut(&mut self) -> &mut Vec<T> {
        if let Slab::Mapped { .. } = self {
            *self = Slab::Owned(self.to_vec());
        }
        match self {
            Slab::Owned(v) => v,
            Slab::Mapped { .. } => unreachable!("just copied out"),
        }
    }

    /// Bytes of heap this holds; a mapped array holds none (its pages are the page
    /// cache's, counted in RSS only while touched).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Slab::Owned(v) => v.capacity() * std::mem::size_of::<T>(),
            Slab::Mapped { .. } => 0,
        }
    }

    /// Bytes mapped from a file.
    pub fn mapped_bytes(&self) -> usize {
        match self {
            Slab::Owned(_) => 0,
            Slab::Mapped { len, .. } => len * std::mem::size_of::<T>(),
        }
    }
}

impl<T: Plain> Deref for Slab<T> {
    type Target = [T];

    #[inline(always)]
    fn deref(&self) -> &[T] {
        match self {
            Slab::Owned(v) => v,
            // SAFETY: `mapped` checked bounds and alignment, `T` is `Plain`, and the map
            // outlives `self` through the `Arc`.
            Slab::Mapped { map, start, len } => unsafe {
                std::slice::from_raw_parts(map.ptr.add(*start) as *const T, *len)
            },
        }
    }
}

/// The values' bytes as the files hold them (little-endian).
pub fn bytes_of<T: Plain>(values: &[T]) -> &[u8] {
    // SAFETY: `T` is `Plain`: no padding, so every byte is initialised.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_mapped_slab_reads_what_was_written_and_copies_out_to_change() {
        let mut file = tempfile::tempfile().unwrap();
        let values: Vec<u32> = (0..1000).map(|i| i * 7).collect();
        file.write_all(&[0u8; 8]).unwrap();
        file.write_all(bytes_of(&values)).unwrap();
        let map = Arc::new(Map::new(&file).unwrap());
        let mut slab = Slab::<u32>::mapped(&map, 8, 1000).unwrap();
        assert_eq!(&*slab, values.as_slice());
        assert_eq!((slab.heap_bytes(), slab.mapped_bytes()), (0, 4000));
        assert!(Slab::<u32>::mapped(&map, 8, 1001).is_none(), "past the end");
        assert!(Slab::<u32>::mapped(&map, 6, 10).is_none(), "misaligned");
        slab.to_mut().push(1);
        assert_eq!(slab.len(), 1001);
        assert_eq!(slab.mapped_bytes(), 0);
    }
}
