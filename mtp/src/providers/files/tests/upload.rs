//! SendObjectInfo / SendObject: temporary file, rename, checks, conflicts.

use std::ffi::OsString;
use std::fs;

use super::*;
use crate::codec::dataset::datetime;
use crate::providers::files::sink::{Inbox, Note, UploadSink, UploadTarget};
use crate::providers::files::tree::Dir;

fn only_temp_files(dir: &Path) -> Vec<PathBuf> {
    tree_of(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".mtp-upload-"))
        .collect()
}

#[test]
fn upload_goes_to_a_temporary_file_and_appears_only_after_finish() {
    let mut fx = fixture();
    let h =
        fx.p.send_object_info(at(RW, None), &info("a.txt", ObjectFormat::Text, 5), Some(5))
            .unwrap();
    assert_eq!(fx.p.object(h), Err(ResponseCode::InvalidObjectHandle));
    let mut sink = fx.p.send_object(h).unwrap();
    sink.write(Bytes::from_static(b"hel")).unwrap();
    assert!(!fx.rw().join("a.txt").exists());
    assert_eq!(only_temp_files(&fx.rw()).len(), 1);
    assert!(fx.names(RW, ParentFilter::Root).is_empty());
    sink.write(Bytes::from_static(b"lo")).unwrap();
    sink.finish(5).unwrap();
    assert_eq!(fs::read(fx.rw().join("a.txt")).unwrap(), b"hello");
    assert!(only_temp_files(&fx.rw()).is_empty());
    let rec = fx.p.object(h).unwrap();
    assert_eq!(
        (rec.name.as_str(), rec.size, rec.format),
        ("a.txt", 5, ObjectFormat::Text)
    );
    assert_eq!(fx.events(), vec![(EventCode::ObjectAdded, h.0)]);
    assert_eq!(fx.find(RW, "a.txt"), h);
}

#[test]
fn aborted_or_dropped_upload_leaves_nothing() {
    let mut fx = fixture();
    for abort in [true, false] {
        let h =
            fx.p.send_object_info(
                at(RW, None),
                &info("a", ObjectFormat::Undefined, 4),
                Some(4),
            )
            .unwrap();
        let mut sink = fx.p.send_object(h).unwrap();
        sink.write(Bytes::from_static(b"ab")).unwrap();
        if abort {
            sink.abort();
        } else {
            drop(sink);
        }
        assert!(tree_of(&fx.rw()).is_empty());
        assert_eq!(fx.p.object(h), Err(ResponseCode::InvalidObjectHandle));
    }
    assert!(fx.events().is_empty());
}

#[test]
fn short_upload_is_incomplete_transfer_and_leaves_nothing() {
    let mut fx = fixture();
    let h =
        fx.p.send_object_info(
            at(RW, None),
            &info("a", ObjectFormat::Undefined, 4),
            Some(4),
        )
        .unwrap();
    let mut sink = fx.p.send_object(h).unwrap();
    sink.write(Bytes::from_static(b"ab")).unwrap();
    assert_eq!(sink.finish(2), Err(ResponseCode::IncompleteTransfer));
    assert!(tree_of(&fx.rw()).is_empty());
}

#[test]
fn unknown_size_accepts_whatever_arrives() {
    let mut fx = fixture();
    let h =
        fx.p.send_object_info(
            at(RW, None),
            &info("big", ObjectFormat::Undefined, u32::MAX),
            None,
        )
        .unwrap();
    let mut sink = fx.p.send_object(h).unwrap();
    sink.write(Bytes::from_static(b"abc")).unwrap();
    sink.finish(3).unwrap();
    assert_eq!(fx.p.object(h).unwrap().size, 3);
}

#[test]
fn announced_size_beyond_free_space_is_store_full() {
    let mut fx = fixture();
    // Beyond the capacity: the free space of a shared file system moves between calls.
    let capacity = fx.p.storage_info(RW).unwrap().max_capacity;
    let r = fx.p.send_object_info(
        at(RW, None),
        &info("huge", ObjectFormat::Undefined, u32::MAX),
        Some(capacity + 1),
    );
    assert_eq!(r, Err(ResponseCode::StoreFull));
    assert_eq!(
        fx.p.send_object(ObjectHandle::new(ProviderId(1), 1)).err(),
        Some(ResponseCode::NoValidObjectInfo)
    );
    assert!(tree_of(&fx.rw()).is_empty());
}

#[test]
fn write_error_on_a_full_device_is_store_full_with_an_event_and_no_file() {
    let mut fx = fixture();
    let dev_full = fs::File::options().write(true).open("/dev/full").unwrap();
    let temp = OsString::from(".mtp-upload-0-0.tmp");
    fs::write(fx.rw().join(&temp), b"").unwrap();
    let target = UploadTarget {
        folder: confined::Dir::open_root(&fx.rw()).unwrap(),
        name: OsString::from("x"),
        size: Some(3),
        modified: None,
        storage: RW,
        done: Note::Uploaded {
            local: 1,
            dir: Dir::Root(0),
            name: OsString::from("x"),
        },
    };
    let inbox = fx.p.inbox.clone();
    let mut sink: Box<dyn crate::provider::ObjectSink> =
        Box::new(UploadSink::new(dev_full, temp, target, inbox));
    assert_eq!(
        sink.write(Bytes::from_static(b"abc")),
        Err(ResponseCode::StoreFull)
    );
    sink.abort();
    assert!(tree_of(&fx.rw()).is_empty());
    assert_eq!(fx.events(), vec![(EventCode::StoreFull, RW.0)]);
    let _ = Inbox::default();
}

#[test]
fn upload_sets_the_modification_time_from_the_object_info() {
    let mut fx = fixture();
    let mut i = info("t.txt", ObjectFormat::Text, 1);
    i.date_modified = "20200102T030405".into();
    let h = fx.p.send_object_info(at(RW, None), &i, Some(1)).unwrap();
    let mut sink = fx.p.send_object(h).unwrap();
    sink.write(Bytes::from_static(b"x")).unwrap();
    sink.finish(1).unwrap();
    assert_eq!(
        fx.p.object(h).unwrap().modified,
        datetime::parse("20200102T030405").unwrap()
    );
}

#[test]
fn upload_over_an_existing_file_replaces_it_only_when_complete() {
    let mut fx = fixture();
    fs::write(fx.rw().join("f"), b"old").unwrap();
    let old = fx.find(RW, "f");
    let h =
        fx.p.send_object_info(
            at(RW, None),
            &info("f", ObjectFormat::Undefined, 3),
            Some(3),
        )
        .unwrap();
    let mut sink = fx.p.send_object(h).unwrap();
    sink.write(Bytes::from_static(b"new")).unwrap();
    assert_eq!(fs::read(fx.rw().join("f")).unwrap(), b"old");
    sink.finish(3).unwrap();
    assert_eq!(fs::read(fx.rw().join("f")).unwrap(), b"new");
    assert_eq!(fx.p.object(old), Err(ResponseCode::InvalidObjectHandle));
    assert_eq!(fx.find(RW, "f"), h);
    assert_eq!(
        fx.events(),
        vec![
            (EventCode::ObjectRemoved, old.0),
            (EventCode::ObjectAdded, h.0)
        ]
    );
}

#[test]
fn file_upload_over_a_folder_name_is_access_denied() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    let r =
        fx.p.send_object_info(at(RW, None), &info("d", ObjectFormat::Text, 1), Some(1));
    assert_eq!(r, Err(ResponseCode::AccessDenied));
    fs::write(fx.rw().join("f"), b"").unwrap();
    let r = fx.p.send_object_info(
        at(RW, None),
        &info("f", ObjectFormat::Association, 0),
        Some(0),
    );
    assert_eq!(r, Err(ResponseCode::AccessDenied));
}

#[test]
fn a_new_send_object_info_replaces_the_pending_upload() {
    let mut fx = fixture();
    let first =
        fx.p.send_object_info(at(RW, None), &info("a", ObjectFormat::Text, 1), Some(1))
            .unwrap();
    let second =
        fx.p.send_object_info(at(RW, None), &info("b", ObjectFormat::Text, 1), Some(1))
            .unwrap();
    assert_eq!(
        fx.p.send_object(first).err(),
        Some(ResponseCode::NoValidObjectInfo)
    );
    let mut sink = fx.p.send_object(second).unwrap();
    sink.write(Bytes::from_static(b"x")).unwrap();
    sink.finish(1).unwrap();
    assert_eq!(fx.names(RW, ParentFilter::Root), ["b"]);
}

#[test]
fn session_close_drops_the_pending_upload() {
    let mut fx = fixture();
    let h =
        fx.p.send_object_info(at(RW, None), &info("a", ObjectFormat::Text, 1), Some(1))
            .unwrap();
    fx.p.on_session_close();
    assert_eq!(
        fx.p.send_object(h).err(),
        Some(ResponseCode::NoValidObjectInfo)
    );
    assert!(tree_of(&fx.rw()).is_empty());
}

#[test]
fn folders_are_created_at_once_and_an_existing_folder_is_reused() {
    let mut fx = fixture();
    let d = fx.mkdir(None, "d");
    assert!(fx.rw().join("d").is_dir());
    assert_eq!(fx.p.object(d).unwrap().format, ObjectFormat::Association);
    assert_eq!(fx.events(), vec![(EventCode::ObjectAdded, d.0)]);
    assert_eq!(fx.mkdir(None, "d"), d);
    assert!(fx.events().is_empty());
    let inner = fx.mkdir(Some(d), "e");
    let f = fx.upload(RW, Some(inner), "f.txt", b"x").unwrap();
    assert_eq!(fs::read(fx.rw().join("d/e/f.txt")).unwrap(), b"x");
    assert_eq!(fx.p.object(f).unwrap().parent, Some(inner));
}

#[test]
fn upload_into_a_file_or_unknown_parent_is_invalid_parent_object() {
    let mut fx = fixture();
    let f = fx.upload(RW, None, "f", b"x").unwrap();
    let r =
        fx.p.send_object_info(at(RW, Some(f)), &info("a", ObjectFormat::Text, 1), Some(1));
    assert_eq!(r, Err(ResponseCode::InvalidParentObject));
    let d = fx.mkdir(None, "d");
    fs::remove_dir(fx.rw().join("d")).unwrap();
    let r =
        fx.p.send_object_info(at(RW, Some(d)), &info("a", ObjectFormat::Text, 1), Some(1));
    assert_eq!(r, Err(ResponseCode::InvalidParentObject));
}

/// A power cut during an upload leaves its temporary file, which the host can neither
/// see nor delete: listing the folder removes it, but never the file of an upload that
/// is running, nor anything in a read-only storage.
#[test]
fn temporary_files_of_interrupted_uploads_are_removed_when_their_folder_is_listed() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    for stale in [
        fx.rw().join(".mtp-upload-1234-1.tmp"),
        fx.rw().join("d/.mtp-upload-00000000deadbeef-7.tmp"),
        fx.ro().join(".mtp-upload-1234-1.tmp"),
    ] {
        fs::write(stale, b"left by a power cut").unwrap();
    }
    let h =
        fx.p.send_object_info(
            at(RW, None),
            &info("a", ObjectFormat::Undefined, 4),
            Some(4),
        )
        .unwrap();
    let mut sink = fx.p.send_object(h).unwrap();
    sink.write(Bytes::from_static(b"ab")).unwrap();

    let _ = fx.names(RW, ParentFilter::All);
    let _ = fx.names(RO, ParentFilter::All);
    let left = only_temp_files(&fx.rw());
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(!left[0].ends_with(".mtp-upload-1234-1.tmp"));
    assert!(fx.ro().join(".mtp-upload-1234-1.tmp").exists());
    sink.write(Bytes::from_static(b"cd")).unwrap();
    sink.finish(4).unwrap();
    assert_eq!(fs::read(fx.rw().join("a")).unwrap(), b"abcd");
    assert!(only_temp_files(&fx.rw()).is_empty());
}
