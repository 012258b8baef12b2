//! The per-unit client API (`CSBEClient` style): request and supply data unit by unit
//! with real owner processes, checked against what sessions write, and every refusal.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use engine::mode::{BackupIncType, BurMode, BurPartType};
use engine::registration::Sid;
use engine::runner::{BackupRequest, Engine, MAX_CHUNK, Supplied, UnitError};
use engine::session::sequence::SequenceViolation;
use engine::unit::{UnitId, UnitKind};

mod common;
use common::*;

use UnitKind::*;

fn id(sid: Sid, kind: UnitKind) -> UnitId {
    UnitId {
        sid,
        drive: 'c',
        kind,
    }
}

fn mode(part: BurPartType, inc: BackupIncType) -> BurMode {
    BurMode::new(part, inc).expect("mode")
}

fn backup_mode(partial: bool, inc: BackupIncType) -> BurMode {
    let part = if partial {
        BurPartType::BackupPartial
    } else {
        BurPartType::BackupFull
    };
    mode(part, inc)
}

fn restore_mode() -> BurMode {
    mode(BurPartType::RestoreFull, BackupIncType::NoBackup)
}

/// Requests a whole unit; checks the chunk bounds and that only the last is finished.
async fn fetch(engine: &Engine, unit: UnitId, compress: bool) -> Vec<u8> {
    let mut stream = engine
        .request_data(unit, compress)
        .await
        .unwrap_or_else(|e| panic!("{unit}: {e}"));
    assert_eq!(stream.unit(), unit);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next_chunk().expect("chunk") {
        assert!(!chunk.data.is_empty() && chunk.data.len() <= MAX_CHUNK);
        out.extend_from_slice(&chunk.data);
        assert_eq!(chunk.finished, stream.is_finished());
    }
    assert!(stream.is_finished());
    assert_eq!(out.len() as u64, stream.record().size);
    out
}

/// Supplies a unit in pieces of `piece` bytes, `finished` on the last.
async fn supply(
    engine: &Engine,
    unit: UnitId,
    data: &[u8],
    piece: usize,
) -> Result<Supplied, UnitError> {
    let pieces: Vec<&[u8]> = data.chunks(piece).collect();
    let mut last = Ok(Supplied::Pending);
    for (i, p) in pieces.iter().enumerate() {
        let finished = i + 1 == pieces.len();
        last = engine.supply_data(unit, p, finished).await;
        match &last {
            Ok(Supplied::Pending) if !finished => {}
            _ => return last,
        }
    }
    last
}

/// Files left in the scratch directory for units in transit.
fn scratch_files(rig: &Rig) -> Vec<String> {
    let dir = rig.spool().join(".unit-transfer");
    if !dir.exists() {
        return Vec::new();
    }
    tree(&dir).into_keys().collect()
}

fn order(r: Result<impl std::fmt::Debug, UnitError>) -> bool {
    matches!(
        r,
        Err(UnitError::Sequence {
            violation: SequenceViolation::OutOfOrder { .. },
            ..
        })
    )
}

fn wrong_mode<T: std::fmt::Debug>(r: Result<T, UnitError>) -> bool {
    matches!(r, Err(UnitError::WrongMode { .. }))
}

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
async fn every_refusal_has_its_error_and_changes_nothing() {
    let mut rig = rig();
    let passive_before = tree(&rig.cage(PASSIVE));
    let e = &rig.engine;

    // Normal: no unit calls.
    assert!(wrong_mode(
        e.request_data(id(PASSIVE, PassiveBase), false).await
    ));
    assert!(wrong_mode(
        e.supply_data(id(PASSIVE, PassiveBase), b"x", true).await
    ));
    assert!(wrong_mode(e.all_snapshots_supplied().await));
    assert!(matches!(
        e.set_bur_mode(backup_mode(false, BackupIncType::Base), &['c', 'q'])
            .await,
        Err(UnitError::UnknownDrive('q'))
    ));
    assert_eq!(e.bus().current(), BurMode::NORMAL, "nothing changed");

    // A backup mode.
    e.set_bur_mode(backup_mode(false, BackupIncType::Base), &[])
        .await
        .expect("backup");
    assert!(wrong_mode(e.set_sid_list_for_partial([PASSIVE].into())));
    assert!(matches!(
        e.set_bur_mode(restore_mode(), &[]).await,
        Err(UnitError::Mode(_))
    ));
    assert!(matches!(
        e.request_data(id(Sid(0x0BAD_0BAD), PassiveBase), false)
            .await,
        Err(UnitError::UnknownOwner(_))
    ));
    assert!(matches!(
        e.request_data(
            UnitId {
                drive: 'q',
                ..id(PASSIVE, PassiveBase)
            },
            false
        )
        .await,
        Err(UnitError::UnknownDrive('q'))
    ));
    for unit in [
        id(ACTIVE, PassiveBase),
        id(PASSIVE, ActiveBase),
        id(PASSIVE, Registration),
        id(PASSIVE, Dbms),
        id(PASSIVE, Proxy(PROXY)),
        id(PROXY, ActiveBase),
    ] {
        let r = e.request_data(unit, false).await;
        assert!(
            matches!(r, Err(UnitError::NotRegistered(_))),
            "{unit}: {r:?}"
        );
    }
    let r = e.request_data(id(HYBRID, PassiveBase), false).await;
    assert!(order(r), "hybrid: active before passive on backup");
    assert!(
        !calls(&rig, HYBRID).contains("init_backup"),
        "a refused request reaches no owner"
    );
    assert!(
        order(e.request_data(id(ACTIVE, ActiveIncrement), false).await),
        "active increment without a snapshot"
    );
    assert!(
        order(e.request_data(id(PASSIVE, PassiveIncrement), false).await),
        "passive increment without a snapshot"
    );
    let r = e.supply_data(id(ACTIVE, ActiveBase), b"x", true).await;
    assert!(wrong_mode(r), "data is not supplied during a backup");
    assert!(wrong_mode(rig.engine.all_system_files_restored()));
    let e = &rig.engine;

    // A snapshot on its own is a fresh scan; after AllSnapshotsSupplied no more snapshots.
    let snapshot = fetch(e, id(PASSIVE, PassiveSnapshot), false).await;
    e.all_snapshots_supplied().await.expect("all snapshots");
    for sid in [ACTIVE, HYBRID] {
        assert!(
            calls(&rig, sid).contains("all_snapshots_supplied"),
            "{sid}: {}",
            calls(&rig, sid)
        );
    }
    assert!(matches!(
        e.supply_data(id(PASSIVE, PassiveSnapshot), &snapshot, true)
            .await,
        Err(UnitError::SnapshotsClosed(_))
    ));
    fetch(e, id(ACTIVE, ActiveBase), false).await;
    assert_eq!(
        calls(&rig, ACTIVE)
            .matches("all_snapshots_supplied")
            .count(),
        1,
        "not told twice"
    );
    assert!(order(e.request_data(id(ACTIVE, ActiveBase), false).await));
    // A mode change behind the API's back ends the operation.
    e.bus().set(BurMode::NORMAL).expect("normal");
    assert!(wrong_mode(
        e.request_data(id(PASSIVE, PassiveBase), false).await
    ));

    // A partial backup: unlisted owners are refused.
    e.set_sid_list_for_partial([PASSIVE].into()).expect("list");
    e.set_bur_mode(backup_mode(true, BackupIncType::Base), &[])
        .await
        .expect("partial");
    assert!(matches!(
        e.request_data(id(ACTIVE, ActiveBase), false).await,
        Err(UnitError::NotSelected(ACTIVE))
    ));
    let passive_unit = fetch(e, id(PASSIVE, PassiveBase), false).await;
    e.set_bur_mode(BurMode::NORMAL, &[]).await.expect("normal");

    // A restore mode.
    e.set_sid_list_for_partial(BTreeSet::new()).expect("list");
    e.set_bur_mode(restore_mode(), &[]).await.expect("restore");
    assert!(wrong_mode(
        e.request_data(id(PASSIVE, PassiveBase), false).await
    ));
    assert!(wrong_mode(e.all_snapshots_supplied().await));
    assert!(matches!(
        e.supply_data(id(PASSIVE, PassiveBase), &passive_unit, true)
            .await,
        Err(UnitError::SystemFilesPending(_))
    ));
    rig.engine.all_system_files_restored().expect("system");
    let e = &rig.engine;
    assert!(matches!(
        e.supply_data(id(PASSIVE, System), b"x", true).await,
        Err(UnitError::SystemFilesDone(_))
    ));
    let r = e.supply_data(id(HYBRID, ActiveBase), b"x", false).await;
    assert!(order(r), "hybrid: passive before active on restore");
    assert!(order(
        e.supply_data(id(ACTIVE, ActiveIncrement), b"x", false)
            .await
    ));
    assert!(order(
        e.supply_data(id(PASSIVE, PassiveIncrement), b"x", false)
            .await
    ));
    assert!(matches!(
        e.supply_data(id(Sid(0x0BAD_0BAD), PassiveBase), b"x", true)
            .await,
        Err(UnitError::UnknownOwner(_))
    ));
    // One unit at a time per owner and drive.
    let half = passive_unit.len() / 2;
    assert_eq!(
        e.supply_data(id(DATABASE, PassiveBase), &passive_unit[..half], false)
            .await
            .expect("first half"),
        Supplied::Pending
    );
    let r = e.supply_data(id(DATABASE, Dbms), b"x", false).await;
    assert!(
        matches!(
            r,
            Err(UnitError::Sequence {
                violation: SequenceViolation::InProgress(PassiveBase),
                ..
            })
        ),
        "{r:?}"
    );
    e.set_bur_mode(BurMode::NORMAL, &[]).await.expect("normal");

    assert_eq!(tree(&rig.cage(PASSIVE)), passive_before);
    assert!(!rig.cage(ACTIVE).join("active.restored").exists());
    assert!(!calls(&rig, HYBRID).contains("init_restore"));
    assert!(!calls(&rig, ACTIVE).contains("init_restore"));
    assert!(
        !rig.cage(DATABASE).join("notes.txt").exists(),
        "the half-supplied unit was discarded"
    );
    assert_eq!(scratch_files(&rig), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_supplied_unit_is_refused_and_nothing_changes() {
    let mut rig = rig();
    rig.engine
        .set_bur_mode(backup_mode(false, BackupIncType::Base), &[])
        .await
        .expect("backup");
    let passive = fetch(&rig.engine, id(PASSIVE, PassiveBase), true).await;
    let active = fetch(&rig.engine, id(ACTIVE, ActiveBase), false).await;
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("normal");

    write(&rig.cage(PASSIVE).join("notes.txt"), b"changed since");
    let before = tree(&rig.cage(PASSIVE));
    rig.engine
        .set_bur_mode(restore_mode(), &[])
        .await
        .expect("restore");
    rig.engine.all_system_files_restored().expect("system");

    let mut flipped = passive.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xFF;
    let mut truncated = passive.clone();
    truncated.truncate(passive.len() - 13);
    let mut trailing = passive.clone();
    trailing.push(0);
    for (what, data) in [
        ("flipped byte", flipped),
        ("no end record", truncated),
        ("trailing byte", trailing),
        ("not a unit", b"not a unit at all".to_vec()),
    ] {
        let r = supply(&rig.engine, id(PASSIVE, PassiveBase), &data, 4096).await;
        assert!(matches!(r, Err(UnitError::Corrupt { .. })), "{what}: {r:?}");
        assert_eq!(tree(&rig.cage(PASSIVE)), before, "{what}");
    }
    let mut bad_active = active.clone();
    let last = bad_active.len() - 20;
    bad_active[last] ^= 0x01;
    let r = supply(&rig.engine, id(ACTIVE, ActiveBase), &bad_active, 4096).await;
    assert!(matches!(r, Err(UnitError::Corrupt { .. })), "{r:?}");
    assert!(
        !calls(&rig, ACTIVE).contains("init_restore_base"),
        "nothing reached the owner"
    );
    assert_eq!(
        scratch_files(&rig),
        Vec::<String>::new(),
        "refused units leave nothing behind"
    );

    // The sound unit is still accepted afterwards.
    let r = supply(&rig.engine, id(PASSIVE, PassiveBase), &passive, 4096).await;
    assert!(matches!(r, Ok(Supplied::Applied { .. })), "{r:?}");
    assert_eq!(
        fs::read(rig.cage(PASSIVE).join("notes.txt")).expect("notes"),
        b"first notes"
    );
    let r = supply(&rig.engine, id(ACTIVE, ActiveBase), &active, 4096).await;
    assert!(matches!(r, Ok(Supplied::Applied { .. })), "{r:?}");
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("normal");
    assert_eq!(
        fs::read(rig.cage(ACTIVE).join("active.restored")).expect("active"),
        b"active data v1"
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
    let mut rig = rig();
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
