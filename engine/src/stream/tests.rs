use super::*;

fn sample(len: usize) -> Vec<u8> {
    // Compressible but not trivial.
    (0..len)
        .map(|i| (i % 251) as u8 ^ ((i / 1000) as u8))
        .collect()
}

#[test]
fn round_trips_empty_small_and_multi_block_units_both_ways() {
    for compress in [false, true] {
        for len in [0, 1, 100, MAX_BLOCK, MAX_BLOCK + 1, 3 * MAX_BLOCK + 17] {
            let data = sample(len);
            let unit = encode_unit(&data, compress);
            assert_eq!(
                decode_unit(&unit).expect("decodes"),
                data,
                "len {len} compress {compress}"
            );
        }
    }
}

#[test]
fn compression_is_switchable_and_shrinks_compressible_data() {
    let data = vec![b'B'; 200_000];
    let plain = encode_unit(&data, false);
    let packed = encode_unit(&data, true);
    assert!(plain.len() > 200_000);
    assert!(packed.len() < 10_000, "{}", packed.len());
    assert_eq!(plain[4], 0);
    assert_eq!(packed[4], 1);
}

#[test]
fn empty_unit_has_the_documented_bytes() {
    let unit = encode_unit(&[], false);
    let mut want = b"SBU1\0\0\0\0".to_vec();
    want.push(2);
    want.extend_from_slice(&[0; 12]);
    assert_eq!(unit.as_ref(), want.as_slice());
}

#[test]
fn decoding_works_with_any_rechunking() {
    let data = sample(2 * MAX_BLOCK + 5);
    let unit = encode_unit(&data, true);
    for chunk in [1, 7, 13, 4096, 70_000] {
        let mut dec = UnitDecoder::new();
        let mut out = Vec::new();
        for piece in unit.chunks(chunk) {
            dec.handle_input(piece);
            while let Some(block) = dec.poll_block().expect("ok") {
                out.extend_from_slice(&block);
            }
        }
        dec.finish().expect("complete");
        assert_eq!(out, data, "chunk {chunk}");
        assert_eq!(dec.raw_len(), data.len() as u64);
    }
}

#[test]
fn every_single_byte_corruption_is_detected() {
    for compress in [false, true] {
        let data = sample(3000);
        let unit = encode_unit(&data, compress);
        for at in 0..unit.len() {
            let mut bad = unit.to_vec();
            bad[at] ^= 0x5A;
            let result = decode_unit(&bad);
            assert!(
                result.is_err(),
                "corruption at {at} (compress {compress}) not detected: {result:?}"
            );
        }
    }
}

#[test]
fn truncation_is_detected_at_every_length() {
    let unit = encode_unit(&sample(MAX_BLOCK + 10), true);
    for cut in 0..unit.len() {
        assert!(decode_unit(&unit[..cut]).is_err(), "cut {cut}");
    }
}

#[test]
fn trailing_bytes_and_bad_headers_are_errors() {
    let mut unit = encode_unit(b"abc", false).to_vec();
    unit.push(0);
    assert_eq!(decode_unit(&unit), Err(FrameError::TrailingBytes));
    assert_eq!(decode_unit(b"XXXX\0\0\0\0"), Err(FrameError::BadMagic));
    assert_eq!(decode_unit(b"SBU1\x04\0\0\0"), Err(FrameError::BadFlags(4)));
    let mut oversized = b"SBU1\0\0\0\0\x01".to_vec();
    oversized.extend_from_slice(&u32::MAX.to_le_bytes());
    oversized.extend_from_slice(&u32::MAX.to_le_bytes());
    oversized.extend_from_slice(&[0; 4]);
    assert_eq!(decode_unit(&oversized), Err(FrameError::BadLength));
}

#[test]
fn decoder_stays_failed_after_an_error() {
    let mut dec = UnitDecoder::new();
    dec.handle_input(b"nope....");
    assert_eq!(dec.poll_block(), Err(FrameError::BadMagic));
    dec.handle_input(&encode_unit(b"x", false));
    assert_eq!(dec.poll_block(), Err(FrameError::BadMagic));
    assert_eq!(dec.finish(), Err(FrameError::BadMagic));
}

#[test]
fn uncompressed_length_is_known_before_encoding() {
    for len in [
        0,
        1,
        100,
        MAX_BLOCK - 1,
        MAX_BLOCK,
        MAX_BLOCK + 1,
        3 * MAX_BLOCK + 17,
    ] {
        let unit = encode_unit(&sample(len), false);
        assert_eq!(uncompressed_len(len as u64), unit.len() as u64, "len {len}");
    }
}

#[test]
fn pushed_segments_encode_the_same_bytes_whatever_the_chunking() {
    for compress in [false, true] {
        let data = sample(3 * MAX_BLOCK + 4_321);
        let expected = encode_unit(&data, compress);
        for piece in [1_000, 65_000, MAX_BLOCK, 200_000] {
            let mut segments = Vec::new();
            let mut enc = UnitEncoder::begin(compress, &mut segments);
            for chunk in data.chunks(piece) {
                enc.push(bytes::Bytes::copy_from_slice(chunk), &mut segments);
            }
            enc.finish_into(&mut segments);
            assert_eq!(
                segments.concat(),
                expected.as_ref(),
                "compress {compress}, pushed in pieces of {piece}"
            );
        }
    }
}

#[test]
fn an_uncompressed_block_carries_the_pushed_buffers_themselves() {
    let data = bytes::Bytes::from(sample(2 * MAX_BLOCK));
    let mut segments = Vec::new();
    let mut enc = UnitEncoder::begin(false, &mut segments);
    enc.push(data.clone(), &mut segments);
    // header, then per block: its 13-byte header and a slice of `data` (no copy)
    assert_eq!(segments.len(), 5);
    for (block, segment) in [&segments[2], &segments[4]].into_iter().enumerate() {
        assert_eq!(segment.len(), MAX_BLOCK);
        assert_eq!(segment.as_ptr(), data[block * MAX_BLOCK..].as_ptr());
    }
}
