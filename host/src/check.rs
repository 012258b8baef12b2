//! Checks a unit while it is copied: the SHA-256 of its bytes, its framing and the CRC of
//! every block, as they pass on their way to the file. Compared with the set's manifest
//! when that arrives (it is written last), so a copied set is never read twice.

use std::io::{self, Write};

use engine::manifest::UnitRecord;
use engine::stream::{FrameError, UnitDecoder};
use sha2::{Digest, Sha256};

/// A writer that checks what passes through it.
#[derive(Debug)]
pub struct CheckingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    decoder: UnitDecoder,
    size: u64,
    flags: Option<bool>,
    head: Vec<u8>,
}

/// What a copied unit turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Bytes of the file.
    pub size: u64,
    /// Raw bytes inside it.
    pub raw: u64,
    /// SHA-256 of the file.
    pub sha256: [u8; 32],
    /// Whether its header says compressed.
    pub compressed: Option<bool>,
    /// Its framing and block checksums (not checked for an encrypted unit).
    pub frames: Result<(), FrameError>,
    /// An age file: only its size and SHA-256 can be checked without the password.
    pub encrypted: bool,
}

impl<W: Write> CheckingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            decoder: UnitDecoder::new(),
            size: 0,
            flags: None,
            head: Vec::new(),
        }
    }

    fn encrypted(&self) -> bool {
        engine::crypto::is_age(&self.head)
    }

    /// Ends the unit: returns what it is and the inner writer.
    pub fn finish(mut self) -> (Checked, W) {
        let encrypted = self.encrypted();
        let frames = if encrypted {
            Ok(())
        } else {
            self.decoder.finish()
        };
        let checked = Checked {
            encrypted,
            size: self.size,
            raw: self.decoder.raw_len(),
            sha256: self.hasher.finalize().into(),
            compressed: self.flags,
            frames,
        };
        (checked, self.inner)
    }
}

impl<W: Write> Write for CheckingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let done = &buf[..n];
        if self.head.len() < 64 {
            let take = (64 - self.head.len()).min(n);
            self.head.extend_from_slice(&done[..take]);
        }
        if self.flags.is_none() && self.size < 5 && self.size + n as u64 >= 5 {
            // The unit header's flags byte (offset 4): bit 0 is "compressed".
            let at = usize::try_from(4 - self.size).unwrap_or(0);
            self.flags = Some(done[at] & 1 != 0);
        }
        self.size += n as u64;
        self.hasher.update(done);
        if !self.encrypted() {
            self.decoder.handle_input(done);
            // Decode as we go so the decoder never holds more than a block.
            while let Ok(Some(_)) = self.decoder.poll_block() {}
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Checked {
    /// Compares with the manifest's record of the unit.
    ///
    /// # Errors
    /// What differs, in words.
    pub fn matches(&self, record: &UnitRecord) -> Result<(), String> {
        let id = record.id;
        if let Err(e) = self.frames {
            return Err(format!("{id}: {e}"));
        }
        if self.size != record.size {
            return Err(format!(
                "{id}: {} bytes, the manifest says {}",
                self.size, record.size
            ));
        }
        if self.sha256 != record.sha256 {
            return Err(format!("{id}: SHA-256 differs from the manifest"));
        }
        if self.encrypted {
            return Ok(());
        }
        if self.raw != record.raw_size || self.compressed != Some(record.compressed) {
            return Err(format!("{id}: content does not match the manifest"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::stream::encode_unit;

    fn record(unit: &[u8], raw: u64, compressed: bool) -> UnitRecord {
        UnitRecord {
            id: engine::unit::UnitId {
                sid: engine::registration::Sid(0x2000_0001),
                drive: 'c',
                kind: engine::unit::UnitKind::ActiveBase,
            },
            size: unit.len() as u64,
            raw_size: raw,
            sha256: Sha256::digest(unit).into(),
            compressed,
        }
    }

    #[test]
    fn a_unit_copied_in_pieces_matches_its_record() {
        let data = vec![7u8; 300_000];
        for compress in [false, true] {
            let unit = encode_unit(&data, compress);
            let mut w = CheckingWriter::new(Vec::new());
            for piece in unit.chunks(1000) {
                w.write_all(piece).unwrap();
            }
            let (checked, out) = w.finish();
            assert_eq!(out, unit.to_vec());
            checked
                .matches(&record(&unit, data.len() as u64, compress))
                .unwrap();
        }
    }

    #[test]
    fn a_flipped_byte_or_a_short_copy_is_caught() {
        let data = b"hello world, hello world".repeat(100);
        let unit = encode_unit(&data, false);
        let rec = record(&unit, data.len() as u64, false);
        let mut bad = unit.to_vec();
        bad[40] ^= 1;
        let mut w = CheckingWriter::new(Vec::new());
        w.write_all(&bad).unwrap();
        assert!(w.finish().0.matches(&rec).is_err());
        let mut w = CheckingWriter::new(Vec::new());
        w.write_all(&unit[..unit.len() - 3]).unwrap();
        let err = w.finish().0.matches(&rec).unwrap_err();
        assert!(err.contains("truncated") || err.contains("bytes"), "{err}");
    }
}
