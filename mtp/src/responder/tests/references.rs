//! Get/SetObjectReferences against a hostile host: bounded lists, no duplicates, and a
//! table that does not outlive the session.

use super::*;
use crate::codec::array::{parse_u32_array, put_u32_array};
use crate::codec::{OperationCode as Op, parse_all};
use crate::responder::references::MAX_REFERENCES_PER_OBJECT;

/// A session with two objects and the default 1 MiB dataset limit (room for 100k handles).
fn two_objects() -> (Harness, u32, u32) {
    let mut h = Harness::in_session();
    h.r.ctx.max_dataset = ResponderConfig::default().max_dataset;
    let a = h.upload("a.bin", &[1, 2, 3]);
    let b = h.upload("b.bin", &[4, 5, 6]);
    (h, a, b)
}

fn set_references(h: &mut Harness, obj: u32, refs: &[u32]) -> ResponseCode {
    let mut b = Vec::new();
    put_u32_array(&mut b, refs.iter().copied());
    let tx = h.cmd(Op::SetObjectReferences, &[obj]);
    h.data(Op::SetObjectReferences, tx, &b);
    code(&h.response())
}

fn get_references(h: &mut Harness, obj: u32) -> Vec<u32> {
    h.cmd(Op::GetObjectReferences, &[obj]);
    let (payload, resp) = h.data_in();
    assert_eq!(code(&resp), ResponseCode::Ok);
    parse_all(&payload, parse_u32_array).unwrap()
}

#[test]
fn set_object_references_with_100k_handles_is_invalid_dataset() {
    let (mut h, a, b) = two_objects();
    let mut refs: Vec<u32> = (1..100_000).collect();
    refs.push(b);
    assert_eq!(
        set_references(&mut h, a, &refs),
        ResponseCode::InvalidDataset
    );
    assert!(get_references(&mut h, a).is_empty());
    assert_eq!(h.r.ctx.references.len(), 0, "nothing stored");
}

#[test]
fn set_object_references_keeps_each_handle_once() {
    let (mut h, a, b) = two_objects();
    let mut refs = vec![b; 100_000];
    refs.push(a);
    assert_eq!(set_references(&mut h, a, &refs), ResponseCode::Ok);
    assert_eq!(get_references(&mut h, a), [b, a]);
    assert_eq!(h.r.ctx.references.total(), 2);
}

#[test]
fn set_object_references_beyond_the_limit_leaves_the_old_list() {
    let (mut h, a, b) = two_objects();
    assert_eq!(set_references(&mut h, a, &[b]), ResponseCode::Ok);
    let over: Vec<u32> = (1..=MAX_REFERENCES_PER_OBJECT as u32 + 1).collect();
    assert_eq!(
        set_references(&mut h, a, &over),
        ResponseCode::InvalidDataset
    );
    assert_eq!(get_references(&mut h, a), [b]);
}

#[test]
fn set_object_references_to_a_missing_object_is_invalid_object_reference() {
    let (mut h, a, b) = two_objects();
    assert_eq!(
        set_references(&mut h, a, &[b, 0x0DEA_D000]),
        ResponseCode::InvalidObjectReference
    );
    assert!(get_references(&mut h, a).is_empty());
}

/// Stores a reference, ends the session with `end`, reopens it and expects no references.
fn references_gone_after(end: impl FnOnce(&mut Harness)) {
    let (mut h, a, b) = two_objects();
    assert_eq!(set_references(&mut h, a, &[b]), ResponseCode::Ok);
    end(&mut h);
    assert_eq!(h.r.ctx.references.len(), 0);
    assert_eq!(h.r.ctx.references.capacity(), 0, "memory released");
    h.r.poll_abort();
    h.r.handle_abort_done();
    h.cmd_raw(Op::OpenSession, 0, &[2]);
    assert_eq!(code(&h.response()), ResponseCode::Ok);
    assert!(get_references(&mut h, a).is_empty());
}

#[test]
fn references_are_gone_after_close_session() {
    references_gone_after(|h| {
        h.cmd(Op::CloseSession, &[]);
        assert_eq!(code(&h.response()), ResponseCode::Ok);
    });
}

#[test]
fn references_are_gone_after_reset_device() {
    references_gone_after(|h| {
        h.cmd(Op::ResetDevice, &[]);
        assert_eq!(code(&h.response()), ResponseCode::Ok);
    });
}

#[test]
fn references_are_gone_after_a_device_reset_request() {
    references_gone_after(|h| h.r.handle_control(ControlRequest::DeviceReset));
}

#[test]
fn references_are_gone_after_unplug() {
    references_gone_after(|h| h.r.handle_disconnect());
}
