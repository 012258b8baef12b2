//! Unit streams: the framed, checksummed and optionally compressed format of every unit.

mod frame;

#[cfg(test)]
mod tests;

pub use frame::{
    FrameError, MAX_BLOCK, UnitDecoder, UnitEncoder, decode_unit, encode_unit, uncompressed_len,
};
