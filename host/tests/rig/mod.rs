//! The loopback rig shared by `tests/loopback.rs` and `benches/backup_loopback.rs`: the
//! real firmware (the Backup storage provider, the engine on its own thread and the MTP
//! responder) served over the in-memory loopback, and the host end of it as a [`Link`].
#![allow(dead_code, reason = "each user takes what it needs")]

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
use mtpbur_host::link::Link;
use mtpbur_host::remote::Remote;
use mtpbur_host::repo::{DeviceRepo, Repo};
use mtpbur_host::storage::BackupStorage;

pub(crate) const SID: &str = "0a000001";
const REGISTRATION: &str = r#"<?xml version="1.0" standalone="yes"?>
<backup_registration version="1.0">
  <passive_backup><include_directory name="\"/></passive_backup>
</backup_registration>"#;

/// The host end of the loopback as a [`Link`].
pub(crate) struct LoopLink {
    pub(crate) port: HostPort,
    rt: tokio::runtime::Handle,
    out: BytesMut,
    piece: Bytes,
    ended: bool,
    /// Paces what the device sends, as a link of that many bytes per second would.
    pace: Option<Pace>,
}

/// A link's rate: IN bytes are taken no faster than `per_s` from `since` on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    pub(crate) per_s: f64,
    since: Instant,
    bytes: u64,
}

impl Pace {
    pub(crate) fn new(per_s: f64) -> Self {
        Self {
            per_s,
            since: Instant::now(),
            bytes: 0,
        }
    }

    /// Counts `n` bytes and waits until the link would have carried them.
    fn take(&mut self, n: usize) {
        self.bytes += n as u64;
        let due = self.since + Duration::from_secs_f64(self.bytes as f64 / self.per_s);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        } else if now - due > Duration::from_millis(50) {
            // A link that was idle does not save up: the pace starts again from now,
            // with this piece charged to it.
            self.since = now;
            self.bytes = n as u64;
        }
    }
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
        if let Some(p) = self.pace.as_mut() {
            p.take(piece.len());
        }
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

pub(crate) struct Rig {
    _tmp: tempfile::TempDir,
    pub(crate) spool: PathBuf,
    pub(crate) rt: tokio::runtime::Runtime,
    pub(crate) cage: PathBuf,
    pub(crate) repo: PathBuf,
    port: HostPort,
    _service: BackupService,
}

/// The rig with one passive owner holding `notes.txt` and a 3 MB `photos/big.raw`.
pub(crate) fn rig() -> Rig {
    rig_with(|cage| {
        std::fs::write(cage.join("notes.txt"), b"the first notes").unwrap();
        std::fs::create_dir(cage.join("photos")).unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(cage.join("photos/big.raw"), &big).unwrap();
    })
}

/// The rig with one passive owner (everything below its folder), whose files `fill` writes.
pub(crate) fn rig_with(fill: impl FnOnce(&Path)) -> Rig {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    let cage = c.join("private").join(SID);
    std::fs::create_dir_all(&cage).unwrap();
    std::fs::write(cage.join("backup_registration.xml"), REGISTRATION).unwrap();
    fill(&cage);
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
    let (rt, port) = spawn_served(|ep| mtp::driver::serve(responder, ep));
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
    pub(crate) fn connect(&self) -> Remote<LoopLink> {
        self.connect_paced(None)
    }

    /// Connects over a link that carries at most `pace` from the device.
    pub(crate) fn connect_paced(&self, pace: Option<Pace>) -> Remote<LoopLink> {
        let link = LoopLink {
            port: self.port.clone(),
            rt: self.rt.handle().clone(),
            out: BytesMut::new(),
            piece: Bytes::new(),
            ended: false,
            pace,
        };
        let client = Client::connect(link).unwrap();
        Remote::new(BackupStorage::find(client).map_err(|(_, e)| e).unwrap())
    }

    pub(crate) fn device_repo(&self) -> DeviceRepo {
        self.device_repo_at(&self.repo)
    }

    /// A repository for the device at `dir`.
    pub(crate) fn device_repo_at(&self, dir: &Path) -> DeviceRepo {
        Repo::create(dir).unwrap().device("LOOP0001", true).unwrap()
    }
}

/// A runtime running `serve` on a fresh loopback whose endpoints are enabled, and the
/// host's link to it.
pub(crate) fn served<F>(
    serve: impl FnOnce(mtp::transport::LoopbackEndpoints) -> F,
) -> (tokio::runtime::Runtime, LoopLink)
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (rt, port) = spawn_served(serve);
    assert!(rt.block_on(port.control.send(ControlEvent::Enabled)));
    let link = LoopLink {
        port,
        rt: rt.handle().clone(),
        out: BytesMut::new(),
        piece: Bytes::new(),
        ended: false,
        pace: None,
    };
    (rt, link)
}

/// A runtime running `serve` on a fresh loopback, and the host's port of it.
fn spawn_served<F>(
    serve: impl FnOnce(mtp::transport::LoopbackEndpoints) -> F,
) -> (tokio::runtime::Runtime, HostPort)
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
    (rt, port)
}
