//! MTP datasets and values: every public decoder in `mtp::codec` on arbitrary bytes.
//!
//! The first byte picks the decoder (and, for values, the datatype); the rest is the
//! dataset. Oracle: no panic; whatever decodes encodes to bytes that decode to the same
//! value (encoders never lose what the decoder accepted).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mtp::codec::array::{parse_u16_array, parse_u32_array, put_u16_array, put_u32_array};
use mtp::codec::dataset::{
    DeviceInfo, DevicePropDesc, ObjectInfo, ObjectPropDesc, ObjectPropList, StorageInfo, datetime,
};
use mtp::codec::string::{parse_string, put_string, string_len};
use mtp::codec::value::parse_value;
use mtp::codec::{DataType, ParseResult, parse_all, parse_prefix};

/// Decodes with `parse`, re-encodes with `put` and checks the second decode.
fn round_trip<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    parse: impl for<'a> Fn(&'a [u8]) -> ParseResult<'a, T>,
    put: impl Fn(&T, &mut Vec<u8>),
) {
    let Ok(v) = parse_prefix(data, &parse) else {
        return;
    };
    let mut b = Vec::new();
    put(&v, &mut b);
    assert_eq!(parse_all(&b, &parse), Ok(v), "re-encoded {b:02x?}");
}

fuzz_target!(|input: &[u8]| {
    let Some((&sel, data)) = input.split_first() else {
        return;
    };
    match sel % 11 {
        0 => round_trip(data, DeviceInfo::parse, |v, b| v.put(b)),
        1 => round_trip(data, StorageInfo::parse, |v, b| v.put(b)),
        2 => round_trip(data, ObjectInfo::parse, |v, b| v.put(b)),
        3 => round_trip(data, ObjectPropDesc::parse, |v, b| v.put(b)),
        4 => round_trip(data, DevicePropDesc::parse, |v, b| v.put(b)),
        5 => round_trip(data, ObjectPropList::parse, |v, b| v.put(b)),
        6 => round_trip(data, parse_string, |v, b| {
            put_string(b, v);
            assert_eq!(b.len(), string_len(v));
        }),
        7 => round_trip(data, parse_u16_array, |v, b| {
            put_u16_array(b, v.iter().copied())
        }),
        8 => round_trip(data, parse_u32_array, |v, b| {
            put_u32_array(b, v.iter().copied())
        }),
        9 => {
            // The datatype comes from the data: 0x0000..=0x000A, 0x4001..=0x400A, 0xFFFF.
            let Some((&t, data)) = data.split_first() else {
                return;
            };
            let dt = match t {
                0xFF => DataType::Str,
                t if t & 0x80 != 0 => DataType::from_u16(0x4000 | u16::from(t & 0x0F)),
                t => DataType::from_u16(u16::from(t & 0x0F)),
            };
            round_trip(data, |i| parse_value(i, dt), |v, b| v.put(b));
        }
        _ => {
            let Ok(text) = std::str::from_utf8(data) else {
                return;
            };
            if let Some(secs) = datetime::parse(text) {
                assert_eq!(
                    datetime::parse(&datetime::format(secs)),
                    Some(secs),
                    "{text}"
                );
            }
        }
    }
});
