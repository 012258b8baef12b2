//! The hostile-set suite: sets a host uploads with recomputed, consistent SHA-256 values
//! (the manifest is rewritten too, so byte-level verification passes) that try to write
//! outside their owner. Each is refused before anything changes, with a reason.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::fs;
use std::path::Path;

use bytes::BytesMut;
use engine::manifest::{OwnerOutcome, OwnerRecord, UnitRecord};
use engine::passive::archive;
use engine::registration::{CagePath, Sid};
use engine::runner::{RestoreRequest, SessionError};
use engine::spool::SpoolSet;
use engine::unit::{UnitId, UnitKind};
use sha2::Digest;

mod common;
use common::*;

/// A passive stream (the format of system and public units) holding `files`.
fn stream(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    for (path, data) in files {
        let path = CagePath::parse_relative(path).expect("path");
        archive::file_header(&mut out, &path, data.len() as u64, 0, 0o444);
        out.extend_from_slice(data);
    }
    archive::end(&mut out);
    out.to_vec()
}

/// Adds a unit (and its owner, if new) to the set and rewrites the manifest with the
/// right size and SHA-256, as a host that forges a set would.
fn forge(set: &Path, id: UnitId, raw: &[u8]) {
    let set = SpoolSet::open(set);
    let encoded = engine::stream::encode_unit(raw, false);
    let path = set.unit_path(id);
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(&path, &encoded).expect("unit");
    let mut m = set.read_manifest().expect("manifest");
    if !m.owners.iter().any(|o| o.sid == id.sid) {
        m.owners.push(OwnerRecord {
            sid: id.sid,
            outcome: OwnerOutcome::Ok,
            requires_reboot: false,
        });
    }
    m.units.retain(|u| u.id != id);
    m.units.push(UnitRecord {
        id,
        size: encoded.len() as u64,
        raw_size: raw.len() as u64,
        sha256: sha2::Sha256::digest(&encoded).into(),
        compressed: false,
    });
    set.write_manifest(&m).expect("write manifest");
}

/// Every file of a drive with the SHA-256 of its content, except the logs the running
/// test owners keep writing on their own.
fn digest(root: &Path) -> Vec<(String, String)> {
    tree(root)
        .into_iter()
        .filter(|(path, _)| !path.ends_with("calls.log"))
        .map(|(path, data)| (path, format!("{:x}", sha2::Sha256::digest(&data))))
        .collect()
}

fn system(sid: Sid) -> UnitId {
    UnitId {
        sid,
        drive: 'c',
        kind: UnitKind::System,
    }
}

/// Backs up, damages one passive file (so "nothing changed" is visible), forges the set
/// with `forge_it`, restores, and returns the refusal.
async fn refused(forge_it: impl FnOnce(&Rig, &Path)) -> (Rig, String) {
    let mut rig = rig();
    rig.engine.backup(base("base")).await.expect("backup");
    let set = rig.spool().join("base");
    forge_it(&rig, &set);
    // A forged set whose manifest still parses verifies byte for byte: the refusal
    // below comes from the rules, not from a stale hash.
    if let Ok((_, problems)) = SpoolSet::open(&set).verify(|_| true) {
        assert!(problems.is_empty(), "{problems:?}");
    }
    write(
        &rig.cage(PASSIVE).join("notes.txt"),
        b"damaged after the backup",
    );
    let before = digest(&rig.dir.path().join("c"));
    let err = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![set],
            partial: None,
        })
        .await
        .expect_err("the forged set is refused");
    assert_eq!(digest(&rig.dir.path().join("c")), before, "nothing changed");
    (rig, err.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_data_outside_the_system_roots_is_refused() {
    let (rig, why) = refused(|_, set| {
        let raw = stream(&[
            ("sys/bin/passive-app", b"package"),
            ("etc/passwd", b"root::0:0::/:/bin/sh\n"),
        ]);
        forge(set, system(PASSIVE), &raw);
    })
    .await;
    assert!(why.contains("may not write etc/passwd"), "{why}");
    assert!(!rig.c().root.join("etc").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_data_may_not_rewrite_a_registration_or_enter_another_cage() {
    for (path, expect) in [
        ("private/11111111/backup_registration.xml", "registration"),
        (
            "private/22222222/active.dat",
            "may not write private/22222222",
        ),
        (
            "private/10202d56/import/packages/11111111/files.txt",
            "package file list",
        ),
    ] {
        let (_, why) = refused(|_, set| {
            forge(set, system(PASSIVE), &stream(&[(path, b"forged")]));
        })
        .await;
        assert!(why.contains(expect), "{path}: {why}");
    }
}

/// A set may carry data of an owner that is not installed here (a removed application,
/// or one forged in): its units are verified, never written, and the owner is reported
/// as not installed while the others are restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_cannot_install_an_owner_that_is_not_installed() {
    const NEW: Sid = Sid(0xEEEE_0001);
    let mut rig = rig();
    rig.engine.backup(base("base")).await.expect("backup");
    let set = rig.spool().join("base");
    let registration = br#"<backup_registration><active_backup process_name="sbe-test-owner"/></backup_registration>"#;
    forge(
        &set,
        system(NEW),
        &stream(&[("private/eeee0001/backup_registration.xml", registration)]),
    );
    let report = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![set],
            partial: None,
        })
        .await
        .expect("the installed owners are restored");
    for o in &report.owners {
        match (&o.outcome, o.sid == NEW) {
            (OwnerOutcome::Failed { reason, .. }, true) => {
                assert!(reason.contains("not installed"), "{reason}");
            }
            (OwnerOutcome::Ok, false) => {}
            (outcome, _) => panic!("{}: {outcome:?}", o.sid),
        }
    }
    assert!(report.owners.iter().any(|o| o.sid == NEW));
    assert!(!rig.cage(NEW).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_data_for_an_undeclared_proxy_manager_is_refused() {
    let (_, why) = refused(|_, set| {
        let id = UnitId {
            sid: PASSIVE,
            drive: 'c',
            kind: UnitKind::Proxy(PROXY),
        };
        forge(set, id, b"settings the owner never had");
    })
    .await;
    assert!(
        why.contains("does not declare as a proxy data manager"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_owners_and_huge_manifests_are_refused() {
    let (_, why) = refused(|_, set| {
        let path = set.join("manifest.toml");
        let text = fs::read_to_string(&path).expect("manifest");
        let first = text.find("[[owners]]").expect("owners");
        let end = text[first + 1..]
            .find("[[")
            .map_or(text.len(), |i| first + 1 + i);
        let dup = format!("{}\n{}", text, &text[first..end]);
        fs::write(&path, dup).expect("write");
    })
    .await;
    assert!(why.contains("listed twice"), "{why}");
    let (_, why) = refused(|_, set| {
        let path = set.join("manifest.toml");
        let mut text = fs::read_to_string(&path).expect("manifest");
        text.push_str(&format!("# {}\n", "x".repeat(17 * 1024 * 1024)));
        fs::write(&path, text).expect("write");
    })
    .await;
    assert!(why.contains("larger than the limit"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_system_restore_off_a_set_with_system_data_is_refused() {
    let mut rig = rig_with_system(engine::system::SystemPolicy {
        restore: engine::system::SystemRestore::Off,
        ..engine::system::SystemPolicy::default()
    });
    rig.engine.backup(base("base")).await.expect("backup");
    let err = rig
        .engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("base")],
            partial: None,
        })
        .await
        .expect_err("refused");
    assert!(matches!(err, SessionError::Verify(_)));
    assert!(
        err.to_string().contains("system_restore = \"off\""),
        "{err}"
    );
}
