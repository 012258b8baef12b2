//! Encrypted sets: with a backup key on the device, units are age ciphertext, an
//! increment reads the earlier set's snapshots without the password, a restore needs the
//! password, and a set a host changed (even consistently: unit and manifest) is refused
//! before anything is touched.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::fs;

use age::secrecy::SecretString;
use engine::crypto::{Keys, is_age};
use engine::manifest::{BackupType, OwnerOutcome};
use engine::runner::{BackupRequest, RestoreRequest, SessionError};
use sha2::{Digest, Sha256};

mod common;
use common::*;

const MARKER: &[u8] = b"PLAINTEXT-MARKER-4711";

fn pw(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

fn units(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).expect("read_dir").flatten() {
        if e.file_type().expect("type").is_dir() {
            out.extend(units(&e.path()));
        } else if e.path().extension().is_some_and(|x| x == "unit") {
            out.push(e.path());
        }
    }
    out
}

fn encrypt_device(rig: &Rig) {
    let keys = Keys::create(&SecretString::from("correct horse".to_owned()), 10).expect("keys");
    keys.save(rig.config.key_file.as_ref().expect("key file"))
        .expect("save");
}

fn restore_req(rig: &Rig, sets: &[&str]) -> RestoreRequest {
    RestoreRequest {
        sets: sets.iter().map(|s| rig.spool().join(s)).collect(),
        partial: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_sets_are_ciphertext_chain_without_password_and_restore_with_it() {
    let mut rig = rig();
    encrypt_device(&rig);
    write(&rig.cage(PASSIVE).join("marker.txt"), &MARKER.repeat(100));
    let partial = Some([PASSIVE, ACTIVE].into_iter().collect());
    let b = rig
        .engine
        .backup(BackupRequest {
            partial: partial.clone(),
            ..base("b")
        })
        .await
        .expect("encrypted base");
    assert!(
        b.owners.iter().all(|o| o.outcome == OwnerOutcome::Ok),
        "{:?}",
        b.owners
    );
    let set = rig.spool().join("b");
    assert!(set.join("key.age").is_file());
    assert!(
        fs::read_to_string(set.join("manifest.toml"))
            .expect("manifest")
            .starts_with("mac = \"")
    );
    let all = units(&set);
    assert!(all.len() >= 4, "{all:?}");
    for u in &all {
        let bytes = fs::read(u).expect("unit");
        assert!(is_age(&bytes), "{} is not an age file", u.display());
        assert!(
            !bytes.windows(MARKER.len()).any(|w| w == MARKER),
            "{} holds plaintext",
            u.display()
        );
    }

    // The increment reads the base's snapshots with the device's own key: no password.
    write(&rig.cage(PASSIVE).join("notes.txt"), b"second notes");
    rig.engine
        .backup(BackupRequest {
            backup_type: BackupType::Incremental,
            previous: Some(set.clone()),
            partial,
            ..base("i1")
        })
        .await
        .expect("encrypted increment");
    let latest = tree(&rig.cage(PASSIVE));

    write(&rig.cage(PASSIVE).join("notes.txt"), b"lost");
    let before = tree(&rig.cage(PASSIVE));
    for (password, want) in [
        (None, "needs the backup password"),
        (pw("wrong"), "wrong backup password"),
    ] {
        let err = rig
            .engine
            .restore_with_password(restore_req(&rig, &["b", "i1"]), password)
            .await
            .expect_err("refused");
        assert!(matches!(err, SessionError::Encryption(_)), "{err}");
        assert!(err.to_string().contains(want), "{err}");
        assert_eq!(tree(&rig.cage(PASSIVE)), before, "nothing changed");
    }
    let report = rig
        .engine
        .restore_with_password(restore_req(&rig, &["b", "i1"]), pw("correct horse"))
        .await
        .expect("restore with the password");
    assert!(
        report.owners.iter().all(|r| r.outcome == OwnerOutcome::Ok),
        "{report:?}"
    );
    assert_eq!(tree(&rig.cage(PASSIVE)), latest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_a_host_rewrote_consistently_is_refused() {
    let mut rig = rig();
    encrypt_device(&rig);
    rig.engine
        .backup(BackupRequest {
            partial: Some([PASSIVE].into()),
            ..base("b")
        })
        .await
        .expect("base");
    let set = rig.spool().join("b");
    let manifest = set.join("manifest.toml");
    let original = fs::read_to_string(&manifest).expect("manifest");
    // The host replaces a unit and rewrites its size and SHA-256 in the manifest.
    let unit = set.join(format!("{PASSIVE}/c/passive-base.unit"));
    let old = fs::read(&unit).expect("unit");
    let mut new = old.clone();
    new.truncate(old.len() - 10);
    fs::write(&unit, &new).expect("write");
    let text = original
        .replace(&hex(&Sha256::digest(&old)), &hex(&Sha256::digest(&new)))
        .replace(
            &format!("size = {}", old.len()),
            &format!("size = {}", new.len()),
        );
    assert_ne!(text, original);
    fs::write(&manifest, &text).expect("write");
    write(&rig.cage(PASSIVE).join("notes.txt"), b"current");
    let before = tree(&rig.cage(PASSIVE));
    let err = rig
        .engine
        .restore_with_password(restore_req(&rig, &["b"]), pw("correct horse"))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("does not authenticate"), "{err}");
    // Without the MAC line the set is plain, and plain sets are refused while encryption
    // is on.
    fs::write(&manifest, text.split_once('\n').expect("lines").1).expect("write");
    let err = rig
        .engine
        .restore_with_password(restore_req(&rig, &["b"]), pw("correct horse"))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("not encrypted"), "{err}");
    // A renamed set does not pass either.
    fs::write(&manifest, &original).expect("write");
    fs::write(&unit, &old).expect("write");
    fs::rename(&set, rig.spool().join("b2")).expect("rename");
    let err = rig
        .engine
        .restore_with_password(restore_req(&rig, &["b2"]), pw("correct horse"))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("cannot change"), "{err}");
    assert_eq!(tree(&rig.cage(PASSIVE)), before, "nothing changed");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
