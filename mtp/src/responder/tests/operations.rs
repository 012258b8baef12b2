//! Operations, DeviceInfo generation, sessions and data-in chunking.

use bytes::Bytes;

use super::*;
use crate::codec::{OperationCode as Op, parse_all};

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
