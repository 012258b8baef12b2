//! A device (responder + files provider on temporary directories) served over the
//! loopback, and a host (the initiator) talking to it.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::path::PathBuf;

use bytes::Bytes;
use mtp::codec::dataset::{ObjectInfo, StorageInfo};
use mtp::codec::{ObjectFormat, OperationCode as Op, ResponseCode, parse_all};
use mtp::initiator::{Initiator, Response};
use mtp::providers::{DeviceIdentity, DeviceProvider, FilesProvider, StorageConfig};
use mtp::{Responder, ResponderConfig, StorageId};

pub const INTERNAL: u32 = 0x0001_0001;
pub const ARCHIVE: u32 = 0x0002_0001;

pub struct Device {
    pub host: Initiator,
    pub dir: tempfile::TempDir,
    pub internal: PathBuf,
    pub archive: PathBuf,
    pub task: tokio::task::JoinHandle<Responder>,
}

pub fn identity() -> DeviceIdentity {
    DeviceIdentity {
        manufacturer: "mtpbur".into(),
        model: "Test board".into(),
        version: "0.1".into(),
        serial: "TEST0001".into(),
    }
}

/// Starts a device with a writable "Internal" and a read-only "Archive" storage.
pub async fn start() -> Device {
    start_with(|_, _| {}).await
}

/// Starts a device after `fill(internal, archive)` has prepared the directories.
pub async fn start_with(fill: impl FnOnce(&std::path::Path, &std::path::Path)) -> Device {
    start_over(fill, |bulk_in| bulk_in).await
}

/// Starts a device whose bulk IN endpoint is the loopback's wrapped by `wrap` (a test's
/// fault injection).
pub async fn start_over<I: mtp::transport::BulkIn + 'static>(
    fill: impl FnOnce(&std::path::Path, &std::path::Path),
    wrap: impl FnOnce(mtp::transport::LoopbackIn) -> I,
) -> Device {
    let dir = tempfile::tempdir().expect("tempdir");
    let internal = dir.path().join("internal");
    let archive = dir.path().join("archive");
    std::fs::create_dir(&internal).expect("mkdir");
    std::fs::create_dir(&archive).expect("mkdir");
    fill(&internal, &archive);
    let files = FilesProvider::new(vec![
        StorageConfig {
            id: StorageId(INTERNAL),
            description: "Internal".into(),
            root: internal.clone(),
            writable: true,
            private: false,
        },
        StorageConfig {
            id: StorageId(ARCHIVE),
            description: "Archive".into(),
            root: archive.clone(),
            writable: false,
            private: false,
        },
    ])
    .expect("files provider");
    let device = DeviceProvider::new(identity()).with_battery(|| Some(87));
    let responder = Responder::new(device, vec![Box::new(files)], ResponderConfig::default());
    let (endpoints, port) = mtp::transport::loopback(512, 8);
    let endpoints = mtp::transport::Endpoints {
        bulk_in: wrap(endpoints.bulk_in),
        bulk_out: endpoints.bulk_out,
        interrupt: endpoints.interrupt,
        control: endpoints.control,
        status: endpoints.status,
    };
    let task = tokio::spawn(mtp::driver::serve(responder, endpoints));
    let mut host = Initiator::new(port);
    let (r, _) = host
        .transact(Op::OpenSession, &[1])
        .await
        .expect("open session");
    assert_eq!(r.code, ResponseCode::Ok);
    Device {
        host,
        dir,
        internal,
        archive,
        task,
    }
}

impl Device {
    pub async fn ok(&mut self, op: Op, params: &[u32]) -> Bytes {
        let (r, data) = self.host.transact(op, params).await.expect("transaction");
        assert_eq!(r.code, ResponseCode::Ok, "{op:?} {params:x?}");
        data
    }

    pub async fn code(&mut self, op: Op, params: &[u32]) -> ResponseCode {
        self.host
            .transact(op, params)
            .await
            .expect("transaction")
            .0
            .code
    }

    pub async fn handles(&mut self, storage: u32, parent: u32) -> Vec<u32> {
        let d = self.ok(Op::GetObjectHandles, &[storage, 0, parent]).await;
        parse_all(&d, mtp::codec::array::parse_u32_array).expect("handles")
    }

    pub async fn info(&mut self, h: u32) -> ObjectInfo {
        let d = self.ok(Op::GetObjectInfo, &[h]).await;
        parse_all(&d, ObjectInfo::parse).expect("object info")
    }

    pub async fn storage_info(&mut self, s: u32) -> StorageInfo {
        let d = self.ok(Op::GetStorageInfo, &[s]).await;
        parse_all(&d, StorageInfo::parse).expect("storage info")
    }

    /// Finds a child of `parent` (0xFFFFFFFF = root) by name.
    pub async fn find(&mut self, storage: u32, parent: u32, name: &str) -> Option<u32> {
        for h in self.handles(storage, parent).await {
            if self.info(h).await.filename == name {
                return Some(h);
            }
        }
        None
    }

    pub async fn send_object_info(
        &mut self,
        storage: u32,
        parent: u32,
        info: &ObjectInfo,
    ) -> Response {
        let mut b = Vec::new();
        info.put(&mut b);
        self.host
            .transact_out(Op::SendObjectInfo, &[storage, parent], &b)
            .await
            .expect("send object info")
    }

    /// Uploads a file the way mtp-sendfile does; returns its handle.
    pub async fn upload(&mut self, storage: u32, parent: u32, name: &str, data: &[u8]) -> u32 {
        let r = self
            .send_object_info(storage, parent, &file_info(name, data.len() as u64))
            .await;
        assert_eq!(r.code, ResponseCode::Ok, "SendObjectInfo {name}");
        let r = self
            .host
            .transact_out(Op::SendObject, &[], data)
            .await
            .expect("send object");
        assert_eq!(r.code, ResponseCode::Ok, "SendObject {name}");
        r.params.first().copied().unwrap_or(0);
        self.find_new(storage, parent, name).await
    }

    async fn find_new(&mut self, storage: u32, parent: u32, name: &str) -> u32 {
        self.find(storage, parent, name)
            .await
            .expect("uploaded object listed")
    }

    pub async fn mkdir(&mut self, storage: u32, parent: u32, name: &str) -> u32 {
        let info = ObjectInfo {
            format: ObjectFormat::Association.to_u16(),
            association_type: 1,
            filename: name.into(),
            ..ObjectInfo::default()
        };
        let r = self.send_object_info(storage, parent, &info).await;
        assert_eq!(r.code, ResponseCode::Ok, "mkdir {name}");
        r.params[2]
    }

    pub async fn download(&mut self, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let (r, _) = self
            .host
            .transact_in_stream(Op::GetObject, &[h], &mut out)
            .await
            .expect("get object");
        assert_eq!(r.code, ResponseCode::Ok);
        out
    }
}

pub fn file_info(name: &str, size: u64) -> ObjectInfo {
    ObjectInfo {
        format: ObjectFormat::Undefined.to_u16(),
        compressed_size: u32::try_from(size).unwrap_or(u32::MAX),
        filename: name.into(),
        date_modified: "20260101T120000".into(),
        ..ObjectInfo::default()
    }
}

/// Deterministic bytes, produced without holding them in memory.
pub struct Pattern {
    pub left: u64,
    pub state: u64,
}

impl Pattern {
    pub fn new(len: u64, seed: u64) -> Self {
        Self {
            left: len,
            state: seed | 1,
        }
    }
}

impl std::io::Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.left as usize);
        for b in &mut buf[..n] {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *b = self.state as u8;
        }
        self.left -= n as u64;
        Ok(n)
    }
}
