//! Import packages that belong to no owner (issue 17): Symbian backed up a package's
//! system data and public files even when no data owner had its id; before, they were
//! discovered and never backed up, so a tool installed without data of its own did not
//! come back.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::fs;
use std::os::unix::fs::PermissionsExt;

use engine::manifest::OwnerOutcome;
use engine::registration::Sid;
use engine::runner::RestoreRequest;
use engine::unit::UnitKind;

mod common;
use common::*;

const TOOL: Sid = Sid(0x7a7a_7a7a);
const ENGINE_CAGE: Sid = Sid(0x1020_2D56);

fn install_package(rig: &Rig) {
    let c = rig.c();
    let pkg = c.cage(ENGINE_CAGE).join("import/packages/7a7a7a7a");
    write(
        &pkg.join("backup_registration.xml"),
        br#"<backup_registration version="1.0"><system_backup/>
            <public_backup><include_directory name="!:\public\7a7a7a7a\"/></public_backup>
            </backup_registration>"#,
    );
    write(
        &pkg.join("files.txt"),
        b"c:\\sys\\bin\\tool\nc:\\resource\\tool\\help.txt\n",
    );
    for (path, data) in [
        ("sys/bin/tool", &b"tool binary"[..]),
        ("resource/tool/help.txt", b"help text"),
    ] {
        let p = c.root.join(path);
        write(&p, data);
        fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).expect("read-only");
    }
    write(
        &c.root.join("public/7a7a7a7a/templates.txt"),
        b"shared templates",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_without_an_owner_is_backed_up_and_restored() {
    let mut rig = rig();
    install_package(&rig);
    let left_out = rig.engine.rescan();
    assert!(left_out.is_empty(), "{left_out:?}");
    let m = rig
        .engine
        .backup(base("with-package"))
        .await
        .expect("backup");
    assert_eq!(outcome(&m, TOOL), &OwnerOutcome::Ok);
    assert_eq!(kinds(&m, TOOL), vec![UnitKind::System, UnitKind::Public]);

    let c = rig.c();
    fs::remove_file(c.root.join("sys/bin/tool")).expect("rm");
    fs::remove_file(c.root.join("resource/tool/help.txt")).expect("rm");
    write(&c.root.join("public/7a7a7a7a/templates.txt"), b"changed");
    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("with-package")],
            partial: Some([TOOL].into()),
        })
        .await
        .expect("restore");
    let tool = report.owners.iter().find(|o| o.sid == TOOL).expect("tool");
    assert_eq!(tool.outcome, OwnerOutcome::Ok);
    assert_eq!(
        fs::read(c.root.join("sys/bin/tool")).expect("tool"),
        b"tool binary"
    );
    let mode = fs::metadata(c.root.join("sys/bin/tool"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o222, 0, "system data stays read-only");
    assert_eq!(
        fs::read(c.root.join("resource/tool/help.txt")).expect("help"),
        b"help text"
    );
    assert_eq!(
        fs::read(c.root.join("public/7a7a7a7a/templates.txt")).expect("public"),
        b"shared templates"
    );
}

/// A package whose id is an owner's SID is that owner's: it is not a second owner, and
/// its file list is the owner's system data (the common rig's passive app has one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_of_a_registered_owner_is_that_owners_system_data() {
    let mut rig = rig();
    let pkg = rig.c().cage(ENGINE_CAGE).join("import/packages/11111111");
    write(
        &pkg.join("backup_registration.xml"),
        br#"<backup_registration version="1.0"><system_backup/></backup_registration>"#,
    );
    rig.engine.rescan();
    let m = rig.engine.backup(base("owned")).await.expect("backup");
    assert_eq!(m.owners.iter().filter(|o| o.sid == PASSIVE).count(), 1);
    assert_eq!(
        kinds(&m, PASSIVE)
            .iter()
            .filter(|k| **k == UnitKind::System)
            .count(),
        1
    );
}
