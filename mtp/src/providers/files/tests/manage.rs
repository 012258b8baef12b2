//! DeleteObject, MoveObject, CopyObject and renames.

use std::fs;

use super::*;
use crate::codec::ObjectPropCode;
use crate::codec::value::PropValue;

fn rename(fx: &mut Fx, h: ObjectHandle, name: &str) -> ProviderResult<()> {
    fx.p.set_object_prop(
        h,
        ObjectPropCode::ObjectFileName,
        &PropValue::Str(name.into()),
    )
}

#[test]
fn delete_removes_a_file_and_a_folder_recursively_with_events() {
    let mut fx = fixture();
    fs::create_dir_all(fx.rw().join("d/e")).unwrap();
    fs::write(fx.rw().join("d/e/f"), b"x").unwrap();
    fs::write(fx.rw().join("d/.mtp-upload-9-9.tmp"), b"x").unwrap();
    fs::write(fx.rw().join("g"), b"x").unwrap();
    let d = fx.find(RW, "d");
    let f = fx.find(RW, "d/e/f");
    let g = fx.find(RW, "g");
    fx.p.delete_object(g).unwrap();
    fx.p.delete_object(d).unwrap();
    assert!(tree_of(&fx.rw()).is_empty());
    assert_eq!(fx.p.object(f), Err(ResponseCode::InvalidObjectHandle));
    assert_eq!(
        fx.p.delete_object(d),
        Err(ResponseCode::InvalidObjectHandle)
    );
    assert_eq!(
        fx.events(),
        vec![
            (EventCode::ObjectRemoved, g.0),
            (EventCode::ObjectRemoved, d.0)
        ]
    );
}

#[test]
fn move_within_a_storage_keeps_the_handle_and_the_subtree() {
    let mut fx = fixture();
    fs::create_dir_all(fx.rw().join("a/sub")).unwrap();
    fs::write(fx.rw().join("a/sub/f"), b"x").unwrap();
    fs::create_dir(fx.rw().join("b")).unwrap();
    let a = fx.find(RW, "a");
    let f = fx.find(RW, "a/sub/f");
    let b = fx.find(RW, "b");
    fx.p.move_object(a, at(RW, Some(b))).unwrap();
    assert!(fx.rw().join("b/a/sub/f").is_file());
    assert_eq!(fx.p.object(a).unwrap().parent, Some(b));
    assert_eq!(fx.p.object(f).unwrap().name, "f");
    assert_eq!(fx.find(RW, "b/a/sub/f"), f);
    assert_eq!(fx.events(), vec![(EventCode::ObjectInfoChanged, a.0)]);
    fx.p.move_object(a, at(RW, None)).unwrap();
    assert!(fx.rw().join("a/sub/f").is_file());
}

#[test]
fn move_onto_an_existing_name_or_into_itself_is_refused() {
    let mut fx = fixture();
    fs::create_dir_all(fx.rw().join("a/inner")).unwrap();
    fs::create_dir(fx.rw().join("b")).unwrap();
    fs::write(fx.rw().join("f"), b"1").unwrap();
    fs::write(fx.rw().join("b/f"), b"2").unwrap();
    let (a, b, f) = (fx.find(RW, "a"), fx.find(RW, "b"), fx.find(RW, "f"));
    let inner = fx.find(RW, "a/inner");
    assert_eq!(
        fx.p.move_object(f, at(RW, Some(b))),
        Err(ResponseCode::AccessDenied)
    );
    assert_eq!(fs::read(fx.rw().join("b/f")).unwrap(), b"2");
    assert_eq!(
        fx.p.move_object(a, at(RW, Some(a))),
        Err(ResponseCode::InvalidParentObject)
    );
    assert_eq!(
        fx.p.move_object(a, at(RW, Some(inner))),
        Err(ResponseCode::InvalidParentObject)
    );
    assert_eq!(
        fx.p.move_object(f, at(RW, Some(f))),
        Err(ResponseCode::InvalidParentObject)
    );
    fx.p.move_object(f, at(RW, None)).unwrap();
    assert_eq!(fs::read(fx.rw().join("f")).unwrap(), b"1");
}

#[test]
fn copy_duplicates_files_and_folders_recursively_under_a_new_handle() {
    let mut fx = fixture();
    fs::create_dir_all(fx.rw().join("a/sub")).unwrap();
    fs::write(fx.rw().join("a/sub/f"), b"data").unwrap();
    fs::create_dir(fx.rw().join("b")).unwrap();
    let a = fx.find(RW, "a");
    let b = fx.find(RW, "b");
    let copy = fx.p.copy_object(a, at(RW, Some(b))).unwrap();
    assert_ne!(copy, a);
    assert_eq!(fs::read(fx.rw().join("b/a/sub/f")).unwrap(), b"data");
    assert_eq!(fs::read(fx.rw().join("a/sub/f")).unwrap(), b"data");
    assert_eq!(fx.p.object(copy).unwrap().parent, Some(b));
    assert_eq!(fx.events(), vec![(EventCode::ObjectAdded, copy.0)]);
    assert_eq!(
        fx.p.copy_object(a, at(RW, Some(a))),
        Err(ResponseCode::InvalidParentObject)
    );
    assert!(
        !tree_of(&fx.rw())
            .iter()
            .any(|p| p.to_string_lossy().contains(".mtp-upload"))
    );
}

#[test]
fn copy_onto_an_existing_name_takes_the_next_numbered_name() {
    let mut fx = fixture();
    fs::write(fx.rw().join("f.txt"), b"x").unwrap();
    let f = fx.find(RW, "f.txt");
    let c1 = fx.p.copy_object(f, at(RW, None)).unwrap();
    let c2 = fx.p.copy_object(f, at(RW, None)).unwrap();
    assert_eq!(fx.p.object(c1).unwrap().name, "f (1).txt");
    assert_eq!(fx.p.object(c2).unwrap().name, "f (2).txt");
    assert_eq!(fs::read(fx.rw().join("f (2).txt")).unwrap(), b"x");
}

#[test]
fn move_between_storages_moves_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    for d in ["one", "two"] {
        fs::create_dir(tmp.path().join(d)).unwrap();
    }
    let cfg = |d: &str, id: u32| StorageConfig {
        id: StorageId(id),
        description: d.into(),
        root: tmp.path().join(d),
        writable: true,
        private: false,
    };
    let mut p = FilesProvider::new(vec![cfg("one", 0x10001), cfg("two", 0x20001)]).unwrap();
    p.attach(ProviderId(1));
    fs::create_dir(tmp.path().join("one/d")).unwrap();
    fs::write(tmp.path().join("one/d/f"), b"x").unwrap();
    let d = p
        .object_handles(StorageId(0x10001), None, ParentFilter::Root)
        .unwrap()[0];
    p.move_object(d, at(StorageId(0x20001), None)).unwrap();
    assert_eq!(fs::read(tmp.path().join("two/d/f")).unwrap(), b"x");
    assert!(!tmp.path().join("one/d").exists());
    assert_eq!(p.object(d).unwrap().storage, StorageId(0x20001));
    let f = p
        .object_handles(StorageId(0x20001), None, ParentFilter::All)
        .unwrap();
    assert_eq!(f.len(), 2);
}

#[test]
fn rename_changes_the_name_and_keeps_the_handle() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    fs::write(fx.rw().join("d/f"), b"x").unwrap();
    let d = fx.find(RW, "d");
    let f = fx.find(RW, "d/f");
    rename(&mut fx, d, "music").unwrap();
    rename(&mut fx, f, "song.mp3").unwrap();
    assert_eq!(fs::read(fx.rw().join("music/song.mp3")).unwrap(), b"x");
    let rec = fx.p.object(f).unwrap();
    assert_eq!(
        (rec.name.as_str(), rec.format),
        ("song.mp3", ObjectFormat::Mp3)
    );
    assert_eq!(fx.find(RW, "music/song.mp3"), f);
    assert_eq!(
        fx.events(),
        vec![
            (EventCode::ObjectInfoChanged, d.0),
            (EventCode::ObjectInfoChanged, f.0)
        ]
    );
    rename(&mut fx, f, "song.mp3").unwrap();
}

#[test]
fn rename_onto_an_existing_name_is_invalid_object_prop_value_and_replaces_nothing() {
    let mut fx = fixture();
    fs::write(fx.rw().join("a"), b"1").unwrap();
    fs::write(fx.rw().join("b"), b"2").unwrap();
    let a = fx.find(RW, "a");
    assert_eq!(
        rename(&mut fx, a, "b"),
        Err(ResponseCode::InvalidObjectPropValue)
    );
    assert_eq!(fs::read(fx.rw().join("b")).unwrap(), b"2");
    let other =
        fx.p.set_object_prop(a, ObjectPropCode::Name, &PropValue::Str("x".into()));
    assert_eq!(other, Err(ResponseCode::ObjectPropNotSupported));
    let wrong =
        fx.p.set_object_prop(a, ObjectPropCode::ObjectFileName, &PropValue::U32(1));
    assert_eq!(wrong, Err(ResponseCode::InvalidObjectPropValue));
}

/// Makes a file undeletable (chattr +i, or mode 0555 on its folder) until dropped.
struct Protect {
    file: PathBuf,
    immutable: bool,
}

impl Protect {
    /// Returns `None` where neither way protects anything (no chattr, and root).
    fn new(file: &Path) -> Option<Self> {
        use std::os::unix::fs::PermissionsExt;
        let chattr = |flag: &str| {
            std::process::Command::new("chattr")
                .arg(flag)
                .arg(file)
                .status()
                .is_ok_and(|s| s.success())
        };
        if chattr("+i") {
            return Some(Self {
                file: file.into(),
                immutable: true,
            });
        }
        let dir = file.parent()?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).ok()?;
        let guard = Self {
            file: file.into(),
            immutable: false,
        };
        fs::write(dir.join("probe"), b"").is_err().then_some(guard)
    }
}

impl Drop for Protect {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.immutable {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(&self.file)
                .status();
        } else if let Some(dir) = self.file.parent() {
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn delete_of_a_partly_protected_folder_is_partial_deletion() {
    let mut fx = fixture();
    fs::create_dir_all(fx.rw().join("d/locked")).unwrap();
    fs::write(fx.rw().join("d/free"), b"x").unwrap();
    fs::write(fx.rw().join("d/locked/f"), b"x").unwrap();
    let d = fx.find(RW, "d");
    let f = fx.find(RW, "d/locked/f");
    let Some(_guard) = Protect::new(&fx.rw().join("d/locked/f")) else {
        eprintln!("no way to protect a file here: test skipped");
        return;
    };
    assert_eq!(fx.p.delete_object(d), Err(ResponseCode::PartialDeletion));
    assert_eq!(fx.names(RW, ParentFilter::All), ["d", "f", "locked"]);
    assert_eq!(fx.find(RW, "d/locked/f"), f);
    assert_eq!(fx.p.delete_object(f), Err(ResponseCode::AccessDenied));
}
