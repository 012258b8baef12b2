//! Data phases: [`DataOut`] collects a host-to-device data container into a buffer or a
//! sink; [`DataIn`] cuts a device-to-host data container into USB writes.
//!
//! # Spec
//! MTP 1.1 appendix D.7 (USB bulk phases). A data phase ends when the stated container
//! length has arrived, or, when the length is 0xFFFFFFFF or not trusted (SendObject of
//! 4 GiB or more, whose length libmtp truncates), at the short packet that ends the USB
//! transfer. A header sent in its own 12-byte transfer (libmtp's SendPartialObject) is not
//! the end. Every write except the last is a whole number of max packets; a transfer whose
//! length is a multiple of the max packet size ends with a zero-length packet.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::container::{
    ContainerHeader, ContainerKind, HEADER_LEN, data_header, parse_header,
};
use crate::codec::{Container, ResponseCode};
use crate::lengths::capped_usize;
use crate::provider::{Chunk, ObjectSink, ObjectSource, ProviderResult};

/// Where the payload of a host-to-device data phase goes.
pub(crate) enum OutTarget {
    /// A dataset, buffered up to `max` bytes.
    Buffer { buf: BytesMut, max: usize },
    /// Object data, streamed to a provider sink.
    Sink {
        sink: Box<dyn ObjectSink>,
        failed: Option<ResponseCode>,
    },
    /// Read and thrown away; the transaction ends with this code.
    Discard(ResponseCode),
}

/// What happened to a chunk fed into a data phase.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Feed {
    /// More data is expected.
    More,
    /// The data phase is complete.
    Done,
    /// The data phase ended badly; answer with this code.
    Failed(ResponseCode),
    /// A command container arrived instead of data: the host skipped the data phase.
    NotData(Bytes),
    /// A command container arrived in the middle of the data phase: the host that started
    /// it is gone (a killed tool sends no Cancel) and a new one is talking.
    Abandoned(Bytes),
}

/// A host-to-device data phase in progress.
pub(crate) struct DataOut {
    pub(crate) cmd: Container,
    pub(crate) target: OutTarget,
    header: Option<ContainerHeader>,
    /// Payload bytes expected, when known and trusted.
    limit: Option<u64>,
    /// Whether the header's length may be used (false: use `size_hint`, or the short packet).
    trust_header: bool,
    size_hint: Option<u64>,
    /// Payload bytes received.
    pub(crate) received: u64,
    excess: bool,
}

impl DataOut {
    /// Starts a data phase for `cmd`. With `size_hint` (the ObjectInfo size of an upload)
    /// the container length is not trusted.
    pub(crate) fn new(cmd: Container, target: OutTarget, size_hint: Option<Option<u64>>) -> Self {
        let (trust_header, size_hint) = match size_hint {
            None => (true, None),
            Some(hint) => (false, hint),
        };
        Self {
            cmd,
            target,
            header: None,
            limit: None,
            trust_header,
            size_hint,
            received: 0,
            excess: false,
        }
    }

    /// Feeds one USB transfer piece; `end` is true when it ended with a short packet.
    pub(crate) fn feed(&mut self, chunk: Bytes, end: bool) -> Feed {
        let payload = if self.header.is_none() {
            if chunk.is_empty() {
                return Feed::More;
            }
            match self.start(chunk, end) {
                Ok(p) => p,
                Err(f) => return f,
            }
        } else {
            let short_of_limit = self
                .limit
                .is_none_or(|l| self.received + (chunk.len() as u64) < l);
            if short_of_limit && looks_like_command(&chunk, end) {
                return Feed::Abandoned(chunk);
            }
            // A host that died mid-transfer leaves our read request half full; the next
            // host's command then completes it, behind the stale data.
            if end && self.limit.is_some() && short_of_limit {
                if let Some(cmd) = command_at_tail(&chunk) {
                    return Feed::Abandoned(cmd);
                }
            }
            chunk
        };
        self.accept(payload);
        match self.limit {
            Some(limit) if self.received >= limit => self.result(),
            Some(limit) if end && !(self.received == 0 && limit > 0) => {
                let _ = limit;
                Feed::Failed(ResponseCode::IncompleteTransfer)
            }
            None if end && self.received > 0 => self.result(),
            _ => Feed::More,
        }
    }

    fn start(&mut self, chunk: Bytes, end: bool) -> Result<Bytes, Feed> {
        if looks_like_command(&chunk, end) {
            return Err(Feed::NotData(chunk));
        }
        let Ok((_, h)) = parse_header(&chunk) else {
            return Err(Feed::Failed(ResponseCode::IncompleteTransfer));
        };
        if h.kind != ContainerKind::Data || h.code != self.cmd.code {
            return Err(Feed::Failed(ResponseCode::InvalidParameter));
        }
        if h.tx_id != self.cmd.tx_id {
            return Err(Feed::Failed(ResponseCode::InvalidTransactionId));
        }
        self.limit = if self.trust_header {
            h.payload_len()
        } else {
            self.size_hint.filter(|s| h.payload_len() == Some(*s))
        };
        self.header = Some(h);
        Ok(chunk.slice(HEADER_LEN..))
    }

    fn accept(&mut self, mut payload: Bytes) {
        if let Some(limit) = self.limit {
            let room = capped_usize(limit.saturating_sub(self.received), usize::MAX);
            if payload.len() > room {
                self.excess = true;
                payload.truncate(room);
            }
        }
        self.received = self.received.saturating_add(payload.len() as u64);
        if payload.is_empty() {
            return;
        }
        match &mut self.target {
            OutTarget::Buffer { buf, max } => {
                if buf.len() + payload.len() > *max {
                    self.target = OutTarget::Discard(ResponseCode::InvalidDataset);
                } else {
                    buf.put_slice(&payload);
                }
            }
            OutTarget::Sink { sink, failed } => {
                if failed.is_none() {
                    if let Err(code) = sink.write(payload) {
                        *failed = Some(code);
                    }
                }
            }
            OutTarget::Discard(_) => {}
        }
    }

    fn result(&self) -> Feed {
        if self.excess {
            Feed::Failed(ResponseCode::InvalidParameter)
        } else {
            Feed::Done
        }
    }
}

/// Returns true if `chunk` is a complete, plausible command container.
pub(crate) fn looks_like_command(chunk: &[u8], end: bool) -> bool {
    if !end || chunk.len() < HEADER_LEN || chunk.len() > HEADER_LEN + 20 {
        return false;
    }
    match parse_header(chunk) {
        Ok((_, h)) => {
            h.kind == ContainerKind::Command && usize::try_from(h.length) == Ok(chunk.len())
        }
        Err(_) => false,
    }
}

/// Returns the command container that ends `chunk`, if the chunk ends with one (a read
/// request completed by a new host's command behind stale data of a dead transfer).
pub(crate) fn command_at_tail(chunk: &Bytes) -> Option<Bytes> {
    (HEADER_LEN..=HEADER_LEN + 20)
        .step_by(4)
        .filter(|k| *k < chunk.len())
        .find_map(|k| {
            let tail = chunk.slice(chunk.len() - k..);
            looks_like_command(&tail, true).then_some(tail)
        })
}

/// One step of a device-to-host stream.
pub(crate) enum Step {
    /// Write these bytes; `last` marks the final write of the data container.
    Write { bytes: Bytes, last: bool },
    /// The source has nothing yet.
    NotReady,
    /// The source failed after `sent` bytes had been written.
    Failed(ResponseCode),
}

/// A dataset too large to hold in memory, produced from the providers (reached through
/// the context `C`) while it is sent; its exact length is known before the first byte.
pub(crate) trait Produce<C>: Send {
    /// Returns the exact number of bytes it will produce.
    fn len(&self) -> u64;

    /// Produces the next bytes, at most `max`.
    ///
    /// # Errors
    /// A response code; the responder then aborts the transfer.
    fn read(&mut self, ctx: &mut C, max: usize) -> ProviderResult<Chunk>;
}

/// What a device-to-host data phase reads from.
pub(crate) enum Source<C> {
    /// Object data from a provider.
    Object(Box<dyn ObjectSource>),
    /// A dataset produced while it is sent.
    Produced(Box<dyn Produce<C>>),
}

impl<C> Source<C> {
    fn len(&self) -> u64 {
        match self {
            Self::Object(s) => s.len(),
            Self::Produced(p) => p.len(),
        }
    }

    fn read(&mut self, ctx: &mut C, max: usize) -> ProviderResult<Chunk> {
        match self {
            Self::Object(s) => s.read(max),
            Self::Produced(p) => p.read(ctx, max),
        }
    }

    fn map_next(&mut self, len: usize) -> Option<ProviderResult<Bytes>> {
        match self {
            Self::Object(s) if len > 0 => s.map_next(len),
            _ => None,
        }
    }
}

/// A device-to-host data phase streamed from a [`Source`].
pub(crate) struct DataIn<C> {
    tx_id: u32,
    header: Option<[u8; HEADER_LEN]>,
    source: Source<C>,
    remaining: u64,
    pending: BytesMut,
    /// Bytes of the whole container (header included).
    pub(crate) total: u64,
    pub(crate) written: u64,
    pub(crate) params: Vec<u32>,
}

impl<C> DataIn<C> {
    pub(crate) fn new(cmd: &Container, source: Source<C>, params: Vec<u32>) -> Self {
        let len = source.len();
        Self {
            tx_id: cmd.tx_id,
            header: Some(data_header(cmd.code, cmd.tx_id, len)),
            source,
            remaining: len,
            pending: BytesMut::new(),
            total: len.saturating_add(HEADER_LEN as u64),
            written: 0,
            params,
        }
    }

    /// Returns the transaction id.
    pub(crate) fn tx_id(&self) -> u32 {
        self.tx_id
    }

    /// Produces the next write of at most `chunk` bytes (a multiple of the max packet size);
    /// a produced source reads the providers through `ctx`.
    pub(crate) fn next(&mut self, chunk: usize, ctx: &mut C) -> Step {
        let head = if self.header.is_some() { HEADER_LEN } else { 0 };
        let left = self.remaining.saturating_add(self.pending.len() as u64);
        let want = capped_usize(left, chunk.saturating_sub(head));
        if head == 0 && self.pending.is_empty() {
            // A whole request of mapped file data goes out as it is: never copied here.
            match self.source.map_next(want) {
                Some(Ok(b)) if b.len() == want => {
                    self.remaining -= want as u64;
                    return self.emit(b);
                }
                Some(Ok(_)) => return Step::Failed(ResponseCode::GeneralError),
                Some(Err(code)) => return Step::Failed(code),
                None => {}
            }
        }
        while self.pending.len() < want {
            let ask = want - self.pending.len();
            match self.source.read(ctx, ask) {
                Ok(Chunk::Data(b)) if !b.is_empty() => {
                    let b = if b.len() > ask { b.slice(..ask) } else { b };
                    self.remaining -= b.len() as u64;
                    if head == 0 && self.pending.is_empty() && b.len() == want {
                        return self.emit(b);
                    }
                    self.pending.put_slice(&b);
                }
                Ok(Chunk::Data(_)) => return Step::Failed(ResponseCode::IncompleteTransfer),
                Ok(Chunk::NotReady) => return Step::NotReady,
                Err(code) => return Step::Failed(code),
            }
        }
        let body = self.pending.split_to(want);
        let bytes = match self.header.take() {
            Some(h) => {
                let mut b = BytesMut::with_capacity(HEADER_LEN + body.len());
                b.put_slice(&h);
                b.put_slice(&body);
                b.freeze()
            }
            None => body.freeze(),
        };
        self.emit(bytes)
    }

    fn emit(&mut self, bytes: Bytes) -> Step {
        self.written += bytes.len() as u64;
        Step::Write {
            bytes,
            last: self.written >= self.total,
        }
    }
}

/// Splits a whole in-memory transfer into writes of at most `chunk` bytes and appends a
/// zero-length packet when its length is a multiple of `mps`.
pub(crate) fn push_transfer(
    out: &mut std::collections::VecDeque<Bytes>,
    bytes: Bytes,
    chunk: usize,
    mps: usize,
) {
    let len = bytes.len();
    let mut at = 0;
    while at < len {
        let n = chunk.min(len - at);
        out.push_back(bytes.slice(at..at + n));
        at += n;
    }
    if len % mps == 0 {
        out.push_back(Bytes::new());
    }
}

/// Encodes a data container with an in-memory payload.
pub(crate) fn data_container(cmd: &Container, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(HEADER_LEN + payload.len());
    b.put_slice(&data_header(cmd.code, cmd.tx_id, payload.len() as u64));
    b.put_slice(payload);
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::container::data_header;

    fn cmd() -> Container {
        Container::new(ContainerKind::Command, 0x100D, 5, &[])
    }

    fn buffer() -> OutTarget {
        OutTarget::Buffer {
            buf: BytesMut::new(),
            max: 1024,
        }
    }

    fn data(len: u32) -> Vec<u8> {
        let mut v = data_header(0x100D, 5, u64::from(len)).to_vec();
        v.extend(std::iter::repeat_n(7u8, len as usize));
        v
    }

    #[test]
    fn data_phase_ends_at_stated_length() {
        let mut d = DataOut::new(cmd(), buffer(), None);
        assert_eq!(d.feed(Bytes::from(data(10)), true), Feed::Done);
        assert_eq!(d.received, 10);
    }

    #[test]
    fn split_header_is_not_the_end() {
        let all = data(10);
        let mut d = DataOut::new(cmd(), buffer(), None);
        assert_eq!(d.feed(Bytes::copy_from_slice(&all[..12]), true), Feed::More);
        assert_eq!(d.feed(Bytes::copy_from_slice(&all[12..]), true), Feed::Done);
    }

    #[test]
    fn short_packet_before_stated_length_is_incomplete() {
        let all = data(10);
        let mut d = DataOut::new(cmd(), buffer(), None);
        assert_eq!(
            d.feed(Bytes::copy_from_slice(&all[..15]), true),
            Feed::Failed(ResponseCode::IncompleteTransfer)
        );
    }

    #[test]
    fn unknown_length_ends_at_short_packet() {
        let mut all = data(600);
        all[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut d = DataOut::new(cmd(), buffer(), None);
        assert_eq!(
            d.feed(Bytes::copy_from_slice(&all[..512]), false),
            Feed::More
        );
        assert_eq!(
            d.feed(Bytes::copy_from_slice(&all[512..]), true),
            Feed::Done
        );
        assert_eq!(d.received, 600);
    }

    #[test]
    fn untrusted_length_uses_object_size_or_short_packet() {
        // libmtp truncates the length of >= 4 GiB uploads; the hint disagrees, so the
        // short packet decides.
        let mut all = data(20);
        all[..4].copy_from_slice(&16u32.to_le_bytes());
        let mut d = DataOut::new(cmd(), buffer(), Some(Some(20)));
        assert_eq!(d.feed(Bytes::from(all), true), Feed::Done);
        assert_eq!(d.received, 20);
    }

    #[test]
    fn command_instead_of_data_is_reported() {
        let c = Container::new(ContainerKind::Command, 0x1001, 6, &[]).encode();
        let mut d = DataOut::new(cmd(), buffer(), None);
        assert!(matches!(d.feed(c, true), Feed::NotData(_)));
    }

    #[test]
    fn command_in_the_middle_of_data_abandons_the_phase() {
        let all = data(100_000);
        let mut d = DataOut::new(cmd(), buffer(), None);
        assert_eq!(
            d.feed(Bytes::copy_from_slice(&all[..4096]), false),
            Feed::More
        );
        let c = Container::new(ContainerKind::Command, 0x1002, 0, &[1]).encode();
        assert!(matches!(d.feed(c, true), Feed::Abandoned(_)));
    }

    #[test]
    fn command_behind_stale_data_in_one_read_abandons_the_phase() {
        let all = data(100_000);
        let mut d = DataOut::new(cmd(), buffer(), None);
        assert_eq!(
            d.feed(Bytes::copy_from_slice(&all[..4096]), false),
            Feed::More
        );
        let mut piece = vec![7u8; 3000];
        let c = Container::new(ContainerKind::Command, 0x1002, 0, &[1]).encode();
        piece.extend_from_slice(&c);
        assert_eq!(d.feed(Bytes::from(piece), true), Feed::Abandoned(c));
    }

    #[test]
    fn oversized_dataset_is_discarded_as_invalid() {
        let mut d = DataOut::new(
            cmd(),
            OutTarget::Buffer {
                buf: BytesMut::new(),
                max: 4,
            },
            None,
        );
        assert_eq!(d.feed(Bytes::from(data(10)), true), Feed::Done);
        assert!(matches!(
            d.target,
            OutTarget::Discard(ResponseCode::InvalidDataset)
        ));
    }

    #[test]
    fn payload_beyond_the_stated_length_is_cut_and_invalid() {
        let mut all = data(10);
        all.extend_from_slice(&[9u8; 10]);
        let mut d = DataOut::new(cmd(), buffer(), None);
        assert_eq!(
            d.feed(Bytes::from(all), true),
            Feed::Failed(ResponseCode::InvalidParameter)
        );
        assert_eq!(d.received, 10);
    }

    const GIB: u64 = 1 << 30;
    const MIB: usize = 1 << 20;
    static ZEROS: [u8; MIB] = [0; MIB];

    /// A source of `len` zero bytes that never allocates.
    struct Zeros {
        len: u64,
        left: u64,
    }

    impl ObjectSource for Zeros {
        fn len(&self) -> u64 {
            self.len
        }
        fn read(&mut self, max: usize) -> crate::provider::ProviderResult<Chunk> {
            let n = capped_usize(self.left, max.min(MIB));
            self.left -= n as u64;
            Ok(Chunk::Data(Bytes::from_static(&ZEROS[..n])))
        }
    }

    #[test]
    fn five_gib_download_is_sent_whole_in_full_chunks() {
        // `(remaining + pending) as usize` on a 32-bit board turned 4 GiB + 100 into 100.
        let len = 5 * GIB + 100;
        let zeros = Source::<()>::Object(Box::new(Zeros { len, left: len }));
        let mut d = DataIn::new(&cmd(), zeros, vec![]);
        assert_eq!(d.total, len + HEADER_LEN as u64);
        let mut sent = 0u64;
        loop {
            let Step::Write { bytes, last } = d.next(MIB, &mut ()) else {
                panic!("the source never fails");
            };
            if sent == 0 {
                assert_eq!(&bytes[..4], &u32::MAX.to_le_bytes(), "length unknown");
            }
            sent += bytes.len() as u64;
            if last {
                break;
            }
            assert_eq!(bytes.len(), MIB, "every write but the last is a full chunk");
        }
        assert_eq!(sent, len + HEADER_LEN as u64);
    }

    #[test]
    fn five_gib_upload_with_a_truncated_length_counts_every_byte() {
        // libmtp writes the container length of a 5 GiB upload modulo 2^32.
        let len = 5 * GIB;
        let wrapped = u32::try_from((len + HEADER_LEN as u64) & 0xFFFF_FFFF).unwrap();
        let mut first = data_header(0x100D, 5, len).to_vec();
        first[..4].copy_from_slice(&wrapped.to_le_bytes());
        first.extend_from_slice(&ZEROS[..MIB - HEADER_LEN]);
        let target = OutTarget::Discard(ResponseCode::Ok);
        let mut d = DataOut::new(cmd(), target, Some(Some(len)));
        assert_eq!(d.feed(Bytes::from(first), false), Feed::More);
        let full_pieces = usize::try_from(len / MIB as u64 - 1).unwrap();
        for _ in 0..full_pieces {
            assert_eq!(d.feed(Bytes::from_static(&ZEROS), false), Feed::More);
        }
        let tail = Bytes::from_static(&ZEROS[..HEADER_LEN]);
        assert_eq!(d.feed(tail, true), Feed::Done);
        assert_eq!(d.received, len);
    }

    #[test]
    fn push_transfer_adds_zlp_only_on_packet_multiples() {
        let mut q = std::collections::VecDeque::new();
        push_transfer(&mut q, Bytes::from(vec![0u8; 1024]), 512, 512);
        assert_eq!(q.iter().map(Bytes::len).collect::<Vec<_>>(), [512, 512, 0]);
        q.clear();
        push_transfer(&mut q, Bytes::from(vec![0u8; 1000]), 512, 512);
        assert_eq!(q.iter().map(Bytes::len).collect::<Vec<_>>(), [512, 488]);
    }
}
