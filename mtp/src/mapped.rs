//! File data handed to the kernel without a copy in user space.
//!
//! FunctionFS copies the data of every IN request from user memory when the request is
//! submitted (`ffs_epfile_io`: `copy_from_iter` in `io_submit`). A file read with `read`
//! first is therefore copied twice: page cache to our buffer, buffer to the request. A
//! file mapped with `mmap` and handed over as the request's buffer is copied once, from
//! the page cache, which is what the raw bulk source costs (docs/BENCHMARKS.md).
//!
//! # The rule: these bytes are never read in user space
//!
//! A mapped file can shrink under the mapping: anyone who may write the file can truncate
//! it while a host reads it. Touching a page past the new end from user space raises
//! SIGBUS, which would kill the daemon. The kernel's own copy of the same page fails
//! instead: a fault in `copy_from_user` is fixed up and the request fails with EFAULT (the
//! transport reports [`crate::transport::TransportError::Unreadable`], the driver ends the
//! data phase with IncompleteTransfer and the daemon carries on). So the [`Bytes`] this
//! module returns may only be handed to the kernel: to an endpoint, or to `write(2)`.
//! They only ever travel through [`crate::provider::ObjectSource::map_next`], whose caller
//! sends them as one whole request and never copies, compares or prints them
//! (`Bytes`' `Debug` would print the content). Only the in-memory loopback transport of
//! the tests reads them, and no test cuts a file under a transfer. The tests below check
//! the kernel side: after a truncation, `write(2)` of the mapped bytes fails with EFAULT
//! and the test process lives.
#![allow(
    unsafe_code,
    reason = "mmap/munmap of a file the caller opened, for the kernel to copy from"
)]

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::num::NonZeroU64;
use std::ptr::NonNull;

use bytes::Bytes;
use rustix::fs::Advice as FileAdvice;
use rustix::mm::{Advice, MapFlags, ProtFlags};

/// How much of a file one mapping covers: 2 MiB. Each window is populated when it is
/// mapped (one system call instead of a page fault per page inside the kernel's copy),
/// and the next one is read ahead meanwhile. At most two windows (the one being handed
/// out and the one the queued requests still hold) count in the daemon's RSS, and a
/// 32-bit board never needs much address space.
pub const WINDOW: usize = 2 << 20;

/// Hands out mapped ranges of one file, one window at a time.
#[derive(Default)]
pub struct FileMap {
    /// The current window: its first byte's offset in the file and its bytes.
    window: Option<(u64, Bytes)>,
}

impl std::fmt::Debug for FileMap {
    /// Never the content (see the module's rule).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let w = self.window.as_ref().map(|(at, b)| (*at, b.len()));
        f.debug_struct("FileMap").field("window", &w).finish()
    }
}

impl FileMap {
    /// Returns bytes `offset..offset + len` of `file`, mapped. The range must lie below
    /// `file_len`, and no window reaches past it: the file's length as the caller just
    /// checked it (`fstat`), or for a file that only grows, the length it will have (the
    /// caller then asks only for bytes already written).
    ///
    /// # Errors
    /// `mmap` failed, or the range is empty or not below `file_len`.
    pub fn get(
        &mut self,
        file: &File,
        offset: u64,
        len: usize,
        file_len: u64,
    ) -> io::Result<Bytes> {
        let end = offset
            .checked_add(len as u64)
            .filter(|end| len > 0 && *end <= file_len)
            .ok_or_else(|| io::Error::other("range to map not inside the file"))?;
        let covered = self
            .window
            .as_ref()
            .is_some_and(|(start, whole)| offset >= *start && end <= start + whole.len() as u64);
        if !covered {
            self.window = None;
            let page = rustix::param::page_size() as u64;
            let start = offset - offset % page;
            let want = (end - start).max(WINDOW as u64).min(file_len - start);
            let map_len = usize::try_from(want).map_err(io::Error::other)?;
            let whole = Bytes::from_owner(Mapping::new(file, start, map_len)?);
            // The next window comes from the disk while this one is sent (a hint: the
            // read it starts does not block, and failing it only loses the overlap).
            let next = start + want;
            if next < file_len {
                let _ = rustix::fs::fadvise(
                    file,
                    next,
                    NonZeroU64::new(WINDOW as u64),
                    FileAdvice::WillNeed,
                );
            }
            self.window = Some((start, whole));
        }
        let Some((start, whole)) = &self.window else {
            return Err(io::Error::other("no window"));
        };
        let at = usize::try_from(offset - start).map_err(io::Error::other)?;
        Ok(whole.slice(at..at + len))
    }
}

/// One read-only shared mapping, unmapped when the last [`Bytes`] of it is dropped (after
/// the kernel has copied from it).
struct Mapping {
    ptr: NonNull<c_void>,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone; the pointer is only
// turned into a slice for `Bytes`, which hands it to the kernel (module rule).
unsafe impl Send for Mapping {}
// SAFETY: as above; nothing mutates through the pointer.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(file: &File, offset: u64, len: usize) -> io::Result<Self> {
        // SAFETY: a fresh mapping chosen by the kernel (null hint), of a file descriptor
        // that is valid for the call; it aliases nothing in this process.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED | MapFlags::POPULATE,
                file,
                offset,
            )
        }?;
        let ptr = NonNull::new(ptr).ok_or_else(|| io::Error::other("mmap returned null"))?;
        // Drop pages behind the transfer sooner.
        // SAFETY: advice on our own mapping; it changes no content.
        let _ = unsafe { rustix::mm::madvise(ptr.as_ptr(), len, Advice::Sequential) };
        Ok(Self { ptr, len })
    }
}

impl AsRef<[u8]> for Mapping {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `len` bytes are mapped readable at `ptr` for as long as `self` lives.
        // The slice is never read in user space (module rule): a page past a truncated
        // end would raise SIGBUS here, while the kernel's copy fails with EFAULT.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().cast::<u8>(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no slice of it outlives the
        // `Bytes` that owned this value.
        if let Err(e) = unsafe { rustix::mm::munmap(self.ptr.as_ptr(), self.len) } {
            tracing::warn!(error = %e, "munmap failed");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods, reason = "tests make their own files")]
    use std::io::{Read, Write};

    use super::*;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        (f, data)
    }

    /// Copies `b` through the kernel (a pipe would fill; a temporary file does not).
    fn through_kernel(b: &Bytes) -> io::Result<Vec<u8>> {
        let mut out = tempfile::tempfile()?;
        out.write_all(b)?;
        let mut back = Vec::new();
        std::io::Seek::rewind(&mut out)?;
        out.read_to_end(&mut back)?;
        Ok(back)
    }

    #[test]
    fn ranges_come_back_whole_across_windows_at_odd_offsets() {
        let len = WINDOW * 2 + 70_001;
        let (f, data) = file_of(len);
        let file = f.reopen().unwrap();
        let mut map = FileMap::default();
        // The responder's pattern: a first piece short by a container header, then
        // whole requests, so every later offset is off the page grid.
        let mut at = 0usize;
        let mut piece = 131_072 - 12;
        while at < len {
            let n = piece.min(len - at);
            let b = map.get(&file, at as u64, n, len as u64).unwrap();
            assert_eq!(through_kernel(&b).unwrap(), data[at..at + n], "at {at}");
            at += n;
            piece = 131_072;
        }
    }

    #[test]
    fn nothing_past_the_checked_length_is_mapped() {
        let (f, _) = file_of(10_000);
        let file = f.reopen().unwrap();
        let mut map = FileMap::default();
        assert!(map.get(&file, 9_000, 2_000, 10_000).is_err());
        assert!(map.get(&file, 0, 0, 10_000).is_err());
        assert!(map.get(&file, u64::MAX, 1, 10_000).is_err());
        let b = map.get(&file, 9_000, 1_000, 10_000).unwrap();
        assert_eq!(b.len(), 1_000);
    }

    #[test]
    fn a_truncated_file_fails_the_kernel_copy_and_the_process_lives() {
        let len = 1 << 20;
        let (f, data) = file_of(len);
        let file = f.reopen().unwrap();
        let mut map = FileMap::default();
        let head = map.get(&file, 0, 4096, len as u64).unwrap();
        let tail = map
            .get(&file, (len / 2) as u64, len / 2, len as u64)
            .unwrap();
        // Another process (here: another handle) cuts the file under the mapping.
        f.as_file().set_len(4096).unwrap();
        let err = through_kernel(&tail).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EFAULT), "{err}");
        // Asked again with the length checked before the cut (the race between the
        // caller's check and the kernel's copy), the slice fails the same way.
        let again = map.get(&file, (len / 2) as u64, 4096, len as u64).unwrap();
        let err = through_kernel(&again).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EFAULT), "{err}");
        // What is still inside the file reads as before.
        assert_eq!(through_kernel(&head).unwrap(), data[..4096]);
    }
}
