//! Every operation the device advertises, driven through the loopback by the initiator
//! against the files provider on real directories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use mtp::codec::dataset::{DeviceInfo, DevicePropDesc, ObjectPropDesc, ObjectPropList};
use mtp::codec::value::PropValue;
use mtp::codec::{ObjectPropCode as P, OperationCode as Op, ResponseCode, parse_all};

fn str_value(s: &str) -> Vec<u8> {
    let mut b = Vec::new();
    PropValue::Str(s.into()).put(&mut b);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_advertised_operation_works_on_the_files_provider() {
    let mut d = start_with(|_, archive| {
        std::fs::write(archive.join("manual.txt"), b"read me").unwrap();
    })
    .await;
    let mut used = BTreeSet::new();
    let mut op = |o: Op| {
        used.insert(o.to_u16());
        o
    };

    // Device and storages.
    let di = parse_all(&d.ok(op(Op::GetDeviceInfo), &[]).await, DeviceInfo::parse).unwrap();
    assert_eq!(di.vendor_extension_id, 6);
    assert_eq!(di.serial_number, "TEST0001");
    let ids = parse_all(
        &d.ok(op(Op::GetStorageIds), &[]).await,
        mtp::codec::array::parse_u32_array,
    )
    .unwrap();
    assert_eq!(ids, [INTERNAL, ARCHIVE]);
    d.ok(op(Op::GetStorageInfo), &[INTERNAL]).await;
    let archive = d.storage_info(ARCHIVE).await;
    assert_eq!(
        (archive.access_capability, archive.description.as_str()),
        (1, "Archive")
    );
    assert_eq!(
        d.code(op(Op::GetStorageInfo), &[0x0009_0001]).await,
        ResponseCode::InvalidStorageId
    );

    // Device properties.
    let desc = parse_all(
        &d.ok(op(Op::GetDevicePropDesc), &[0x5001]).await,
        DevicePropDesc::parse,
    )
    .unwrap();
    assert_eq!(desc.current, PropValue::U8(87));
    assert_eq!(
        d.ok(op(Op::GetDevicePropValue), &[0xD402]).await,
        str_value("Test board")
    );
    let r = d
        .host
        .transact_out(op(Op::SetDevicePropValue), &[0xD402], &str_value("Desk"))
        .await
        .unwrap();
    assert_eq!(r.code, ResponseCode::Ok);
    assert_eq!(
        d.ok(Op::GetDevicePropValue, &[0xD402]).await,
        str_value("Desk")
    );
    d.ok(op(Op::ResetDevicePropValue), &[0xD402]).await;
    assert_eq!(
        d.ok(Op::GetDevicePropValue, &[0xD402]).await,
        str_value("Test board")
    );

    // Folders and uploads.
    let folder = d.mkdir(INTERNAL, 0, "music").await;
    op(Op::SendObjectInfo);
    let song = d
        .upload(INTERNAL, folder, "song.mp3", b"ID3 not really")
        .await;
    op(Op::SendObject);
    assert_eq!(
        std::fs::read(d.internal.join("music/song.mp3")).unwrap(),
        b"ID3 not really"
    );
    let info = d.info(song).await;
    op(Op::GetObjectInfo);
    assert_eq!(
        (info.parent, info.filename.as_str(), info.compressed_size),
        (folder, "song.mp3", 14)
    );
    assert_eq!(info.format, mtp::ObjectFormat::Mp3.to_u16());
    assert_eq!(d.handles(INTERNAL, u32::MAX).await, [folder]);
    op(Op::GetObjectHandles);
    let all = d.handles(u32::MAX, 0).await;
    assert!(all.contains(&song) && all.contains(&folder));
    let (r, _) = d
        .host
        .transact(op(Op::GetNumObjects), &[INTERNAL, 0, folder])
        .await
        .unwrap();
    assert_eq!(r.params, [1]);

    // Downloads, whole and partial.
    assert_eq!(d.download(song).await, b"ID3 not really");
    op(Op::GetObject);
    let (r, part) = d
        .host
        .transact(op(Op::GetPartialObject), &[song, 4, 3])
        .await
        .unwrap();
    assert_eq!((r.params.clone(), &part[..]), (vec![3], &b"not"[..]));
    let (r, part) = d
        .host
        .transact(op(Op::GetPartialObject64), &[song, 8, 0, 100])
        .await
        .unwrap();
    assert_eq!((r.params.clone(), &part[..]), (vec![6], &b"really"[..]));

    // Properties.
    let props = d.ok(op(Op::GetObjectPropsSupported), &[0x3009]).await;
    let props = parse_all(&props, mtp::codec::array::parse_u16_array).unwrap();
    assert!(
        props.contains(&P::ObjectSize.to_u16())
            && props.contains(&P::PersistentUniqueObjectIdentifier.to_u16())
    );
    let desc = parse_all(
        &d.ok(op(Op::GetObjectPropDesc), &[0xDC04, 0x3000]).await,
        ObjectPropDesc::parse,
    )
    .unwrap();
    assert_eq!(desc.data_type, mtp::codec::DataType::Uint64);
    let size = d.ok(op(Op::GetObjectPropValue), &[song, 0xDC04]).await;
    assert_eq!(&size[..], &14u64.to_le_bytes());
    let list = d
        .ok(
            op(Op::GetObjectPropList),
            &[u32::MAX, 0, u32::MAX, 0, u32::MAX],
        )
        .await;
    let list = parse_all(&list, ObjectPropList::parse).unwrap();
    let names: Vec<_> = list
        .0
        .iter()
        .filter(|e| e.code == 0xDC07)
        .map(|e| e.value.clone())
        .collect();
    assert!(
        names.contains(&PropValue::Str("manual.txt".into()))
            && names.contains(&PropValue::Str("song.mp3".into()))
    );
    let r = d
        .host
        .transact_out(
            op(Op::SetObjectPropValue),
            &[song, 0xDC07],
            &str_value("track.mp3"),
        )
        .await
        .unwrap();
    assert_eq!(r.code, ResponseCode::Ok);
    assert!(
        d.internal.join("music/track.mp3").exists() && !d.internal.join("music/song.mp3").exists()
    );

    // References are kept per object.
    let refs = d.ok(op(Op::GetObjectReferences), &[song]).await;
    assert_eq!(&refs[..], &[0, 0, 0, 0]);
    let mut arr = Vec::new();
    mtp::codec::array::put_u32_array(&mut arr, [folder].into_iter());
    let r = d
        .host
        .transact_out(op(Op::SetObjectReferences), &[song], &arr)
        .await
        .unwrap();
    assert_eq!(r.code, ResponseCode::Ok);
    assert_eq!(d.ok(Op::GetObjectReferences, &[song]).await, arr);

    // Copy, move, edit, truncate.
    let (r, _) = d
        .host
        .transact(op(Op::CopyObject), &[folder, INTERNAL, 0])
        .await
        .unwrap();
    assert_eq!(r.code, ResponseCode::Ok);
    let copy = r.params[0];
    assert_ne!(copy, folder);
    let other = d.mkdir(INTERNAL, 0, "other").await;
    d.ok(op(Op::MoveObject), &[song, INTERNAL, other]).await;
    assert!(d.internal.join("other/track.mp3").exists());
    assert_eq!(
        d.info(song).await.parent,
        other,
        "the handle follows the moved object"
    );
    d.ok(op(Op::BeginEditObject), &[song]).await;
    let r = d
        .host
        .transact_out(op(Op::SendPartialObject), &[song, 0, 0, 3], b"XYZ")
        .await
        .unwrap();
    assert_eq!((r.code, r.params.clone()), (ResponseCode::Ok, vec![3]));
    d.ok(op(Op::TruncateObject), &[song, 5, 0]).await;
    d.ok(op(Op::EndEditObject), &[song]).await;
    assert_eq!(
        std::fs::read(d.internal.join("other/track.mp3")).unwrap(),
        b"XYZ n"
    );

    // Delete (recursive) and close.
    d.ok(op(Op::DeleteObject), &[copy]).await;
    assert_eq!(std::fs::read_dir(&d.internal).unwrap().count(), 2);
    assert_eq!(
        d.code(Op::GetObjectInfo, &[copy]).await,
        ResponseCode::InvalidObjectHandle
    );
    d.ok(op(Op::CloseSession), &[]).await;
    let (r, _) = d.host.transact(op(Op::OpenSession), &[2]).await.unwrap();
    assert_eq!(r.code, ResponseCode::Ok);
    d.ok(op(Op::ResetDevice), &[]).await;

    let advertised: BTreeSet<u16> = di.operations.into_iter().collect();
    let missed: Vec<_> = advertised
        .difference(&used)
        .map(|c| format!("{}", Op::from_u16(*c)))
        .collect();
    assert!(
        missed.is_empty(),
        "advertised but not exercised: {missed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_storage_refuses_every_change() {
    let mut d =
        start_with(|_, archive| std::fs::write(archive.join("keep.txt"), b"keep").unwrap()).await;
    let keep = d.find(ARCHIVE, u32::MAX, "keep.txt").await.unwrap();
    let r = d
        .send_object_info(ARCHIVE, 0, &file_info("new.txt", 3))
        .await;
    assert_eq!(r.code, ResponseCode::StoreReadOnly);
    assert_eq!(
        d.code(Op::DeleteObject, &[keep]).await,
        ResponseCode::StoreReadOnly
    );
    let r = d
        .host
        .transact_out(Op::SetObjectPropValue, &[keep, 0xDC07], &str_value("x.txt"))
        .await
        .unwrap();
    assert_eq!(r.code, ResponseCode::StoreReadOnly);
    assert_eq!(std::fs::read(d.archive.join("keep.txt")).unwrap(), b"keep");
    assert_eq!(std::fs::read_dir(&d.archive).unwrap().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_parent_may_be_zero_or_all_ones_and_root_objects_report_parent_zero() {
    let mut d = start().await;
    let a = d.upload(INTERNAL, 0, "a.txt", b"a").await;
    let b = d.upload(INTERNAL, u32::MAX, "b.txt", b"b").await;
    assert_eq!(d.info(a).await.parent, 0);
    assert_eq!(d.info(b).await.parent, 0);
    let list = d.ok(Op::GetObjectPropList, &[a, 0, 0xDC0B, 0, 0]).await;
    let list = parse_all(&list, ObjectPropList::parse).unwrap();
    assert_eq!(list.0.len(), 1);
    assert_eq!(list.0[0].value, PropValue::U32(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prop_list_depths_cover_object_children_and_everything() {
    let mut d = start().await;
    let top = d.mkdir(INTERNAL, 0, "top").await;
    let mid = d.mkdir(INTERNAL, top, "mid").await;
    d.upload(INTERNAL, mid, "deep.txt", b"deep").await;
    let count = |l: ObjectPropList| l.0.iter().filter(|e| e.code == 0xDC07).count();
    let get = |b: bytes::Bytes| parse_all(&b, ObjectPropList::parse).unwrap();
    let l0 = get(d.ok(Op::GetObjectPropList, &[top, 0, u32::MAX, 0, 0]).await);
    let l1 = get(d.ok(Op::GetObjectPropList, &[top, 0, u32::MAX, 0, 1]).await);
    let lall = get(d
        .ok(Op::GetObjectPropList, &[top, 0, u32::MAX, 0, u32::MAX])
        .await);
    assert_eq!((count(l0), count(l1), count(lall)), (1, 2, 3));
    assert_eq!(
        d.code(Op::GetObjectPropList, &[top, 0, 0, 1, 0]).await,
        ResponseCode::SpecificationByGroupUnsupported
    );
    assert_eq!(
        d.code(Op::GetObjectPropList, &[top, 0, 0xDCAA, 0, 0]).await,
        ResponseCode::InvalidObjectPropCode
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_and_persistent_ids_stay_stable_across_sessions() {
    let mut d = start().await;
    let h = d.upload(INTERNAL, 0, "stable.bin", b"123").await;
    let puid = d.ok(Op::GetObjectPropValue, &[h, 0xDC41]).await;
    d.ok(Op::CloseSession, &[]).await;
    let (r, _) = d.host.transact(Op::OpenSession, &[5]).await.unwrap();
    assert_eq!(r.code, ResponseCode::Ok);
    assert_eq!(d.find(INTERNAL, u32::MAX, "stable.bin").await, Some(h));
    assert_eq!(d.ok(Op::GetObjectPropValue, &[h, 0xDC41]).await, puid);
}
