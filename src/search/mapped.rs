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
    /// Maps all of `file` at an address aligned to a huge page, and asks for huge pages.
    ///
    /// Probes touch the tables and hashes at random, one cache line here and there over
    /// gigabytes: with 4 KiB pages nearly every load also misses the TLB and waits for a
    /// page walk, which at 100M entries cost more than the loads themselves. With the
    /// advice the kernel reads the file in 2 MiB folios and maps them whole, where the
    /// filesystem supports it (ext4 and XFS since Linux 6.16); elsewhere it is ignored
    /// and the mapping works as before. A cold query reads 2 MiB where it needs 4 bytes,
    /// so the first queries after an open read much of the file; a bank that is queried
    /// at all is queried thousands of times (a scan, a service), so that is paid once.
    pub fn new(file: &File) -> std::io::Result<Map> {
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::other("file too large to map"))?;
        if len == 0 {
            return Err(std::io::Error::other("empty file"));
        }
        use std::os::fd::AsRawFd;
        let ptr = map_aligned(file.as_raw_fd(), len)?;
        // SAFETY: the range is the mapping just made. Advice only; a failure is harmless.
        unsafe { libc::madvise(ptr, len, libc::MADV_HUGEPAGE) };
        Ok(Map {
            ptr: ptr as *const u8,
            len,
        })
    }
}

const HUGE_PAGE: usize = 2 << 20;

/// A read-only shared mapping of `len` bytes of `fd` from offset 0, at an address that
/// is a multiple of [`HUGE_PAGE`] (so file offsets and addresses agree modulo 2 MiB, as
/// a huge page mapping needs): an address range a huge page longer is reserved, the
/// file is mapped over its aligned part, and the rest is given back.
fn map_aligned(fd: libc::c_int, len: usize) -> std::io::Result<*mut libc::c_void> {
    let span = len + HUGE_PAGE;
    // SAFETY: a fresh private reservation, no access; checked against MAP_FAILED.
    let reserved = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            span,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if reserved == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let base = reserved as usize;
    let aligned = base.next_multiple_of(HUGE_PAGE);
    // SAFETY: MAP_FIXED over part of the reservation made above, which this function
    // alone owns; checked against MAP_FAILED.
    let ptr = unsafe {
        libc::mmap(
            aligned as *mut libc::c_void,
            len,
            libc::PROT_READ,
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd,
            0,
        )
    };
    if ptr == libc::MAP_FAILED {
        let err = std::io::Error::last_os_error();
        // SAFETY: the whole reservation, unmapped once.
        unsafe { libc::munmap(reserved, span) };
        return Err(err);
    }
    // The mapping covers whole pages; what lies past them is the reservation's.
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let tail = aligned + len.next_multiple_of(page);
    // SAFETY: the parts of the reservation before and after the file's mapping; lengths
    // of zero are skipped.
    unsafe {
        if aligned > base {
            libc::munmap(reserved, aligned - base);
        }
        if base + span > tail {
            libc::munmap(tail as *mut libc::c_void, base + span - tail);
        }
    }
    Ok(ptr)
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

    #[test]
    fn a_file_is_mapped_whole_at_a_huge_page_boundary_without_the_reservation_left() {
        // An odd length, so the mapping's last page is partly past the file.
        let len = 3 * HUGE_PAGE + 12_345;
        let mut file = tempfile::tempfile().unwrap();
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        file.write_all(&bytes).unwrap();
        for _ in 0..3 {
            let map = Map::new(&file).unwrap();
            assert_eq!(map.ptr as usize % HUGE_PAGE, 0);
            // SAFETY: the mapping is `len` readable bytes, alive while `map` is.
            let seen = unsafe { std::slice::from_raw_parts(map.ptr, map.len) };
            assert_eq!(seen, bytes.as_slice());
            // What is left of the reservation would be an inaccessible anonymous
            // mapping that ends where the file's mapping starts or starts where its
            // last page ends. (Only touching ones: other tests' threads may put their
            // stacks, whose guard pages look the same, in the gaps given back.)
            let start = map.ptr as usize;
            let end = start + len.next_multiple_of(4096);
            let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
            for line in maps.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                let (a, b) = f[0].split_once('-').unwrap();
                let a = usize::from_str_radix(a, 16).unwrap();
                let b = usize::from_str_radix(b, 16).unwrap();
                let reserved = f[1] == "---p" && f[4] == "0";
                assert!(
                    !(reserved && (b == start || a == end)),
                    "{line} is left beside {start:x}-{end:x}"
                );
            }
        }
    }
}
