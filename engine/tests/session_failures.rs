//! Sessions where something is wrong: a corrupt set, owners that misbehave, crash,
//! flood the spool or fail their active part, a broken registration. Each fails alone.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::fs;
use std::time::Duration;

use engine::manifest::OwnerOutcome;
use engine::mode::BurMode;
use engine::registration::{CENTRAL_REPOSITORY_SID, Drive, Sid};
use engine::runner::{BackupRequest, Engine, EngineConfig, RestoreRequest, SessionError};
use engine::unit::UnitKind;

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_set_is_refused_and_nothing_is_touched() {
    let mut rig = rig();
    let m = rig
        .engine
        .backup(BackupRequest {
            partial: Some([PASSIVE].into()),
            ..base("b")
        })
        .await
        .expect("backup");
    let unit = m
        .units
        .iter()
        .find(|u| u.id.kind == UnitKind::PassiveBase)
        .expect("unit");
    let path = rig.spool().join("b").join(unit.id.relative_path());
    let mut bytes = fs::read(&path).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xFF;
    fs::write(&path, bytes).expect("write");
    write(&rig.cage(PASSIVE).join("notes.txt"), b"current");
    let before = tree(&rig.cage(PASSIVE));
    let err = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("b")],
            partial: None,
        })
        .await
        .expect_err("corrupt");
    assert!(matches!(err, SessionError::Verify(_)), "{err:?}");
    assert_eq!(tree(&rig.cage(PASSIVE)), before);
    assert_eq!(
        rig.engine.bus().current(),
        BurMode::NORMAL,
        "mode never left normal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_owners_fail_alone_with_their_reason() {
    const NEVER: Sid = Sid(0x7777_7777);
    const GARBAGE: Sid = Sid(0x8888_8888);
    const ERROR: Sid = Sid(0x9999_9999);
    const UNREADY: Sid = Sid(0x9999_0001);
    let rig = rig_with(
        Duration::from_secs(3),
        &[
            (NEVER, "never-confirm"),
            (GARBAGE, "garbage"),
            (ERROR, "error"),
            (UNREADY, "ready-error"),
        ],
    );
    let m = rig.engine.backup(base("b")).await.expect("backup");
    let failed = |sid| match outcome(&m, sid) {
        OwnerOutcome::Failed { code, reason } => (*code, reason.clone()),
        OwnerOutcome::Ok => panic!("{sid} should have failed"),
    };
    assert_eq!(failed(NEVER).0, -18, "not ready");
    assert_eq!(failed(GARBAGE).0, -20, "protocol violation");
    assert_eq!(
        failed(ERROR),
        (-14, "owner error -14: owner is busy".to_owned()),
        "owner's own error passes through"
    );
    assert_eq!(
        failed(UNREADY).0,
        -4,
        "the owner's ConfirmReadyForBUR error reaches the manifest"
    );
    assert!(matches!(outcome(&m, CRASHER), OwnerOutcome::Failed { .. }));
    for sid in [PASSIVE, ACTIVE, HYBRID, PROXIED] {
        assert_eq!(outcome(&m, sid), &OwnerOutcome::Ok, "{sid}");
    }
    // The set stays consistent: it verifies with the failed owners simply absent.
    let set = engine::spool::SpoolSet::open(rig.spool().join("b"));
    let (_, problems) = set.verify(|_| true).expect("manifest");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(rig.engine.bus().current(), BurMode::NORMAL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_crashing_during_restore_fails_alone() {
    const FRAGILE: Sid = Sid(0x7777_0001);
    let mut rig = rig_with(Duration::from_secs(10), &[(FRAGILE, "crash-on-restore")]);
    let partial = Some([PASSIVE, ACTIVE, FRAGILE].into_iter().collect());
    let m = rig
        .engine
        .backup(BackupRequest {
            partial,
            ..base("b")
        })
        .await
        .expect("backup");
    assert_eq!(outcome(&m, FRAGILE), &OwnerOutcome::Ok);
    write(&rig.cage(PASSIVE).join("notes.txt"), b"damaged");
    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("b")],
            partial: None,
        })
        .await
        .expect("restore runs");
    let result = |sid| {
        report
            .owners
            .iter()
            .find(|r| r.sid == sid)
            .map(|r| r.outcome.clone())
            .expect("listed")
    };
    assert!(
        matches!(result(FRAGILE), OwnerOutcome::Failed { .. }),
        "{report:?}"
    );
    assert_eq!(result(PASSIVE), OwnerOutcome::Ok);
    assert_eq!(result(ACTIVE), OwnerOutcome::Ok);
    assert_eq!(
        fs::read(rig.cage(PASSIVE).join("notes.txt")).expect("notes"),
        b"first notes"
    );
    assert_eq!(rig.engine.bus().current(), BurMode::NORMAL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_registration_leaves_out_only_its_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = Drive::new('c', dir.path().join("c"));
    register(
        &c,
        PASSIVE,
        r#"<passive_backup><include_directory name="\"/></passive_backup>"#,
    );
    write(&c.cage(PASSIVE).join("notes.txt"), b"kept");
    write(
        &c.cage(ACTIVE).join("backup_registration.xml"),
        b"<backup_registration>\n  <passive_backup>\n    <include_file name=\"..\\\\..\\\\etc\\\\passwd\"/>\n",
    );
    let config = EngineConfig {
        drives: vec![c],
        spool: dir.path().join("spool"),
        socket: dir.path().join("engine.sock"),
        owner_dir: dir.path().to_owned(),
        state_file: None,
        ready_timeout: Duration::from_secs(1),
        cenrep: CENTRAL_REPOSITORY_SID,
        system: engine::system::SystemPolicy::default(),
        owner_group: None,
        key_file: None,
    };
    let (engine, errors) = Engine::start(config).expect("engine");
    assert_eq!(errors.len(), 1);
    let text = errors[0].to_string();
    assert!(
        text.contains("22222222") && text.contains("is not closed"),
        "{text}"
    );
    assert_eq!(
        engine.registrations().keys().copied().collect::<Vec<_>>(),
        vec![PASSIVE]
    );
    let m = engine.backup(base("b")).await.expect("backup");
    assert_eq!(m.owners.len(), 1);
    assert_eq!(outcome(&m, PASSIVE), &OwnerOutcome::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sending_empty_sections_forever_fails_alone() {
    const ENDLESS: Sid = Sid(0x7777_0002);
    let rig = rig_with(Duration::from_secs(10), &[(ENDLESS, "endless")]);
    let m = tokio::time::timeout(Duration::from_secs(120), rig.engine.backup(base("b")))
        .await
        .expect("the backup ends")
        .expect("backup");
    match outcome(&m, ENDLESS) {
        OwnerOutcome::Failed { reason, .. } => {
            assert!(reason.contains("empty sections"), "{reason}");
        }
        OwnerOutcome::Ok => panic!("an endless owner must fail"),
    }
    for sid in [PASSIVE, ACTIVE, HYBRID] {
        assert_eq!(outcome(&m, sid), &OwnerOutcome::Ok, "{sid}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_flooding_the_spool_stops_at_the_reserve_and_fails_alone() {
    const FLOOD: Sid = Sid(0x7777_0003);
    let rig = rig_with(Duration::from_secs(10), &[(FLOOD, "flood")]);
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "NOT ROOT: the spool-flood test mounts a small tmpfs and did NOT run; CI runs it as root"
        );
        return;
    }
    // A 96 MiB spool: the reserve is 64 MiB, so the flood stops after about 32 MiB.
    let spool = rig.spool();
    fs::create_dir_all(&spool).expect("spool");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=96m", "tmpfs"])
        .arg(&spool)
        .status()
        .expect("mount");
    assert!(mounted.success(), "mount a tmpfs spool");
    let m = tokio::time::timeout(Duration::from_secs(300), rig.engine.backup(base("b"))).await;
    let _ = std::process::Command::new("umount").arg(&spool).status();
    let m = m.expect("the backup ends").expect("backup");
    match outcome(&m, FLOOD) {
        OwnerOutcome::Failed { reason, .. } => {
            assert!(reason.contains("free in the spool"), "{reason}")
        }
        OwnerOutcome::Ok => panic!("a flooding owner must fail"),
    }
    for sid in [PASSIVE, ACTIVE, HYBRID] {
        assert_eq!(outcome(&m, sid), &OwnerOutcome::Ok, "{sid}");
    }
}

/// An owner whose own (active) part fails keeps what the engine copies itself: its
/// passive files are in the set and come back on restore, and the outcome says what is
/// missing. Before, the failure discarded the owner's passive units too.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_whose_active_part_fails_keeps_its_passive_data() {
    let rig = rig();
    write(&rig.cage(HYBRID).join("behaviour"), b"crash");
    let m = rig
        .engine
        .backup(BackupRequest {
            partial: Some([HYBRID].into()),
            ..base("b")
        })
        .await
        .expect("backup");
    let OwnerOutcome::Failed { reason, .. } = outcome(&m, HYBRID) else {
        panic!("the active part crashes: {:?}", m.owners);
    };
    assert!(reason.starts_with("active data not backed up"), "{reason}");
    let kept = kinds(&m, HYBRID);
    assert!(kept.contains(&UnitKind::PassiveBase), "{kept:?}");
    assert!(
        !kept.iter().any(|k| matches!(
            k,
            UnitKind::ActiveBase | UnitKind::ActiveIncrement | UnitKind::ActiveSnapshot
        )),
        "{kept:?}"
    );
    let set = rig.spool().join("b");
    assert!(
        !set.join(format!("{HYBRID}/c/active-base.unit")).exists(),
        "no half of the active part is left"
    );
    write(&rig.cage(HYBRID).join("files/prepared.txt"), b"lost");
    write(&rig.cage(HYBRID).join("behaviour"), b"normal");
    let mut rig = restart(rig);
    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![set],
            partial: Some([HYBRID].into()),
        })
        .await
        .expect("restore");
    assert_eq!(report.owners[0].outcome, OwnerOutcome::Ok, "{report:?}");
    assert_eq!(
        fs::read(rig.cage(HYBRID).join("files/prepared.txt")).expect("passive"),
        b"hybrid passive"
    );
}
