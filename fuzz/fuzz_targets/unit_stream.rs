//! Unit streams: `engine::stream::UnitDecoder` fed in pieces, and `decode_unit`.
//!
//! The first byte sets the piece size (1..=256, 0 = whole input). Oracle: no panic; the
//! streaming decoder and `decode_unit` agree whatever the split; a unit that decodes is
//! re-encoded (both ways) to a unit that decodes to the same bytes.
#![no_main]

use engine::stream::{FrameError, MAX_BLOCK, UnitDecoder, decode_unit, encode_unit};
use libfuzzer_sys::fuzz_target;

fn decode_in_pieces(data: &[u8], piece: usize) -> Result<Vec<u8>, FrameError> {
    let mut dec = UnitDecoder::new();
    let mut out = Vec::new();
    for chunk in data.chunks(piece.max(1)) {
        dec.handle_input(chunk);
        while let Some(block) = dec.poll_block()? {
            assert!(!block.is_empty() && block.len() <= MAX_BLOCK);
            out.extend_from_slice(&block);
        }
    }
    dec.finish()?;
    assert_eq!(dec.raw_len(), out.len() as u64);
    Ok(out)
}

fuzz_target!(|input: &[u8]| {
    let Some((&p, data)) = input.split_first() else {
        return;
    };
    let piece = if p == 0 { data.len() } else { usize::from(p) };
    let whole = decode_unit(data);
    let pieces = decode_in_pieces(data, piece);
    assert_eq!(whole.is_ok(), pieces.is_ok(), "{whole:?} vs {pieces:?}");
    if let (Ok(a), Ok(b)) = (&whole, &pieces) {
        assert_eq!(a, b);
        for compress in [false, true] {
            assert_eq!(decode_unit(&encode_unit(a, compress)).as_ref(), Ok(a));
        }
    }
});
