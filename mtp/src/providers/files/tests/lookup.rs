//! Paths <-> handles and hidden names (used by providers that wrap this one).

use std::fs;
use std::path::Path;

use super::*;

#[test]
fn handle_at_finds_unlisted_objects_and_path_of_inverts_it() {
    let mut fx = fixture();
    fs::create_dir_all(fx.rw().join("a/b")).unwrap();
    fs::write(fx.rw().join("a/b/c.unit"), b"x").unwrap();
    // Nothing was listed yet: the lookup lists the folders on the way.
    let h = fx.p.handle_at(RW, Path::new("a/b/c.unit")).unwrap();
    assert_eq!(fx.p.object(h).unwrap().name, "c.unit");
    assert_eq!(fx.p.path_of(h), Some((RW, "a/b/c.unit".into())));
    // The same object keeps its handle, and a listing agrees.
    assert_eq!(fx.p.handle_at(RW, Path::new("a/b/c.unit")), Some(h));
    let b = fx.p.handle_at(RW, Path::new("a/b")).unwrap();
    let kids =
        fx.p.object_handles(RW, None, ParentFilter::Children(b))
            .unwrap();
    assert_eq!(kids, vec![h]);
}

#[test]
fn handle_at_refuses_missing_paths_and_non_normal_components() {
    let mut fx = fixture();
    fs::write(fx.rw().join("f"), b"x").unwrap();
    assert_eq!(fx.p.handle_at(RW, Path::new("nope")), None);
    assert_eq!(fx.p.handle_at(RW, Path::new("../outside")), None);
    assert_eq!(fx.p.handle_at(RW, Path::new("/f")), None);
    assert_eq!(fx.p.handle_at(StorageId(0x0009_0001), Path::new("f")), None);
    assert_eq!(fx.p.handle_at(RW, Path::new("")), None);
}

#[test]
fn hidden_names_are_never_listed_or_looked_up() {
    let tmp = tempfile::tempdir().unwrap();
    for d in ["rw", "ro"] {
        fs::create_dir(tmp.path().join(d)).unwrap();
    }
    let mut p = provider(tmp.path()).with_hidden(|n| n.to_string_lossy().ends_with(".part"));
    fs::write(tmp.path().join("rw/x.unit.part"), b"partial").unwrap();
    fs::write(tmp.path().join("rw/x.unit"), b"done").unwrap();
    let all = p.object_handles(RW, None, ParentFilter::All).unwrap();
    let names: Vec<String> = all.iter().map(|h| p.object(*h).unwrap().name).collect();
    assert_eq!(names, ["x.unit"]);
    assert_eq!(p.handle_at(RW, Path::new("x.unit.part")), None);
}
