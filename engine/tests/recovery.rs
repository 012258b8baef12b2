//! A session interrupted as a kill or a power cut interrupts it, and the next start.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::time::Duration;

use engine::manifest::OwnerOutcome;
use engine::mode::BurMode;
use engine::registration::Sid;
use engine::runner::BackupRequest;

mod common;
use common::*;

/// A backup killed in the middle (its future dropped, as when the daemon is killed)
/// leaves a set without a manifest and a journal; the next start removes the set, says
/// which session was interrupted, and a new backup runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_midway_is_undone_at_the_next_start() {
    const SLOW: Sid = Sid(0x5105_0001);
    let rig = rig_with(Duration::from_secs(20), &[(SLOW, "slow")]);
    let killed = tokio::time::timeout(Duration::from_secs(2), rig.engine.backup(base("b1"))).await;
    assert!(killed.is_err(), "the backup was still running");
    let set = rig.dir.path().join("spool/b1");
    assert!(set.is_dir() && !set.join("manifest.toml").exists());
    assert!(rig.dir.path().join("spool/.session.toml").exists());

    let rig = restart(rig);
    let interrupted = rig.engine.recovered().interrupted.clone();
    assert_eq!(
        interrupted.map(|i| (i.kind, i.folder)),
        Some((engine::recovery::SessionKind::Backup, "b1".to_owned()))
    );
    assert!(!set.exists(), "the incomplete set is gone");
    assert!(!rig.dir.path().join("spool/.session.toml").exists());
    assert_eq!(rig.engine.bus().current(), BurMode::NORMAL);
    let only_passive = BackupRequest {
        partial: Some([PASSIVE].into()),
        ..base("b2")
    };
    let m = rig
        .engine
        .backup(only_passive)
        .await
        .expect("a new backup runs");
    assert_eq!(outcome(&m, PASSIVE), &OwnerOutcome::Ok);
}
