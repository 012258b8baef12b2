//! The framed unit format: optional LZ4 compression with a CRC-32 per block (pure).
//!
//! ```text
//! header   "SBU1" | flags u8 (bit 0: LZ4) | 3 zero bytes                       8 bytes
//! block    0x01 | raw_len u32 | stored_len u32 | crc32(raw) u32 | stored bytes 13 + n
//! end      0x02 | total_raw u64 | blocks u32                                  13 bytes
//! ```
//! All integers little-endian. `raw_len` is 1..=[`MAX_BLOCK`]; uncompressed blocks have
//! `stored_len == raw_len`. The end record makes truncation at a block boundary
//! detectable; a CRC mismatch, a bad length or a bad LZ4 block is an error, so corrupt
//! data is never handed on. The decoder accepts the stream re-chunked at any byte.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Largest raw block.
pub const MAX_BLOCK: usize = 64 * 1024;

const MAGIC: &[u8; 4] = b"SBU1";
const HEADER_LEN: usize = 8;
const BLOCK_HEADER_LEN: usize = 13;
const FLAG_LZ4: u8 = 0x01;
const TAG_BLOCK: u8 = 0x01;
const TAG_END: u8 = 0x02;

const END_LEN: usize = 13;

/// Returns the exact encoded length of an uncompressed unit holding `raw` bytes (blocks
/// are full [`MAX_BLOCK`]s but the last), so its size is known before it is written.
pub fn uncompressed_len(raw: u64) -> u64 {
    let blocks = raw.div_ceil(MAX_BLOCK as u64);
    (HEADER_LEN + END_LEN) as u64 + raw + blocks * BLOCK_HEADER_LEN as u64
}

/// A corrupt or truncated unit stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The stream does not start with the unit magic.
    #[error("not a unit stream")]
    BadMagic,
    /// Flags or reserved bytes have unknown bits.
    #[error("unsupported unit flags {0:#04x}")]
    BadFlags(u8),
    /// A record tag that is neither block nor end.
    #[error("unknown record tag {0:#04x}")]
    BadTag(u8),
    /// A block length out of range.
    #[error("bad block length")]
    BadLength,
    /// LZ4 could not decompress a block to its announced size.
    #[error("block does not decompress")]
    Decompress,
    /// The CRC of a block does not match.
    #[error("block checksum mismatch")]
    Checksum,
    /// The end record disagrees with the blocks seen.
    #[error("end record does not match the blocks")]
    BadEnd,
    /// Bytes after the end record.
    #[error("bytes after the end of the unit")]
    TrailingBytes,
    /// The stream ended before its end record.
    #[error("unit stream is truncated")]
    Truncated,
}

/// Encodes a unit: feed raw data with [`UnitEncoder::push`] (or [`UnitEncoder::write`]),
/// end with [`UnitEncoder::finish_into`] (or [`UnitEncoder::finish`]).
///
/// The `push` side takes and gives [`Bytes`] segments: an uncompressed block is its
/// header followed by the very pieces that were pushed, so data read once from a file
/// reaches the unit file (and its hasher) without another copy. The `write` side copies
/// into a [`BytesMut`] for callers that hold slices.
#[derive(Debug)]
pub struct UnitEncoder {
    compress: bool,
    block: Vec<Bytes>,
    block_len: usize,
    crc: crc32fast::Hasher,
    total: u64,
    blocks: u32,
}

impl UnitEncoder {
    /// Starts a unit and appends its header to `out`.
    pub fn new(compress: bool, out: &mut BytesMut) -> Self {
        let mut segments = Vec::new();
        let encoder = Self::begin(compress, &mut segments);
        put_all(out, segments);
        encoder
    }

    /// Starts a unit and appends its header to `out` as a segment.
    pub fn begin(compress: bool, out: &mut Vec<Bytes>) -> Self {
        let mut header = BytesMut::with_capacity(HEADER_LEN);
        header.put_slice(MAGIC);
        header.put_u8(if compress { FLAG_LZ4 } else { 0 });
        header.put_slice(&[0, 0, 0]);
        out.push(header.freeze());
        Self {
            compress,
            block: Vec::new(),
            block_len: 0,
            crc: crc32fast::Hasher::new(),
            total: 0,
            blocks: 0,
        }
    }

    /// Adds raw data (copied); whole blocks are appended to `out`.
    pub fn write(&mut self, data: &[u8], out: &mut BytesMut) {
        let mut segments = Vec::new();
        self.push(Bytes::copy_from_slice(data), &mut segments);
        put_all(out, segments);
    }

    /// Adds raw data without copying it; whole blocks are appended to `out` as segments
    /// (an uncompressed block: its header, then slices of the data pushed).
    pub fn push(&mut self, mut data: Bytes, out: &mut Vec<Bytes>) {
        while !data.is_empty() {
            let take = (MAX_BLOCK - self.block_len).min(data.len());
            let piece = data.split_to(take);
            self.crc.update(&piece);
            self.block_len += take;
            self.block.push(piece);
            if self.block_len == MAX_BLOCK {
                self.flush_block(out);
            }
        }
    }

    /// Ends the unit: appends the last partial block and the end record.
    pub fn finish(self, out: &mut BytesMut) {
        let mut segments = Vec::new();
        self.finish_into(&mut segments);
        put_all(out, segments);
    }

    /// Ends the unit: appends the last partial block and the end record as segments.
    pub fn finish_into(mut self, out: &mut Vec<Bytes>) {
        if self.block_len > 0 {
            self.flush_block(out);
        }
        let mut end = BytesMut::with_capacity(END_LEN);
        end.put_u8(TAG_END);
        end.put_u64_le(self.total);
        end.put_u32_le(self.blocks);
        out.push(end.freeze());
    }

    fn flush_block(&mut self, out: &mut Vec<Bytes>) {
        let raw_len = std::mem::take(&mut self.block_len);
        let crc = std::mem::take(&mut self.crc).finalize();
        let pieces = std::mem::take(&mut self.block);
        // A block that does not shrink is still stored compressed when the unit says so;
        // the flag is per unit, so the reader never guesses.
        let (stored_len, stored) = if self.compress {
            let packed = match pieces.as_slice() {
                [one] => lz4_flex::block::compress(one),
                _ => lz4_flex::block::compress(&pieces.concat()),
            };
            (packed.len(), vec![Bytes::from(packed)])
        } else {
            (raw_len, pieces)
        };
        let mut head = BytesMut::with_capacity(BLOCK_HEADER_LEN);
        head.put_u8(TAG_BLOCK);
        head.put_u32_le(len_u32(raw_len));
        head.put_u32_le(len_u32(stored_len));
        head.put_u32_le(crc);
        out.push(head.freeze());
        out.extend(stored);
        self.total += raw_len as u64;
        self.blocks += 1;
    }
}

fn put_all(out: &mut BytesMut, segments: Vec<Bytes>) {
    for segment in segments {
        out.put_slice(&segment);
    }
}

fn len_u32(n: usize) -> u32 {
    // Blocks are at most MAX_BLOCK (or its LZ4 bound), far below u32::MAX.
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Decodes a unit stream chunk by chunk.
///
/// Call protocol: [`UnitDecoder::handle_input`] with each chunk, then
/// [`UnitDecoder::poll_block`] until it returns `Ok(None)`; after the last chunk call
/// [`UnitDecoder::finish`]. After an error the decoder stays failed.
#[derive(Debug, Default)]
pub struct UnitDecoder {
    buf: BytesMut,
    compressed: Option<bool>,
    total: u64,
    blocks: u32,
    ended: bool,
    failed: Option<FrameError>,
}

impl UnitDecoder {
    /// Creates a decoder expecting a unit header.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds encoded bytes.
    pub fn handle_input(&mut self, data: &[u8]) {
        self.buf.put_slice(data);
    }

    /// Returns the next decoded raw block, `Ok(None)` if more input is needed or the
    /// unit has ended.
    ///
    /// # Errors
    /// A [`FrameError`] for corrupt data; the decoder then stays failed.
    pub fn poll_block(&mut self) -> Result<Option<Bytes>, FrameError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let result = self.next_block();
        if let Err(e) = result {
            self.failed = Some(e);
        }
        result
    }

    /// Checks that the unit ended properly with nothing after it.
    ///
    /// # Errors
    /// [`FrameError::Truncated`] if the end record is missing, or the earlier error.
    pub fn finish(&mut self) -> Result<(), FrameError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        while self.poll_block()?.is_some() {}
        if self.ended {
            Ok(())
        } else {
            Err(FrameError::Truncated)
        }
    }

    /// Returns the number of raw bytes decoded so far.
    pub fn raw_len(&self) -> u64 {
        self.total
    }

    fn next_block(&mut self) -> Result<Option<Bytes>, FrameError> {
        if self.ended {
            return if self.buf.is_empty() {
                Ok(None)
            } else {
                Err(FrameError::TrailingBytes)
            };
        }
        let Some(compressed) = self.compressed else {
            if self.buf.len() < HEADER_LEN {
                return Ok(None);
            }
            let header = self.buf.split_to(HEADER_LEN);
            if &header[..4] != MAGIC {
                return Err(FrameError::BadMagic);
            }
            if header[4] & !FLAG_LZ4 != 0 || header[5..] != [0, 0, 0] {
                return Err(FrameError::BadFlags(header[4]));
            }
            self.compressed = Some(header[4] & FLAG_LZ4 != 0);
            return self.next_block();
        };
        let Some(&tag) = self.buf.first() else {
            return Ok(None);
        };
        match tag {
            TAG_END => self.end_record(),
            TAG_BLOCK => self.data_block(compressed),
            t => Err(FrameError::BadTag(t)),
        }
    }

    fn end_record(&mut self) -> Result<Option<Bytes>, FrameError> {
        if self.buf.len() < BLOCK_HEADER_LEN {
            return Ok(None);
        }
        let mut rec = self.buf.split_to(BLOCK_HEADER_LEN);
        rec.advance(1);
        if rec.get_u64_le() != self.total || rec.get_u32_le() != self.blocks {
            return Err(FrameError::BadEnd);
        }
        self.ended = true;
        self.next_block()
    }

    fn data_block(&mut self, compressed: bool) -> Result<Option<Bytes>, FrameError> {
        if self.buf.len() < BLOCK_HEADER_LEN {
            return Ok(None);
        }
        let mut head = &self.buf[1..BLOCK_HEADER_LEN];
        let raw_len = head.get_u32_le() as usize;
        let stored_len = head.get_u32_le() as usize;
        let crc = head.get_u32_le();
        let max_stored = if compressed {
            lz4_bound(MAX_BLOCK)
        } else {
            MAX_BLOCK
        };
        if raw_len == 0 || raw_len > MAX_BLOCK || stored_len > max_stored {
            return Err(FrameError::BadLength);
        }
        if !compressed && stored_len != raw_len {
            return Err(FrameError::BadLength);
        }
        if self.buf.len() < BLOCK_HEADER_LEN + stored_len {
            return Ok(None);
        }
        self.buf.advance(BLOCK_HEADER_LEN);
        let stored = self.buf.split_to(stored_len).freeze();
        let raw = if compressed {
            let out = lz4_flex::block::decompress(&stored, raw_len)
                .map_err(|_| FrameError::Decompress)?;
            if out.len() != raw_len {
                return Err(FrameError::Decompress);
            }
            Bytes::from(out)
        } else {
            stored
        };
        if crc32fast::hash(&raw) != crc {
            return Err(FrameError::Checksum);
        }
        self.total += raw_len as u64;
        self.blocks += 1;
        Ok(Some(raw))
    }
}

fn lz4_bound(n: usize) -> usize {
    lz4_flex::block::get_maximum_output_size(n)
}

/// Encodes a whole buffer as one unit (convenience for small units and tests).
pub fn encode_unit(data: &[u8], compress: bool) -> Bytes {
    let mut out = BytesMut::new();
    let mut enc = UnitEncoder::new(compress, &mut out);
    enc.write(data, &mut out);
    enc.finish(&mut out);
    out.freeze()
}

/// Decodes a whole unit (convenience for small units and tests).
///
/// # Errors
/// A [`FrameError`] if the unit is corrupt or truncated.
pub fn decode_unit(data: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut dec = UnitDecoder::new();
    dec.handle_input(data);
    let mut out = Vec::new();
    while let Some(block) = dec.poll_block()? {
        out.extend_from_slice(&block);
    }
    dec.finish()?;
    Ok(out)
}
