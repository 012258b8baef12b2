//! Responder state tests with an in-memory provider: one fixture per protocol state.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};

use super::*;
use crate::codec::container::{ContainerKind, data_header};
use crate::codec::dataset::{DeviceInfo, ObjectInfo};
use crate::codec::{EventCode, ObjectFormat, OperationCode as Op, parse_all};
use crate::provider::*;
use crate::providers::{DeviceIdentity, DeviceProvider};

const STORE: StorageId = StorageId(0x0001_0001);

#[derive(Default)]
struct Shared {
    objects: BTreeMap<u32, (ObjectRecord, Vec<u8>)>,
    aborted: usize,
    not_ready_every: usize,
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

#[test]
fn device_info_is_generated_from_provider_declarations() {
    let mut h = Harness::new();
    h.cmd_raw(Op::GetDeviceInfo, 0, &[]);
    let (payload, resp) = h.data_in();
    assert_eq!(code(&resp), ResponseCode::Ok);
    let di = parse_all(&payload, DeviceInfo::parse).unwrap();
    assert_eq!(di.vendor_extension_id, 6);
    assert_eq!(di.vendor_extension_desc, "microsoft.com: 1.0;");
    assert!(di.operations.contains(&Op::SendObject.to_u16()));
    assert!(
        !di.operations.contains(&Op::MoveObject.to_u16()),
        "not declared, not advertised"
    );
    assert_eq!(di.playback_formats, [0x3000, 0x3001]);
    assert_eq!(di.events, [EventCode::ObjectAdded.to_u16()]);
}

#[test]
fn undeclared_operation_is_not_supported_even_inside_a_session() {
    let mut h = Harness::in_session();
    h.cmd(Op::MoveObject, &[1, 2, 3]);
    assert_eq!(code(&h.response()), ResponseCode::OperationNotSupported);
    h.cmd_raw(Op::Unknown(0x9999), 9, &[]);
    assert_eq!(code(&h.response()), ResponseCode::OperationNotSupported);
}

#[test]
fn session_rules_are_enforced() {
    let mut h = Harness::new();
    h.cmd(Op::GetStorageIds, &[]);
    assert_eq!(code(&h.response()), ResponseCode::SessionNotOpen);
    h.cmd_raw(Op::OpenSession, 0, &[7]);
    assert_eq!(code(&h.response()), ResponseCode::Ok);
    h.cmd_raw(Op::OpenSession, 0, &[8]);
    let r = h.response();
    assert_eq!(
        (code(&r), r.param(0)),
        (ResponseCode::SessionAlreadyOpen, 7)
    );
    h.cmd_raw(Op::GetStorageIds, 5, &[]);
    assert_eq!(code(&h.data_in().1), ResponseCode::Ok);
    h.cmd_raw(Op::GetStorageIds, 5, &[]);
    assert_eq!(code(&h.response()), ResponseCode::InvalidTransactionId);
    h.cmd_raw(Op::GetStorageIds, 6, &[]);
    assert_eq!(code(&h.data_in().1), ResponseCode::Ok);
}

#[test]
fn get_object_writes_are_packet_multiples_and_end_with_zlp_when_needed() {
    // 4096 - 12 bytes: the container is exactly one chunk, a multiple of 512.
    let (mut h, obj) = Harness::with_object(4096 * 3 - 12);
    h.cmd(Op::GetObject, &[obj]);
    let w = h.writes();
    let sizes: Vec<usize> = w.iter().map(Bytes::len).collect();
    assert_eq!(sizes, [4096, 4096, 4096, 0, 12]);
    let (mut h, obj) = Harness::with_object(5000);
    h.cmd(Op::GetObject, &[obj]);
    let (payload, resp) = h.data_in();
    assert_eq!(code(&resp), ResponseCode::Ok);
    assert_eq!(
        payload,
        (0..5000).map(|i| (i % 251) as u8).collect::<Vec<_>>()
    );
}

#[test]
fn not_ready_source_pauses_without_blocking_then_resumes() {
    let (mut h, obj) = Harness::with_object(20_000);
    h.shared.lock().unwrap().not_ready_every = 3;
    h.cmd(Op::GetObject, &[obj]);
    let mut got = Vec::new();
    let mut pauses = 0;
    loop {
        match h.r.poll_bulk_in() {
            Some(b) => got.push(b),
            None if h.r.wants_retry() => {
                pauses += 1;
                assert!(!h.r.has_bulk_in());
                h.r.handle_retry();
            }
            None => break,
        }
    }
    assert!(pauses > 0);
    let total: usize = got.iter().map(Bytes::len).sum();
    assert_eq!(total, 12 + 20_000 + 12);
}

#[test]
fn cancel_during_get_object_sends_no_response_and_reports_busy_until_aborted() {
    let (mut h, obj) = Harness::with_object(100_000);
    let tx = h.cmd(Op::GetObject, &[obj]);
    assert!(h.r.poll_bulk_in().is_some());
    h.r.handle_control(ControlRequest::Cancel { tx_id: tx });
    assert_eq!(h.r.device_status().0, ResponseCode::DeviceBusy);
    assert!(h.r.poll_abort());
    assert_eq!(
        h.r.poll_bulk_in(),
        None,
        "nothing more for the cancelled transaction"
    );
    h.r.handle_abort_done();
    assert_eq!(h.r.device_status().0, ResponseCode::Ok);
    // A second cancel for the same transaction (libmtp sends two) changes nothing.
    h.r.handle_control(ControlRequest::Cancel { tx_id: tx });
    assert_eq!(h.r.device_status().0, ResponseCode::Ok);
    h.cmd(Op::GetObjectInfo, &[obj]);
    assert_eq!(code(&h.data_in().1), ResponseCode::Ok);
}

#[test]
fn cancel_during_send_object_aborts_the_sink_and_skips_stale_data() {
    let mut h = Harness::in_session();
    h.announce("x", 10_000);
    let tx = h.cmd(Op::SendObject, &[]);
    let mut first = BytesMut::from(&data_header(Op::SendObject.to_u16(), tx, 10_000)[..]);
    first.extend_from_slice(&[1u8; 500]);
    h.r.handle_bulk_out(first.freeze(), false);
    h.r.handle_control(ControlRequest::Cancel { tx_id: tx });
    assert!(h.r.poll_abort());
    h.r.handle_abort_done();
    assert_eq!(h.shared.lock().unwrap().aborted, 1);
    assert!(
        h.shared.lock().unwrap().objects.is_empty(),
        "nothing partial kept"
    );
    // Data still in flight from the cancelled transfer is dropped, not parsed as commands.
    h.r.handle_bulk_out(Bytes::from(vec![0x55u8; 512]), false);
    h.r.handle_bulk_out(Bytes::from(vec![0x55u8; 100]), true);
    assert!(h.writes().is_empty());
    h.cmd(Op::GetStorageIds, &[]);
    assert_eq!(code(&h.data_in().1), ResponseCode::Ok);
}

#[test]
fn cancel_that_overtakes_its_command_drops_the_command_and_its_data() {
    let mut h = Harness::in_session();
    let tx = h.tx;
    h.r.handle_control(ControlRequest::Cancel { tx_id: tx });
    assert!(!h.r.poll_abort(), "nothing was running");
    h.cmd(Op::SendObject, &[]);
    h.data(Op::SendObject, tx, &[1, 2, 3]);
    assert!(
        h.writes().is_empty(),
        "no response for the cancelled transaction"
    );
    h.cmd(Op::GetStorageIds, &[]);
    assert_eq!(code(&h.data_in().1), ResponseCode::Ok);
    // A late duplicate cancel for a finished transaction is not remembered.
    h.r.handle_control(ControlRequest::Cancel { tx_id: tx });
    h.cmd(Op::GetStorageIds, &[]);
    assert_eq!(code(&h.data_in().1), ResponseCode::Ok);
}

#[test]
fn a_killed_host_mid_upload_is_replaced_by_the_next_one() {
    let mut h = Harness::in_session();
    h.announce("k", 100_000);
    let tx = h.cmd(Op::SendObject, &[]);
    let mut first = BytesMut::from(&data_header(Op::SendObject.to_u16(), tx, 100_000)[..]);
    first.extend_from_slice(&[1u8; 4084]);
    h.r.handle_bulk_out(first.freeze(), false);
    // The tool is killed; the next one opens a session with transaction id 0.
    h.cmd_raw(Op::OpenSession, 0, &[1]);
    let w = h.writes();
    assert_eq!(
        w.len(),
        1,
        "only the new host's answer, nothing for the abandoned upload"
    );
    let r = parse_container(&w[0]).unwrap();
    assert_eq!((code(&r), r.tx_id), (ResponseCode::SessionAlreadyOpen, 0));
    assert_eq!(h.shared.lock().unwrap().aborted, 1);
}

#[test]
fn after_a_cancel_a_command_behind_stale_data_is_still_answered() {
    let mut h = Harness::in_session();
    let tx = h.cmd(Op::SendObject, &[]);
    let mut first = BytesMut::from(&data_header(Op::SendObject.to_u16(), tx, 100_000)[..]);
    first.extend_from_slice(&[1u8; 500]);
    h.r.handle_bulk_out(first.freeze(), false);
    h.r.handle_control(ControlRequest::Cancel { tx_id: tx });
    h.r.poll_abort();
    h.r.handle_abort_done();
    let mut piece = vec![1u8; 700];
    let next = h.tx;
    h.tx += 1;
    piece.extend_from_slice(
        &Container::new(
            ContainerKind::Command,
            Op::GetStorageIds.to_u16(),
            next,
            &[],
        )
        .encode(),
    );
    h.r.handle_bulk_out(Bytes::from(piece), true);
    let (_, r) = h.data_in();
    assert_eq!((code(&r), r.tx_id), (ResponseCode::Ok, next));
}

#[test]
fn a_killed_host_mid_download_is_replaced_by_the_next_one() {
    let (mut h, obj) = Harness::with_object(100_000);
    h.cmd(Op::GetObject, &[obj]);
    assert!(h.r.poll_bulk_in().is_some());
    h.cmd_raw(Op::OpenSession, 0, &[1]);
    assert!(h.r.poll_abort(), "stale queued data must be flushed");
    let w = h.writes();
    assert_eq!(w.len(), 1);
    assert_eq!(parse_container(&w[0]).unwrap().tx_id, 0);
}

#[test]
fn malformed_containers_get_responses_and_the_session_survives() {
    let mut h = Harness::in_session();
    h.r.handle_bulk_out(Bytes::from_static(&[1, 2, 3]), true);
    assert_eq!(code(&h.response()), ResponseCode::GeneralError);
    // Length field says 40 but 16 bytes arrived.
    let mut c = Container::new(ContainerKind::Command, Op::GetStorageIds.to_u16(), 50, &[1])
        .encode()
        .to_vec();
    c[0] = 40;
    h.r.handle_bulk_out(Bytes::from(c), true);
    let r = h.response();
    assert_eq!((code(&r), r.tx_id), (ResponseCode::InvalidParameter, 50));
    // A bad ObjectInfo dataset.
    let tx = h.cmd(Op::SendObjectInfo, &[STORE.0, 0]);
    h.data(Op::SendObjectInfo, tx, &[1, 2, 3]);
    assert_eq!(code(&h.response()), ResponseCode::InvalidDataset);
    // A data phase shorter than its header says.
    let tx = h.cmd(Op::SendObjectInfo, &[STORE.0, 0]);
    let mut d = data_header(Op::SendObjectInfo.to_u16(), tx, 100).to_vec();
    d.extend([0u8; 10]);
    h.r.handle_bulk_out(Bytes::from(d), true);
    assert_eq!(code(&h.response()), ResponseCode::IncompleteTransfer);
    // An oversized dataset.
    let tx = h.cmd(Op::SendObjectInfo, &[STORE.0, 0]);
    h.data(Op::SendObjectInfo, tx, &vec![0u8; 10_000]);
    assert_eq!(code(&h.response()), ResponseCode::InvalidDataset);
    h.cmd(Op::GetStorageIds, &[]);
    assert_eq!(code(&h.data_in().1), ResponseCode::Ok);
}

#[test]
fn skipped_data_phase_fails_that_transaction_and_runs_the_next() {
    let mut h = Harness::in_session();
    let tx1 = h.cmd(Op::SendObjectInfo, &[STORE.0, 0]);
    let tx2 = h.cmd(Op::GetStorageIds, &[]);
    let w = h.writes();
    let first = parse_container(&w[0]).unwrap();
    assert_eq!(
        (code(&first), first.tx_id),
        (ResponseCode::IncompleteTransfer, tx1)
    );
    let last = parse_container(w.last().unwrap()).unwrap();
    assert_eq!((code(&last), last.tx_id), (ResponseCode::Ok, tx2));
}

#[test]
fn send_object_without_object_info_drains_data_then_fails() {
    let mut h = Harness::in_session();
    let tx = h.cmd(Op::SendObject, &[]);
    assert!(h.writes().is_empty(), "waits for the data phase first");
    h.data(Op::SendObject, tx, &[1, 2, 3]);
    assert_eq!(code(&h.response()), ResponseCode::NoValidObjectInfo);
}

#[test]
fn device_reset_closes_the_session_and_the_responder_keeps_working() {
    let (mut h, obj) = Harness::with_object(50_000);
    h.cmd(Op::GetObject, &[obj]);
    h.r.poll_bulk_in();
    h.r.handle_control(ControlRequest::DeviceReset);
    assert!(h.r.poll_abort());
    h.r.handle_abort_done();
    assert!(!h.r.in_session());
    h.cmd(Op::GetStorageIds, &[]);
    assert_eq!(code(&h.response()), ResponseCode::SessionNotOpen);
    h.cmd_raw(Op::OpenSession, 0, &[2]);
    assert_eq!(code(&h.response()), ResponseCode::Ok);
}

#[test]
fn events_are_sent_only_inside_a_session() {
    let mut h = Harness::in_session();
    h.upload("a", b"x");
    let ev = parse_container(&h.r.poll_event().unwrap()).unwrap();
    assert_eq!(ev.kind, ContainerKind::Event);
    assert_eq!(EventCode::from_u16(ev.code), EventCode::ObjectAdded);
    h.cmd(Op::CloseSession, &[]);
    h.writes();
    assert!(h.r.poll_event().is_none());
}

#[test]
fn split_header_send_object_is_accepted() {
    let mut h = Harness::in_session();
    let obj = h.announce("s", 600);
    let tx = h.cmd(Op::SendObject, &[]);
    h.r.handle_bulk_out(
        Bytes::copy_from_slice(&data_header(Op::SendObject.to_u16(), tx, 600)),
        true,
    );
    h.r.handle_bulk_out(Bytes::from(vec![9u8; 512]), false);
    h.r.handle_bulk_out(Bytes::from(vec![9u8; 88]), true);
    assert_eq!(code(&h.response()), ResponseCode::Ok);
    let s = h.shared.lock().unwrap();
    assert_eq!(s.objects[&obj].1, vec![9u8; 600]);
}

/// A small deterministic generator (xorshift) for the no-panic tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() as usize) % (max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_host_bytes_never_panic_and_the_responder_still_answers() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let ops = [
        0x1001u16, 0x1002, 0x1004, 0x1007, 0x1008, 0x1009, 0x100C, 0x100D, 0x1016, 0x9804, 0x9805,
        0x9811,
    ];
    let mut h = Harness::in_session();
    h.upload("seed", b"some data");
    for i in 0..20_000 {
        let bytes = match rng.next() % 4 {
            // Plausible commands with random parameters and transaction ids.
            0 | 1 => {
                let op = ops[(rng.next() as usize) % ops.len()];
                let params: Vec<u32> = (0..rng.next() % 6)
                    .map(|_| rng.next() as u32 % 0x0200_0000)
                    .collect();
                Container::new(ContainerKind::Command, op, rng.next() as u32 % 64, &params)
                    .encode()
                    .to_vec()
            }
            // Data containers with random payloads (datasets, values, garbage).
            2 => {
                let mut d = data_header(
                    ops[(rng.next() as usize) % ops.len()],
                    rng.next() as u32 % 64,
                    0,
                )
                .to_vec();
                let payload = rng.bytes(300);
                d[..4].copy_from_slice(&((12 + payload.len()) as u32).to_le_bytes());
                d.extend(payload);
                d
            }
            _ => rng.bytes(64),
        };
        let end = rng.next() % 8 != 0;
        h.r.handle_bulk_out(Bytes::from(bytes), end);
        if rng.next() % 50 == 0 {
            h.r.handle_control(ControlRequest::Cancel { tx_id: i });
            h.r.poll_abort();
            h.r.handle_abort_done();
        }
        for _ in 0..64 {
            if h.r.poll_bulk_in().is_none() {
                break;
            }
        }
        while h.r.poll_event().is_some() {}
    }
    // Whatever state the garbage left, a reset and a fresh session work.
    h.r.handle_control(ControlRequest::DeviceReset);
    h.r.poll_abort();
    h.r.handle_abort_done();
    h.r.handle_bulk_out(Bytes::new(), true);
    h.cmd_raw(Op::OpenSession, 0, &[3]);
    assert_eq!(code(&h.response()), ResponseCode::Ok);
    h.cmd_raw(Op::GetStorageIds, 1, &[]);
    assert_eq!(code(&h.data_in().1), ResponseCode::Ok);
}

#[test]
fn random_bytes_never_panic_any_parser() {
    use crate::codec::dataset::*;
    use crate::codec::{DataType, parse_prefix};
    let mut rng = Rng(12345);
    for _ in 0..50_000 {
        let b = rng.bytes(200);
        let _ = crate::codec::container::parse_container(&b);
        let _ = parse_prefix(&b, DeviceInfo::parse);
        let _ = parse_prefix(&b, StorageInfo::parse);
        let _ = parse_prefix(&b, ObjectInfo::parse);
        let _ = parse_prefix(&b, ObjectPropDesc::parse);
        let _ = parse_prefix(&b, DevicePropDesc::parse);
        let _ = parse_prefix(&b, ObjectPropList::parse);
        let dt = DataType::from_u16(rng.next() as u16 & 0x400F);
        let _ = parse_prefix(&b, |i| crate::codec::value::parse_value(i, dt));
        let _ = crate::codec::dataset::datetime::parse(&String::from_utf8_lossy(&b));
    }
}
