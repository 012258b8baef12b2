//! The ObjectPropList dataset: a u32 count of (handle, property, datatype, value) quads.
//!
//! # Spec
//! MTP 1.1 §5.3.2.5 / appendix E.2.1.1 "ObjectPropList dataset".

use bytes::BufMut;

use crate::codec::value::{PropValue, parse_value};
use crate::codec::{DataType, DecodeError, ParseResult, fail, le};

/// One element of an ObjectPropList.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropListEntry {
    /// ObjectHandle.
    pub handle: u32,
    /// PropertyCode.
    pub code: u16,
    /// The value (its datatype is written before it).
    pub value: PropValue,
}

/// An ObjectPropList.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectPropList(pub Vec<PropListEntry>);

/// The smallest encoded element: handle, code, datatype, one byte of value.
const MIN_ENTRY: usize = 4 + 2 + 2 + 1;

impl ObjectPropList {
    /// Encodes the dataset.
    pub fn put(&self, b: &mut impl BufMut) {
        b.put_u32_le(self.0.len() as u32);
        for e in &self.0 {
            b.put_u32_le(e.handle);
            b.put_u16_le(e.code);
            b.put_u16_le(e.value.data_type().to_u16());
            e.value.put(b);
        }
    }

    /// Parses the dataset.
    ///
    /// # Errors
    /// Truncation, impossible counts, undecodable datatypes.
    pub fn parse(i: &[u8]) -> ParseResult<'_, Self> {
        let (mut i, n) = le::u32(i)?;
        let len = usize::try_from(n).unwrap_or(usize::MAX);
        if len.saturating_mul(MIN_ENTRY) > i.len() {
            return fail(DecodeError::ArrayTooLong(n));
        }
        let mut entries = Vec::with_capacity(len);
        for _ in 0..n {
            let (rest, handle) = le::u32(i)?;
            let (rest, code) = le::u16(rest)?;
            let (rest, dt) = le::u16(rest)?;
            let (rest, value) = parse_value(rest, DataType::from_u16(dt))?;
            entries.push(PropListEntry {
                handle,
                code,
                value,
            });
            i = rest;
        }
        Ok((i, Self(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::parse_all;

    #[test]
    fn prop_list_round_trips_with_spec_layout() {
        let l = ObjectPropList(vec![
            PropListEntry {
                handle: 1,
                code: 0xDC0B,
                value: PropValue::U32(0),
            },
            PropListEntry {
                handle: 1,
                code: 0xDC07,
                value: PropValue::Str("x".into()),
            },
        ]);
        let mut b = Vec::new();
        l.put(&mut b);
        #[rustfmt::skip]
        let expect = [
            2, 0, 0, 0,
            1, 0, 0, 0, 0x0B, 0xDC, 0x06, 0x00, 0, 0, 0, 0,
            1, 0, 0, 0, 0x07, 0xDC, 0xFF, 0xFF, 2, b'x', 0, 0, 0,
        ];
        assert_eq!(b, expect);
        assert_eq!(parse_all(&b, ObjectPropList::parse), Ok(l));
    }

    #[test]
    fn impossible_count_is_refused() {
        assert_eq!(
            parse_all(&[0xFF, 0xFF, 0, 0, 1], ObjectPropList::parse),
            Err(DecodeError::ArrayTooLong(0xFFFF))
        );
    }
}
