//! The passive file stream inside a passive base or increment unit (pure).
//!
//! ```text
//! "PAS1"
//! 0x01 path(u16 + utf8) size u64 mtime_ns i64 mode u32 <size bytes>   a file
//! 0x02 path(u16 + utf8)                                               a deleted file
//! 0x03 path(u16 + utf8) mode u32                                      an empty folder
//! 0x00                                                                end
//! ```
//! Folders travel only when empty (any other folder is created on the way to its files);
//! a stream without 0x03 records is what older versions wrote.
//! Paths are relative to the owner's cage and validated on decode, so a stream can never
//! name a file outside the cage. The decoder accepts input split at any byte.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::snapshot::{SnapshotError, get_path, put_path};
use crate::registration::CagePath;

const MAGIC: &[u8; 4] = b"PAS1";
const TAG_END: u8 = 0x00;
const TAG_FILE: u8 = 0x01;
const TAG_DELETED: u8 = 0x02;
const TAG_DIR: u8 = 0x03;

/// Appends the stream header.
pub fn begin(out: &mut BytesMut) {
    out.put_slice(MAGIC);
}

/// Appends a file header; exactly `size` content bytes must follow.
pub fn file_header(out: &mut BytesMut, path: &CagePath, size: u64, mtime_ns: i64, mode: u32) {
    out.put_u8(TAG_FILE);
    put_path(out, path);
    out.put_u64_le(size);
    out.put_i64_le(mtime_ns);
    out.put_u32_le(mode);
}

/// Appends a deletion record.
pub fn deleted(out: &mut BytesMut, path: &CagePath) {
    out.put_u8(TAG_DELETED);
    put_path(out, path);
}

/// Appends an empty folder's record.
pub fn empty_dir(out: &mut BytesMut, path: &CagePath, mode: u32) {
    out.put_u8(TAG_DIR);
    put_path(out, path);
    out.put_u32_le(mode);
}

/// Appends the end record.
pub fn end(out: &mut BytesMut) {
    out.put_u8(TAG_END);
}

/// One step of a decoded passive stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveEvent {
    /// A file begins; its content follows as [`ArchiveEvent::Data`] then
    /// [`ArchiveEvent::FileEnd`].
    File {
        /// Path in the cage.
        path: CagePath,
        /// Content size.
        size: u64,
        /// Modification time (ns since the epoch).
        mtime_ns: i64,
        /// Unix permission bits.
        mode: u32,
    },
    /// A piece of the current file's content.
    Data(Bytes),
    /// The current file is complete.
    FileEnd,
    /// A file deleted since the previous snapshot.
    Deleted(CagePath),
    /// An empty folder.
    EmptyDir {
        /// Path in the cage.
        path: CagePath,
        /// Unix permission bits.
        mode: u32,
    },
    /// The stream ended.
    End,
}

/// A malformed passive stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// Wrong magic.
    #[error("not a passive stream")]
    BadMagic,
    /// Unknown record tag.
    #[error("unknown passive record {0:#04x}")]
    BadTag(u8),
    /// A bad path.
    #[error("passive stream holds a bad path")]
    BadPath,
    /// The stream ended inside a record or without its end record.
    #[error("passive stream is truncated")]
    Truncated,
    /// Bytes after the end record.
    #[error("bytes after the end of the passive stream")]
    TrailingBytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Magic,
    Record,
    InFile(u64),
    Ended,
}

/// Streaming decoder: [`ArchiveDecoder::handle_input`], then
/// [`ArchiveDecoder::poll_event`] until `Ok(None)`; [`ArchiveDecoder::finish`] at the end.
#[derive(Debug)]
pub struct ArchiveDecoder {
    buf: BytesMut,
    state: State,
}

impl Default for ArchiveDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ArchiveDecoder {
    /// Creates a decoder expecting the stream header.
    pub fn new() -> Self {
        Self {
            buf: BytesMut::new(),
            state: State::Magic,
        }
    }

    /// Adds raw stream bytes.
    pub fn handle_input(&mut self, data: &[u8]) {
        self.buf.put_slice(data);
    }

    /// Returns the next event, `Ok(None)` when more input is needed.
    ///
    /// # Errors
    /// An [`ArchiveError`] for malformed input.
    pub fn poll_event(&mut self) -> Result<Option<ArchiveEvent>, ArchiveError> {
        match self.state {
            State::Magic => {
                if self.buf.len() < MAGIC.len() {
                    return Ok(None);
                }
                if &self.buf[..4] != MAGIC {
                    return Err(ArchiveError::BadMagic);
                }
                self.buf.advance(4);
                self.state = State::Record;
                self.poll_event()
            }
            State::InFile(0) => {
                self.state = State::Record;
                Ok(Some(ArchiveEvent::FileEnd))
            }
            State::InFile(remaining) => {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let take = usize::try_from(remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.buf.len());
                self.state = State::InFile(remaining - take as u64);
                Ok(Some(ArchiveEvent::Data(self.buf.split_to(take).freeze())))
            }
            State::Record => self.record(),
            State::Ended if self.buf.is_empty() => Ok(None),
            State::Ended => Err(ArchiveError::TrailingBytes),
        }
    }

    /// Checks that the stream ended properly.
    ///
    /// # Errors
    /// [`ArchiveError::Truncated`] or [`ArchiveError::TrailingBytes`].
    pub fn finish(&mut self) -> Result<(), ArchiveError> {
        match self.state {
            State::Ended if self.buf.is_empty() => Ok(()),
            State::Ended => Err(ArchiveError::TrailingBytes),
            _ => Err(ArchiveError::Truncated),
        }
    }

    fn record(&mut self) -> Result<Option<ArchiveEvent>, ArchiveError> {
        let Some(&tag) = self.buf.first() else {
            return Ok(None);
        };
        let mut view = &self.buf[1..];
        let event = match tag {
            TAG_END => {
                self.buf.advance(1);
                self.state = State::Ended;
                return Ok(Some(ArchiveEvent::End));
            }
            TAG_DELETED => match get_path(&mut view) {
                Ok(path) => ArchiveEvent::Deleted(path),
                Err(SnapshotError::Truncated) => return Ok(None),
                Err(_) => return Err(ArchiveError::BadPath),
            },
            TAG_DIR => {
                let path = match get_path(&mut view) {
                    Ok(path) => path,
                    Err(SnapshotError::Truncated) => return Ok(None),
                    Err(_) => return Err(ArchiveError::BadPath),
                };
                if view.len() < 4 {
                    return Ok(None);
                }
                ArchiveEvent::EmptyDir {
                    path,
                    mode: view.get_u32_le(),
                }
            }
            TAG_FILE => {
                let path = match get_path(&mut view) {
                    Ok(path) => path,
                    Err(SnapshotError::Truncated) => return Ok(None),
                    Err(_) => return Err(ArchiveError::BadPath),
                };
                if view.len() < 20 {
                    return Ok(None);
                }
                let size = view.get_u64_le();
                let mtime_ns = view.get_i64_le();
                let mode = view.get_u32_le();
                self.state = State::InFile(size);
                ArchiveEvent::File {
                    path,
                    size,
                    mtime_ns,
                    mode,
                }
            }
            t => return Err(ArchiveError::BadTag(t)),
        };
        let used = self.buf.len() - view.len();
        self.buf.advance(used);
        Ok(Some(event))
    }
}
