//! The per-unit client API (`CSBEClient` style): request and supply data unit by unit
//! with real owner processes, checked against what sessions write.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use engine::mode::{BackupIncType, BurMode, BurPartType};
use engine::registration::Sid;
use engine::runner::{BackupRequest, MAX_CHUNK, Supplied, UnitError};
use engine::unit::UnitKind;

mod common;
mod unit_helpers;
use common::*;
use unit_helpers::*;

use UnitKind::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unit_by_unit_backup_equals_a_session_and_restores_exactly() {
    let mut rig = rig();
    let owners: BTreeSet<Sid> = [PASSIVE, ACTIVE, HYBRID, DATABASE, PROXIED].into();
    rig.engine
        .set_sid_list_for_partial(owners.clone())
        .expect("list");
    rig.engine
        .set_bur_mode(backup_mode(true, BackupIncType::Base), &[])
        .await
        .expect("backup mode");
    assert!(
        fs::read_to_string(rig.dir.path().join("bur-state"))
            .expect("state")
            .contains("0x00000104")
    );
    let plan = [
        (PASSIVE, PassiveBase),
        (PASSIVE, PassiveSnapshot),
        (PASSIVE, System),
        (PASSIVE, Public),
        (ACTIVE, ActiveBase),
        (ACTIVE, ActiveSnapshot),
        (HYBRID, ActiveBase),
        (HYBRID, PassiveBase),
        (HYBRID, PassiveSnapshot),
        (DATABASE, PassiveBase),
        (DATABASE, PassiveSnapshot),
        (DATABASE, Dbms),
        (PROXIED, Proxy(PROXY)),
    ];
    let mut got = BTreeMap::new();
    for (sid, kind) in plan {
        got.insert(id(sid, kind), fetch(&rig.engine, id(sid, kind), true).await);
    }
    assert!(
        calls(&rig, HYBRID).contains("init_backup c"),
        "{}",
        calls(&rig, HYBRID)
    );
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("normal");
    assert_eq!(rig.engine.bus().current(), BurMode::NORMAL);
    assert!(
        !rig.spool()
            .join(".unit-transfer/11111111/c/passive-base.unit")
            .exists(),
        "no scratch copy left behind"
    );

    // A session over the same, unchanged data writes the same bytes.
    let m = rig
        .engine
        .backup(BackupRequest {
            partial: Some(owners),
            ..base("s")
        })
        .await
        .expect("session");
    let same = [
        (PASSIVE, PassiveBase),
        (PASSIVE, PassiveSnapshot),
        (PASSIVE, System),
        (PASSIVE, Public),
        (ACTIVE, ActiveBase),
        (ACTIVE, ActiveSnapshot),
        (DATABASE, PassiveBase),
        (PROXIED, Proxy(PROXY)),
    ];
    for (sid, kind) in same {
        let unit = id(sid, kind);
        let file = fs::read(rig.spool().join("s").join(unit.relative_path())).expect("unit file");
        assert!(file == got[&unit], "{unit} differs from the session's");
        assert!(m.units.iter().any(|u| u.id == unit));
    }

    // Damage everything, then restore unit by unit.
    let passive_before = tree(&rig.cage(PASSIVE));
    write(&rig.cage(PASSIVE).join("notes.txt"), b"overwritten");
    fs::remove_file(rig.cage(PASSIVE).join("db/records.bin")).expect("rm");
    fs::remove_file(rig.c().root.join("sys/bin/passive-app")).expect("rm system file");
    write(
        &rig.c().root.join("public/11111111/shared.txt"),
        b"public changed",
    );
    write(&rig.cage(HYBRID).join("files/prepared.txt"), b"changed");
    open_db(&rig.cage(DATABASE))
        .execute_batch("DELETE FROM r WHERE id = 1; INSERT INTO r VALUES (3, 'gamma');")
        .expect("edit db");

    rig.engine
        .set_bur_mode(restore_mode(), &['c'])
        .await
        .expect("restore mode");
    assert_eq!(
        supply(
            &rig.engine,
            id(PASSIVE, System),
            &got[&id(PASSIVE, System)],
            7
        )
        .await
        .expect("system data"),
        Supplied::Applied { skipped: vec![] }
    );
    assert!(
        rig.engine
            .all_system_files_restored()
            .expect("system files")
            .is_empty()
    );
    let restore_plan = [
        (PASSIVE, PassiveSnapshot),
        (PASSIVE, PassiveBase),
        (PASSIVE, Public),
        (DATABASE, PassiveBase),
        (DATABASE, Dbms),
        (HYBRID, PassiveBase),
        (HYBRID, ActiveBase),
        (ACTIVE, ActiveBase),
        (PROXIED, Proxy(PROXY)),
    ];
    for (sid, kind) in restore_plan {
        let unit = id(sid, kind);
        let r = supply(&rig.engine, unit, &got[&unit], 1000).await;
        assert!(matches!(r, Ok(Supplied::Applied { .. })), "{unit}: {r:?}");
    }
    assert!(
        !calls(&rig, ACTIVE).contains("restore_complete"),
        "RestoreComplete waits for Normal"
    );
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("normal");

    assert_eq!(tree(&rig.cage(PASSIVE)), passive_before);
    assert_eq!(
        fs::read(rig.c().root.join("sys/bin/passive-app")).expect("system file"),
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
        fs::read(rig.cage(ACTIVE).join("active.restored")).expect("active"),
        b"active data v1"
    );
    assert_eq!(
        fs::read(rig.cage(HYBRID).join("files/prepared.txt")).expect("hybrid"),
        b"hybrid passive"
    );
    assert!(
        calls(&rig, HYBRID).contains("passive already restored: hybrid passive"),
        "{}",
        calls(&rig, HYBRID)
    );
    assert_eq!(
        fs::read(rig.cage(PROXY).join("proxy-44444444.restored")).expect("proxy"),
        b"proxy data for 44444444"
    );
    for sid in [ACTIVE, HYBRID] {
        assert!(calls(&rig, sid).contains("restore_complete c"), "{sid}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_unit_by_unit_with_supplied_snapshots() {
    let mut rig = rig();
    let owners: BTreeSet<Sid> = [PASSIVE, ACTIVE].into();
    rig.engine
        .set_sid_list_for_partial(owners.clone())
        .expect("list");
    rig.engine
        .set_bur_mode(backup_mode(true, BackupIncType::Base), &[])
        .await
        .expect("backup");
    let mut got = BTreeMap::new();
    for unit in [
        id(PASSIVE, PassiveBase),
        id(PASSIVE, PassiveSnapshot),
        id(ACTIVE, ActiveBase),
        id(ACTIVE, ActiveSnapshot),
    ] {
        got.insert(unit, fetch(&rig.engine, unit, false).await);
    }
    assert!(
        got[&id(PASSIVE, PassiveBase)].len() > MAX_CHUNK,
        "an uncompressed 150 KB unit takes several chunks"
    );
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("normal");

    write(
        &rig.cage(PASSIVE).join("notes.txt"),
        b"second notes, longer",
    );
    write(&rig.cage(PASSIVE).join("new/added.txt"), b"added later");
    fs::remove_file(rig.cage(PASSIVE).join("db/records.bin")).expect("rm");
    write(&rig.cage(ACTIVE).join("active.dat"), b"active data v2");
    let at_increment = tree(&rig.cage(PASSIVE));

    rig.engine
        .set_bur_mode(backup_mode(true, BackupIncType::Increment), &[])
        .await
        .expect("incremental");
    for unit in [id(PASSIVE, PassiveSnapshot), id(ACTIVE, ActiveSnapshot)] {
        let r = supply(&rig.engine, unit, &got[&unit], 5).await;
        assert!(matches!(r, Ok(Supplied::Applied { .. })), "{unit}: {r:?}");
    }
    assert!(
        calls(&rig, ACTIVE).contains("receive_snapshot snap:14 last=true"),
        "{}",
        calls(&rig, ACTIVE)
    );
    rig.engine
        .all_snapshots_supplied()
        .await
        .expect("all snapshots");
    let inc = fetch(&rig.engine, id(PASSIVE, PassiveIncrement), true).await;
    assert!(inc.len() < 1000, "only the changes travel: {}", inc.len());
    let active_inc = fetch(&rig.engine, id(ACTIVE, ActiveIncrement), true).await;
    assert_eq!(
        calls(&rig, ACTIVE)
            .matches("all_snapshots_supplied")
            .count(),
        2,
        "once per operation: {}",
        calls(&rig, ACTIVE)
    );
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("normal");

    write(&rig.cage(PASSIVE).join("notes.txt"), b"lost");
    write(&rig.cage(PASSIVE).join("db/records.bin"), b"resurrected");
    rig.engine
        .set_bur_mode(restore_mode(), &[])
        .await
        .expect("restore");
    rig.engine.all_system_files_restored().expect("no system");
    for (unit, data) in [
        (id(PASSIVE, PassiveBase), &got[&id(PASSIVE, PassiveBase)]),
        (id(PASSIVE, PassiveIncrement), &inc),
        (id(ACTIVE, ActiveBase), &got[&id(ACTIVE, ActiveBase)]),
        (id(ACTIVE, ActiveIncrement), &active_inc),
    ] {
        let r = supply(&rig.engine, unit, data, 4096).await;
        assert!(matches!(r, Ok(Supplied::Applied { .. })), "{unit}: {r:?}");
    }
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("normal");
    assert_eq!(tree(&rig.cage(PASSIVE)), at_increment);
    assert_eq!(
        fs::read(rig.cage(ACTIVE).join("active.restored")).expect("active"),
        b"active data v1active data v2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_failure_passes_through_and_the_unit_can_be_tried_again() {
    const BUSY: Sid = Sid(0x9999_9999);
    let rig = rig_with(std::time::Duration::from_secs(10), &[(BUSY, "error")]);
    rig.engine
        .set_bur_mode(backup_mode(false, BackupIncType::Base), &[])
        .await
        .expect("backup");
    for attempt in 0..2 {
        let r = rig.engine.request_data(id(BUSY, ActiveBase), false).await;
        match r {
            Err(e @ UnitError::Failed { .. }) => {
                assert_eq!(e.code(), -14, "attempt {attempt}: the owner's own code");
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
    }
    // TerminateMultiStageOperation is sent in the background.
    for _ in 0..100 {
        if calls(&rig, BUSY).contains("terminate") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        calls(&rig, BUSY).contains("terminate"),
        "the abandoned unit was terminated: {}",
        calls(&rig, BUSY)
    );
    // Other owners are not affected.
    fetch(&rig.engine, id(ACTIVE, ActiveBase), false).await;
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("normal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_system_files_restored_brings_an_uninstalled_owner_back_for_its_data() {
    use std::os::unix::fs::PermissionsExt;
    const APP: Sid = Sid(0x5A5A_5A5A);
    let mut rig = rig_reinstalling();
    let c = rig.c();
    register(
        &c,
        APP,
        r#"<passive_backup><include_directory name="\"/></passive_backup><system_backup/>"#,
    );
    fs::set_permissions(
        c.cage(APP).join("backup_registration.xml"),
        fs::Permissions::from_mode(0o444),
    )
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
    rig.engine
        .set_sid_list_for_partial([APP].into())
        .expect("list");
    rig.engine
        .set_bur_mode(backup_mode(true, BackupIncType::Base), &[])
        .await
        .expect("backup");
    let system = fetch(&rig.engine, id(APP, System), true).await;
    let passive = fetch(&rig.engine, id(APP, PassiveBase), true).await;
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("normal");

    // Uninstall: package and cage gone, the engine forgets the owner.
    fs::remove_dir_all(c.cage(APP)).expect("rm cage");
    fs::remove_file(c.root.join("sys/bin/app")).expect("rm app");
    assert!(rig.engine.rescan().is_empty());
    assert!(!rig.engine.registrations().contains_key(&APP));

    rig.engine
        .set_bur_mode(
            mode(BurPartType::RestorePartial, BackupIncType::NoBackup),
            &[],
        )
        .await
        .expect("restore");
    assert!(matches!(
        rig.engine
            .supply_data(id(APP, PassiveBase), &passive, true)
            .await,
        Err(UnitError::SystemFilesPending(_))
    ));
    let r = supply(&rig.engine, id(APP, System), &system, 100).await;
    assert!(matches!(r, Ok(Supplied::Applied { .. })), "{r:?}");
    assert!(
        !rig.engine.registrations().contains_key(&APP),
        "registrations are read again only when told"
    );
    assert!(
        rig.engine
            .all_system_files_restored()
            .expect("rescan")
            .is_empty()
    );
    assert!(rig.engine.registrations().contains_key(&APP));
    let r = supply(&rig.engine, id(APP, PassiveBase), &passive, 100).await;
    assert!(matches!(r, Ok(Supplied::Applied { .. })), "{r:?}");
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("normal");
    assert_eq!(
        fs::read(c.root.join("sys/bin/app")).expect("app"),
        b"the app"
    );
    assert_eq!(
        fs::read(c.cage(APP).join("user-data.txt")).expect("data"),
        b"precious"
    );
}
