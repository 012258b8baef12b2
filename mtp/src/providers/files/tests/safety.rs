//! Host-given names, symlinks and read-only storages: nothing outside a root is touched.

use std::fs;
use std::os::unix::fs::symlink;

use super::*;
use crate::codec::ObjectPropCode;
use crate::codec::value::PropValue;

const BAD_NAMES: &[&str] = &[
    "",
    ".",
    "..",
    "../x",
    "/etc/passwd",
    "a/b",
    "a\0b",
    ".mtp-upload-1-1.tmp",
];

#[test]
fn bad_names_in_send_object_info_are_invalid_dataset_and_write_nothing() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    let d = fx.find(RW, "d");
    let long = "x".repeat(256);
    for name in BAD_NAMES.iter().copied().chain([long.as_str()]) {
        for fmt in [ObjectFormat::Text, ObjectFormat::Association] {
            let r =
                fx.p.send_object_info(at(RW, Some(d)), &info(name, fmt, 1), Some(1));
            assert_eq!(r, Err(ResponseCode::InvalidDataset), "{name:?}");
        }
    }
    assert_eq!(tree_of(&fx.rw()), [PathBuf::from("d")]);
    assert!(tree_of(&fx.outside()).is_empty());
    assert!(tree_of(&fx.tmp.path().join("ro")).is_empty());
}

#[test]
fn bad_names_in_a_rename_are_invalid_object_prop_value() {
    let mut fx = fixture();
    let f = fx.upload(RW, None, "f", b"x").unwrap();
    for name in BAD_NAMES {
        let r = fx.p.set_object_prop(
            f,
            ObjectPropCode::ObjectFileName,
            &PropValue::Str((*name).into()),
        );
        assert_eq!(r, Err(ResponseCode::InvalidObjectPropValue), "{name:?}");
    }
    assert_eq!(tree_of(&fx.rw()), [PathBuf::from("f")]);
    assert!(tree_of(&fx.outside()).is_empty());
}

#[test]
fn a_symlink_to_outside_the_root_is_neither_listed_nor_written_through() {
    let mut fx = fixture();
    fs::write(fx.outside().join("secret"), b"keep").unwrap();
    symlink(fx.outside(), fx.rw().join("out")).unwrap();
    symlink(fx.outside().join("secret"), fx.rw().join("secret")).unwrap();
    assert!(fx.names(RW, ParentFilter::All).is_empty());
    let r = fx.p.send_object_info(
        at(RW, None),
        &info("secret", ObjectFormat::Text, 3),
        Some(3),
    );
    assert_eq!(r, Err(ResponseCode::AccessDenied));
    let r = fx.p.send_object_info(
        at(RW, None),
        &info("out", ObjectFormat::Association, 0),
        Some(0),
    );
    assert_eq!(r, Err(ResponseCode::AccessDenied));
    assert_eq!(fs::read(fx.outside().join("secret")).unwrap(), b"keep");
    assert_eq!(tree_of(&fx.outside()), [PathBuf::from("secret")]);
}

#[test]
fn a_folder_replaced_by_a_symlink_after_listing_is_not_followed() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    fs::write(fx.rw().join("d/f"), b"in").unwrap();
    let d = fx.find(RW, "d");
    let f = fx.find(RW, "d/f");
    fs::write(fx.outside().join("f"), b"outside").unwrap();
    fs::remove_dir_all(fx.rw().join("d")).unwrap();
    symlink(fx.outside(), fx.rw().join("d")).unwrap();
    assert_eq!(fx.p.object(f), Err(ResponseCode::InvalidObjectHandle));
    assert!(fx.p.open_read(f, 0, 10).is_err());
    assert_eq!(fx.p.object(d), Err(ResponseCode::InvalidObjectHandle));
    let r = fx.p.send_object_info(
        at(RW, Some(d)),
        &info("new", ObjectFormat::Text, 1),
        Some(1),
    );
    assert_eq!(r, Err(ResponseCode::InvalidParentObject));
    assert_eq!(tree_of(&fx.outside()), [PathBuf::from("f")]);
}

#[test]
fn a_read_only_storage_refuses_every_modification() {
    let mut fx = fixture();
    fs::create_dir(fx.ro().join("d")).unwrap();
    fs::write(fx.ro().join("f"), b"x").unwrap();
    let d = fx.find(RO, "d");
    let f = fx.find(RO, "f");
    let ro: ProviderResult<ObjectHandle> = Err(ResponseCode::StoreReadOnly);
    assert_eq!(
        fx.p.send_object_info(at(RO, None), &info("n", ObjectFormat::Text, 1), Some(1)),
        ro
    );
    assert_eq!(
        fx.p.send_object_info(
            at(RO, None),
            &info("n", ObjectFormat::Association, 0),
            Some(0)
        ),
        ro
    );
    assert_eq!(fx.p.delete_object(f), Err(ResponseCode::StoreReadOnly));
    assert_eq!(fx.p.delete_object(d), Err(ResponseCode::StoreReadOnly));
    assert_eq!(
        fx.p.move_object(f, at(RO, Some(d))),
        Err(ResponseCode::StoreReadOnly)
    );
    assert_eq!(
        fx.p.move_object(f, at(RW, None)),
        Err(ResponseCode::StoreReadOnly)
    );
    assert_eq!(fx.p.copy_object(f, at(RO, Some(d))), ro);
    let name = PropValue::Str("g".into());
    assert_eq!(
        fx.p.set_object_prop(f, ObjectPropCode::ObjectFileName, &name),
        Err(ResponseCode::StoreReadOnly)
    );
    assert_eq!(fx.p.begin_edit(f), Err(ResponseCode::StoreReadOnly));
    assert_eq!(fx.p.truncate(f, 0), Err(ResponseCode::AccessDenied));
    assert!(fx.p.send_partial(f, 0, 1).is_err());
    assert_eq!(tree_of(&fx.ro()), [PathBuf::from("d"), PathBuf::from("f")]);
    assert_eq!(fs::read(fx.ro().join("f")).unwrap(), b"x");
}

#[test]
fn copying_from_a_read_only_storage_to_a_writable_one_works() {
    let mut fx = fixture();
    fs::write(fx.ro().join("f"), b"x").unwrap();
    let f = fx.find(RO, "f");
    let copy = fx.p.copy_object(f, at(RW, None)).unwrap();
    assert_eq!(fx.p.object(copy).unwrap().storage, RW);
    assert_eq!(fs::read(fx.rw().join("f")).unwrap(), b"x");
}

#[test]
fn a_listed_folder_replaced_by_a_symlink_is_not_listed_through() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    fs::write(fx.outside().join("secret"), b"keep").unwrap();
    let d = fx.find(RW, "d");
    fs::remove_dir(fx.rw().join("d")).unwrap();
    symlink(fx.outside(), fx.rw().join("d")).unwrap();
    fs::create_dir(fx.rw().join("e")).unwrap();
    fs::write(fx.rw().join("e/x"), b"x").unwrap();
    let e = fx.find(RW, "e");
    fs::remove_dir_all(fx.rw().join("e")).unwrap();
    symlink(fx.outside(), fx.rw().join("e")).unwrap();
    let all = fx.p.object_handles(RW, None, ParentFilter::All).unwrap();
    assert!(all.is_empty(), "{all:?}");
    let r = fx.p.object_handles(RW, None, ParentFilter::Children(e));
    assert_eq!(r, Err(ResponseCode::InvalidParentObject));
    assert_eq!(fx.p.object(d), Err(ResponseCode::InvalidObjectHandle));
}

#[test]
fn a_file_system_mounted_beneath_a_root_is_never_entered() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("NOT ROOT: mounting needs root; the mount-point refusal did NOT run here");
        return;
    }
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("card")).unwrap();
    let card = fx.find(RW, "card");
    let at = fx.rw().join("card");
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&at)
        .status()
        .unwrap();
    assert!(ok.success());
    fs::write(at.join("f"), b"elsewhere").unwrap();
    let listed = fx.p.object_handles(RW, None, ParentFilter::Children(card));
    let info = fx.p.object(card);
    let upload = fx.upload(RW, Some(card), "new", b"x");
    let all = fx.names(RW, ParentFilter::All);
    let left = tree_of(&at);
    let _ = std::process::Command::new("umount").arg(&at).status();
    assert!(listed.is_err(), "listed inside a mount point: {listed:?}");
    assert_eq!(info, Err(ResponseCode::InvalidObjectHandle));
    assert!(upload.is_err(), "uploaded into a mount point");
    assert!(!all.contains(&"f".to_string()), "{all:?}");
    assert_eq!(left, [PathBuf::from("f")]);
}
