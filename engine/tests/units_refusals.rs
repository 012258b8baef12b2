//! The per-unit client API: every refusal has its error and changes nothing, and a
//! corrupt supplied unit is refused.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::collections::BTreeSet;
use std::fs;

use engine::mode::{BackupIncType, BurMode};
use engine::registration::Sid;
use engine::runner::{Supplied, UnitError};
use engine::session::sequence::SequenceViolation;
use engine::unit::{UnitId, UnitKind};

mod common;
mod unit_helpers;
use common::*;
use unit_helpers::*;

use UnitKind::*;

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
