//! [`ObjectSource`] over a file: positioned reads in the chunk size the responder asks for.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use bytes::BytesMut;

use crate::codec::ResponseCode;
use crate::provider::{Chunk, ObjectSource, ProviderResult};

use super::fsops::map_io;

/// Reads `len` bytes of a file from an offset, one bounded chunk at a time.
#[derive(Debug)]
pub(super) struct FileSource {
    file: File,
    path: PathBuf,
    pos: u64,
    len: u64,
    remaining: u64,
    buf: BytesMut,
}

impl FileSource {
    /// Creates a source of `len` bytes of `file` starting at `offset`.
    pub(super) fn new(file: File, path: PathBuf, offset: u64, len: u64) -> Self {
        Self {
            file,
            path,
            pos: offset,
            len,
            remaining: len,
            buf: BytesMut::new(),
        }
    }
}

impl ObjectSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read(&mut self, max: usize) -> ProviderResult<Chunk> {
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(max);
        if want == 0 {
            return Err(ResponseCode::IncompleteTransfer);
        }
        self.buf.clear();
        self.buf.resize(want, 0);
        let got = loop {
            match self.file.read_at(&mut self.buf[..want], self.pos) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(map_io(&e, &self.path)),
            }
        };
        if got == 0 {
            tracing::warn!(path = %self.path.display(), "file shrank while being read");
            return Err(ResponseCode::IncompleteTransfer);
        }
        self.pos += got as u64;
        self.remaining -= got as u64;
        Ok(Chunk::Data(self.buf.split_to(got).freeze()))
    }
}
