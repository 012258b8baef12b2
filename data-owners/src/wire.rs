//! The engine <-> data-owner wire protocol (pure: bytes in, typed messages out).
//!
//! # Framing
//! Every message is one frame: `u32 body length (LE)` then the body. The body starts with
//! a one-byte tag, followed by the fields of that message, all little-endian:
//! `bool` is one byte 0/1, a drive is one ASCII letter `a`–`z`, `bytes` is a `u32` length
//! plus bytes, `string` is a `u16` length plus UTF-8. A body must be consumed exactly.
//! Bodies longer than [`MAX_BODY`] are refused before any allocation.
//!
//! # Conversation
//! The owner sends [`OwnerMsg::Hello`] with its SID; the engine answers
//! [`EngineMsg::Welcome`] (current mode) or [`EngineMsg::Refused`]. Mode changes arrive as
//! [`EngineMsg::ModeChanged`]. The owner confirms readiness with
//! [`OwnerMsg::ConfirmReady`]. The engine drives callbacks with [`EngineMsg::Call`]; every
//! call gets exactly one [`OwnerMsg::Reply`] with the same id — an owner-side failure is
//! [`Reply::Error`], never a dropped connection.

use bytes::{BufMut, Bytes, BytesMut};
use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{le_i32, le_u8, le_u16, le_u32, le_u64};

/// Protocol version sent in [`OwnerMsg::Hello`].
pub const PROTOCOL_VERSION: u16 = 1;

/// Largest accepted frame body (data sections are at most this minus a few bytes).
pub const MAX_BODY: u32 = 1 << 20;

/// Largest data section the engine asks for or sends in one call.
pub const MAX_SECTION: u32 = MAX_BODY - 64;

/// Most drives a [`ModeInfo`] lists: one per letter.
pub const MAX_DRIVES: usize = 26;

/// A malformed frame. Small and `Copy`; context is added by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The announced body is larger than [`MAX_BODY`].
    #[error("frame body of {0} bytes is too large")]
    TooLarge(u32),
    /// A message or reply tag that is not defined.
    #[error("unknown tag {0:#04x}")]
    UnknownTag(u8),
    /// The body ends inside a field.
    #[error("truncated body")]
    Truncated,
    /// The body has bytes after its last field.
    #[error("trailing bytes in body")]
    TrailingBytes,
    /// A string is not UTF-8.
    #[error("string is not utf-8")]
    BadUtf8,
    /// A drive byte that is not `a`–`z`.
    #[error("bad drive byte {0:#04x}")]
    BadDrive(u8),
    /// A bool byte that is not 0 or 1.
    #[error("bad bool byte {0:#04x}")]
    BadBool(u8),
    /// A drive list longer than [`MAX_DRIVES`].
    #[error("drive count {0} exceeds {MAX_DRIVES}")]
    TooManyDrives(u8),
    /// A mode value the seeds do not define, or an impossible combination.
    #[error(transparent)]
    Mode(#[from] crate::mode::ModeError),
}

/// A drive letter, `a`–`z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DriveLetter(u8);

impl DriveLetter {
    /// Returns the drive for an ASCII letter (either case).
    pub fn new(letter: char) -> Option<Self> {
        let l = letter.to_ascii_lowercase();
        l.is_ascii_lowercase().then_some(Self(l as u8))
    }

    /// Returns the letter.
    pub fn letter(self) -> char {
        char::from(self.0)
    }
}

/// The BUR mode as an owner sees it (Symbian `BURModeInfoL` + `DoesPartialBURAffectMeL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeInfo {
    /// The mode (on the wire: its published value `part | inc`).
    pub mode: crate::mode::BurMode,
    /// The drives of the operation.
    pub drives: Vec<DriveLetter>,
    /// True if the current operation concerns this owner (full, or listed in a partial one).
    pub affects_me: bool,
}

/// A callback of `MActiveBackupDataClient` the engine asks the owner to run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Callback {
    /// All snapshots have been supplied (do a base backup if none arrived).
    AllSnapshotsSupplied,
    /// A section of a snapshot from the previous backup.
    ReceiveSnapshotData {
        /// The drive.
        drive: DriveLetter,
        /// True on the last section.
        last: bool,
        /// The section.
        data: Bytes,
    },
    /// How many bytes the owner expects to send for the drive (progress only).
    GetExpectedDataSize {
        /// The drive.
        drive: DriveLetter,
    },
    /// Up to `max_len` bytes of the owner's new snapshot.
    GetSnapshotData {
        /// The drive.
        drive: DriveLetter,
        /// The largest section the engine accepts.
        max_len: u32,
    },
    /// A backup unit for the drive begins.
    InitialiseGetBackupData {
        /// The drive.
        drive: DriveLetter,
    },
    /// Up to `max_len` bytes of backup data.
    GetBackupDataSection {
        /// The largest section the engine accepts.
        max_len: u32,
    },
    /// A base restore unit for the drive begins.
    InitialiseRestoreBaseData {
        /// The drive.
        drive: DriveLetter,
    },
    /// A section of base data.
    RestoreBaseDataSection {
        /// True on the last section of the unit.
        last: bool,
        /// The section.
        data: Bytes,
    },
    /// An increment restore unit for the drive begins (once per increment, in order).
    InitialiseRestoreIncrementData {
        /// The drive.
        drive: DriveLetter,
    },
    /// A section of increment data.
    RestoreIncrementDataSection {
        /// True on the last section of the increment.
        last: bool,
        /// The section.
        data: Bytes,
    },
    /// The restore of the drive is over.
    RestoreComplete {
        /// The drive.
        drive: DriveLetter,
    },
    /// A proxy backup unit for another owner begins.
    InitialiseGetProxyBackupData {
        /// The owner whose data the proxy serves.
        sid: u32,
        /// The drive.
        drive: DriveLetter,
    },
    /// A proxy base restore unit for another owner begins.
    InitialiseRestoreProxyBaseData {
        /// The owner whose data the proxy serves.
        sid: u32,
        /// The drive.
        drive: DriveLetter,
    },
    /// The current multi-stage operation is abandoned.
    TerminateMultiStageOperation,
    /// A checksum of the owner's data on the drive (test hook).
    GetDataChecksum {
        /// The drive.
        drive: DriveLetter,
    },
}

/// The owner's answer to one [`Callback`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// The callback succeeded and returns nothing.
    Done,
    /// A data section and whether it is the last one.
    Data {
        /// True if the owner has no more data for this unit.
        finished: bool,
        /// The section.
        data: Bytes,
    },
    /// A number (expected size, checksum).
    Value(u64),
    /// The callback failed in the owner.
    Error {
        /// A Symbian-style error code (negative).
        code: i32,
        /// A human-readable reason.
        message: String,
    },
}

/// Messages from the engine to an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineMsg {
    /// The hello was accepted; carries the current mode.
    Welcome(ModeInfo),
    /// The hello was refused (uid does not own the cage, unknown SID, …).
    Refused {
        /// Why.
        reason: String,
    },
    /// The BUR mode changed.
    ModeChanged(ModeInfo),
    /// Run a callback and reply with the same id.
    Call {
        /// The call id.
        id: u32,
        /// The callback.
        call: Callback,
    },
}

/// Messages from an owner to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OwnerMsg {
    /// The first message: protocol version and the SID the owner claims.
    Hello {
        /// [`PROTOCOL_VERSION`].
        version: u16,
        /// The claimed SID.
        sid: u32,
    },
    /// The owner is ready for the current operation (`error` 0) or failed to prepare.
    ConfirmReady {
        /// 0 or a negative error code that reaches the server.
        error: i32,
    },
    /// The answer to a [`EngineMsg::Call`].
    Reply {
        /// The call id.
        id: u32,
        /// The answer.
        reply: Reply,
    },
}

/// A message that can be framed.
pub trait WireMessage: Sized {
    /// Appends the body (tag and fields, no length) to `dst`.
    fn encode_body(&self, dst: &mut BytesMut);

    /// Parses a complete body.
    ///
    /// # Errors
    /// A [`WireError`] describing the first problem.
    fn decode_body(body: &[u8]) -> Result<Self, WireError>;

    /// Appends a whole frame (length and body) to `dst`.
    fn encode(&self, dst: &mut BytesMut) {
        let at = dst.len();
        dst.put_u32_le(0);
        self.encode_body(dst);
        let len = u32::try_from(dst.len() - at - 4).unwrap_or(u32::MAX);
        dst[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
}

/// Parses one frame from the start of `buf`.
///
/// Returns `Ok(None)` if more bytes are needed, or the message and the bytes consumed.
///
/// # Errors
/// [`WireError::TooLarge`] as soon as the header announces too much; otherwise the error
/// of the body. The connection should be closed after an error (framing is lost).
pub fn decode_frame<M: WireMessage>(buf: &[u8]) -> Result<Option<(M, usize)>, WireError> {
    let Some(header) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    if len > MAX_BODY {
        return Err(WireError::TooLarge(len));
    }
    let end = 4 + len as usize;
    let Some(body) = buf.get(4..end) else {
        return Ok(None);
    };
    M::decode_body(body).map(|m| Some((m, end)))
}

type In<'a> = &'a [u8];
type Res<'a, T> = IResult<In<'a>, T, WireErr>;

/// nom error carrying a [`WireError`].
#[derive(Debug)]
struct WireErr(WireError);

impl<'a> nom::error::ParseError<In<'a>> for WireErr {
    fn from_error_kind(_: In<'a>, _: nom::error::ErrorKind) -> Self {
        Self(WireError::Truncated)
    }

    fn append(_: In<'a>, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

fn fail<T>(e: WireError) -> Result<T, nom::Err<WireErr>> {
    Err(nom::Err::Failure(WireErr(e)))
}

fn p_bool(i: In<'_>) -> Res<'_, bool> {
    let (i, b) = le_u8(i)?;
    match b {
        0 => Ok((i, false)),
        1 => Ok((i, true)),
        b => fail(WireError::BadBool(b)),
    }
}

fn p_drive(i: In<'_>) -> Res<'_, DriveLetter> {
    let (i, b) = le_u8(i)?;
    if b.is_ascii_lowercase() {
        Ok((i, DriveLetter(b)))
    } else {
        fail(WireError::BadDrive(b))
    }
}

fn p_bytes(i: In<'_>) -> Res<'_, Bytes> {
    let (i, len) = le_u32(i)?;
    let (i, data) = take(len).parse(i)?;
    Ok((i, Bytes::copy_from_slice(data)))
}

fn p_string(i: In<'_>) -> Res<'_, String> {
    let (i, len) = le_u16(i)?;
    let (i, data) = take(len).parse(i)?;
    match std::str::from_utf8(data) {
        Ok(s) => Ok((i, s.to_owned())),
        Err(_) => fail(WireError::BadUtf8),
    }
}

fn p_drives(i: In<'_>) -> Res<'_, Vec<DriveLetter>> {
    let (mut i, count) = le_u8(i)?;
    if usize::from(count) > MAX_DRIVES {
        // The encoder never writes more, so a longer list would not survive a round trip.
        return fail(WireError::TooManyDrives(count));
    }
    let mut drives = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let (rest, d) = p_drive(i)?;
        drives.push(d);
        i = rest;
    }
    Ok((i, drives))
}

fn p_mode(i: In<'_>) -> Res<'_, ModeInfo> {
    let (i, bits) = le_u32(i)?;
    let mode = match crate::mode::BurMode::from_bits(bits) {
        Ok(mode) => mode,
        Err(e) => return fail(e.into()),
    };
    let (i, drives) = p_drives(i)?;
    let (i, affects_me) = p_bool(i)?;
    Ok((
        i,
        ModeInfo {
            mode,
            drives,
            affects_me,
        },
    ))
}

fn p_callback(i: In<'_>) -> Res<'_, Callback> {
    let (i, tag) = le_u8(i)?;
    Ok(match tag {
        1 => (i, Callback::AllSnapshotsSupplied),
        2 => {
            let (i, (drive, last, data)) = (p_drive, p_bool, p_bytes).parse(i)?;
            (i, Callback::ReceiveSnapshotData { drive, last, data })
        }
        3 => p_drive
            .map(|drive| Callback::GetExpectedDataSize { drive })
            .parse(i)?,
        4 => {
            let (i, (drive, max_len)) = (p_drive, le_u32).parse(i)?;
            (i, Callback::GetSnapshotData { drive, max_len })
        }
        5 => p_drive
            .map(|drive| Callback::InitialiseGetBackupData { drive })
            .parse(i)?,
        6 => le_u32
            .map(|max_len| Callback::GetBackupDataSection { max_len })
            .parse(i)?,
        7 => p_drive
            .map(|drive| Callback::InitialiseRestoreBaseData { drive })
            .parse(i)?,
        8 => {
            let (i, (last, data)) = (p_bool, p_bytes).parse(i)?;
            (i, Callback::RestoreBaseDataSection { last, data })
        }
        9 => p_drive
            .map(|drive| Callback::InitialiseRestoreIncrementData { drive })
            .parse(i)?,
        10 => {
            let (i, (last, data)) = (p_bool, p_bytes).parse(i)?;
            (i, Callback::RestoreIncrementDataSection { last, data })
        }
        11 => p_drive
            .map(|drive| Callback::RestoreComplete { drive })
            .parse(i)?,
        12 => {
            let (i, (sid, drive)) = (le_u32, p_drive).parse(i)?;
            (i, Callback::InitialiseGetProxyBackupData { sid, drive })
        }
        13 => {
            let (i, (sid, drive)) = (le_u32, p_drive).parse(i)?;
            (i, Callback::InitialiseRestoreProxyBaseData { sid, drive })
        }
        14 => (i, Callback::TerminateMultiStageOperation),
        15 => p_drive
            .map(|drive| Callback::GetDataChecksum { drive })
            .parse(i)?,
        t => return fail(WireError::UnknownTag(t)),
    })
}

fn p_reply(i: In<'_>) -> Res<'_, Reply> {
    let (i, tag) = le_u8(i)?;
    Ok(match tag {
        0 => (i, Reply::Done),
        1 => {
            let (i, (finished, data)) = (p_bool, p_bytes).parse(i)?;
            (i, Reply::Data { finished, data })
        }
        2 => le_u64.map(Reply::Value).parse(i)?,
        3 => {
            let (i, (code, message)) = (le_i32, p_string).parse(i)?;
            (i, Reply::Error { code, message })
        }
        t => return fail(WireError::UnknownTag(t)),
    })
}

/// Runs a body parser and insists that it consumes everything.
fn whole<'a, T>(body: In<'a>, parser: impl Fn(In<'a>) -> Res<'a, T>) -> Result<T, WireError> {
    match parser(body) {
        Ok(([], v)) => Ok(v),
        Ok(_) => Err(WireError::TrailingBytes),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e.0),
        Err(nom::Err::Incomplete(_)) => Err(WireError::Truncated),
    }
}

fn put_bytes(dst: &mut BytesMut, data: &[u8]) {
    dst.put_u32_le(u32::try_from(data.len()).unwrap_or(u32::MAX));
    dst.put_slice(data);
}

fn put_string(dst: &mut BytesMut, s: &str) {
    // Longer strings are cut at a char boundary below 64 KiB.
    let mut end = s.len().min(usize::from(u16::MAX));
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    dst.put_u16_le(u16::try_from(end).unwrap_or(u16::MAX));
    dst.put_slice(&s.as_bytes()[..end]);
}

fn put_mode(dst: &mut BytesMut, m: &ModeInfo) {
    dst.put_u32_le(m.mode.bits());
    let count = m.drives.len().min(MAX_DRIVES);
    dst.put_u8(u8::try_from(count).unwrap_or(0));
    for d in &m.drives[..count] {
        dst.put_u8(d.0);
    }
    dst.put_u8(u8::from(m.affects_me));
}

impl Callback {
    fn encode(&self, dst: &mut BytesMut) {
        match self {
            Self::AllSnapshotsSupplied => dst.put_u8(1),
            Self::ReceiveSnapshotData { drive, last, data } => {
                dst.put_slice(&[2, drive.0, u8::from(*last)]);
                put_bytes(dst, data);
            }
            Self::GetExpectedDataSize { drive } => dst.put_slice(&[3, drive.0]),
            Self::GetSnapshotData { drive, max_len } => {
                dst.put_slice(&[4, drive.0]);
                dst.put_u32_le(*max_len);
            }
            Self::InitialiseGetBackupData { drive } => dst.put_slice(&[5, drive.0]),
            Self::GetBackupDataSection { max_len } => {
                dst.put_u8(6);
                dst.put_u32_le(*max_len);
            }
            Self::InitialiseRestoreBaseData { drive } => dst.put_slice(&[7, drive.0]),
            Self::RestoreBaseDataSection { last, data } => {
                dst.put_slice(&[8, u8::from(*last)]);
                put_bytes(dst, data);
            }
            Self::InitialiseRestoreIncrementData { drive } => dst.put_slice(&[9, drive.0]),
            Self::RestoreIncrementDataSection { last, data } => {
                dst.put_slice(&[10, u8::from(*last)]);
                put_bytes(dst, data);
            }
            Self::RestoreComplete { drive } => dst.put_slice(&[11, drive.0]),
            Self::InitialiseGetProxyBackupData { sid, drive } => {
                dst.put_u8(12);
                dst.put_u32_le(*sid);
                dst.put_u8(drive.0);
            }
            Self::InitialiseRestoreProxyBaseData { sid, drive } => {
                dst.put_u8(13);
                dst.put_u32_le(*sid);
                dst.put_u8(drive.0);
            }
            Self::TerminateMultiStageOperation => dst.put_u8(14),
            Self::GetDataChecksum { drive } => dst.put_slice(&[15, drive.0]),
        }
    }
}

impl Reply {
    fn encode(&self, dst: &mut BytesMut) {
        match self {
            Self::Done => dst.put_u8(0),
            Self::Data { finished, data } => {
                dst.put_slice(&[1, u8::from(*finished)]);
                put_bytes(dst, data);
            }
            Self::Value(v) => {
                dst.put_u8(2);
                dst.put_u64_le(*v);
            }
            Self::Error { code, message } => {
                dst.put_u8(3);
                dst.put_i32_le(*code);
                put_string(dst, message);
            }
        }
    }
}

impl WireMessage for EngineMsg {
    fn encode_body(&self, dst: &mut BytesMut) {
        match self {
            Self::Welcome(m) => {
                dst.put_u8(0x81);
                put_mode(dst, m);
            }
            Self::Refused { reason } => {
                dst.put_u8(0x82);
                put_string(dst, reason);
            }
            Self::ModeChanged(m) => {
                dst.put_u8(0x83);
                put_mode(dst, m);
            }
            Self::Call { id, call } => {
                dst.put_u8(0x84);
                dst.put_u32_le(*id);
                call.encode(dst);
            }
        }
    }

    fn decode_body(body: &[u8]) -> Result<Self, WireError> {
        whole(body, |i| {
            let (i, tag) = le_u8(i)?;
            match tag {
                0x81 => p_mode.map(Self::Welcome).parse(i),
                0x82 => p_string.map(|reason| Self::Refused { reason }).parse(i),
                0x83 => p_mode.map(Self::ModeChanged).parse(i),
                0x84 => (le_u32, p_callback)
                    .map(|(id, call)| Self::Call { id, call })
                    .parse(i),
                t => fail(WireError::UnknownTag(t)),
            }
        })
    }
}

impl WireMessage for OwnerMsg {
    fn encode_body(&self, dst: &mut BytesMut) {
        match self {
            Self::Hello { version, sid } => {
                dst.put_u8(0x01);
                dst.put_u16_le(*version);
                dst.put_u32_le(*sid);
            }
            Self::ConfirmReady { error } => {
                dst.put_u8(0x02);
                dst.put_i32_le(*error);
            }
            Self::Reply { id, reply } => {
                dst.put_u8(0x03);
                dst.put_u32_le(*id);
                reply.encode(dst);
            }
        }
    }

    fn decode_body(body: &[u8]) -> Result<Self, WireError> {
        whole(body, |i| {
            let (i, tag) = le_u8(i)?;
            match tag {
                0x01 => (le_u16, le_u32)
                    .map(|(version, sid)| Self::Hello { version, sid })
                    .parse(i),
                0x02 => le_i32.map(|error| Self::ConfirmReady { error }).parse(i),
                0x03 => (le_u32, p_reply)
                    .map(|(id, reply)| Self::Reply { id, reply })
                    .parse(i),
                t => fail(WireError::UnknownTag(t)),
            }
        })
    }
}

#[cfg(test)]
mod tests;
