//! Responder state tests with an in-memory provider: one fixture per protocol state.

mod cancel;
mod mapped;
mod operations;
mod phases;
mod prop_list;
mod random;
mod references;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};

use super::*;
use crate::codec::container::{ContainerKind, data_header};
use crate::codec::dataset::{DeviceInfo, ObjectInfo};
use crate::codec::{EventCode, ObjectFormat, OperationCode as Op};
use crate::provider::*;
use crate::providers::{DeviceIdentity, DeviceProvider};

const STORE: StorageId = StorageId(0x0001_0001);

#[derive(Default)]
struct Shared {
    objects: BTreeMap<u32, (ObjectRecord, Vec<u8>)>,
    aborted: usize,
    not_ready_every: usize,
    /// Sources hand out mapped pieces (`map_next`) when true.
    mapping: bool,
    /// Where each piece handed out by `map_next` starts, and its length.
    mapped: Vec<(usize, usize)>,
}

struct MemProvider {
    id: ProviderId,
    shared: Arc<Mutex<Shared>>,
    pending: Option<ObjectHandle>,
    events: Vec<ProviderEvent>,
}

struct MemSource {
    data: Bytes,
    at: usize,
    calls: usize,
    not_ready_every: usize,
    /// Set when the provider maps: pieces handed out by `map_next` are recorded here.
    mapped: Option<Arc<Mutex<Shared>>>,
}

impl ObjectSource for MemSource {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }
    fn read(&mut self, max: usize) -> ProviderResult<Chunk> {
        self.calls += 1;
        if self.not_ready_every > 0 && self.calls % self.not_ready_every == 0 {
            return Ok(Chunk::NotReady);
        }
        // Odd sizes on purpose: the responder must re-chunk.
        let n = max.min(self.data.len() - self.at).min(1000);
        let b = self.data.slice(self.at..self.at + n);
        self.at += n;
        Ok(Chunk::Data(b))
    }
    fn map_next(&mut self, len: usize) -> Option<ProviderResult<Bytes>> {
        let shared = self.mapped.as_ref()?;
        if self.at + len > self.data.len() {
            return Some(Err(ResponseCode::IncompleteTransfer));
        }
        let b = self.data.slice(self.at..self.at + len);
        self.at += len;
        shared
            .lock()
            .unwrap()
            .mapped
            .push((b.as_ptr() as usize, len));
        Some(Ok(b))
    }
}

struct MemSink {
    handle: u32,
    buf: Vec<u8>,
    shared: Arc<Mutex<Shared>>,
}

impl ObjectSink for MemSink {
    fn write(&mut self, data: Bytes) -> ProviderResult<()> {
        self.buf.extend_from_slice(&data);
        Ok(())
    }
    fn finish(self: Box<Self>, _received: u64) -> ProviderResult<()> {
        let mut s = self.shared.lock().unwrap();
        let e = s.objects.get_mut(&self.handle).unwrap();
        e.0.size = self.buf.len() as u64;
        e.1 = self.buf;
        Ok(())
    }
    fn abort(self: Box<Self>) {
        let mut s = self.shared.lock().unwrap();
        s.objects.remove(&self.handle);
        s.aborted += 1;
    }
}

impl DataProvider for MemProvider {
    fn name(&self) -> &str {
        "mem"
    }
    fn attach(&mut self, id: ProviderId) {
        self.id = id;
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            operations: vec![
                Op::GetObject,
                Op::SendObjectInfo,
                Op::SendObject,
                Op::DeleteObject,
            ],
            playback_formats: vec![ObjectFormat::Undefined, ObjectFormat::Association],
            capture_formats: vec![ObjectFormat::Undefined],
            writable_props: vec![],
            events: vec![EventCode::ObjectAdded],
        }
    }
    fn storage_ids(&self) -> Vec<StorageId> {
        vec![STORE]
    }
    fn storage_info(&mut self, _: StorageId) -> ProviderResult<crate::codec::dataset::StorageInfo> {
        Err(ResponseCode::StoreNotAvailable)
    }
    fn object_handles(
        &mut self,
        _: StorageId,
        _: Option<ObjectFormat>,
        _: ParentFilter,
    ) -> ProviderResult<Vec<ObjectHandle>> {
        Ok(self
            .shared
            .lock()
            .unwrap()
            .objects
            .keys()
            .map(|h| ObjectHandle(*h))
            .collect())
    }
    fn object(&mut self, h: ObjectHandle) -> ProviderResult<ObjectRecord> {
        let s = self.shared.lock().unwrap();
        s.objects
            .get(&h.0)
            .map(|e| e.0.clone())
            .ok_or(ResponseCode::InvalidObjectHandle)
    }
    fn open_read(
        &mut self,
        h: ObjectHandle,
        offset: u64,
        max: u64,
    ) -> ProviderResult<Box<dyn ObjectSource>> {
        let s = self.shared.lock().unwrap();
        let data = &s
            .objects
            .get(&h.0)
            .ok_or(ResponseCode::InvalidObjectHandle)?
            .1;
        let start = (offset as usize).min(data.len());
        let end = start + (max.min((data.len() - start) as u64) as usize);
        Ok(Box::new(MemSource {
            data: Bytes::copy_from_slice(&data[start..end]),
            at: 0,
            calls: 0,
            not_ready_every: s.not_ready_every,
            mapped: s.mapping.then(|| self.shared.clone()),
        }))
    }
    fn send_object_info(
        &mut self,
        at: Placement,
        info: &ObjectInfo,
        size: Option<u64>,
    ) -> ProviderResult<ObjectHandle> {
        let mut s = self.shared.lock().unwrap();
        let local = s.objects.len() as u32 + 100;
        let h = ObjectHandle::new(self.id, local);
        let rec = ObjectRecord {
            handle: h,
            storage: at.storage,
            parent: at.parent,
            format: ObjectFormat::from_u16(info.format),
            size: size.unwrap_or(0),
            name: info.filename.clone(),
            created: 0,
            modified: 0,
            read_only: false,
            puid: u128::from(h.0),
        };
        s.objects.insert(h.0, (rec, Vec::new()));
        self.pending = Some(h);
        self.events
            .push(ProviderEvent::with(EventCode::ObjectAdded, h.0));
        Ok(h)
    }
    fn send_object(&mut self, h: ObjectHandle) -> ProviderResult<Box<dyn ObjectSink>> {
        if self.pending.take() != Some(h) {
            return Err(ResponseCode::NoValidObjectInfo);
        }
        Ok(Box::new(MemSink {
            handle: h.0,
            buf: Vec::new(),
            shared: self.shared.clone(),
        }))
    }
    fn poll_event(&mut self) -> Option<ProviderEvent> {
        self.events.pop()
    }
}

struct Harness {
    r: Responder,
    shared: Arc<Mutex<Shared>>,
    tx: u32,
}

fn device() -> DeviceProvider {
    DeviceProvider::new(DeviceIdentity {
        manufacturer: "M".into(),
        model: "T".into(),
        version: "1".into(),
        serial: "1".into(),
    })
}

impl Harness {
    fn new() -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let p = MemProvider {
            id: ProviderId(0),
            shared: shared.clone(),
            pending: None,
            events: vec![],
        };
        let config = ResponderConfig {
            chunk_size: 4096,
            max_dataset: 4096,
        };
        Self {
            r: Responder::new(device(), vec![Box::new(p)], config),
            shared,
            tx: 1,
        }
    }

    fn in_session() -> Self {
        let mut h = Self::new();
        h.cmd_raw(Op::OpenSession, 0, &[1]);
        assert_eq!(h.response().code, ResponseCode::Ok.to_u16());
        h
    }

    fn with_object(size: usize) -> (Self, u32) {
        let mut h = Self::in_session();
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let handle = h.upload("f.bin", &data);
        (h, handle)
    }

    fn cmd_raw(&mut self, op: Op, tx: u32, params: &[u32]) {
        let c = Container::new(ContainerKind::Command, op.to_u16(), tx, params);
        self.r.handle_bulk_out(c.encode(), true);
    }

    fn cmd(&mut self, op: Op, params: &[u32]) -> u32 {
        let tx = self.tx;
        self.tx += 1;
        self.cmd_raw(op, tx, params);
        tx
    }

    fn data(&mut self, op: Op, tx: u32, payload: &[u8]) {
        let mut b = BytesMut::from(&data_header(op.to_u16(), tx, payload.len() as u64)[..]);
        b.extend_from_slice(payload);
        self.r.handle_bulk_out(b.freeze(), true);
    }

    fn writes(&mut self) -> Vec<Bytes> {
        let mut v = Vec::new();
        while let Some(b) = self.r.poll_bulk_in() {
            v.push(b);
        }
        v
    }

    fn response(&mut self) -> Container {
        let w = self.writes();
        let last = w.iter().rev().find(|b| !b.is_empty()).expect("a response");
        parse_container(last).expect("a container")
    }

    /// Returns (data payload, response) of a data-in transaction.
    fn data_in(&mut self) -> (Vec<u8>, Container) {
        let w = self.writes();
        let mut all: Vec<u8> = w[..w.len() - 1]
            .iter()
            .flat_map(|b| b.iter().copied())
            .collect();
        let resp = parse_container(&w[w.len() - 1]).unwrap();
        let payload = all.split_off(12);
        (payload, resp)
    }

    /// SendObjectInfo for a file of `size` bytes in the root; returns the new handle.
    fn announce(&mut self, name: &str, size: u32) -> u32 {
        let info = ObjectInfo {
            format: 0x3000,
            compressed_size: size,
            filename: name.into(),
            ..Default::default()
        };
        let mut b = Vec::new();
        info.put(&mut b);
        let tx = self.cmd(Op::SendObjectInfo, &[STORE.0, 0]);
        self.data(Op::SendObjectInfo, tx, &b);
        let r = self.response();
        assert_eq!(r.code, ResponseCode::Ok.to_u16());
        r.param(2)
    }

    fn upload(&mut self, name: &str, data: &[u8]) -> u32 {
        let handle = self.announce(name, data.len() as u32);
        let tx = self.cmd(Op::SendObject, &[]);
        self.data(Op::SendObject, tx, data);
        assert_eq!(self.response().code, ResponseCode::Ok.to_u16());
        handle
    }
}

fn code(c: &Container) -> ResponseCode {
    ResponseCode::from_u16(c.code)
}
