//! The `ref-data` fixture (`reference_owners::fixture`) against the engine with every
//! reference owner: seeded data survives destroy + restore of the base, changed data
//! destroy + restore of base and increment, compared through the fixture's dump.

use engine::registration::Sid;
use engine::unit::UnitKind;
use reference_owners::fixture::{self, DriveRoot};

mod owners;
use owners::*;

fn roots(rig: &Rig) -> Vec<DriveRoot> {
    let c = rig.c();
    vec![DriveRoot::new(c.letter, c.root)]
}

fn dump(rig: &Rig) -> String {
    fixture::dump(&roots(rig)).expect("dump")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_and_changed_data_come_back_after_destroy() {
    let mut rig = rig(|c| {
        let d = [DriveRoot::new(c.letter, c.root.clone())];
        fixture::install(&d).expect("install");
        fixture::seed(&d).expect("seed");
    });
    let seeded = dump(&rig);
    let base = rig.backup("base", None, None).await;
    for sid in [
        fixture::SETTINGS_STORE,
        fixture::RECORD_STORE,
        fixture::SQLITE_APP,
        fixture::PASSIVE_APP,
        fixture::SETTINGS_CLIENT,
        fixture::HYBRID,
    ] {
        assert!(
            base.owners.iter().any(|o| o.sid == Sid(sid)),
            "{sid:08x} backed up"
        );
    }
    let passive = kinds(&base, Sid(fixture::PASSIVE_APP));
    assert!(passive.contains(&UnitKind::Public), "{passive:?}");
    assert_eq!(dump(&rig), seeded, "a backup changes no data");

    fixture::change(&roots(&rig)).expect("change");
    let changed = dump(&rig);
    assert_ne!(changed, seeded);
    let inc = rig.backup("inc", Some("base"), None).await;
    assert!(
        unit_size(&inc, Sid(fixture::RECORD_STORE), UnitKind::ActiveIncrement)
            < unit_size(&base, Sid(fixture::RECORD_STORE), UnitKind::ActiveBase) / 10,
        "the record store sends an increment"
    );

    fixture::destroy(&roots(&rig)).expect("destroy");
    assert_ne!(dump(&rig), changed);
    rig.restore(&["base", "inc"], None).await;
    assert_eq!(
        dump(&rig),
        changed,
        "base + increment restore the changed data"
    );

    fixture::destroy(&roots(&rig)).expect("destroy");
    rig.restore(&["base"], None).await;
    assert_eq!(dump(&rig), seeded, "the base restores the seeded data");
}
