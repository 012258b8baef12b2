//! [`ObjectSource`] over a file: the chunks the responder asks for, mapped for the kernel
//! to copy ([`crate::mapped`]) where it can, read where it cannot.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use bytes::Bytes;

use crate::codec::ResponseCode;
use crate::mapped::FileMap;
use crate::provider::{Chunk, ObjectSource, ProviderResult};

use super::fsops::map_io;

/// Reads `len` bytes of a file from an offset, one bounded chunk at a time.
///
/// Each chunk is read straight into a fresh allocation that becomes the `Bytes` handed to
/// the endpoint (no zero-filling, no copy): `read_to_end` on a `File` reads into
/// uninitialised capacity.
#[derive(Debug)]
pub(super) struct FileSource {
    file: File,
    path: PathBuf,
    pos: u64,
    len: u64,
    remaining: u64,
    seeked: bool,
    map: FileMap,
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
            seeked: false,
            map: FileMap::default(),
        }
    }
}

impl ObjectSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn map_next(&mut self, len: usize) -> Option<ProviderResult<Bytes>> {
        if len as u64 > self.remaining {
            return Some(Err(ResponseCode::IncompleteTransfer));
        }
        // Checked before every request: a file cut since the last one ends the transfer
        // here, with a response, rather than in the kernel's copy (EFAULT).
        let on_disk = match self.file.metadata() {
            Ok(m) => m.len(),
            Err(e) => return Some(Err(map_io(&e, &self.path))),
        };
        if on_disk < self.pos + len as u64 {
            tracing::warn!(path = %self.path.display(), "file shrank while being read");
            return Some(Err(ResponseCode::IncompleteTransfer));
        }
        match self.map.get(&self.file, self.pos, len, on_disk) {
            Ok(b) => {
                self.pos += len as u64;
                self.remaining -= len as u64;
                // A later read continues from `pos`, not from the file's position.
                self.seeked = false;
                Some(Ok(b))
            }
            Err(e) => {
                tracing::debug!(path = %self.path.display(), error = %e, "not mapped; read instead");
                None
            }
        }
    }

    fn read(&mut self, max: usize) -> ProviderResult<Chunk> {
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(max);
        if want == 0 {
            return Err(ResponseCode::IncompleteTransfer);
        }
        if !self.seeked {
            self.file
                .seek(SeekFrom::Start(self.pos))
                .map_err(|e| map_io(&e, &self.path))?;
            self.seeked = true;
        }
        let mut buf = Vec::with_capacity(want);
        // read_to_end retries EINTR itself.
        let got = (&self.file)
            .take(want as u64)
            .read_to_end(&mut buf)
            .map_err(|e| map_io(&e, &self.path))?;
        if got == 0 {
            tracing::warn!(path = %self.path.display(), "file shrank while being read");
            return Err(ResponseCode::IncompleteTransfer);
        }
        self.pos += got as u64;
        self.remaining -= got as u64;
        Ok(Chunk::Data(Bytes::from(buf)))
    }
}
