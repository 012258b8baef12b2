//! Data phases: malformed input, skipped phases, split headers, events.

use bytes::Bytes;

use super::*;
use crate::codec::OperationCode as Op;
use crate::codec::container::{ContainerKind, data_header};

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
