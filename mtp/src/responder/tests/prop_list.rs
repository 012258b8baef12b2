//! GetObjectPropList produced while it is sent.

use super::*;
use crate::codec::dataset::ObjectPropList;
use crate::codec::parse_all;
use crate::codec::value::PropValue;

/// Puts `n` objects with names of many lengths straight into the provider.
fn fill(h: &Harness, n: u32) -> Vec<ObjectRecord> {
    let mut s = h.shared.lock().unwrap();
    (1..=n)
        .map(|local| {
            let handle = ObjectHandle::new(ProviderId(1), local);
            let rec = ObjectRecord {
                handle,
                storage: STORE,
                parent: None,
                format: ObjectFormat::Undefined,
                size: u64::from(local) * 7,
                name: "n".repeat(1 + local as usize % 40) + &local.to_string(),
                created: 1_700_000_000 + i64::from(local),
                modified: 1_700_000_000,
                read_only: false,
                puid: u128::from(local),
            };
            s.objects.insert(handle.0, (rec.clone(), Vec::new()));
            rec
        })
        .collect()
}

#[test]
fn a_list_of_every_object_streams_and_holds_what_each_record_says() {
    let mut h = Harness::in_session();
    let records = fill(&h, 2000);
    h.cmd(Op::GetObjectPropList, &[u32::MAX, 0, u32::MAX, 0, 0]);
    let (payload, resp) = h.data_in();
    assert_eq!(code(&resp), ResponseCode::Ok);
    let list = parse_all(&payload, ObjectPropList::parse).unwrap();
    let props = crate::responder::ops::props::OBJECT_PROPS;
    assert_eq!(list.0.len(), records.len() * props.len());
    for (rec, entries) in records.iter().zip(list.0.chunks(props.len())) {
        for (p, e) in props.iter().zip(entries) {
            assert_eq!((e.handle, e.code), (rec.handle.0, p.to_u16()));
            assert_eq!(e.value, crate::responder::ops::props::value(rec, *p));
        }
    }
}

#[test]
fn one_property_of_one_format_is_listed_alone() {
    let mut h = Harness::in_session();
    let records = fill(&h, 50);
    h.cmd(Op::GetObjectPropList, &[u32::MAX, 0x3000, 0xDC07, 0, 0]);
    let (payload, _) = h.data_in();
    let list = parse_all(&payload, ObjectPropList::parse).unwrap();
    let names: Vec<_> = list.0.iter().map(|e| e.value.clone()).collect();
    let want: Vec<_> = records
        .iter()
        .map(|r| PropValue::Str(r.name.clone()))
        .collect();
    assert_eq!(names, want);
    h.cmd(Op::GetObjectPropList, &[u32::MAX, 0x3001, 0xDC07, 0, 0]);
    let (payload, _) = h.data_in();
    assert_eq!(payload, 0u32.to_le_bytes(), "no folders: an empty list");
}

#[test]
fn an_object_deleted_while_its_list_is_sent_ends_the_transfer_incomplete() {
    let mut h = Harness::in_session();
    let records = fill(&h, 2000);
    h.cmd(Op::GetObjectPropList, &[u32::MAX, 0, u32::MAX, 0, 0]);
    let first = h.r.poll_bulk_in().expect("the first write");
    let announced = u32::from_le_bytes(first[..4].try_into().unwrap()) as usize;
    // A local program deletes the last object while the list is on its way.
    let last = records.last().unwrap().handle.0;
    h.shared.lock().unwrap().objects.remove(&last);
    let mut sent = first.len();
    let w = h.writes();
    for b in &w[..w.len() - 1] {
        sent += b.len();
    }
    assert!(
        sent < announced,
        "the data phase ends short: {sent} of {announced}"
    );
    let resp = parse_container(&w[w.len() - 1]).unwrap();
    assert_eq!(code(&resp), ResponseCode::IncompleteTransfer);
    // The next list leaves it out and is whole.
    h.cmd(Op::GetObjectPropList, &[u32::MAX, 0, 0xDC04, 0, 0]);
    let (payload, resp) = h.data_in();
    assert_eq!(code(&resp), ResponseCode::Ok);
    assert_eq!(
        parse_all(&payload, ObjectPropList::parse).unwrap().0.len(),
        1999
    );
}

#[test]
fn one_object_list_is_whole_and_a_short_list_is_sent_as_the_pass_found_it() {
    let mut h = Harness::in_session();
    let records = fill(&h, 3);
    let props = crate::responder::ops::props::OBJECT_PROPS;
    let rec = &records[1];
    h.cmd(Op::GetObjectPropList, &[rec.handle.0, 0, u32::MAX, 0, 0]);
    let (payload, resp) = h.data_in();
    assert_eq!(code(&resp), ResponseCode::Ok);
    let list = parse_all(&payload, ObjectPropList::parse).unwrap();
    let want: Vec<_> = props
        .iter()
        .map(|p| {
            (
                rec.handle.0,
                p.to_u16(),
                crate::responder::ops::props::value(rec, *p),
            )
        })
        .collect();
    let got: Vec<_> = list
        .0
        .into_iter()
        .map(|e| (e.handle, e.code, e.value))
        .collect();
    assert_eq!(got, want);
    // A short list is encoded whole before its data phase: an object deleted after the
    // command is still in it, and the list stays consistent (OK, not a short transfer).
    h.cmd(Op::GetObjectPropList, &[u32::MAX, 0, 0xDC07, 0, 0]);
    h.shared
        .lock()
        .unwrap()
        .objects
        .remove(&records[2].handle.0);
    let (payload, resp) = h.data_in();
    assert_eq!(code(&resp), ResponseCode::Ok);
    assert_eq!(
        parse_all(&payload, ObjectPropList::parse).unwrap().0.len(),
        3
    );
}

#[test]
fn the_list_of_an_unknown_object_is_refused_at_any_depth() {
    let mut h = Harness::in_session();
    let records = fill(&h, 2);
    let gone = records[1].handle.0;
    h.shared.lock().unwrap().objects.remove(&gone);
    for depth in [0, 1, u32::MAX] {
        h.cmd(Op::GetObjectPropList, &[gone, 0, u32::MAX, 0, depth]);
        let resp = h.response();
        assert_eq!(
            code(&resp),
            ResponseCode::InvalidObjectHandle,
            "depth {depth}"
        );
    }
}
