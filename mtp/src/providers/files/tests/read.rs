//! StorageInfo, listings, records, handles, PUIDs and reads.

use std::fs;
use std::time::{Duration, SystemTime};

use super::*;
use crate::codec::dataset::{AccessCapability, FilesystemType, StorageType};

/// Sets the modification time of the file at `path` to `secs` after the epoch.
fn set_mtime(path: &std::path::Path, secs: u64) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

#[test]
fn storage_info_reports_type_access_description_and_real_space() {
    let mut fx = fixture();
    let rw = fx.p.storage_info(RW).unwrap();
    assert_eq!(rw.storage_type, StorageType::FixedRam as u16);
    assert_eq!(
        rw.filesystem_type,
        FilesystemType::GenericHierarchical as u16
    );
    assert_eq!(rw.access_capability, AccessCapability::ReadWrite as u16);
    assert!(rw.max_capacity > 0 && rw.free_space_bytes <= rw.max_capacity);
    assert_eq!(rw.free_space_objects, u32::MAX);
    assert_eq!(
        (rw.description.as_str(), rw.volume_identifier.as_str()),
        ("Internal", "Internal")
    );
    let ro = fx.p.storage_info(RO).unwrap();
    assert_eq!(ro.access_capability, AccessCapability::ReadOnly as u16);
    assert_eq!(
        fx.p.storage_info(StorageId(0x0009_0001)),
        Err(ResponseCode::InvalidStorageId)
    );
}

#[test]
fn new_refuses_missing_or_file_roots_and_bad_storage_ids() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("f"), b"x").unwrap();
    let cfg = |root: &str, id: u32| StorageConfig {
        id: StorageId(id),
        description: String::new(),
        root: tmp.path().join(root),
        writable: true,
        private: false,
    };
    assert!(FilesProvider::new(vec![cfg("missing", 0x10001)]).is_err());
    assert!(FilesProvider::new(vec![cfg("f", 0x10001)]).is_err());
    assert!(FilesProvider::new(vec![cfg("", 0x10000)]).is_err());
    assert!(FilesProvider::new(vec![cfg("", 0x10001), cfg("", 0x10001)]).is_err());
    assert!(FilesProvider::new(vec![cfg("", 0x10001)]).is_ok());
}

#[test]
fn root_lists_children_and_all_lists_every_object_recursively() {
    let mut fx = fixture();
    fs::create_dir_all(fx.rw().join("a/b")).unwrap();
    fs::write(fx.rw().join("top.txt"), b"1").unwrap();
    fs::write(fx.rw().join("a/b/deep.mp3"), b"2").unwrap();
    assert_eq!(fx.names(RW, ParentFilter::Root), ["a", "top.txt"]);
    assert_eq!(
        fx.names(RW, ParentFilter::All),
        ["a", "b", "deep.mp3", "top.txt"]
    );
    let a = fx.find(RW, "a");
    assert_eq!(fx.names(RW, ParentFilter::Children(a)), ["b"]);
    let deep = fx.find(RW, "a/b/deep.mp3");
    let rec = fx.p.object(deep).unwrap();
    assert_eq!(rec.format, ObjectFormat::Mp3);
    assert_eq!(rec.parent, Some(fx.find(RW, "a/b")));
    assert_eq!(fx.p.object(a).unwrap().format, ObjectFormat::Association);
    assert_eq!(fx.p.object(a).unwrap().parent, None);
}

#[test]
fn children_of_a_file_or_foreign_folder_is_invalid_parent_object() {
    let mut fx = fixture();
    fs::write(fx.rw().join("f.txt"), b"1").unwrap();
    fs::create_dir(fx.ro().join("d")).unwrap();
    let f = fx.find(RW, "f.txt");
    let d = fx.find(RO, "d");
    let bad = ObjectHandle::new(ProviderId(1), 0xABCD);
    for parent in [f, d, bad] {
        let r =
            fx.p.object_handles(RW, None, ParentFilter::Children(parent));
        assert_eq!(r, Err(ResponseCode::InvalidParentObject));
    }
}

#[test]
fn format_filter_keeps_only_matching_objects() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    fs::write(fx.rw().join("a.jpg"), b"1").unwrap();
    fs::write(fx.rw().join("b.txt"), b"1").unwrap();
    let jpg =
        fx.p.object_handles(RW, Some(ObjectFormat::ExifJpeg), ParentFilter::All);
    assert_eq!(jpg.unwrap(), vec![fx.find(RW, "a.jpg")]);
    let dirs =
        fx.p.object_handles(RW, Some(ObjectFormat::Association), ParentFilter::Root);
    assert_eq!(dirs.unwrap(), vec![fx.find(RW, "d")]);
}

#[test]
fn object_restats_size_and_time_and_a_vanished_object_is_invalid_handle() {
    let mut fx = fixture();
    let path = fx.rw().join("f.bin");
    fs::write(&path, b"123").unwrap();
    let h = fx.find(RW, "f.bin");
    assert_eq!(fx.p.object(h).unwrap().size, 3);
    fs::write(&path, b"123456").unwrap();
    set_mtime(&path, 1_600_000_000);
    let rec = fx.p.object(h).unwrap();
    assert_eq!((rec.size, rec.modified), (6, 1_600_000_000));
    assert_eq!(rec.format, ObjectFormat::Undefined);
    assert!(!rec.read_only);
    fs::remove_file(&path).unwrap();
    assert_eq!(fx.p.object(h), Err(ResponseCode::InvalidObjectHandle));
    let foreign = ObjectHandle::new(ProviderId(2), h.local());
    assert_eq!(fx.p.object(foreign), Err(ResponseCode::InvalidObjectHandle));
}

#[test]
fn date_created_is_the_birth_time_where_the_file_system_keeps_one() {
    let mut fx = fixture();
    let path = fx.rw().join("old.txt");
    fs::write(&path, b"x").unwrap();
    set_mtime(&path, 1_000_000_000);
    let h = fx.find(RW, "old.txt");
    let rec = fx.p.object(h).unwrap();
    assert_eq!(rec.modified, 1_000_000_000);
    match fs::metadata(&path).unwrap().created() {
        Ok(born) => {
            let born = born.duration_since(SystemTime::UNIX_EPOCH).unwrap();
            assert_eq!(rec.created, born.as_secs() as i64);
            assert!(rec.created > rec.modified, "{rec:?}");
        }
        Err(_) => {
            eprintln!("NOTE: this file system keeps no birth time; DateCreated = DateModified");
            assert_eq!(rec.created, rec.modified);
        }
    }
}

#[test]
fn objects_of_a_read_only_storage_are_marked_read_only() {
    let mut fx = fixture();
    fs::write(fx.ro().join("f"), b"1").unwrap();
    let h = fx.find(RO, "f");
    let rec = fx.p.object(h).unwrap();
    assert!(rec.read_only);
    assert_eq!(rec.storage, RO);
}

#[test]
fn temporary_upload_files_symlinks_and_fifos_are_not_listed() {
    let mut fx = fixture();
    fs::write(fx.rw().join(".mtp-upload-1-1.tmp"), b"x").unwrap();
    fs::write(fx.rw().join(".hidden"), b"x").unwrap();
    std::os::unix::fs::symlink(fx.outside(), fx.rw().join("link")).unwrap();
    assert_eq!(fx.names(RW, ParentFilter::All), [".hidden"]);
}

#[test]
fn handles_stay_the_same_across_session_close_and_relisting() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    fs::write(fx.rw().join("d/f"), b"1").unwrap();
    let d = fx.find(RW, "d");
    let f = fx.find(RW, "d/f");
    fx.p.on_session_close();
    fx.p.on_session_open();
    fs::write(fx.rw().join("new"), b"1").unwrap();
    fx.p.object_handles(RW, None, ParentFilter::All).unwrap();
    assert_eq!((fx.find(RW, "d"), fx.find(RW, "d/f")), (d, f));
    assert_ne!(fx.find(RW, "new"), f);
}

#[test]
fn relisting_forgets_removed_entries_and_numbers_new_ones() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    fs::write(fx.rw().join("d/f"), b"1").unwrap();
    let d = fx.find(RW, "d");
    let f = fx.find(RW, "d/f");
    fs::remove_dir_all(fx.rw().join("d")).unwrap();
    fs::create_dir(fx.rw().join("e")).unwrap();
    assert_eq!(fx.names(RW, ParentFilter::Root), ["e"]);
    assert_eq!(fx.p.object(d), Err(ResponseCode::InvalidObjectHandle));
    assert_eq!(fx.p.object(f), Err(ResponseCode::InvalidObjectHandle));
    assert_ne!(fx.find(RW, "e"), d);
}

#[test]
fn puid_is_stable_across_provider_instances_and_renames() {
    let mut fx = fixture();
    fs::write(fx.rw().join("f"), b"1").unwrap();
    let h = fx.find(RW, "f");
    let first = fx.p.object(h).unwrap().puid;
    let mut other = Fx {
        p: provider(fx.tmp.path()),
        tmp: tempfile::tempdir().unwrap(),
    };
    let h2 = other.find(RW, "f");
    assert_eq!(other.p.object(h2).unwrap().puid, first);
    fs::write(fx.rw().join("g"), b"1").unwrap();
    let g = fx.find(RW, "g");
    assert_ne!(fx.p.object(g).unwrap().puid, first);
}

#[test]
fn partial_reads_return_exactly_the_requested_range_in_chunks() {
    let mut fx = fixture();
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    fs::write(fx.rw().join("f"), &data).unwrap();
    let h = fx.find(RW, "f");
    assert_eq!(fx.read(h, 0, u64::MAX, 4096), data);
    assert_eq!(fx.read(h, 100, 1000, 333), &data[100..1100]);
    assert_eq!(fx.read(h, 9_990, 1000, 64), &data[9_990..]);
    assert_eq!(fx.p.open_read(h, 10_000, 5).unwrap().len(), 0);
    assert_eq!(
        fx.p.open_read(h, 10_001, 5).err(),
        Some(ResponseCode::InvalidParameter)
    );
}

#[test]
fn reading_a_folder_is_invalid_object_format_code() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    let d = fx.find(RW, "d");
    assert_eq!(
        fx.p.open_read(d, 0, 10).err(),
        Some(ResponseCode::InvalidObjectFormatCode)
    );
}

/// Cuts the file at `path` to `len` bytes, as another local user would.
fn cut(path: &std::path::Path, len: u64) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn a_file_shrinking_during_a_read_is_incomplete_transfer() {
    let mut fx = fixture();
    let path = fx.rw().join("f");
    fs::write(&path, vec![7u8; 1000]).unwrap();
    let h = fx.find(RW, "f");
    let mut src = fx.p.open_read(h, 0, u64::MAX).unwrap();
    assert!(matches!(src.read(500), Ok(Chunk::Data(b)) if b.len() == 500));
    cut(&path, 500);
    assert_eq!(src.read(500), Err(ResponseCode::IncompleteTransfer));
}

#[test]
fn mapped_and_read_pieces_mix_into_the_exact_range() {
    let mut fx = fixture();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(fx.rw().join("f"), &data).unwrap();
    let h = fx.find(RW, "f");
    let mut src = fx.p.open_read(h, 1_000, 250_000).unwrap();
    let mut out = Vec::new();
    // The responder's order: one read (the piece after the container header), mapped
    // requests, and reads again wherever mapping is not possible.
    for (i, n) in [70_000usize, 65_536, 65_536, 1_000, 47_928]
        .into_iter()
        .enumerate()
    {
        if i % 3 == 0 {
            let Ok(Chunk::Data(b)) = src.read(n) else {
                panic!("read {i}")
            };
            assert_eq!(b.len(), n);
            out.extend_from_slice(&b);
        } else {
            let b = src.map_next(n).expect("a file maps").unwrap();
            assert_eq!(b.len(), n);
            // Read back through the kernel, as the endpoint does (never in user space).
            let mut t = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut t, &b).unwrap();
            out.extend_from_slice(&super::reread(t));
        }
    }
    assert_eq!(out, &data[1_000..251_000]);
    assert_eq!(src.map_next(1), Some(Err(ResponseCode::IncompleteTransfer)));
}

#[test]
fn a_file_cut_between_mapped_requests_is_incomplete_transfer() {
    let mut fx = fixture();
    let path = fx.rw().join("f");
    fs::write(&path, vec![7u8; 200_000]).unwrap();
    let h = fx.find(RW, "f");
    let mut src = fx.p.open_read(h, 0, u64::MAX).unwrap();
    assert!(matches!(src.map_next(65_536), Some(Ok(b)) if b.len() == 65_536));
    // A local user who may write the file cuts it while the host reads it: the next
    // request is refused before anything is mapped past the new end.
    cut(&path, 100_000);
    assert_eq!(
        src.map_next(65_536),
        Some(Err(ResponseCode::IncompleteTransfer))
    );
}

#[test]
fn listing_ten_thousand_files_returns_them_all() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("many")).unwrap();
    for i in 0..10_000 {
        fs::File::create(fx.rw().join(format!("many/{i}.txt"))).unwrap();
    }
    let all = fx.p.object_handles(RW, None, ParentFilter::All).unwrap();
    let again = fx.p.object_handles(RW, None, ParentFilter::All).unwrap();
    assert_eq!(all.len(), 10_001);
    let (mut a, mut b) = (all.clone(), again);
    a.sort();
    b.sort();
    assert_eq!(a, b);
}
