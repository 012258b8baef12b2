use super::*;
use crate::testset::make_set;

fn device(dir: &Path) -> DeviceRepo {
    Repo::create(dir).unwrap().device("SER1", true).unwrap()
}

#[test]
fn a_device_cannot_choose_where_its_sets_go() {
    assert_eq!(folder_for_serial("ABC-123_x.y"), "ABC-123_x.y");
    assert_eq!(folder_for_serial("../../etc"), "_.._.._etc");
    assert_eq!(folder_for_serial(".hidden"), "_.hidden");
    assert_eq!(folder_for_serial(""), "_");
    assert_eq!(folder_for_serial("a/b\\c\0"), "a_b_c_");
    assert_eq!(folder_for_serial(&"x".repeat(500)).len(), 64);
}

#[test]
fn only_names_a_set_holds_are_copied() {
    assert!(set_file("manifest.toml").is_some());
    assert!(set_file("key.age").is_some());
    assert!(set_file("20000001/c/active-base.unit").is_some());
    assert!(set_file("20000030/c/proxy-10202be9.unit").is_some());
    for bad in [
        "../x",
        "20000001/../../x.unit",
        "20000001/c/evil.unit",
        "20000001/cc/active-base.unit",
        "2000001/c/active-base.unit",
        "20000001/C/active-base.unit",
        "20000001/c/d/active-base.unit",
        "restore-result.toml",
        ".commit-1.toml",
        "20000001/c/active-base.unit.part",
    ] {
        assert!(set_file(bad).is_none(), "{bad}");
    }
}

#[test]
fn chains_follow_previous_and_missing_links_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let d = device(tmp.path());
    make_set(
        d.dir(),
        "b1",
        "2026-01-01T00:00:00Z",
        None,
        &[(1, UnitKind::ActiveBase, vec![1])],
    );
    make_set(d.dir(), "i1", "2026-01-02T00:00:00Z", Some("b1"), &[]);
    make_set(d.dir(), "i2", "2026-01-03T00:00:00Z", Some("i1"), &[]);
    make_set(d.dir(), "o1", "2026-01-04T00:00:00Z", Some("gone"), &[]);
    let names = |c: Vec<SetInfo>| c.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(names(d.chain("i2").unwrap()), ["b1", "i1", "i2"]);
    assert_eq!(names(d.chain("b1").unwrap()), ["b1"]);
    let err = d.chain("o1").unwrap_err();
    assert!(err.contains("gone"), "{err}");
    assert!(d.chain("nope").is_err());
    assert_eq!(d.tip().unwrap().unwrap().name, "o1");
    d.write_index().unwrap();
    let index = fs::read_to_string(d.dir().join(INDEX)).unwrap();
    assert!(
        index.contains("chain = [\"b1\", \"i1\", \"i2\"]"),
        "{index}"
    );
}

#[test]
fn a_partial_copy_is_never_a_set_and_is_cleaned_up() {
    let tmp = tempfile::tempdir().unwrap();
    let d = device(tmp.path());
    let p = d.begin("s1").unwrap();
    let mut f = p.create(Path::new("20000001/c/active-base.unit")).unwrap();
    f.write_all(b"half").unwrap();
    // A killed run: the partial folder stays, and is not a set.
    std::mem::forget(p);
    let (sets, bad) = d.sets().unwrap();
    assert!(sets.is_empty() && bad.is_empty());
    // The next run removes it and can copy the set again.
    let p = d.begin("s1").unwrap();
    assert!(!p.dir().join("20000001").exists());
    p.abandon();
    assert!(d.begin("../x").is_err());
}

#[test]
fn a_committed_set_is_listed_and_removed_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let d = device(tmp.path());
    let scratch = tempfile::tempdir().unwrap();
    make_set(
        scratch.path(),
        "s1",
        "2026-01-01T00:00:00Z",
        None,
        &[(1, UnitKind::ActiveBase, vec![9; 10])],
    );
    let p = d.begin("s1").unwrap();
    for rel in ["manifest.toml", "00000001/c/active-base.unit"] {
        let mut f = p.create(Path::new(rel)).unwrap();
        f.write_all(&fs::read(scratch.path().join("s1").join(rel)).unwrap())
            .unwrap();
    }
    let dir = p.commit().unwrap();
    assert_eq!(dir, d.dir().join("s1"));
    assert!(d.begin("s1").is_err(), "a set is never overwritten");
    assert_eq!(d.sets().unwrap().0.len(), 1);
    d.remove_set("s1").unwrap();
    assert!(d.sets().unwrap().0.is_empty());
    assert!(fs::read_dir(d.dir()).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".trash")
    }));
}

#[test]
fn a_second_host_program_on_the_same_device_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = device(tmp.path());
    let held = d.lock().unwrap();
    assert!(d.lock().is_err());
    drop(held);
    d.lock().unwrap();
}
