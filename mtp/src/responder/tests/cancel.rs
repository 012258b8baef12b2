//! Cancel, device reset and hosts that vanish mid-transfer.

use bytes::{Bytes, BytesMut};

use super::*;
use crate::codec::OperationCode as Op;
use crate::codec::container::{ContainerKind, data_header};

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
