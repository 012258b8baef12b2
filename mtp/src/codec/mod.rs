//! Pure bytes <-> types conversion: no state, no I/O.
//!
//! Parsing uses `nom` over `&[u8]` with [`DecodeError`] as the error type, so every failure
//! carries a reason a responder can turn into a response code. Encoding writes into any
//! [`bytes::BufMut`].

pub mod array;
pub mod codes;
pub mod container;
pub mod dataset;
pub mod string;
pub mod value;

pub use codes::{
    DataType, DevicePropCode, EventCode, ObjectFormat, ObjectPropCode, OperationCode, ResponseCode,
};
pub use container::{Container, ContainerHeader, ContainerKind, Params};

/// Why some bytes did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the structure did.
    #[error("input too short")]
    Truncated,
    /// A string was not valid UTF-16.
    #[error("string is not valid UTF-16")]
    BadString,
    /// A string's length byte did not match its terminator.
    #[error("string not NUL-terminated")]
    UnterminatedString,
    /// An array count would need more bytes than the input has.
    #[error("array count {0} exceeds the input")]
    ArrayTooLong(u32),
    /// A container's length field is impossible (below 12, or not matching its kind).
    #[error("bad container length {0}")]
    BadLength(u32),
    /// A container type that does not belong here.
    #[error("unexpected container type {0}")]
    BadContainerType(u16),
    /// A datatype that cannot be decoded (`Undef` or unknown).
    #[error("unsupported datatype 0x{0:04X}")]
    BadDataType(u16),
    /// A form flag that is not in the spec table.
    #[error("unsupported form flag 0x{0:02X}")]
    BadForm(u8),
    /// Bytes left over after a complete structure.
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    /// A nom combinator failed.
    #[error("malformed input")]
    Malformed,
}

impl<I> nom::error::ParseError<I> for DecodeError {
    fn from_error_kind(_input: I, kind: nom::error::ErrorKind) -> Self {
        match kind {
            nom::error::ErrorKind::Eof => Self::Truncated,
            _ => Self::Malformed,
        }
    }

    fn append(_input: I, _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// The result of one parser step.
pub type ParseResult<'a, T> = nom::IResult<&'a [u8], T, DecodeError>;

/// Runs a parser over a whole buffer: incomplete input and trailing bytes are errors.
///
/// # Errors
/// The parser's own error, [`DecodeError::Truncated`] for `nom::Err::Incomplete`, or
/// [`DecodeError::TrailingBytes`].
pub fn parse_all<'a, T>(
    input: &'a [u8],
    parser: impl FnOnce(&'a [u8]) -> ParseResult<'a, T>,
) -> Result<T, DecodeError> {
    match parser(input) {
        Ok(([], v)) => Ok(v),
        Ok((rest, _)) => Err(DecodeError::TrailingBytes(rest.len())),
        Err(e) => Err(lift(e)),
    }
}

/// Runs a parser and ignores what is left over (for datasets hosts pad).
///
/// # Errors
/// As [`parse_all`], without the trailing-bytes check.
pub fn parse_prefix<'a, T>(
    input: &'a [u8],
    parser: impl FnOnce(&'a [u8]) -> ParseResult<'a, T>,
) -> Result<T, DecodeError> {
    parser(input).map(|(_, v)| v).map_err(lift)
}

fn lift(e: nom::Err<DecodeError>) -> DecodeError {
    match e {
        nom::Err::Incomplete(_) => DecodeError::Truncated,
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
    }
}

/// Fails the current parse with a specific reason.
pub(crate) fn fail<T>(e: DecodeError) -> Result<T, nom::Err<DecodeError>> {
    Err(nom::Err::Failure(e))
}

/// Little-endian primitive parsers, re-exported under short names.
pub(crate) mod le {
    pub(crate) use nom::number::complete::{
        le_i8 as i8, le_i16 as i16, le_i32 as i32, le_i64 as i64, le_i128 as i128, le_u8 as u8,
        le_u16 as u16, le_u32 as u32, le_u64 as u64, le_u128 as u128,
    };
}
