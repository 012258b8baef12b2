//! Per-owner atomic restore: everything the engine writes for an owner (passive data and
//! databases in its cages, its public files) is committed together, and only then is its
//! active data handed to it.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::fs;

use engine::manifest::OwnerOutcome;
use engine::runner::{BackupRequest, RestoreRequest};

mod common;
use common::*;

fn result(report: &engine::runner::RestoreReport, sid: engine::registration::Sid) -> OwnerOutcome {
    report
        .owners
        .iter()
        .find(|r| r.sid == sid)
        .map(|r| r.outcome.clone())
        .expect("listed")
}

/// The owner's public files cannot be written (its public folder is not its own any
/// more): the owner fails, and its cage keeps its old content too. Before the per-owner
/// commit, the cage was replaced first and the public failure left the owner half
/// restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_whose_public_files_cannot_be_written_keeps_all_its_old_data() {
    let mut rig = rig();
    rig.engine
        .backup(BackupRequest {
            partial: Some([PASSIVE].into()),
            ..base("b")
        })
        .await
        .expect("backup");
    write(&rig.cage(PASSIVE).join("notes.txt"), b"changed notes");
    let public = rig.c().root.join("public/11111111");
    write(&public.join("shared.txt"), b"public changed");
    if rustix::process::geteuid().is_root() {
        // The folder becomes root's: the owner may no longer write there.
        std::os::unix::fs::chown(&public, Some(0), Some(0)).expect("chown");
    } else {
        eprintln!("NOT ROOT: the public folder is made read-only instead (CI runs this as root)");
        fs::set_permissions(&public, std::os::unix::fs::PermissionsExt::from_mode(0o555))
            .expect("chmod");
    }
    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("b")],
            partial: Some([PASSIVE].into()),
        })
        .await
        .expect("restore runs");
    let OwnerOutcome::Failed { reason, .. } = result(&report, PASSIVE) else {
        panic!("the owner cannot be restored: {report:?}");
    };
    assert!(
        reason.contains("shared.txt") || reason.contains("11111111"),
        "{reason}"
    );
    assert_eq!(
        fs::read(rig.cage(PASSIVE).join("notes.txt")).expect("notes"),
        b"changed notes",
        "the cage keeps its old data"
    );
    assert_eq!(
        fs::read(public.join("shared.txt")).expect("public"),
        b"public changed"
    );
    let staging = rig
        .c()
        .root
        .join("private")
        .join(format!(".{PASSIVE}.staging"));
    assert!(!staging.exists(), "staging removed");
    let left: Vec<_> = fs::read_dir(&public)
        .expect("public")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "no temporary files left: {left:?}");
}

/// An owner whose active part fails after its passive data was committed: the outcome
/// says what was restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_failure_after_the_commit_says_what_was_restored() {
    let rig = rig();
    rig.engine
        .backup(BackupRequest {
            partial: Some([HYBRID].into()),
            ..base("b")
        })
        .await
        .expect("backup");
    write(&rig.cage(HYBRID).join("files/prepared.txt"), b"changed");
    write(&rig.cage(HYBRID).join("behaviour"), b"crash-on-restore");
    let mut rig = restart(rig);
    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("b")],
            partial: Some([HYBRID].into()),
        })
        .await
        .expect("restore runs");
    let OwnerOutcome::Failed { reason, .. } = result(&report, HYBRID) else {
        panic!("the owner crashes: {report:?}");
    };
    assert!(
        reason.starts_with("passive data restored; then "),
        "{reason}"
    );
    assert_eq!(
        fs::read(rig.cage(HYBRID).join("files/prepared.txt")).expect("passive"),
        b"hybrid passive"
    );
}
