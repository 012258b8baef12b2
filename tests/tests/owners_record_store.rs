//! The reference record store (`ref-record-store`) against the engine: full and partial,
//! base and incremental backup and restore, record by record; and the incremental-size
//! measurement of docs/BENCHMARKS.md.

use engine::registration::Sid;
use engine::unit::UnitKind;
use reference_owners::record_store::{self, Records};

mod owners;
use owners::*;

const STORE: Sid = Sid(0x2000_0001);
const OTHER: Sid = Sid(0x2000_0002);

fn records(seed: u64, n: u64, len: usize) -> Records {
    (0..n).map(|i| (i, noise(seed ^ i, len))).collect()
}

/// Changes `count` records: a third rewritten, a third deleted, a third added.
fn churn(r: &mut Records, seed: u64, count: u64) {
    let next = r.keys().next_back().map_or(0, |k| k + 1);
    let ids: Vec<u64> = r.keys().copied().step_by(7).take(count as usize).collect();
    for (n, id) in ids.into_iter().enumerate() {
        match n % 3 {
            0 => {
                r.insert(id, noise(seed ^ id, 300 + n));
            }
            1 => {
                r.remove(&id);
            }
            _ => {
                r.insert(next + n as u64, noise(seed + n as u64, 500));
            }
        }
    }
}

fn store_rig(a: &Records, b: &Records) -> Rig {
    rig(|c| {
        for (sid, r) in [(STORE, a), (OTHER, b)] {
            install(c, sid, "record-store");
            record_store::save(&c.cage(sid), r).expect("save");
        }
    })
}

fn load(rig: &Rig, sid: Sid) -> Records {
    record_store::load(&rig.cage(sid)).expect("load")
}

fn assert_same(restored: &Records, expected: &Records) {
    assert_eq!(restored.len(), expected.len(), "record count");
    for (id, v) in expected {
        assert_eq!(restored.get(id), Some(v), "record {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_base_and_two_increments_restore_record_by_record() {
    let v0 = records(1, 400, 200);
    let mut rig = store_rig(&v0, &records(2, 50, 100));
    let m = rig.backup("base", None, None).await;
    assert_eq!(
        kinds(&m, STORE),
        vec![UnitKind::ActiveBase, UnitKind::ActiveSnapshot]
    );

    let mut v1 = v0.clone();
    churn(&mut v1, 10, 30);
    record_store::save(&rig.cage(STORE), &v1).expect("save v1");
    let m1 = rig.backup("inc1", Some("base"), None).await;
    assert_eq!(
        kinds(&m1, STORE),
        vec![UnitKind::ActiveIncrement, UnitKind::ActiveSnapshot]
    );

    let mut v2 = v1.clone();
    churn(&mut v2, 20, 12);
    record_store::save(&rig.cage(STORE), &v2).expect("save v2");
    rig.backup("inc2", Some("inc1"), None).await;

    // Lose everything, then restore the chain: base, inc1, inc2 in order.
    record_store::save(&rig.cage(STORE), &records(99, 3, 10)).expect("damage");
    rig.restore(&["base", "inc1", "inc2"], None).await;
    assert_same(&load(&rig, STORE), &v2);

    // Restoring only base + inc1 gives the state of inc1.
    rig.restore(&["base", "inc1"], None).await;
    assert_same(&load(&rig, STORE), &v1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_backup_and_restore_touch_only_the_listed_store() {
    let a = records(3, 100, 150);
    let b = records(4, 60, 90);
    let mut rig = store_rig(&a, &b);
    let m = rig.backup("p-base", None, Some(&[STORE])).await;
    assert!(
        kinds(&m, OTHER).is_empty(),
        "other store not in a partial backup"
    );

    let mut a1 = a.clone();
    churn(&mut a1, 5, 9);
    record_store::save(&rig.cage(STORE), &a1).expect("save");
    let m1 = rig.backup("p-inc", Some("p-base"), Some(&[STORE])).await;
    assert!(kinds(&m1, STORE).contains(&UnitKind::ActiveIncrement));

    let b_now = records(5, 7, 7);
    record_store::save(&rig.cage(OTHER), &b_now).expect("other changes");
    record_store::save(&rig.cage(STORE), &Records::new()).expect("wipe");
    rig.restore(&["p-base", "p-inc"], Some(&[STORE])).await;
    assert_same(&load(&rig, STORE), &a1);
    assert_same(&load(&rig, OTHER), &b_now);
}

/// docs/BENCHMARKS.md: after 1 % of the records changed, the incremental backup moves at
/// most 2 % of the base's bytes (unit files as stored: data + snapshot, LZ4 on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increment_after_one_percent_change_moves_at_most_two_percent_of_the_base() {
    const N: u64 = 5000;
    const LEN: usize = 2048;
    let v0 = records(7, N, LEN);
    let mut rig = store_rig(&v0, &records(8, 1, 1));
    let base = rig.backup("base", None, Some(&[STORE])).await;
    let mut v1 = v0.clone();
    // 1 % of the records rewritten with new content of the same size.
    for id in (0..N).step_by(100) {
        v1.insert(id, noise(id + 1_000_000, LEN));
    }
    record_store::save(&rig.cage(STORE), &v1).expect("save");
    let inc = rig.backup("inc", Some("base"), Some(&[STORE])).await;

    let base_data = unit_size(&base, STORE, UnitKind::ActiveBase);
    let base_all = owner_size(&base, STORE);
    let inc_data = unit_size(&inc, STORE, UnitKind::ActiveIncrement);
    let inc_all = owner_size(&inc, STORE);
    let pct = |a: u64, b: u64| a as f64 * 100.0 / b as f64;
    eprintln!(
        "record store, {N} records x {LEN} B, 1 % changed: base data {base_data} B, base set \
         {base_all} B; increment data {inc_data} B ({:.2} %), increment set {inc_all} B \
         ({:.2} %)",
        pct(inc_data, base_data),
        pct(inc_all, base_all)
    );
    assert!(inc_all * 50 <= base_all, "{inc_all} > 2 % of {base_all}");
    assert!(inc_data * 100 <= base_data * 2);

    record_store::save(&rig.cage(STORE), &Records::new()).expect("wipe");
    rig.restore(&["base", "inc"], Some(&[STORE])).await;
    assert_same(&load(&rig, STORE), &v1);
}

/// A restore broken off half way (the base reached the owner, the increment is
/// unusable and the operation abandoned) leaves the store as it was; the owner keeps
/// serving and the next restore succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_broken_off_half_way_leaves_the_store_and_the_owner_usable() {
    use engine::mode::{BackupIncType, BurMode, BurPartType};
    use engine::unit::UnitId;

    let v0 = records(11, 80, 100);
    let mut rig = store_rig(&v0, &records(12, 1, 1));
    rig.backup("base", None, None).await;
    let current = records(13, 20, 50);
    record_store::save(&rig.cage(STORE), &current).expect("save");

    let unit = |kind| UnitId {
        sid: STORE,
        drive: 'c',
        kind,
    };
    let base_unit =
        std::fs::read(rig.set("base").join("20000001/c/active-base.unit")).expect("base unit");
    let restore = BurMode::new(BurPartType::RestoreFull, BackupIncType::NoBackup).expect("mode");
    rig.engine
        .set_bur_mode(restore, &[])
        .await
        .expect("restore mode");
    rig.engine
        .all_system_files_restored()
        .expect("system files");
    rig.engine
        .supply_data(unit(UnitKind::ActiveBase), &base_unit, true)
        .await
        .expect("base applied to the owner's staging");
    let junk = engine::stream::encode_unit(b"RSI1\x07 not an increment", false);
    let err = rig
        .engine
        .supply_data(unit(UnitKind::ActiveIncrement), &junk, true)
        .await
        .expect_err("owner refuses the increment");
    assert_eq!(err.code(), reference_owners::ERR_CORRUPT, "{err}");
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("normal");
    assert_same(&load(&rig, STORE), &current);

    rig.restore(&["base"], None).await;
    assert_same(&load(&rig, STORE), &v0);
}

/// A store registered after the base set gets a base inside the incremental set (no
/// snapshot to compare with), and the chain restores both stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_added_after_the_base_gets_a_base_in_the_increment() {
    let a = records(21, 40, 64);
    let mut rig = rig(|c| {
        install(c, STORE, "record-store");
        record_store::save(&c.cage(STORE), &a).expect("save");
    });
    rig.backup("base", None, None).await;
    let b = records(22, 30, 64);
    install(&rig.c(), OTHER, "record-store");
    record_store::save(&rig.cage(OTHER), &b).expect("save");
    hand_cages_to_owners(&rig.c());
    assert!(rig.engine.rescan().is_empty(), "registrations parse");
    let m = rig.backup("inc", Some("base"), None).await;
    assert_eq!(
        kinds(&m, OTHER),
        vec![UnitKind::ActiveBase, UnitKind::ActiveSnapshot]
    );
    assert_eq!(
        kinds(&m, STORE),
        vec![UnitKind::ActiveIncrement, UnitKind::ActiveSnapshot]
    );
    for sid in [STORE, OTHER] {
        record_store::save(&rig.cage(sid), &Records::new()).expect("wipe");
    }
    rig.restore(&["base", "inc"], None).await;
    assert_same(&load(&rig, STORE), &a);
    assert_same(&load(&rig, OTHER), &b);
}

/// A backup broken off after the snapshot was supplied (the server went away before
/// asking for data): the next base backup is a real base and restores record by record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_broken_off_after_the_snapshot_leaves_no_trace() {
    use engine::mode::{BackupIncType, BurMode, BurPartType};
    use engine::unit::UnitId;

    let v0 = records(31, 60, 80);
    let mut rig = store_rig(&v0, &records(32, 1, 1));
    rig.backup("base", None, None).await;
    let snapshot = std::fs::read(rig.set("base").join("20000001/c/active-snapshot.unit"))
        .expect("snapshot unit");
    let inc = BurMode::new(BurPartType::BackupFull, BackupIncType::Increment).expect("mode");
    rig.engine
        .set_bur_mode(inc, &[])
        .await
        .expect("backup mode");
    rig.engine
        .supply_data(
            UnitId {
                sid: STORE,
                drive: 'c',
                kind: UnitKind::ActiveSnapshot,
            },
            &snapshot,
            true,
        )
        .await
        .expect("snapshot supplied");
    rig.engine
        .set_bur_mode(BurMode::NORMAL, &[])
        .await
        .expect("broken off");

    let mut v1 = v0.clone();
    churn(&mut v1, 33, 6);
    record_store::save(&rig.cage(STORE), &v1).expect("save");
    let m = rig.backup("base2", None, None).await;
    assert_eq!(
        kinds(&m, STORE),
        vec![UnitKind::ActiveBase, UnitKind::ActiveSnapshot]
    );
    record_store::save(&rig.cage(STORE), &Records::new()).expect("wipe");
    rig.restore(&["base2"], None).await;
    assert_same(&load(&rig, STORE), &v1);
}

/// A store whose file is damaged confirms readiness with `KErrCorrupt`: the code reaches
/// the manifest as that owner's failure and the other store is backed up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_store_fails_readiness_with_its_code_and_only_itself() {
    use engine::manifest::OwnerOutcome;

    let rig = store_rig(&records(41, 5, 5), &records(42, 5, 5));
    std::fs::write(rig.cage(STORE).join(record_store::STORE_FILE), b"garbage").expect("damage");
    let m = rig
        .engine
        .backup(engine::runner::BackupRequest {
            session: "b".into(),
            created: "2026-11-24T22:00:00Z".into(),
            partial: None,
            backup_type: engine::manifest::BackupType::Base,
            previous: None,
            compress: false,
            drives: None,
        })
        .await
        .expect("backup");
    match &m.owner(STORE).expect("listed").outcome {
        OwnerOutcome::Failed { code, .. } => {
            assert_eq!(*code, reference_owners::ERR_CORRUPT);
        }
        other => panic!("{other:?}"),
    }
    assert!(kinds(&m, STORE).is_empty());
    assert_eq!(m.owner(OTHER).expect("listed").outcome, OwnerOutcome::Ok);
}
