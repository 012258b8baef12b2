//! The reference hybrid owner (`ref-hybrid`) against the engine: the active part
//! prepares `export/`, the passive part carries it; restore installs it as the journal.

use std::fs;

use engine::registration::Sid;
use engine::unit::UnitKind;
use reference_owners::hybrid::{self, EXPORT, JOURNAL};

mod owners;
use owners::*;

const APP: Sid = Sid(0x2000_0040);

fn journal(rig: &Rig) -> String {
    fs::read_to_string(rig.cage(APP).join(JOURNAL)).expect("journal")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_files_go_passively_and_come_back_as_the_journal() {
    let mut rig = rig(|c| {
        install(c, APP, "hybrid");
        for i in 0..100 {
            hybrid::append_line(&c.cage(APP), &format!("entry {i}")).expect("append");
        }
    });
    let m = rig.backup("base", None, None).await;
    assert_eq!(
        kinds(&m, APP),
        vec![UnitKind::ActiveBase, UnitKind::PassiveBase],
        "active (prepares) before passive (carries); base only, no snapshot"
    );
    let at_base = journal(&rig);
    assert_eq!(
        fs::read_to_string(rig.cage(APP).join(EXPORT)).expect("export"),
        at_base
    );

    hybrid::append_line(&rig.cage(APP), "entry after base").expect("append");
    let at_second = journal(&rig);
    rig.backup("second", Some("base"), None).await;

    fs::write(rig.cage(APP).join(JOURNAL), "lost").expect("damage");
    fs::remove_dir_all(rig.cage(APP).join("export")).expect("rm export");
    rig.restore(&["base", "second"], None).await;
    assert_eq!(journal(&rig), at_second, "full restore");

    rig.restore(&["base"], Some(&[APP])).await;
    assert_eq!(journal(&rig), at_base, "partial restore of the base");
}
