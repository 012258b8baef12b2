//! MTP strings: a u8 count of UTF-16 code units (including the NUL terminator), the units
//! little-endian, then the NUL. The empty string is the single byte 0x00.
//!
//! # Spec
//! PTP 15740 §5.3 "String"; MTP 1.1 §3.2.3.

use bytes::BufMut;

use super::{DecodeError, ParseResult, fail, le};

/// The most code units a string may carry, terminator included.
pub const MAX_UNITS: usize = 255;

/// Parses one MTP string.
///
/// # Errors
/// [`DecodeError::Truncated`], [`DecodeError::UnterminatedString`] or
/// [`DecodeError::BadString`] for invalid UTF-16.
pub fn parse_string(input: &[u8]) -> ParseResult<'_, String> {
    let (mut input, count) = le::u8(input)?;
    if count == 0 {
        return Ok((input, String::new()));
    }
    let mut units = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let (rest, u) = le::u16(input)?;
        units.push(u);
        input = rest;
    }
    if units.pop() != Some(0) {
        return fail(DecodeError::UnterminatedString);
    }
    match String::from_utf16(&units) {
        Ok(s) => Ok((input, s)),
        Err(_) => fail(DecodeError::BadString),
    }
}

/// Encodes one MTP string, cut at 254 code units (never inside a surrogate pair).
pub fn put_string(buf: &mut impl BufMut, s: &str) {
    if s.is_empty() {
        buf.put_u8(0);
        return;
    }
    let (kept, units) = cut(s);
    // units <= 254, so the count with the terminator fits in a u8.
    buf.put_u8((units + 1) as u8);
    for u in kept.encode_utf16() {
        buf.put_u16_le(u);
    }
    buf.put_u16_le(0);
}

/// Returns the encoded size of `s`.
pub fn string_len(s: &str) -> usize {
    if s.is_empty() {
        1
    } else {
        1 + 2 * (cut(s).1 + 1)
    }
}

/// The longest prefix of `s` that fits in 254 code units, and its length in units
/// (counted without a buffer: names and dates are encoded for every object listed).
fn cut(s: &str) -> (&str, usize) {
    let mut units = 0;
    for (at, c) in s.char_indices() {
        let n = c.len_utf16();
        if units + n > MAX_UNITS - 1 {
            return (&s[..at], units);
        }
        units += n;
    }
    (s, units)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::parse_all;

    #[test]
    fn empty_string_is_one_zero_byte() {
        let mut b = Vec::new();
        put_string(&mut b, "");
        assert_eq!(b, [0]);
        assert_eq!(parse_all(&b, parse_string), Ok(String::new()));
    }

    #[test]
    fn ascii_string_matches_spec_layout() {
        // "Hi": count 3 (2 units + NUL), 'H' 0x0048, 'i' 0x0069, NUL.
        let bytes = [3, 0x48, 0, 0x69, 0, 0, 0];
        let mut b = Vec::new();
        put_string(&mut b, "Hi");
        assert_eq!(b, bytes);
        assert_eq!(parse_all(&bytes, parse_string), Ok("Hi".to_string()));
        assert_eq!(string_len("Hi"), bytes.len());
    }

    #[test]
    fn long_strings_are_cut_at_254_units_without_splitting_pairs() {
        let s = "😀".repeat(200); // 400 units
        let mut b = Vec::new();
        put_string(&mut b, &s);
        assert_eq!(b[0], 255);
        let back = parse_all(&b, parse_string).unwrap();
        assert_eq!(back.chars().count(), 127);
        let s = "a".repeat(300);
        let mut b = Vec::new();
        put_string(&mut b, &s);
        assert_eq!(parse_all(&b, parse_string).unwrap().len(), 254);
        assert_eq!(string_len(&s), b.len());
        // A pair that would cross the limit is left out whole.
        let s = format!("{}😀b", "a".repeat(253));
        let mut b = Vec::new();
        put_string(&mut b, &s);
        assert_eq!(b[0], 254);
        assert_eq!(parse_all(&b, parse_string).unwrap(), "a".repeat(253));
        assert_eq!(string_len(&s), b.len());
    }

    #[test]
    fn malformed_strings_are_errors_not_panics() {
        assert_eq!(
            parse_all(&[2, 0x41, 0], parse_string),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            parse_all(&[2, 0x41, 0, 0x42, 0], parse_string),
            Err(DecodeError::UnterminatedString)
        );
        assert_eq!(
            parse_all(&[2, 0x00, 0xD8, 0, 0], parse_string),
            Err(DecodeError::BadString)
        );
    }
}
