//! Owners that are not there: removed since the backup, or slow to be ready.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::fs;
use std::time::Duration;

use engine::manifest::OwnerOutcome;
use engine::registration::Sid;
use engine::runner::{BackupRequest, RestoreRequest};

mod common;
use common::*;

/// One application removed since the backup does not block the restore of the others:
/// its data is verified, left in the set, and reported as not installed; a partial
/// restore that does not name it does not mention it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uninstalled_owner_does_not_block_the_restore_of_the_others() {
    let mut rig = rig();
    rig.engine.backup(base("b1")).await.expect("backup");
    fs::remove_dir_all(rig.c().cage(PASSIVE)).expect("uninstall");
    assert!(rig.engine.rescan().is_empty());
    let set = rig.dir.path().join("spool/b1");
    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![set.clone()],
            partial: None,
        })
        .await
        .expect("the installed owners are restored");
    for o in &report.owners {
        match (&o.outcome, o.sid == PASSIVE) {
            (OwnerOutcome::Failed { reason, .. }, true) => {
                assert!(reason.contains("not installed"), "{reason}");
            }
            (OwnerOutcome::Ok, false) => {}
            (outcome, _) => panic!("{}: {outcome:?}", o.sid),
        }
    }
    assert!(!rig.c().cage(PASSIVE).exists(), "nothing installs it");
    let partial = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![set],
            partial: Some([ACTIVE].into()),
        })
        .await
        .expect("partial restore");
    assert_eq!(
        partial
            .owners
            .iter()
            .map(|o| (o.sid, o.outcome.clone()))
            .collect::<Vec<_>>(),
        [(ACTIVE, OwnerOutcome::Ok)]
    );
}

/// An owner that declares `requires_delay_to_prepare_data="yes"` gets
/// `DELAYED_READY_FACTOR` (6) times the readiness timeout (2 s here, the owner needs 3);
/// the same late owner without it fails as not ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_that_asks_for_time_to_prepare_gets_it() {
    const PATIENT: Sid = Sid(0x7777_0001);
    const LATE: Sid = Sid(0x7777_0002);
    let mut rig = rig_with(Duration::from_secs(2), &[(LATE, "late-ready")]);
    let c = rig.c();
    register(
        &c,
        PATIENT,
        r#"<active_backup process_name="sbe-test-owner" requires_delay_to_prepare_data="yes"/>"#,
    );
    fs::write(c.cage(PATIENT).join("behaviour"), b"late-ready").expect("behaviour");
    hand_cages_to_owners(&c);
    assert!(rig.engine.rescan().is_empty());
    // One session each: owners are started together, so one waited for would give the
    // other its time as well.
    let only = |sid: Sid, session: &str| BackupRequest {
        partial: Some([sid].into()),
        ..base(session)
    };
    let m = rig
        .engine
        .backup(only(PATIENT, "b1"))
        .await
        .expect("backup");
    assert_eq!(outcome(&m, PATIENT), &OwnerOutcome::Ok);
    let m = rig.engine.backup(only(LATE, "b2")).await.expect("backup");
    match outcome(&m, LATE) {
        OwnerOutcome::Failed { reason, .. } => assert!(reason.contains("ready"), "{reason}"),
        OwnerOutcome::Ok => panic!("a late owner without the attribute must time out"),
    }
}
