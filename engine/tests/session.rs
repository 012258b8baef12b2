//! Backup and restore sessions end to end: real owner processes over the socket, real
//! files in cages, sets in a spool.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::fs;

use engine::manifest::{BackupType, OwnerOutcome};
use engine::mode::BurMode;
use engine::owners::{self, DataOwnerStatus};
use engine::registration::Sid;
use engine::runner::{BackupRequest, RestoreRequest, SessionError};
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
