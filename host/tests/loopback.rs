//! `mtpbur-host`'s commands against the real firmware: the Backup storage provider, the
//! engine on its own thread and the MTP responder, over the in-memory loopback (the USB
//! path itself is covered by the VM scenario `86-host-program`). A passive owner, so no
//! owner processes are needed.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use engine::registration::{CENTRAL_REPOSITORY_SID, Drive};
use engine::runner::EngineConfig;
use firmware::backup::access::Policy;
use firmware::backup::intake::Intake;
use firmware::backup::provider::BackupProvider;
use firmware::backup::service::BackupService;
use mtp::providers::{DeviceIdentity, DeviceProvider};
use mtp::responder::ControlRequest;
use mtp::transport::{ControlEvent, HostPort};
use mtp::{DeviceStatus, Responder, ResponderConfig, ResponseCode, StorageId};
use mtpbur_host::client::Client;
use mtpbur_host::cmd::{backup, restore};
use mtpbur_host::link::Link;
use mtpbur_host::output::{Exit, Ui};
use mtpbur_host::remote::Remote;
use mtpbur_host::repo::{DeviceRepo, Repo};
use mtpbur_host::storage::BackupStorage;

const SID: &str = "0a000001";
const REGISTRATION: &str = r#"<?xml version="1.0" standalone="yes"?>
<backup_registration version="1.0">
  <passive_backup><include_directory name="\"/></passive_backup>
</backup_registration>"#;

/// The host end of the loopback as a [`Link`].
struct LoopLink {
    port: HostPort,
    rt: tokio::runtime::Handle,
    out: BytesMut,
    piece: Bytes,
    ended: bool,
}

const PIECE: usize = 64 * 1024;

impl LoopLink {
    fn send(&mut self, piece: Bytes, end: bool) -> io::Result<()> {
        let port = self.port.clone();
        if self.rt.block_on(port.bulk_out.send((piece, end))) {
            Ok(())
        } else {
            Err(io::Error::other("disconnected"))
        }
    }

    /// Takes the next piece of the IN transfer from the device, unless one is left or
    /// the transfer ended.
    fn fill(&mut self) -> io::Result<()> {
        if !self.piece.is_empty() || self.ended {
            return Ok(());
        }
        let port = self.port.clone();
        let got = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), port.bulk_in.pop()).await
        });
        let piece = got
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "nothing from the device"))?
            .ok_or_else(|| io::Error::other("disconnected"))?;
        self.ended = piece.is_empty() || piece.len() % self.port.max_packet_size != 0;
        self.piece = piece;
        Ok(())
    }
}

impl Link for LoopLink {
    fn max_packet_size(&self) -> usize {
        self.port.max_packet_size
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.extend_from_slice(data);
        while self.out.len() > PIECE {
            let piece = self.out.split_to(PIECE).freeze();
            self.send(piece, false)?;
        }
        Ok(())
    }

    fn end_transfer(&mut self) -> io::Result<()> {
        let rest = self.out.split().freeze();
        let short = rest.len() % self.port.max_packet_size != 0;
        if !rest.is_empty() {
            self.send(rest, short)?;
        }
        if !short {
            self.send(Bytes::new(), true)?;
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.fill()?;
        let n = buf.len().min(self.piece.len());
        buf[..n].copy_from_slice(&self.piece.split_to(n));
        Ok(n)
    }

    fn read_to(&mut self, sink: &mut dyn Write) -> io::Result<usize> {
        self.fill()?;
        let piece = std::mem::take(&mut self.piece);
        sink.write_all(&piece)?;
        Ok(piece.len())
    }

    fn next_transfer(&mut self) -> io::Result<()> {
        self.ended = false;
        Ok(())
    }

    fn event(&mut self, wait: Duration) -> io::Result<Option<Vec<u8>>> {
        let port = self.port.clone();
        Ok(self
            .rt
            .block_on(async { tokio::time::timeout(wait, port.interrupt.pop()).await })
            .ok()
            .flatten()
            .map(|b| b.to_vec()))
    }

    fn device_reset(&mut self) -> io::Result<()> {
        self.port.status.set(DeviceStatus(ResponseCode::DeviceBusy));
        self.port
            .control
            .push(ControlEvent::Request(ControlRequest::DeviceReset));
        for _ in 0..2000 {
            if self.port.status.get().0 != ResponseCode::DeviceBusy {
                while self.port.bulk_in.try_pop().is_some() {}
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(io::Error::other(
            "the device stayed busy after Device Reset",
        ))
    }
}

struct Rig {
    _tmp: tempfile::TempDir,
    spool: PathBuf,
    rt: tokio::runtime::Runtime,
    cage: PathBuf,
    repo: PathBuf,
    port: HostPort,
    _service: BackupService,
}

fn rig() -> Rig {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    let cage = c.join("private").join(SID);
    std::fs::create_dir_all(&cage).unwrap();
    std::fs::write(cage.join("backup_registration.xml"), REGISTRATION).unwrap();
    std::fs::write(cage.join("notes.txt"), b"the first notes").unwrap();
    std::fs::create_dir(cage.join("photos")).unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(cage.join("photos/big.raw"), &big).unwrap();
    let spool = tmp.path().join("spool");
    let config = EngineConfig {
        drives: vec![Drive::new('c', &c)],
        spool: spool.clone(),
        socket: tmp.path().join("engine.sock"),
        owner_dir: tmp.path().join("owners"),
        state_file: None,
        ready_timeout: Duration::from_secs(2),
        cenrep: CENTRAL_REPOSITORY_SID,
        system: engine::system::SystemPolicy::default(),
        owner_group: None,
        key_file: Some(tmp.path().join("backup-key.toml")),
    };
    let (news, news_rx) = std::sync::mpsc::channel();
    let (service, _) = BackupService::start(config, news).unwrap();
    let intake = Intake::new(spool.clone(), ['c'].into(), service.clone())
        .with_key_file(Some(tmp.path().join("backup-key.toml")));
    let storage = StorageId(0x0003_0001);
    let provider = BackupProvider::new(storage, &spool, intake, news_rx, Policy::Open).unwrap();
    let device = DeviceProvider::new(DeviceIdentity {
        manufacturer: "mtpbur".into(),
        model: "Loopback board".into(),
        version: "0.1".into(),
        serial: "LOOP0001".into(),
    });
    let responder = Responder::new(device, vec![Box::new(provider)], ResponderConfig::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (endpoints, port) = mtp::transport::loopback(512, 8);
    rt.spawn(mtp::driver::serve(responder, endpoints));
    Rig {
        spool: spool.clone(),
        repo: tmp.path().join("repo"),
        _tmp: tmp,
        rt,
        cage,
        port,
        _service: service,
    }
}

impl Rig {
    fn connect(&self) -> Remote<LoopLink> {
        let link = LoopLink {
            port: self.port.clone(),
            rt: self.rt.handle().clone(),
            out: BytesMut::new(),
            piece: Bytes::new(),
            ended: false,
        };
        let client = Client::connect(link).unwrap();
        Remote::new(BackupStorage::find(client).map_err(|(_, e)| e).unwrap())
    }

    fn device_repo(&self) -> DeviceRepo {
        Repo::create(&self.repo)
            .unwrap()
            .device("LOOP0001", true)
            .unwrap()
    }
}

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

/// A runtime running `serve` on a fresh loopback whose endpoints are enabled, and the
/// host's link to it.
fn served<F>(
    serve: impl FnOnce(mtp::transport::LoopbackEndpoints) -> F,
) -> (tokio::runtime::Runtime, LoopLink)
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (endpoints, port) = mtp::transport::loopback(512, 8);
    rt.spawn(serve(endpoints));
    assert!(rt.block_on(port.control.send(ControlEvent::Enabled)));
    let link = LoopLink {
        port,
        rt: rt.handle().clone(),
        out: BytesMut::new(),
        piece: Bytes::new(),
        ended: false,
    };
    (rt, link)
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
    let f = mtpbur_host::cmd::bench::run(&mut client, "get.bin", (1 << 20) + 5).unwrap();
    assert_eq!((f.listed, f.list_transactions), (31, 32));
    assert_eq!(f.get_bytes, big.len() as u64);
    assert_eq!(f.send_bytes, (1 << 20) + 5);
    assert!(
        !tmp.path().join("bench-send.bin").exists(),
        "sent file not deleted"
    );
    let err = mtpbur_host::cmd::bench::run(&mut client, "missing.bin", 1).unwrap_err();
    assert!(err.contains("no missing.bin"), "{err}");
}
