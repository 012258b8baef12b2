//! Incremental backups from snapshots the host supplies: the device needs no earlier set
//! in its spool, only that set's manifest and snapshot units.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::fs;
use std::path::Path;

use engine::manifest::{BackupType, OwnerOutcome};
use engine::runner::{BackupRequest, RestoreRequest, SessionError};

mod common;
use common::*;

/// Copies `from` to `to`, files for which `keep` is true only.
fn copy_set(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read_dir").flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type().expect("type").is_dir() {
            copy_set(&src, &dst, keep);
        } else if keep(&src) {
            fs::copy(&src, &dst).expect("copy");
        }
    }
}

fn is_snapshot_or_manifest(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "manifest.toml" || name.ends_with("-snapshot.unit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_increment_needs_only_the_earlier_sets_manifest_and_snapshots() {
    let mut rig = rig();
    let partial = Some([PASSIVE, ACTIVE].into_iter().collect());
    rig.engine
        .backup(BackupRequest {
            partial: partial.clone(),
            ..base("b")
        })
        .await
        .expect("base");
    // The host keeps the set and removes it from the device; for the next increment it
    // uploads the manifest and the snapshot units only.
    let kept = rig.dir.path().join("host/b");
    copy_set(&rig.spool().join("b"), &kept, &|_| true);
    fs::remove_dir_all(rig.spool().join("b")).expect("rm");
    copy_set(&kept, &rig.spool().join("b"), &is_snapshot_or_manifest);

    write(&rig.cage(PASSIVE).join("notes.txt"), b"second notes");
    write(&rig.cage(ACTIVE).join("active.dat"), b"active data v2");
    let m = rig
        .engine
        .backup(BackupRequest {
            backup_type: BackupType::Incremental,
            previous: Some(rig.spool().join("b")),
            partial,
            ..base("i1")
        })
        .await
        .expect("an increment from the snapshots alone");
    assert!(
        m.owners.iter().all(|o| o.outcome == OwnerOutcome::Ok),
        "{:?}",
        m.owners
    );
    let latest = tree(&rig.cage(PASSIVE));

    // To restore, the host uploads the whole base again.
    fs::remove_dir_all(rig.spool().join("b")).expect("rm");
    copy_set(&kept, &rig.spool().join("b"), &|_| true);
    write(&rig.cage(PASSIVE).join("notes.txt"), b"lost");
    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("b"), rig.spool().join("i1")],
            partial: None,
        })
        .await
        .expect("restore");
    assert!(
        report.owners.iter().all(|r| r.outcome == OwnerOutcome::Ok),
        "{report:?}"
    );
    assert_eq!(tree(&rig.cage(PASSIVE)), latest);
    assert_eq!(
        fs::read(rig.cage(ACTIVE).join("active.restored")).expect("restored"),
        b"active data v1active data v2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_or_missing_snapshot_is_refused_before_anything_starts() {
    let rig = rig();
    rig.engine
        .backup(BackupRequest {
            partial: Some([PASSIVE].into()),
            ..base("b")
        })
        .await
        .expect("base");
    let snapshot = rig
        .spool()
        .join(format!("b/{PASSIVE}/c/passive-snapshot.unit"));
    let mut bytes = fs::read(&snapshot).expect("snapshot");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&snapshot, &bytes).expect("flip");
    let increment = || BackupRequest {
        backup_type: BackupType::Incremental,
        previous: Some(rig.spool().join("b")),
        partial: Some([PASSIVE].into()),
        ..base("i1")
    };
    let err = rig.engine.backup(increment()).await.expect_err("refused");
    assert!(matches!(err, SessionError::Verify(_)), "{err}");
    fs::remove_file(&snapshot).expect("rm");
    let err = rig.engine.backup(increment()).await.expect_err("refused");
    assert!(err.to_string().contains("passive-snapshot"), "{err}");
    assert!(!rig.spool().join("i1").exists(), "no set was started");
}
