//! Writing one unit file: encoding, hashing and counting as it goes, without copying the
//! data it is handed as [`Bytes`].
//!
//! Data moves as segments: the encoder turns pushed [`Bytes`] into block headers and
//! slices of those same buffers (uncompressed) or packed blocks (LZ4); the writer sends
//! them to the file with one vectored write per batch and then to the hashing thread.
//! A passive file read once into a buffer is therefore never copied in user space again.
#![allow(
    clippy::disallowed_methods,
    reason = "unit files are created by the engine in its own root-only spool"
)]

use std::fs::File;
use std::io::{IoSlice, Write};
use std::path::PathBuf;

use bytes::Bytes;

use super::buffer_pool::BufferPool;
use super::hash_pipe::HashPipe;
use super::seal_pipe::SealPipe;
use super::{SizedWrite, SpoolError, io_err};
use crate::manifest::UnitRecord;
use crate::progress::{Progress, ProgressEvent};
use crate::stream::UnitEncoder;
use crate::unit::UnitId;

/// Encoded bytes gathered before they are written (one vectored write, one hash batch).
const BATCH: usize = 1024 * 1024;
/// The size of the read buffers the writer lends ([`SizedWrite::buffer`]).
const READ_BUFFER: usize = 64 * 1024;

/// Writes one unit: encodes, hashes and counts as it goes.
#[derive(Debug)]
pub struct UnitWriter {
    id: UnitId,
    compress: bool,
    file: Option<File>,
    tmp: PathBuf,
    path: PathBuf,
    encoder: Option<UnitEncoder>,
    started: bool,
    segments: Vec<Bytes>,
    /// Bytes in `segments`.
    pending: usize,
    hasher: HashPipe,
    buffers: BufferPool,
    size: u64,
    raw: u64,
    declared: Option<u64>,
    observer: Option<Progress>,
    open: bool,
    /// Bytes written since the last [`ProgressEvent::Written`].
    unreported: u64,
    /// Encrypts what is written (an encrypted set), on a thread of its own.
    seal: Option<SealPipe>,
}

/// How many written bytes make a [`ProgressEvent::Written`] report.
const REPORT_EVERY: u64 = 1 << 20;

impl UnitWriter {
    /// A writer for unit `id` into `file` (created at `tmp`, renamed to `path` when done).
    pub(super) fn new(
        id: UnitId,
        compress: bool,
        file: File,
        tmp: PathBuf,
        path: PathBuf,
        observer: Option<Progress>,
    ) -> Self {
        Self {
            id,
            compress,
            file: Some(file),
            tmp,
            path,
            encoder: None,
            started: false,
            segments: Vec::new(),
            pending: 0,
            hasher: HashPipe::new(),
            buffers: BufferPool::new(READ_BUFFER),
            size: 0,
            raw: 0,
            declared: None,
            observer,
            open: false,
            unreported: 0,
            seal: None,
        }
    }

    /// Encrypts the unit to `recipients` (age) as it is written, on a thread of its own.
    /// Call before writing.
    ///
    /// # Errors
    /// The age header cannot be written.
    pub(super) fn encrypt_to(
        mut self,
        recipients: &[Box<dyn age::Recipient + Send>],
    ) -> Result<Self, SpoolError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io_err(&self.tmp)(std::io::Error::other("unit already closed")))?;
        self.seal = Some(SealPipe::start(recipients, file).map_err(io_err(&self.tmp))?);
        Ok(self)
    }

    /// Returns the bytes still available to unprivileged writers on the spool's file
    /// system (`statvfs` `f_bavail`), or `None` if it cannot be asked.
    pub fn space_left(&self) -> Option<u64> {
        let dir = self.path.parent()?;
        let st = rustix::fs::statvfs(dir).ok()?;
        Some(st.f_bavail.saturating_mul(st.f_frsize))
    }

    /// Returns the size of the spool's file system (`statvfs`), or `None`.
    pub fn fs_size(&self) -> Option<u64> {
        let dir = self.path.parent()?;
        let st = rustix::fs::statvfs(dir).ok()?;
        Some(st.f_blocks.saturating_mul(st.f_frsize))
    }

    /// Adds raw data to the unit (copied once).
    ///
    /// # Errors
    /// [`SpoolError::Io`] if the file cannot be written.
    pub fn write(&mut self, data: &[u8]) -> Result<(), SpoolError> {
        self.write_bytes(Bytes::copy_from_slice(data))
    }

    /// Adds raw data to the unit without copying it.
    ///
    /// # Errors
    /// [`SpoolError::Io`] if the file cannot be written.
    pub fn write_bytes(&mut self, data: Bytes) -> Result<(), SpoolError> {
        self.start();
        self.raw += data.len() as u64;
        let before = self.segments.len();
        if let Some(encoder) = self.encoder.as_mut() {
            encoder.push(data, &mut self.segments);
        }
        self.pending += self.segments[before..]
            .iter()
            .map(Bytes::len)
            .sum::<usize>();
        if self.pending >= BATCH {
            self.drain()?;
        }
        Ok(())
    }

    /// Declares the raw length to come and whether LZ4 pays for it (before the first
    /// write; later it changes nothing). A unit left uncompressed then knows its exact
    /// size: with an observer it is renamed to its final name at once and announced, so
    /// it can be read while it is written; [`UnitWriter::finish`] checks the length.
    ///
    /// # Errors
    /// [`SpoolError::Io`] if the file cannot be renamed.
    pub fn declare(&mut self, raw_len: u64, compressible: bool) -> Result<(), SpoolError> {
        if self.started {
            return Ok(());
        }
        self.compress &= compressible;
        self.start();
        if self.compress {
            return Ok(());
        }
        self.declared = Some(raw_len);
        let Some(observer) = &self.observer else {
            return Ok(());
        };
        let plain = crate::stream::uncompressed_len(raw_len);
        let size = match &self.seal {
            // An age file's length follows from its plaintext's: the header (its length
            // known once the stream starts), then each 64 KiB chunk and its tag.
            Some(seal) => crate::crypto::sealed_len(seal.header, plain),
            None => plain,
        };
        // Announced before the name exists, so whoever serves it never sees it unsized.
        observer.report(ProgressEvent::UnitOpened {
            path: self.path.clone(),
            size,
        });
        self.open = true;
        std::fs::rename(&self.tmp, &self.path).map_err(io_err(&self.path))?;
        self.tmp.clone_from(&self.path);
        Ok(())
    }

    /// Ends the unit, syncs it, moves it under its final name and returns its record.
    ///
    /// # Errors
    /// [`SpoolError::Io`] if the file cannot be written or renamed, or holds another
    /// length than declared.
    pub fn finish(mut self) -> Result<UnitRecord, SpoolError> {
        self.start();
        if let Some(encoder) = self.encoder.take() {
            encoder.finish_into(&mut self.segments);
        }
        self.drain()?;
        if let Some(declared) = self.declared.filter(|d| *d != self.raw) {
            return Err(SpoolError::Io {
                path: self.tmp.clone(),
                source: std::io::Error::other(format!(
                    "{} raw bytes written, {declared} declared",
                    self.raw
                )),
            });
        }
        let sha256 = if let Some(seal) = self.seal.take() {
            let (file, size, sha256) = seal.finish().map_err(io_err(&self.tmp))?;
            file.sync_all().map_err(io_err(&self.tmp))?;
            self.size = size;
            self.report_written();
            sha256
        } else {
            let Some(file) = self.file.take() else {
                return Err(io_err(&self.tmp)(std::io::Error::other(
                    "unit already closed",
                )));
            };
            file.sync_all().map_err(io_err(&self.tmp))?;
            self.report_written();
            let hasher = std::mem::replace(&mut self.hasher, HashPipe::idle());
            hasher.finalize().ok_or_else(|| SpoolError::Io {
                path: self.tmp.clone(),
                source: std::io::Error::other("the hashing thread failed"),
            })?
        };
        if self.tmp != self.path {
            std::fs::rename(&self.tmp, &self.path).map_err(io_err(&self.path))?;
            if let Some(observer) = &self.observer {
                observer.report(ProgressEvent::FileWritten {
                    path: self.path.clone(),
                });
            }
        }
        self.close(true);
        Ok(UnitRecord {
            id: self.id,
            size: self.size,
            raw_size: self.raw,
            sha256,
            compressed: self.compress,
        })
    }

    /// Writes the header once the compression is settled.
    fn start(&mut self) {
        if !self.started {
            self.started = true;
            self.encoder = Some(UnitEncoder::begin(self.compress, &mut self.segments));
        }
    }

    /// Reports the bytes written since the last report (the session's progress).
    fn report_written(&mut self) {
        let bytes = std::mem::take(&mut self.unreported);
        if let (Some(observer), true) = (&self.observer, bytes > 0) {
            observer.report(ProgressEvent::Written { bytes });
        }
    }

    /// Reports the end of an announced unit.
    fn close(&mut self, ok: bool) {
        if std::mem::take(&mut self.open) {
            if let Some(observer) = &self.observer {
                observer.report(ProgressEvent::UnitClosed {
                    path: self.path.clone(),
                    ok,
                });
            }
        }
    }

    /// Writes the gathered segments to the file, then hands them to the hasher.
    fn drain(&mut self) -> Result<(), SpoolError> {
        if self.segments.is_empty() {
            return Ok(());
        }
        let segments = std::mem::take(&mut self.segments);
        self.pending = 0;
        if let Some(seal) = self.seal.as_mut() {
            let n: usize = segments.iter().map(Bytes::len).sum();
            seal.send(segments).map_err(io_err(&self.tmp))?;
            self.unreported += n as u64;
            if self.unreported >= REPORT_EVERY {
                self.report_written();
            }
            return Ok(());
        }
        self.write_segments(segments)
    }

    /// Writes segments to the file, then hands them to the hasher.
    fn write_segments(&mut self, segments: Vec<Bytes>) -> Result<(), SpoolError> {
        let Some(file) = self.file.as_mut() else {
            return Err(io_err(&self.tmp)(std::io::Error::other(
                "unit already closed",
            )));
        };
        let written = write_all_vectored(file, &segments).map_err(io_err(&self.tmp))?;
        self.size += written;
        self.hasher.update(segments);
        self.unreported += written;
        if self.unreported >= REPORT_EVERY {
            self.report_written();
        }
        Ok(())
    }
}

/// Writes every segment in order, however many calls the kernel needs; returns the
/// bytes written.
fn write_all_vectored(file: &mut File, segments: &[Bytes]) -> std::io::Result<u64> {
    let mut slices: Vec<IoSlice<'_>> = segments
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| IoSlice::new(s))
        .collect();
    let mut rest = &mut slices[..];
    let mut written = 0u64;
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                written += n as u64;
                IoSlice::advance_slices(&mut rest, n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

impl Drop for UnitWriter {
    /// A unit dropped unfinished is removed: an announced one is half written under its
    /// final name and must not be mistaken for complete.
    fn drop(&mut self) {
        let unfinished = self.file.take().is_some() | self.seal.take().is_some();
        if unfinished {
            let _ = std::fs::remove_file(&self.tmp);
        }
        self.close(false);
    }
}

impl Write for UnitWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        Self::write(self, data).map_err(std::io::Error::other)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SizedWrite for UnitWriter {
    fn declare(&mut self, raw_len: u64, compressible: bool) -> std::io::Result<()> {
        Self::declare(self, raw_len, compressible).map_err(std::io::Error::other)
    }

    fn write_bytes(&mut self, data: Bytes) -> std::io::Result<()> {
        Self::write_bytes(self, data).map_err(std::io::Error::other)
    }

    fn buffer(&mut self, want: usize) -> Vec<u8> {
        self.buffers.take(want)
    }

    fn write_buffer(&mut self, buf: Vec<u8>) -> std::io::Result<()> {
        let data = self.buffers.lend(buf);
        Self::write_bytes(self, data).map_err(std::io::Error::other)
    }
}
