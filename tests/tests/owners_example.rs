//! The minimal example owner (`data-owners/examples/minimal_owner.rs`) against the
//! engine: its one file survives a full backup and restore byte for byte.

use std::fs;

use engine::registration::Sid;
use engine::unit::UnitKind;

mod owners;
use owners::*;

const APP: Sid = Sid(0x2000_0050);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minimal_example_owner_backs_up_and_restores_its_file() {
    // `cargo test` builds examples as `examples/minimal_owner-<hash>`, `cargo build
    // --examples` as `examples/minimal_owner`; `cargo test --examples` also leaves a
    // test-harness build under a hashed name. Take the newest real one: started without
    // the engine's environment it complains about it.
    let example = fs::read_dir(owner_dir().join("examples"))
        .expect("examples dir: run cargo test -p data-owners first")
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name == "minimal_owner" || name.starts_with("minimal_owner-"))
                && !name.contains('.')
                && std::process::Command::new(e.path())
                    .env_clear()
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stderr).contains("SBE_"))
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .expect("build the example first: cargo test -p data-owners")
        .path();
    let bin = tempfile::tempdir().expect("bin dir");
    fs::copy(&example, bin.path().join("minimal_owner")).expect("copy example");
    let mut rig = rig_in(bin.path().to_owned(), |c| {
        fs::create_dir_all(c.cage(APP)).expect("cage");
        fs::write(
            c.cage(APP).join("backup_registration.xml"),
            r#"<backup_registration version="1.0"><active_backup process_name="minimal_owner" supports_incremental="no"/></backup_registration>"#,
        )
        .expect("registration");
        fs::write(c.cage(APP).join("data.txt"), noise(3, 300_000)).expect("data");
    });
    let m = rig.backup("base", None, None).await;
    assert_eq!(kinds(&m, APP), vec![UnitKind::ActiveBase]);
    fs::write(rig.cage(APP).join("data.txt"), b"lost").expect("damage");
    rig.restore(&["base"], None).await;
    assert_eq!(
        fs::read(rig.cage(APP).join("data.txt")).expect("read"),
        noise(3, 300_000)
    );
}
