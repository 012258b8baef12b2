//! MTP arrays: a u32 element count followed by the elements.
//!
//! # Spec
//! PTP 15740 §5.4 "Arrays".

use bytes::BufMut;

use super::{DecodeError, ParseResult, fail, le};

/// Parses a u32-counted array, refusing counts that cannot fit in the remaining input.
///
/// # Errors
/// [`DecodeError::ArrayTooLong`] when `count * min_elem_size` exceeds the input, or the
/// element parser's error.
pub fn parse_array<'a, T>(
    input: &'a [u8],
    min_elem_size: usize,
    mut elem: impl FnMut(&'a [u8]) -> ParseResult<'a, T>,
) -> ParseResult<'a, Vec<T>> {
    let (mut input, count) = le::u32(input)?;
    let len = usize::try_from(count).unwrap_or(usize::MAX);
    if len.saturating_mul(min_elem_size.max(1)) > input.len() {
        return fail(DecodeError::ArrayTooLong(count));
    }
    let mut out = Vec::with_capacity(len);
    for _ in 0..count {
        let (rest, v) = elem(input)?;
        out.push(v);
        input = rest;
    }
    Ok((input, out))
}

/// Parses an array of u16.
///
/// # Errors
/// As [`parse_array`].
pub fn parse_u16_array(input: &[u8]) -> ParseResult<'_, Vec<u16>> {
    parse_array(input, 2, le::u16)
}

/// Parses an array of u32.
///
/// # Errors
/// As [`parse_array`].
pub fn parse_u32_array(input: &[u8]) -> ParseResult<'_, Vec<u32>> {
    parse_array(input, 4, le::u32)
}

/// Encodes an array of u16.
pub fn put_u16_array(buf: &mut impl BufMut, items: impl ExactSizeIterator<Item = u16>) {
    buf.put_u32_le(items.len() as u32);
    for v in items {
        buf.put_u16_le(v);
    }
}

/// Encodes an array of u32.
pub fn put_u32_array(buf: &mut impl BufMut, items: impl ExactSizeIterator<Item = u32>) {
    buf.put_u32_le(items.len() as u32);
    for v in items {
        buf.put_u32_le(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::parse_all;

    #[test]
    fn u16_array_round_trips() {
        let mut b = Vec::new();
        put_u16_array(&mut b, [0x1001u16, 0x1002].into_iter());
        assert_eq!(b, [2, 0, 0, 0, 0x01, 0x10, 0x02, 0x10]);
        assert_eq!(parse_all(&b, parse_u16_array), Ok(vec![0x1001, 0x1002]));
    }

    #[test]
    fn huge_counts_fail_before_allocating() {
        let b = [0xFF, 0xFF, 0xFF, 0xFF, 1, 2];
        assert_eq!(
            parse_all(&b, parse_u32_array),
            Err(DecodeError::ArrayTooLong(u32::MAX))
        );
    }
}
