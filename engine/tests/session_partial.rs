//! Partial sessions, and an owner that comes back with its package before its data.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::fs;

use engine::manifest::OwnerOutcome;
use engine::mode::BurMode;
use engine::registration::Sid;
use engine::runner::{BackupRequest, RestoreRequest, SessionError};
use engine::unit::UnitKind;

mod common;
use common::*;

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
