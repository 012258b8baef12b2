//! `mtpbur-host`'s commands against the real firmware: the Backup storage provider, the
//! engine on its own thread and the MTP responder, over the in-memory loopback (the USB
//! path itself is covered by the VM scenario `86-host-program`). A passive owner, so no
//! owner processes are needed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod rig;

use std::path::Path;

use mtp::providers::{DeviceIdentity, DeviceProvider};
use mtp::{Responder, ResponderConfig, StorageId};
use mtpbur_host::client::Client;
use mtpbur_host::cmd::{backup, restore};
use mtpbur_host::output::{Exit, Ui};
use rig::{SID, rig, served};

const UI: Ui = Ui { json: true };

fn opts(kind: backup::Kind) -> backup::Options {
    backup::Options {
        owners: vec![],
        kind,
        keep: false,
        label: None,
    }
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn backups_chain_on_the_pc_and_a_restore_brings_the_chain_back() {
    let rig = rig();
    let repo = rig.device_repo();
    let mut remote = rig.connect();

    // A base: copied while captured, checked, committed, and gone from the device.
    let base = backup::run(&mut remote, &repo, &opts(backup::Kind::Auto), &UI).unwrap();
    assert_eq!(base.kind, "base");
    assert_eq!(base.owners_ok, 1);
    assert!(base.owners_failed.is_empty());
    assert!(!base.kept_on_device);
    assert!(
        remote.folder(&base.set).unwrap().is_none(),
        "the set was deleted from the device"
    );
    let units = repo.set_dir(&base.set).join(SID).join("c");
    assert!(units.join("passive-base.unit").is_file());
    assert!(units.join("passive-snapshot.unit").is_file());

    // An increment: only the snapshots go up, only the change comes back.
    std::fs::write(rig.cage.join("notes.txt"), b"the second notes").unwrap();
    let inc = backup::run(&mut remote, &repo, &opts(backup::Kind::Auto), &UI).unwrap();
    assert_eq!(inc.kind, "incremental");
    assert_eq!(inc.previous.as_deref(), Some(base.set.as_str()));
    assert!(
        inc.bytes < base.bytes / 10,
        "increment {} vs base {}",
        inc.bytes,
        base.bytes
    );
    assert!(
        remote.folder(&base.set).unwrap().is_none(),
        "the uploaded snapshots were removed"
    );
    let chain: Vec<String> = repo
        .chain(&inc.set)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(chain, [base.set.clone(), inc.set.clone()]);

    // The owner's data changes; the restore of the chain brings back the increment's.
    std::fs::write(rig.cage.join("notes.txt"), b"lost").unwrap();
    std::fs::remove_file(rig.cage.join("photos/big.raw")).unwrap();
    let ropts = restore::Options {
        set: None,
        owners: vec![],
        keep: false,
        password: None,
    };
    let r = restore::run(&mut remote, &repo, &ropts, &UI).unwrap();
    assert_eq!(r.chain, chain);
    assert_eq!(r.uploaded, chain);
    assert_eq!(r.owners.len(), 1);
    assert_eq!(r.owners[0].outcome, "ok", "{:?}", r.owners);
    assert_eq!(read(&rig.cage.join("notes.txt")), b"the second notes");
    assert_eq!(read(&rig.cage.join("photos/big.raw")).len(), 3_000_000);
    for name in &chain {
        assert!(
            remote.folder(name).unwrap().is_none(),
            "{name} was removed after the restore"
        );
    }
}

#[test]
fn a_set_damaged_on_the_pc_never_reaches_the_device() {
    let rig = rig();
    let repo = rig.device_repo();
    let mut remote = rig.connect();
    let base = backup::run(&mut remote, &repo, &opts(backup::Kind::Full), &UI).unwrap();
    let unit = repo
        .set_dir(&base.set)
        .join(SID)
        .join("c/passive-base.unit");
    let mut data = read(&unit);
    let at = data.len() / 2;
    data[at] ^= 1;
    std::fs::write(&unit, data).unwrap();
    std::fs::write(rig.cage.join("notes.txt"), b"current").unwrap();
    let ropts = restore::Options {
        set: Some(base.set.clone()),
        owners: vec![],
        keep: false,
        password: None,
    };
    let err = restore::run(&mut remote, &repo, &ropts, &UI).unwrap_err();
    assert_eq!(err.exit, Exit::Damaged, "{}", err.message);
    assert!(err.message.contains("passive-base"), "{}", err.message);
    assert!(
        remote.folder(&base.set).unwrap().is_none(),
        "nothing was uploaded"
    );
    assert_eq!(read(&rig.cage.join("notes.txt")), b"current");
}

#[test]
fn refusals_come_back_with_the_devices_reason() {
    let rig = rig();
    let repo = rig.device_repo();
    let mut remote = rig.connect();
    // An increment without an earlier set.
    let err = backup::run(&mut remote, &repo, &opts(backup::Kind::Incremental), &UI).unwrap_err();
    assert_eq!(err.exit, Exit::Failed);
    assert!(err.message.contains("full backup first"), "{}", err.message);
    // An owner the device does not have: refused by the device, reason from status.toml.
    let mut o = opts(backup::Kind::Full);
    o.owners = vec!["0x0badf00d".into()];
    let err = backup::run(&mut remote, &repo, &o, &UI).unwrap_err();
    assert_eq!(err.exit, Exit::Failed);
    assert!(
        err.message.contains("0x0badf00d not registered"),
        "{}",
        err.message
    );
    assert!(repo.sets().unwrap().0.is_empty());
    // A kept set stays on the device and is reused by the next increment.
    let mut o = opts(backup::Kind::Full);
    o.keep = true;
    let base = backup::run(&mut remote, &repo, &o, &UI).unwrap();
    assert!(base.kept_on_device);
    assert!(remote.folder(&base.set).unwrap().is_some());
    let inc = backup::run(&mut remote, &repo, &opts(backup::Kind::Incremental), &UI).unwrap();
    assert_eq!(inc.previous.as_deref(), Some(base.set.as_str()));
    assert!(
        remote.folder(&base.set).unwrap().is_some(),
        "a set the user kept stays"
    );
}

#[test]
fn an_encrypted_device_backs_up_ciphertext_and_restores_with_the_password() {
    use mtpbur_host::cmd::encryption::{Action, request};
    let rig = rig();
    let repo = rig.device_repo();
    let mut remote = rig.connect();
    let pw = |s: &str| engine::crypto::SecretString::from(s.to_owned());
    // A plain set from before: after encryption is on, the automatic choice is a base.
    let plain = backup::run(&mut remote, &repo, &opts(backup::Kind::Full), &UI).unwrap();
    let status = remote
        .send_request(
            "encryption.request",
            &request(Action::On, None, Some(&pw("pass phrase"))),
        )
        .unwrap();
    assert_eq!(status.encryption.as_deref(), Some("on"));

    let base = backup::run(&mut remote, &repo, &opts(backup::Kind::Auto), &UI).unwrap();
    assert_eq!(
        (base.kind.as_str(), base.previous.as_deref()),
        ("base", None),
        "not on {}",
        plain.set
    );
    let dir = repo.set_dir(&base.set);
    assert!(dir.join("key.age").is_file(), "the wrapped key came along");
    let unit = read(&dir.join(SID).join("c/passive-base.unit"));
    assert!(engine::crypto::is_age(&unit));
    assert!(
        !unit.windows(15).any(|w| w == b"the first notes"),
        "ciphertext on the PC"
    );
    // Without the password the PC still checks every byte it holds.
    let (_, problems) = engine::spool::SpoolSet::open(&dir)
        .verify(|_| true)
        .unwrap();
    assert!(problems.is_empty(), "{problems:?}");

    std::fs::write(rig.cage.join("notes.txt"), b"the second notes").unwrap();
    let inc = backup::run(&mut remote, &repo, &opts(backup::Kind::Auto), &UI).unwrap();
    assert_eq!(inc.previous.as_deref(), Some(base.set.as_str()));

    std::fs::write(rig.cage.join("notes.txt"), b"lost").unwrap();
    let mut ropts = restore::Options {
        set: None,
        owners: vec![],
        keep: false,
        password: Some(pw("wrong")),
    };
    let err = restore::run(&mut remote, &repo, &ropts, &UI).unwrap_err();
    assert!(
        err.message.contains("wrong backup password"),
        "{}",
        err.message
    );
    assert!(
        remote.folder(&base.set).unwrap().is_none(),
        "nothing uploaded with a wrong password"
    );
    ropts.password = Some(pw("pass phrase"));
    let r = restore::run(&mut remote, &repo, &ropts, &UI).unwrap();
    assert!(r.owners.iter().all(|o| o.outcome == "ok"), "{:?}", r.owners);
    assert_eq!(read(&rig.cage.join("notes.txt")), b"the second notes");
    // The device kept no password in its requests folder.
    let stored = std::fs::read_to_string(rig.spool.join("requests/restore.request")).unwrap();
    assert!(
        !stored.contains("pass phrase") && stored.contains("password = \"***********\""),
        "{stored}"
    );
}

/// `bench-raw` against the device's ceiling server (`mtpbur ceiling`), over the loopback:
/// the two ends agree on the wire format, every byte is counted each way, and transfers
/// ending on a packet multiple (a zero-length packet) and not are both right.
#[test]
fn bench_raw_measures_the_ceiling_servers_transfers() {
    let (_rt, mut link) = served(|ep| board::ceiling::serve(ep, 64 * 1024));
    for (bytes, data) in [(3 << 20, 200), ((1 << 20) + 100, 512), (512, 0)] {
        let f = mtpbur_host::cmd::ceiling::run(&mut link, bytes, 20, data).unwrap();
        assert_eq!((f.bytes, f.rounds, f.round_trip_data), (bytes, 20, data));
        assert!(f.source_s > 0.0 && f.sink_s > 0.0 && f.round_trip_us > 0.0);
    }
}

/// `bench-mtp` against the real responder with a files storage, over the loopback: the
/// listing finds the object among the others, GetObject reads every byte, SendObject
/// writes the file and it is deleted afterwards.
#[test]
fn bench_mtp_lists_reads_and_sends_through_the_responder() {
    use mtp::providers::files::{FilesProvider, StorageConfig};
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..30 {
        std::fs::write(tmp.path().join(format!("f{i}.txt")), format!("{i}")).unwrap();
    }
    let big: Vec<u8> = (0..(2 << 20) + 77).map(|i: u32| (i % 253) as u8).collect();
    std::fs::write(tmp.path().join("get.bin"), &big).unwrap();
    let files = FilesProvider::new(vec![StorageConfig {
        id: StorageId(0x0001_0001),
        description: "Internal".into(),
        root: tmp.path().to_owned(),
        writable: true,
        private: false,
    }])
    .unwrap();
    let device = DeviceProvider::new(DeviceIdentity {
        manufacturer: "mtpbur".into(),
        model: "Loopback board".into(),
        version: "0.1".into(),
        serial: "LOOP0002".into(),
    });
    let responder = Responder::new(device, vec![Box::new(files)], ResponderConfig::default());
    let (_rt, link) = served(|ep| mtp::driver::serve(responder, ep));
    let mut client = Client::connect(link).unwrap();
    use mtpbur_host::cmd::bench::Transfers;
    let both = Transfers::Both {
        send_bytes: (1 << 20) + 5,
    };
    let f = mtpbur_host::cmd::bench::run(&mut client, "get.bin", both).unwrap();
    assert_eq!((f.listed, f.list_transactions), (31, 32));
    assert_eq!(f.pair_list_transactions, 63);
    assert_eq!(f.get_bytes, big.len() as u64);
    assert_eq!(f.send_bytes, (1 << 20) + 5);
    assert!(
        !tmp.path().join("bench-send.bin").exists(),
        "sent file not deleted"
    );
    // The single-object property list the pair listing asks for names that object.
    let storage = client.storage_ids().unwrap()[0];
    let h = *client
        .handles(storage, 0xFFFF_FFFF)
        .unwrap()
        .first()
        .unwrap();
    let name = client.object_info(h).unwrap().filename;
    let props = client.object_prop_list(h).unwrap();
    assert!(props.0.iter().all(|e| e.handle == h));
    assert!(
        props.0.iter().any(|e| e.code == 0xDC07
            && e.value == mtp::codec::value::PropValue::Str(name.clone())),
        "no ObjectFileName {name} in {props:?}"
    );
    // Listings only: nothing read or sent.
    let f = mtpbur_host::cmd::bench::run(&mut client, "get.bin", Transfers::None).unwrap();
    assert_eq!((f.list_transactions, f.pair_list_transactions), (32, 63));
    assert_eq!((f.get_bytes, f.send_bytes), (0, 0));
    let err = mtpbur_host::cmd::bench::run(&mut client, "missing.bin", both).unwrap_err();
    assert!(err.contains("no missing.bin"), "{err}");
}
