//! The passive-only application (registration and files only) against the engine: full
//! and partial, base and incremental, restored file by file.

use std::fs;

use engine::registration::Sid;
use engine::unit::UnitKind;

mod owners;
use owners::*;

const APP: Sid = Sid(0x2000_0020);
const OTHER: Sid = Sid(0x2000_0021);

/// Every file under `root` except registrations, by relative path.
fn files(root: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).expect("prefix").display().to_string();
                out.insert(rel, fs::read(&p).expect("read"));
            }
        }
    }
    out
}

fn put(path: std::path::PathBuf, data: &[u8]) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, data).expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_restored_file_by_file_through_base_and_increment() {
    let mut rig = rig(|c| {
        for sid in [APP, OTHER] {
            install(c, sid, "passive-app");
            put(c.cage(sid).join("notes.txt"), b"first");
            put(c.cage(sid).join("docs/a.bin"), &noise(1, 70_000));
            put(c.cage(sid).join("docs/b.bin"), &noise(2, 1000));
            put(c.cage(sid).join("cache/tmp"), b"never backed up");
        }
    });
    let cage = rig.cage(APP);
    let m = rig.backup("base", None, None).await;
    assert_eq!(
        kinds(&m, APP),
        vec![UnitKind::PassiveBase, UnitKind::PassiveSnapshot]
    );

    put(cage.join("notes.txt"), b"second");
    fs::remove_file(cage.join("docs/b.bin")).expect("rm");
    put(cage.join("docs/c.txt"), b"new file");
    let m1 = rig.backup("inc", Some("base"), None).await;
    assert!(kinds(&m1, APP).contains(&UnitKind::PassiveIncrement));
    let mut expected = files(&cage);
    expected.remove("cache/tmp");

    fs::remove_dir_all(cage.join("docs")).expect("lose docs");
    put(cage.join("notes.txt"), b"damaged");
    fs::remove_file(cage.join("cache/tmp")).expect("rm cache");
    rig.restore(&["base", "inc"], None).await;
    assert_eq!(files(&cage), expected);

    // Partial: only OTHER is restored; APP keeps its changes.
    let other_before = files(&rig.cage(OTHER));
    put(rig.cage(OTHER).join("notes.txt"), b"other changed");
    put(cage.join("notes.txt"), b"app changed");
    rig.backup("p", None, Some(&[OTHER])).await;
    put(rig.cage(OTHER).join("notes.txt"), b"lost");
    rig.restore(&["p"], Some(&[OTHER])).await;
    let mut other_expected = other_before;
    other_expected.insert("notes.txt".into(), b"other changed".to_vec());
    other_expected.remove("cache/tmp");
    let mut other_now = files(&rig.cage(OTHER));
    other_now.remove("cache/tmp");
    assert_eq!(other_now, other_expected);
    assert_eq!(
        fs::read(cage.join("notes.txt")).expect("app"),
        b"app changed"
    );
}
