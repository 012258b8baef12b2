//! The engine <-> owner wire protocol: `data_owners::wire::decode_frame` in both
//! directions over a stream of frames.
//!
//! The first byte's low bit picks the direction (0: what the engine reads from an owner,
//! 1: what an owner reads from the engine). Oracle: no panic; a decoded frame never
//! claims more bytes than it was given, and re-encodes to a frame that decodes to the
//! same message.
#![no_main]

use bytes::BytesMut;
use data_owners::wire::{EngineMsg, OwnerMsg, WireMessage, decode_frame};
use libfuzzer_sys::fuzz_target;

fn frames<M: WireMessage + PartialEq + std::fmt::Debug>(mut buf: &[u8]) {
    while let Ok(Some((msg, used))) = decode_frame::<M>(buf) {
        assert!(used >= 4 && used <= buf.len());
        let mut again = BytesMut::new();
        msg.encode(&mut again);
        match decode_frame::<M>(&again) {
            Ok(Some((back, n))) => {
                assert_eq!(n, again.len());
                assert_eq!(back, msg);
            }
            other => panic!("{msg:?} re-encoded to {again:02x?}: {other:?}"),
        }
        buf = &buf[used..];
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&dir, data)) = input.split_first() else {
        return;
    };
    if dir & 1 == 0 {
        frames::<OwnerMsg>(data);
    } else {
        frames::<EngineMsg>(data);
    }
});
