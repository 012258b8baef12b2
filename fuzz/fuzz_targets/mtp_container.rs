//! MTP bulk containers: `parse_header` and `parse_container` on arbitrary bytes.
//!
//! Oracle: no panic; a container that parses encodes back to exactly the input, and a
//! header that parses agrees with `data_header`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtp::codec::container::{
    ContainerKind, HEADER_LEN, data_header, parse_container, parse_header,
};

fuzz_target!(|data: &[u8]| {
    if let Ok((rest, h)) = parse_header(data) {
        assert_eq!(rest.len() + HEADER_LEN, data.len());
        assert!(h.length as usize >= HEADER_LEN);
        if let Some(payload) = h.payload_len() {
            let again = data_header(h.code, h.tx_id, payload);
            let (_, h2) = parse_header(&again).expect("data_header parses");
            assert_eq!((h2.length, h2.code, h2.tx_id), (h.length, h.code, h.tx_id));
            assert_eq!(h2.kind, ContainerKind::Data);
        }
    }
    if let Ok(c) = parse_container(data) {
        assert!(c.params.len() <= 5);
        assert_eq!(&c.encode()[..], data, "container does not round-trip");
    }
});
