//! GetObjectPropList's data phase, produced while it is sent.
//!
//! A list of every property of every object in a storage of 100 000 files is about 26 MB
//! on the wire, and was about 100 MB as entries in memory before it was encoded. It is
//! made in two passes over the providers instead: the first takes each object's record
//! once to learn its encoded length (the container header states the whole length before
//! the first byte), the second takes the record again while the data phase is sent and
//! encodes a few objects at a time. Between the passes only the handles and one `u16`
//! length per object are kept (6 bytes per object), and the first pass's bytes of the
//! first 64 KiB of objects, which the second pass then skips: a short list (libmtp asks
//! for one object's list after every GetObjectInfo) is encoded once.
//!
//! Within one transaction an object's encoded length cannot change: its name comes from
//! the provider's table, which only a listing changes, and every other value has a fixed
//! size. An object beyond the first 64 KiB that a local program deletes during the data
//! phase has no record in the second pass: the transfer then ends short and the response
//! is IncompleteTransfer (the host asks again; the next list leaves the object out). Objects that vanish between the
//! listing and the first pass are left out of the list.
//!
//! # Spec
//! MTP 1.1 §D.2.28 (GetObjectPropList), appendix E.2.1.2 (ObjectPropList dataset).

use bytes::{BufMut, BytesMut};

use super::objects::list_handles;
use super::props::{OBJECT_PROPS, prop_param, record, value};
use super::reply::{handle, rc};
use crate::codec::{Container, ObjectFormat, ObjectPropCode as P, ResponseCode};
use crate::provider::{Chunk, ObjectHandle, ObjectRecord, ProviderResult};
use crate::responder::transaction::Produce;
use crate::responder::{Context, Reply};

/// Bytes encoded ahead of the data phase at most (a few objects beyond one request).
const AHEAD: usize = 64 * 1024;

pub(crate) fn get_object_prop_list(ctx: &mut Context, cmd: &Container) -> Reply {
    match PropListStream::new(ctx, cmd) {
        Ok(stream) => Reply::Produced(Box::new(stream)),
        Err(code) => rc(code),
    }
}

/// The list, produced while it is sent.
struct PropListStream {
    /// The listed objects, in order.
    handles: Vec<u32>,
    /// Each object's encoded length, from the first pass.
    lens: Vec<u16>,
    props: Vec<P>,
    /// Index of the next object to encode.
    next: usize,
    /// Bytes encoded and not yet handed out (starts with the element count).
    ready: BytesMut,
    total: u64,
}

impl PropListStream {
    /// The first pass: what to list, and how long each object's entries are.
    fn new(ctx: &mut Context, cmd: &Container) -> Result<Self, ResponseCode> {
        let (h, format, prop, group, depth) = (
            cmd.param(0),
            cmd.param(1),
            cmd.param(2),
            cmd.param(3),
            cmd.param(4),
        );
        let props: Vec<P> = match prop {
            u32::MAX => OBJECT_PROPS.to_vec(),
            0 if group == 0 => return Err(ResponseCode::ParameterNotSupported),
            0 => return Err(ResponseCode::SpecificationByGroupUnsupported),
            p => vec![prop_param(p)?],
        };
        let format = (format != 0).then(|| ObjectFormat::from_u16(format as u16));
        let listed = objects_for_list(ctx, h, depth)?;
        let mut handles = Vec::with_capacity(listed.len());
        let mut lens = Vec::with_capacity(listed.len());
        let mut scratch = BytesMut::new();
        // The element count comes first; it is known after the pass.
        let mut ready = BytesMut::with_capacity(AHEAD);
        ready.put_u32_le(0);
        // Objects whose entries the pass kept for the data phase: the first ones, up to
        // AHEAD bytes (a whole list of a few hundred objects, or a single object, is
        // then encoded once).
        let mut kept = 0;
        // One object asked for by its handle: its record is the only check that it exists.
        let single = h != 0 && h != u32::MAX && depth == 0;
        for h in listed {
            let rec = match record(ctx, h) {
                Ok(rec) => rec,
                Err(code) if single => return Err(code),
                Err(_) => continue, // gone since it was listed
            };
            if format.is_some_and(|f| f != rec.format) {
                continue;
            }
            let len = if kept == handles.len() && ready.len() < AHEAD {
                let before = ready.len();
                encode_object(&rec, &props, &mut ready);
                kept += 1;
                ready.len() - before
            } else {
                scratch.clear();
                encode_object(&rec, &props, &mut scratch);
                scratch.len()
            };
            handles.push(h.0);
            lens.push(u16::try_from(len).map_err(|_| ResponseCode::GeneralError)?);
        }
        let entries = handles.len().saturating_mul(props.len());
        let count = u32::try_from(entries).map_err(|_| ResponseCode::GeneralError)?;
        ready[..4].copy_from_slice(&count.to_le_bytes());
        let total = 4 + lens.iter().map(|l| u64::from(*l)).sum::<u64>();
        Ok(Self {
            handles,
            lens,
            props,
            next: kept,
            ready,
            total,
        })
    }

    /// The second pass for object `i`: its entries, exactly as long as the first pass
    /// found them.
    fn encode(&mut self, ctx: &mut Context, i: usize) -> ProviderResult<()> {
        let h = ObjectHandle(self.handles[i]);
        let rec = record(ctx, h).map_err(|code| {
            tracing::warn!(handle = h.0, %code, "object gone while its properties were sent");
            ResponseCode::IncompleteTransfer
        })?;
        let before = self.ready.len();
        encode_object(&rec, &self.props, &mut self.ready);
        if self.ready.len() - before != usize::from(self.lens[i]) {
            tracing::warn!(
                handle = h.0,
                "object changed while its properties were sent"
            );
            return Err(ResponseCode::IncompleteTransfer);
        }
        Ok(())
    }
}

impl Produce<Context> for PropListStream {
    fn len(&self) -> u64 {
        self.total
    }

    fn read(&mut self, ctx: &mut Context, max: usize) -> ProviderResult<Chunk> {
        let want = max.clamp(1, AHEAD);
        while self.ready.len() < want && self.next < self.handles.len() {
            self.encode(ctx, self.next)?;
            self.next += 1;
        }
        let n = want.min(self.ready.len());
        if n == 0 {
            return Err(ResponseCode::IncompleteTransfer);
        }
        Ok(Chunk::Data(self.ready.split_to(n).freeze()))
    }
}

/// Appends the entries of one object: handle, property code, datatype, value.
fn encode_object(rec: &ObjectRecord, props: &[P], out: &mut BytesMut) {
    for p in props {
        let v = value(rec, *p);
        out.put_u32_le(rec.handle.0);
        out.put_u16_le(p.to_u16());
        out.put_u16_le(v.data_type().to_u16());
        v.put(out);
    }
}

fn objects_for_list(
    ctx: &mut Context,
    h: u32,
    depth: u32,
) -> Result<Vec<ObjectHandle>, ResponseCode> {
    if h == u32::MAX {
        return list_handles(ctx, u32::MAX, 0, 0);
    }
    let mut out = Vec::new();
    let mut level = if h == 0 {
        list_handles(ctx, u32::MAX, 0, u32::MAX)?
    } else {
        let start = handle(h)?;
        out.push(start);
        if depth == 0 {
            return Ok(out); // the first pass's record checks it
        }
        list_children(ctx, start)?
    };
    let mut remaining = depth.saturating_sub(1);
    loop {
        out.extend(&level);
        if remaining == 0 || level.is_empty() {
            return Ok(out);
        }
        remaining = remaining
            .saturating_sub(1)
            .max(u32::from(depth == u32::MAX));
        let mut next = Vec::new();
        for f in level {
            next.extend(list_children(ctx, f)?);
        }
        level = next;
    }
}

fn list_children(ctx: &mut Context, h: ObjectHandle) -> Result<Vec<ObjectHandle>, ResponseCode> {
    let rec = record(ctx, h)?;
    if !rec.is_folder() {
        return Ok(Vec::new());
    }
    list_handles(ctx, rec.storage.0, 0, h.0)
}
