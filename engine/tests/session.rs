//! Backup and restore sessions end to end: real owner processes over the socket, real
//! files in cages, sets in a spool.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::fs;
use std::time::Duration;

use engine::manifest::{BackupType, OwnerOutcome};
use engine::mode::BurMode;
use engine::owners::{self, DataOwnerStatus};
use engine::registration::{CENTRAL_REPOSITORY_SID, Drive, Sid};
use engine::runner::{BackupRequest, Engine, EngineConfig, RestoreRequest, SessionError};
use engine::unit::UnitKind;

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_base_backup_and_restore_of_every_kind_of_owner() {
    let mut rig = rig();
    let m = rig.engine.backup(base("base1")).await.expect("backup");
    assert_eq!(
        rig.engine.bus().current(),
        BurMode::NORMAL,
        "back to normal"
    );
    assert!(
        fs::read_to_string(rig.dir.path().join("bur-state"))
            .expect("state")
            .contains("0x00000001")
    );

    assert_eq!(
        kinds(&m, PASSIVE),
        vec![
            UnitKind::PassiveBase,
            UnitKind::PassiveSnapshot,
            UnitKind::System,
            UnitKind::Public
        ]
    );
    assert_eq!(
        kinds(&m, ACTIVE),
        vec![UnitKind::ActiveBase, UnitKind::ActiveSnapshot]
    );
    assert_eq!(
        kinds(&m, HYBRID),
        vec![
            UnitKind::ActiveBase,
            UnitKind::PassiveBase,
            UnitKind::PassiveSnapshot
        ]
    );
    assert_eq!(kinds(&m, PROXIED), vec![UnitKind::Proxy(PROXY)]);
    for sid in [PASSIVE, ACTIVE, HYBRID, PROXIED, PROXY, DATABASE] {
        assert_eq!(outcome(&m, sid), &OwnerOutcome::Ok, "{sid}");
    }
    assert!(
        matches!(outcome(&m, CRASHER), OwnerOutcome::Failed { .. }),
        "crashing owner recorded as failed"
    );
    assert!(kinds(&m, CRASHER).is_empty());
    assert!(
        !rig.spool().join("base1").join(CRASHER.to_string()).exists(),
        "no partial units left"
    );
    assert!(m.owner(PASSIVE).expect("passive").requires_reboot);
    let passive_size = rig
        .engine
        .expected_data_size(engine::unit::UnitId {
            sid: PASSIVE,
            drive: 'c',
            kind: UnitKind::PassiveBase,
        })
        .await
        .expect("size");
    let unit = m
        .units
        .iter()
        .find(|u| u.id.sid == PASSIVE && u.id.kind == UnitKind::PassiveBase)
        .expect("unit");
    assert_eq!(
        passive_size + 5,
        unit.raw_size,
        "exact but for the stream header and end record"
    );
    let err = rig
        .engine
        .expected_data_size(engine::unit::UnitId {
            sid: Sid(0x0BAD_0BAD),
            drive: 'c',
            kind: UnitKind::PassiveBase,
        })
        .await;
    assert!(matches!(err, Err(engine::runner::SizeError::NotFound(_))));
    let public: Vec<String> = rig
        .engine
        .public_file_list(PASSIVE, 'c')
        .expect("has public files")
        .expect("listing")
        .iter()
        .map(|e| e.path.to_string())
        .collect();
    assert_eq!(public, vec!["public/11111111/shared.txt"]);
    assert!(rig.engine.public_file_list(ACTIVE, 'c').is_none());
    let listed = rig.engine.list_data_owners();
    let entry = |sid| {
        listed
            .iter()
            .find(|(s, _, _)| *s == sid)
            .copied()
            .expect("listed")
    };
    assert_eq!(
        entry(CRASHER).2,
        DataOwnerStatus::NotConnected,
        "crashed owner"
    );
    assert_eq!(entry(PASSIVE).2, DataOwnerStatus::Ready);
    assert_eq!(
        entry(PASSIVE).1.common,
        owners::PASSIVE_BUR | owners::HAS_SYSTEM_FILES | owners::REQUIRES_REBOOT
    );
    assert_eq!(entry(PROXIED).1.common, owners::ACTIVE_BUR);
    assert_eq!(
        rig.engine.sid_status(Sid(0x0BAD_0BAD)),
        DataOwnerStatus::NotFound
    );
    assert!(calls(&rig, PROXY).contains("init_proxy_backup 44444444 c"));
    assert_eq!(
        kinds(&m, DATABASE),
        vec![
            UnitKind::PassiveBase,
            UnitKind::PassiveSnapshot,
            UnitKind::Dbms
        ]
    );
    let passive_db = m
        .units
        .iter()
        .find(|u| u.id.sid == DATABASE && u.id.kind == UnitKind::PassiveBase)
        .expect("unit");
    assert!(
        passive_db.raw_size < 200,
        "database file not copied raw: {}",
        passive_db.raw_size
    );

    // Damage everything, then restore.
    let passive_before = tree(&rig.cage(PASSIVE));
    write(&rig.cage(PASSIVE).join("notes.txt"), b"overwritten");
    fs::remove_file(rig.cage(PASSIVE).join("db/records.bin")).expect("rm");
    fs::remove_file(rig.c().root.join("sys/bin/passive-app")).expect("rm system file");
    write(
        &rig.c().root.join("public/11111111/shared.txt"),
        b"public changed",
    );
    write(&rig.cage(HYBRID).join("files/prepared.txt"), b"changed");
    fs::remove_file(rig.cage(HYBRID).join("files/generated.txt")).expect("generated during backup");
    open_db(&rig.cage(DATABASE))
        .execute_batch("DELETE FROM r WHERE id = 1; INSERT INTO r VALUES (3, 'gamma');")
        .expect("edit db");
    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("base1")],
            partial: None,
        })
        .await
        .expect("restore");
    assert_eq!(rig.engine.bus().current(), BurMode::NORMAL);
    for r in &report.owners {
        assert_eq!(r.outcome, OwnerOutcome::Ok, "{}", r.sid);
    }
    let written = fs::read_to_string(
        rig.spool()
            .join("base1")
            .join(engine::runner::RESTORE_RESULT_FILE),
    )
    .expect("restore result written next to the set");
    assert_eq!(written, report.to_toml());
    let passive_result = report
        .owners
        .iter()
        .find(|r| r.sid == PASSIVE)
        .expect("passive result");
    assert!(passive_result.requires_reboot);
    assert_eq!(tree(&rig.cage(PASSIVE)), passive_before);
    assert_eq!(
        fs::read(rig.c().root.join("sys/bin/passive-app")).expect("system file restored"),
        b"package binary"
    );
    assert_eq!(
        fs::read(rig.c().root.join("public/11111111/shared.txt")).expect("public"),
        b"public original"
    );
    assert_eq!(
        db_rows(&rig.cage(DATABASE)),
        vec![(1, "alpha".to_owned()), (2, "beta".to_owned())]
    );
    assert_eq!(
        fs::read(rig.cage(ACTIVE).join("active.restored")).expect("restored"),
        b"active data v1"
    );
    assert_eq!(
        fs::read(rig.cage(HYBRID).join("files/generated.txt")).expect("generated"),
        b"generated during backup",
        "the active part ran before the passive part was captured"
    );
    assert!(
        calls(&rig, HYBRID).contains("passive already restored: hybrid passive"),
        "passive restored before active: {}",
        calls(&rig, HYBRID)
    );
    assert_eq!(
        fs::read(rig.cage(HYBRID).join("files/prepared.txt")).expect("hybrid"),
        b"hybrid passive"
    );
    assert_eq!(
        fs::read(rig.cage(HYBRID).join("active.restored")).expect("hybrid active"),
        b"hybrid active"
    );
    assert_eq!(
        fs::read(rig.cage(PROXY).join("proxy-44444444.restored")).expect("proxy"),
        b"proxy data for 44444444"
    );
    let log = calls(&rig, ACTIVE);
    assert!(log.contains("restore_complete c"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_backup_and_restore_of_base_plus_increment_in_order() {
    let mut rig = rig();
    let partial = Some([PASSIVE, ACTIVE].into_iter().collect());
    let m1 = rig
        .engine
        .backup(BackupRequest {
            partial: partial.clone(),
            ..base("b")
        })
        .await
        .expect("base");
    assert_eq!(
        m1.owners.len(),
        2,
        "partial backup lists only the selected owners"
    );

    write(
        &rig.cage(PASSIVE).join("notes.txt"),
        b"second notes, longer",
    );
    write(&rig.cage(PASSIVE).join("new/added.txt"), b"added later");
    fs::remove_file(rig.cage(PASSIVE).join("db/records.bin")).expect("rm");
    write(&rig.cage(ACTIVE).join("active.dat"), b"active data v2");
    let m2 = rig
        .engine
        .backup(BackupRequest {
            session: "i1".into(),
            backup_type: BackupType::Incremental,
            previous: Some(rig.spool().join("b")),
            partial,
            ..base("i1")
        })
        .await
        .expect("incremental");
    assert_eq!(m2.previous.as_deref(), Some("b"));
    assert_eq!(
        kinds(&m2, PASSIVE),
        // Public files are listed and copied whole every time (no public increments).
        vec![
            UnitKind::PassiveIncrement,
            UnitKind::PassiveSnapshot,
            UnitKind::System,
            UnitKind::Public
        ]
    );
    assert_eq!(
        kinds(&m2, ACTIVE),
        vec![UnitKind::ActiveIncrement, UnitKind::ActiveSnapshot]
    );
    let inc = m2
        .units
        .iter()
        .find(|u| u.id.kind == UnitKind::PassiveIncrement)
        .expect("inc");
    assert!(inc.raw_size < 1000, "only changes travel: {}", inc.raw_size);
    assert!(
        calls(&rig, ACTIVE).contains("receive_snapshot snap:14 last=true"),
        "{}",
        calls(&rig, ACTIVE)
    );
    let at_increment = tree(&rig.cage(PASSIVE));

    write(&rig.cage(PASSIVE).join("notes.txt"), b"lost");
    write(&rig.cage(PASSIVE).join("db/records.bin"), b"resurrected");
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
    assert_eq!(
        tree(&rig.cage(PASSIVE)),
        at_increment,
        "base then increment, deletions applied"
    );
    let log = calls(&rig, ACTIVE);
    let base_at = log.find("init_restore_base c").expect("base restored");
    let inc_at = log
        .find("init_restore_increment c")
        .expect("increment restored");
    assert!(base_at < inc_at, "base before increment:\n{log}");
    // Its latest snapshot (the increment's) came first, as Symbian's restore does.
    assert_eq!(log.matches("receive_snapshot").count(), 2, "{log}");
    let snapshot_at = log.rfind("receive_snapshot").expect("snapshot");
    assert!(snapshot_at < base_at, "snapshot before base:\n{log}");
    assert_eq!(
        fs::read(rig.cage(ACTIVE).join("active.restored")).expect("restored"),
        b"active data v1active data v2"
    );

    // The wrong order is refused before anything is touched.
    let err = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("i1"), rig.spool().join("b")],
            partial: None,
        })
        .await
        .expect_err("out of order");
    assert!(matches!(err, SessionError::Chain(_)), "{err:?}");
}

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
async fn partial_backup_tells_only_listed_owners_they_are_affected() {
    let rig = rig();
    rig.engine
        .backup(BackupRequest {
            partial: Some([ACTIVE].into()),
            ..base("p")
        })
        .await
        .expect("backup");
    assert!(
        calls(&rig, ACTIVE).contains("mode 0x104 affects_me=true"),
        "{}",
        calls(&rig, ACTIVE)
    );
    assert!(!rig.spool().join("p").join(PASSIVE.to_string()).exists());
    // A second session cannot reuse the name.
    assert!(rig.engine.backup(base("p")).await.is_err());
    // A backup while another operation holds the mode is refused and leaves no set.
    let restore_mode = BurMode::new(
        engine::mode::BurPartType::RestoreFull,
        engine::mode::BackupIncType::NoBackup,
    )
    .expect("mode");
    rig.engine.bus().set(restore_mode).expect("restore mode");
    let err = rig.engine.backup(base("q")).await.expect_err("busy");
    assert!(matches!(err, SessionError::Mode(_)), "{err:?}");
    assert!(!rig.spool().join("q").exists());
    rig.engine.bus().set(BurMode::NORMAL).expect("normal");
    assert_eq!(rig.engine.bus().current(), BurMode::NORMAL);
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
async fn partial_restore_touches_only_the_listed_owners() {
    let mut rig = rig();
    let partial = Some([PASSIVE, ACTIVE].into_iter().collect());
    rig.engine
        .backup(BackupRequest {
            partial,
            ..base("b")
        })
        .await
        .expect("backup");
    write(&rig.cage(PASSIVE).join("notes.txt"), b"damaged");
    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("b")],
            partial: Some([PASSIVE].into()),
        })
        .await
        .expect("restore");
    assert_eq!(
        report.owners.iter().map(|r| r.sid).collect::<Vec<_>>(),
        vec![PASSIVE]
    );
    assert_eq!(
        fs::read(rig.cage(PASSIVE).join("notes.txt")).expect("notes"),
        b"first notes"
    );
    assert!(
        !rig.cage(ACTIVE).join("active.restored").exists(),
        "unlisted owner untouched"
    );
    // The mode may reach the unlisted owner coalesced with the return to Normal, but it
    // is never told the restore concerns it.
    let log = calls(&rig, ACTIVE);
    assert!(!log.contains("mode 0x10 affects_me=true"), "{log}");
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
async fn full_incremental_chain_of_every_kind_restores_the_latest_state() {
    let mut rig = rig();
    let b = rig.engine.backup(base("b")).await.expect("base");
    assert!(matches!(outcome(&b, CRASHER), OwnerOutcome::Failed { .. }));
    write(
        &rig.cage(HYBRID).join("files/prepared.txt"),
        b"hybrid passive v2",
    );
    write(&rig.cage(PASSIVE).join("notes.txt"), b"notes v2");
    open_db(&rig.cage(DATABASE))
        .execute_batch("INSERT INTO r VALUES (3, 'gamma');")
        .expect("db v2");
    let i = rig
        .engine
        .backup(BackupRequest {
            backup_type: BackupType::Incremental,
            previous: Some(rig.spool().join("b")),
            ..base("i")
        })
        .await
        .expect("incremental");
    // Base-only data (hybrid active part, proxy, DBMS, public, system) is taken whole again.
    assert_eq!(
        kinds(&i, HYBRID),
        vec![
            UnitKind::ActiveBase,
            UnitKind::PassiveIncrement,
            UnitKind::PassiveSnapshot
        ]
    );
    assert_eq!(kinds(&i, PROXIED), vec![UnitKind::Proxy(PROXY)]);
    assert!(kinds(&i, DATABASE).contains(&UnitKind::Dbms));
    let latest_passive = tree(&rig.cage(PASSIVE));

    write(&rig.cage(HYBRID).join("files/prepared.txt"), b"lost");
    write(&rig.cage(PASSIVE).join("notes.txt"), b"lost");
    open_db(&rig.cage(DATABASE))
        .execute_batch("DELETE FROM r;")
        .expect("wipe db");
    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("b"), rig.spool().join("i")],
            partial: None,
        })
        .await
        .expect("restore");
    for r in &report.owners {
        assert_eq!(r.outcome, OwnerOutcome::Ok, "{}", r.sid);
    }
    assert_eq!(tree(&rig.cage(PASSIVE)), latest_passive);
    assert_eq!(
        fs::read(rig.cage(HYBRID).join("files/prepared.txt")).expect("hybrid"),
        b"hybrid passive v2"
    );
    assert_eq!(
        db_rows(&rig.cage(DATABASE)).len(),
        3,
        "the database of the increment set"
    );
    // The proxy received the latest proxy data exactly once.
    let proxy_log = calls(&rig, PROXY);
    assert_eq!(
        proxy_log.matches("init_proxy_restore 44444444").count(),
        1,
        "{proxy_log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uninstalled_owner_comes_back_with_its_package_then_its_data() {
    use std::os::unix::fs::PermissionsExt;
    const APP: Sid = Sid(0x5A5A_5A5A);
    let mut rig = rig_reinstalling();
    let c = rig.c();
    register(
        &c,
        APP,
        r#"<passive_backup><include_directory name="\"/></passive_backup><system_backup/>"#,
    );
    let reg_file = c.cage(APP).join("backup_registration.xml");
    fs::set_permissions(&reg_file, fs::Permissions::from_mode(0o444))
        .expect("read-only registration");
    write(&c.root.join("sys/bin/app"), b"the app");
    fs::set_permissions(
        c.root.join("sys/bin/app"),
        fs::Permissions::from_mode(0o555),
    )
    .expect("chmod");
    write(
        &c.cage(Sid(0x1020_2D56))
            .join("import/packages/5a5a5a5a/files.txt"),
        b"c:\\private\\5a5a5a5a\\backup_registration.xml\nc:\\sys\\bin\\app\n",
    );
    write(&c.cage(APP).join("user-data.txt"), b"precious");
    assert!(rig.engine.rescan().is_empty());
    let m = rig
        .engine
        .backup(BackupRequest {
            partial: Some([APP].into()),
            ..base("b")
        })
        .await
        .expect("backup");
    assert_eq!(
        kinds(&m, APP),
        vec![
            UnitKind::PassiveBase,
            UnitKind::PassiveSnapshot,
            UnitKind::System
        ]
    );

    // Uninstall: the package and the cage disappear, the engine forgets the owner.
    fs::remove_dir_all(c.cage(APP)).expect("rm cage");
    fs::remove_file(c.root.join("sys/bin/app")).expect("rm app");
    assert!(rig.engine.rescan().is_empty());
    assert!(!rig.engine.registrations().contains_key(&APP));

    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("b")],
            partial: None,
        })
        .await
        .expect("restore");
    assert_eq!(report.owners.len(), 1);
    assert_eq!(report.owners[0].outcome, OwnerOutcome::Ok, "{report:?}");
    assert!(
        rig.engine.registrations().contains_key(&APP),
        "registered again from its package"
    );
    assert_eq!(
        fs::read(c.root.join("sys/bin/app")).expect("app"),
        b"the app"
    );
    assert_eq!(
        fs::read(c.cage(APP).join("user-data.txt")).expect("data"),
        b"precious"
    );
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
