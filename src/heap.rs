//! The process's allocator policy, for a host (the `celprint` binary, a benchmark) to
//! set once at start. The library never sets it itself: it is the whole process's.
//!
//! Why: hashing a still allocates a few buffers of megabytes each (the decoded picture,
//! PDQ's float planes), frees them, and allocates them again for the next file. glibc
//! serves blocks that size with `mmap` and gives them back with `munmap` (or trims the
//! heap top), so every file paid for fresh zeroed pages from the kernel: in
//! `celprint hash --exact` over 1080p JPEGs that was a third of the time, in system CPU.
//! Keeping freed blocks for reuse removes it for about 3 MB of peak memory (README,
//! "Speed").

/// Blocks up to this size come from the heap, where freed ones are reused; larger ones
/// (a 4K frame's float plane) are still mapped and unmapped one by one. glibc's ceiling.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 32 << 20;

/// Free memory at the heap's top is returned to the system only past this much.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: i32 = 256 << 20;

/// Makes freed large blocks available for reuse instead of returning them to the
/// system at once. A no-op where the C library is not glibc.
pub fn reuse_freed_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; glibc takes its own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
