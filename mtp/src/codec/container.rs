//! USB bulk containers: the 12-byte header (length u32, type u16, code u16, transaction id
//! u32, little-endian) and up to five u32 parameters.
//!
//! # Spec
//! MTP 1.1 appendix D.7.1 "Generic container structure"; MTP-NOTES §5.1.

use bytes::{BufMut, Bytes, BytesMut};

use super::{DecodeError, ParseResult, fail, le};

/// Size of every container header.
pub const HEADER_LEN: usize = 12;
/// The length value meaning "unknown / 4 GiB or more: read until a short packet".
pub const LENGTH_UNKNOWN: u32 = 0xFFFF_FFFF;
/// At most five parameters per command or response.
pub type Params = heapless::Vec<u32, 5>;

/// The container type field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContainerKind {
    /// 1: an operation request.
    Command,
    /// 2: a data phase.
    Data,
    /// 3: a response.
    Response,
    /// 4: an event (interrupt endpoint).
    Event,
    /// Any other value.
    Unknown(u16),
}

impl ContainerKind {
    /// Returns the kind for a raw type field.
    pub const fn from_u16(v: u16) -> Self {
        match v {
            1 => Self::Command,
            2 => Self::Data,
            3 => Self::Response,
            4 => Self::Event,
            other => Self::Unknown(other),
        }
    }

    /// Returns the raw type field.
    pub const fn to_u16(self) -> u16 {
        match self {
            Self::Command => 1,
            Self::Data => 2,
            Self::Response => 3,
            Self::Event => 4,
            Self::Unknown(v) => v,
        }
    }
}

/// A parsed container header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerHeader {
    /// Total length including the header, or [`LENGTH_UNKNOWN`].
    pub length: u32,
    /// Container type.
    pub kind: ContainerKind,
    /// Operation, response or event code.
    pub code: u16,
    /// Transaction id.
    pub tx_id: u32,
}

impl ContainerHeader {
    /// Returns the payload length if the header states it.
    pub fn payload_len(&self) -> Option<u64> {
        (self.length != LENGTH_UNKNOWN).then(|| u64::from(self.length).saturating_sub(12))
    }
}

/// Parses a container header; the length must be at least 12.
///
/// # Errors
/// [`DecodeError::Truncated`] or [`DecodeError::BadLength`].
pub fn parse_header(input: &[u8]) -> ParseResult<'_, ContainerHeader> {
    let (input, length) = le::u32(input)?;
    let (input, kind) = le::u16(input)?;
    let (input, code) = le::u16(input)?;
    let (input, tx_id) = le::u32(input)?;
    if usize::try_from(length).is_ok_and(|l| l < HEADER_LEN) {
        return fail(DecodeError::BadLength(length));
    }
    Ok((
        input,
        ContainerHeader {
            length,
            kind: ContainerKind::from_u16(kind),
            code,
            tx_id,
        },
    ))
}

/// A command, response or event container with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// Container type.
    pub kind: ContainerKind,
    /// Operation, response or event code.
    pub code: u16,
    /// Transaction id.
    pub tx_id: u32,
    /// Parameters (at most five).
    pub params: Params,
}

impl Container {
    /// Builds a container from a parameter slice, keeping at most five parameters.
    pub fn new(kind: ContainerKind, code: u16, tx_id: u32, params: &[u32]) -> Self {
        let mut p = Params::new();
        for v in params.iter().take(5) {
            // Capacity is five and we take at most five.
            let _ = p.push(*v);
        }
        Self {
            kind,
            code,
            tx_id,
            params: p,
        }
    }

    /// Returns parameter `i`, or 0 when the host did not send it (the spec's default).
    pub fn param(&self, i: usize) -> u32 {
        self.params.get(i).copied().unwrap_or(0)
    }

    /// Encodes the container.
    pub fn encode(&self) -> Bytes {
        let len = HEADER_LEN + 4 * self.params.len();
        let mut b = BytesMut::with_capacity(len);
        b.put_u32_le(len as u32);
        b.put_u16_le(self.kind.to_u16());
        b.put_u16_le(self.code);
        b.put_u32_le(self.tx_id);
        for p in &self.params {
            b.put_u32_le(*p);
        }
        b.freeze()
    }
}

/// Parses a whole command/response/event container: the length field must equal the input
/// length, and the payload must be whole u32 parameters, five at most.
///
/// # Errors
/// [`DecodeError::Truncated`] or [`DecodeError::BadLength`].
pub fn parse_container(input: &[u8]) -> Result<Container, DecodeError> {
    let (rest, h) = parse_header(input).map_err(|e| match e {
        nom::Err::Error(e) | nom::Err::Failure(e) => e,
        nom::Err::Incomplete(_) => DecodeError::Truncated,
    })?;
    let stated = usize::try_from(h.length).unwrap_or(usize::MAX);
    if stated != input.len() {
        return Err(if stated > input.len() {
            DecodeError::Truncated
        } else {
            DecodeError::BadLength(h.length)
        });
    }
    if rest.len() % 4 != 0 || rest.len() > 20 {
        return Err(DecodeError::BadLength(h.length));
    }
    let mut params = Params::new();
    for chunk in rest.chunks_exact(4) {
        let _ = params.push(u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
    }
    Ok(Container {
        kind: h.kind,
        code: h.code,
        tx_id: h.tx_id,
        params,
    })
}

/// Encodes the header of a data container for a payload of `payload_len` bytes, using
/// [`LENGTH_UNKNOWN`] when the total does not fit in 32 bits.
pub fn data_header(code: u16, tx_id: u32, payload_len: u64) -> [u8; HEADER_LEN] {
    let total = payload_len.saturating_add(HEADER_LEN as u64);
    let length = u32::try_from(total).unwrap_or(LENGTH_UNKNOWN);
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(&length.to_le_bytes());
    h[4..6].copy_from_slice(&ContainerKind::Data.to_u16().to_le_bytes());
    h[6..8].copy_from_slice(&code.to_le_bytes());
    h[8..12].copy_from_slice(&tx_id.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_session_command_matches_spec_bytes() {
        // OpenSession(SessionID=1), tid 0: length 16, type 1, code 0x1002.
        let bytes = [16, 0, 0, 0, 1, 0, 0x02, 0x10, 0, 0, 0, 0, 1, 0, 0, 0];
        let c = parse_container(&bytes).unwrap();
        assert_eq!(c, Container::new(ContainerKind::Command, 0x1002, 0, &[1]));
        assert_eq!(&c.encode()[..], &bytes);
    }

    #[test]
    fn malformed_containers_are_errors() {
        assert_eq!(parse_container(&[1, 2, 3]), Err(DecodeError::Truncated));
        let mut short_len = [0u8; 12];
        short_len[0] = 8;
        assert_eq!(parse_container(&short_len), Err(DecodeError::BadLength(8)));
        let mut oversized = [0u8; 12];
        oversized[0] = 40;
        assert_eq!(parse_container(&oversized), Err(DecodeError::Truncated));
        let mut six_params = vec![36u8, 0, 0, 0, 1, 0, 1, 0x10, 0, 0, 0, 0];
        six_params.extend([0u8; 24]);
        assert_eq!(
            parse_container(&six_params),
            Err(DecodeError::BadLength(36))
        );
    }

    #[test]
    fn data_header_uses_unknown_length_at_4_gib() {
        let h = data_header(0x1009, 7, 100);
        assert_eq!(&h[..4], &112u32.to_le_bytes());
        let h = data_header(0x1009, 7, 0xFFFF_FFFF);
        assert_eq!(&h[..4], &LENGTH_UNKNOWN.to_le_bytes());
        let (_, hdr) = parse_header(&h).unwrap();
        assert_eq!(hdr.payload_len(), None);
    }
}
