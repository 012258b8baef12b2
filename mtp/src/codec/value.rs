//! Typed property values, decoded and encoded according to a [`DataType`].
//!
//! # Spec
//! PTP 15740 §5.3 (simple types), §5.4 (arrays), MTP 1.1 §3.2.

use bytes::BufMut;

use super::array::parse_array;
use super::string::{parse_string, put_string};
use super::{DataType, DecodeError, ParseResult, fail, le};

/// One property value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropValue {
    /// INT8
    I8(i8),
    /// UINT8
    U8(u8),
    /// INT16
    I16(i16),
    /// UINT16
    U16(u16),
    /// INT32
    I32(i32),
    /// UINT32
    U32(u32),
    /// INT64
    I64(i64),
    /// UINT64
    U64(u64),
    /// INT128
    I128(i128),
    /// UINT128
    U128(u128),
    /// An array of scalars, all of the element type of the array datatype.
    Array(DataType, Vec<Self>),
    /// STR
    Str(String),
}

impl PropValue {
    /// Returns the datatype this value encodes as.
    pub fn data_type(&self) -> DataType {
        match self {
            Self::I8(_) => DataType::Int8,
            Self::U8(_) => DataType::Uint8,
            Self::I16(_) => DataType::Int16,
            Self::U16(_) => DataType::Uint16,
            Self::I32(_) => DataType::Int32,
            Self::U32(_) => DataType::Uint32,
            Self::I64(_) => DataType::Int64,
            Self::U64(_) => DataType::Uint64,
            Self::I128(_) => DataType::Int128,
            Self::U128(_) => DataType::Uint128,
            Self::Array(t, _) => *t,
            Self::Str(_) => DataType::Str,
        }
    }

    /// Encodes the value (without any datatype code).
    pub fn put(&self, buf: &mut impl BufMut) {
        match self {
            Self::I8(v) => buf.put_i8(*v),
            Self::U8(v) => buf.put_u8(*v),
            Self::I16(v) => buf.put_i16_le(*v),
            Self::U16(v) => buf.put_u16_le(*v),
            Self::I32(v) => buf.put_i32_le(*v),
            Self::U32(v) => buf.put_u32_le(*v),
            Self::I64(v) => buf.put_i64_le(*v),
            Self::U64(v) => buf.put_u64_le(*v),
            Self::I128(v) => buf.put_i128_le(*v),
            Self::U128(v) => buf.put_u128_le(*v),
            Self::Array(_, items) => {
                buf.put_u32_le(items.len() as u32);
                for item in items {
                    item.put(buf);
                }
            }
            Self::Str(s) => put_string(buf, s),
        }
    }

    /// Returns the value as an unsigned integer when it is one of the unsigned scalars.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            _ => None,
        }
    }

    /// Returns the string when this is a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Parses one value of type `dt`.
///
/// # Errors
/// [`DecodeError::BadDataType`] for `Undef`/unknown types, otherwise truncation and string
/// errors.
pub fn parse_value(input: &[u8], dt: DataType) -> ParseResult<'_, PropValue> {
    if let Some(elem) = dt.element() {
        let size = elem.scalar_size().unwrap_or(1);
        let (rest, items) = parse_array(input, size, |i| parse_scalar(i, elem))?;
        return Ok((rest, PropValue::Array(dt, items)));
    }
    if dt == DataType::Str {
        let (rest, s) = parse_string(input)?;
        return Ok((rest, PropValue::Str(s)));
    }
    parse_scalar(input, dt)
}

fn parse_scalar(input: &[u8], dt: DataType) -> ParseResult<'_, PropValue> {
    use PropValue as V;
    match dt {
        DataType::Int8 => le::i8(input).map(|(r, v)| (r, V::I8(v))),
        DataType::Uint8 => le::u8(input).map(|(r, v)| (r, V::U8(v))),
        DataType::Int16 => le::i16(input).map(|(r, v)| (r, V::I16(v))),
        DataType::Uint16 => le::u16(input).map(|(r, v)| (r, V::U16(v))),
        DataType::Int32 => le::i32(input).map(|(r, v)| (r, V::I32(v))),
        DataType::Uint32 => le::u32(input).map(|(r, v)| (r, V::U32(v))),
        DataType::Int64 => le::i64(input).map(|(r, v)| (r, V::I64(v))),
        DataType::Uint64 => le::u64(input).map(|(r, v)| (r, V::U64(v))),
        DataType::Int128 => le::i128(input).map(|(r, v)| (r, V::I128(v))),
        DataType::Uint128 => le::u128(input).map(|(r, v)| (r, V::U128(v))),
        other => fail(DecodeError::BadDataType(other.to_u16())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::parse_all;

    fn round_trip(v: PropValue, bytes: &[u8]) {
        let mut b = Vec::new();
        v.put(&mut b);
        assert_eq!(b, bytes, "encoding {v:?}");
        assert_eq!(parse_all(bytes, |i| parse_value(i, v.data_type())), Ok(v));
    }

    #[test]
    fn scalars_arrays_and_strings_round_trip() {
        round_trip(PropValue::U8(0x64), &[0x64]);
        round_trip(PropValue::U16(0x3001), &[0x01, 0x30]);
        round_trip(PropValue::U64(0x1_0000_0000), &[0, 0, 0, 0, 1, 0, 0, 0]);
        round_trip(PropValue::I16(-2), &[0xFE, 0xFF]);
        round_trip(
            PropValue::U128(1),
            &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        round_trip(
            PropValue::Array(DataType::Auint16, vec![PropValue::U16(0x3000)]),
            &[1, 0, 0, 0, 0x00, 0x30],
        );
        round_trip(PropValue::Str("A".into()), &[2, 0x41, 0, 0, 0]);
    }

    #[test]
    fn undefined_datatype_is_an_error() {
        assert_eq!(
            parse_all(&[0], |i| parse_value(i, DataType::Undef)),
            Err(DecodeError::BadDataType(0))
        );
    }
}
