//! Reading a unit file while the engine still writes it.
//!
//! A unit whose exact size is known before its first byte (an uncompressed unit of files
//! the engine copies itself) is written under its final name and listed with its final
//! size at once, so the host can copy it while it is captured: capture and USB transfer
//! overlap. Reads wait ([`Chunk::NotReady`], the responder asks again on its next tick)
//! until the bytes asked for are on disk, and fail if the engine abandons the unit.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use mtp::codec::ResponseCode;
use mtp::mapped::FileMap;
use mtp::provider::{Chunk, ObjectSource, ProviderResult};

use super::super::session::{GrowingUnit, UnitCell, UnitState};

/// Reads `len` bytes of a growing unit from an offset.
#[derive(Debug)]
pub(crate) struct GrowingSource {
    file: File,
    /// The unit's path below the spool (for the log).
    rel: PathBuf,
    /// Whether the engine still writes it.
    cell: UnitCell,
    pos: u64,
    len: u64,
    remaining: u64,
    seeked: bool,
    /// The file's length when last looked at: bytes below it need no new look.
    seen: u64,
    /// Maps what is on disk for the kernel to copy (`mtp::mapped`).
    map: FileMap,
}

impl GrowingSource {
    /// Opens the unit at `spool/rel` for `max_len` bytes from `offset`.
    pub(crate) fn open(
        spool: &Path,
        rel: &Path,
        unit: GrowingUnit,
        offset: u64,
        max_len: u64,
    ) -> ProviderResult<Self> {
        let size = unit.size;
        if offset > size {
            return Err(ResponseCode::InvalidParameter);
        }
        let file = File::open(spool.join(rel)).map_err(|e| {
            tracing::warn!(unit = %rel.display(), error = %e, "growing unit cannot be opened");
            ResponseCode::InvalidObjectHandle
        })?;
        let len = max_len.min(size - offset);
        Ok(Self {
            file,
            rel: rel.to_owned(),
            cell: unit.cell,
            pos: offset,
            len,
            remaining: len,
            seeked: false,
            seen: 0,
            map: FileMap::default(),
        })
    }

    /// Returns how many bytes from the current position are on disk now, or the error
    /// if the unit was abandoned.
    fn available(&mut self, want: u64) -> ProviderResult<Option<u64>> {
        // The engine only appends: what was on disk stays there.
        if self.seen.saturating_sub(self.pos) >= want {
            return Ok(Some(want));
        }
        self.seen = self
            .file
            .metadata()
            .map_err(|_| ResponseCode::IncompleteTransfer)?
            .len();
        let on_disk = self.seen.saturating_sub(self.pos);
        if on_disk >= want {
            return Ok(Some(want));
        }
        match self.cell.get() {
            UnitState::Open => Ok(None),
            UnitState::Abandoned => {
                tracing::warn!(unit = %self.rel.display(), "unit abandoned while being read");
                Err(ResponseCode::IncompleteTransfer)
            }
            // Complete: what is on disk is all there is (the length check is below).
            UnitState::Complete => Ok((on_disk > 0).then_some(on_disk)),
        }
    }
}

impl ObjectSource for GrowingSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn map_next(&mut self, len: usize) -> Option<ProviderResult<Bytes>> {
        let want = len as u64;
        if want > self.remaining {
            return Some(Err(ResponseCode::IncompleteTransfer));
        }
        // Not on disk yet: `read` says NotReady (or why the unit ended short).
        match self.available(want) {
            Ok(Some(n)) if n == want => {}
            Ok(_) => return None,
            Err(code) => return Some(Err(code)),
        }
        // The engine only appends to a unit and nobody else writes the spool: what
        // `available` saw on disk stays there. The window may reach the unit's final
        // length; only bytes on disk are handed out.
        let end = self.pos + self.remaining;
        match self.map.get(&self.file, self.pos, len, end) {
            Ok(b) => {
                self.pos += want;
                self.remaining -= want;
                self.seeked = false;
                Some(Ok(b))
            }
            Err(e) => {
                tracing::debug!(unit = %self.rel.display(), error = %e, "not mapped; read instead");
                None
            }
        }
    }

    fn read(&mut self, max: usize) -> ProviderResult<Chunk> {
        let want = self.remaining.min(max as u64);
        if want == 0 {
            return Err(ResponseCode::IncompleteTransfer);
        }
        // Only whole chunks while the unit grows: a read never ends in a half-written
        // block of the page cache, and the transfer moves in full USB requests.
        let Some(n) = self.available(want)? else {
            return Ok(Chunk::NotReady);
        };
        if n == 0 {
            tracing::warn!(unit = %self.rel.display(), "unit shorter than announced");
            return Err(ResponseCode::IncompleteTransfer);
        }
        if !self.seeked {
            self.file
                .seek(SeekFrom::Start(self.pos))
                .map_err(|_| ResponseCode::IncompleteTransfer)?;
            self.seeked = true;
        }
        let mut buf = Vec::with_capacity(usize::try_from(n).unwrap_or(usize::MAX));
        let got = (&self.file)
            .take(n)
            .read_to_end(&mut buf)
            .map_err(|_| ResponseCode::IncompleteTransfer)?;
        if got == 0 {
            return Err(ResponseCode::IncompleteTransfer);
        }
        self.pos += got as u64;
        self.remaining -= got as u64;
        Ok(Chunk::Data(Bytes::from(buf)))
    }
}
