//! A storage with 10 000 objects: listed by handles, by the property list libmtp's fast
//! path asks for, and counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use mtp::codec::dataset::ObjectPropList;
use mtp::codec::{OperationCode as Op, parse_all};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_ten_thousand_objects() {
    let mut d = start_with(|internal, _| {
        for i in 0..10_000 {
            std::fs::write(internal.join(format!("f{i:05}.dat")), i.to_string()).unwrap();
        }
    })
    .await;
    let handles = d.handles(INTERNAL, u32::MAX).await;
    assert_eq!(handles.len(), 10_000);
    let unique: std::collections::HashSet<_> = handles.iter().collect();
    assert_eq!(unique.len(), 10_000);
    let (r, _) = d
        .host
        .transact(Op::GetNumObjects, &[u32::MAX, 0, 0])
        .await
        .unwrap();
    assert_eq!(r.params, [10_000]);
    // libmtp's cached open: one GetObjectPropList for everything.
    let list = d
        .ok(Op::GetObjectPropList, &[u32::MAX, 0, u32::MAX, 0, u32::MAX])
        .await;
    let list = parse_all(&list, ObjectPropList::parse).unwrap();
    let names = list.0.iter().filter(|e| e.code == 0xDC07).count();
    let sizes = list.0.iter().filter(|e| e.code == 0xDC04).count();
    assert_eq!((names, sizes), (10_000, 10_000));
    let info = d.info(handles[1234]).await;
    assert!(info.filename.starts_with('f') && info.filename.ends_with(".dat"));
}
