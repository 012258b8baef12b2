//! The Backup storage against a real engine (on its own thread) over temporary drives:
//! a passive owner, so no owner processes are needed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use engine::registration::{CENTRAL_REPOSITORY_SID, Drive};
use engine::runner::{EngineConfig, ProgressEvent};
use mtp::codec::dataset::ObjectInfo;
use mtp::codec::{EventCode, ObjectFormat, ResponseCode};
use mtp::provider::{
    Chunk, DataProvider, ObjectHandle, ParentFilter, Placement, ProviderId, StorageId,
};

use super::BackupProvider;
use crate::backup::access::{Control, Policy};
use crate::backup::intake::Intake;
use crate::backup::service::BackupService;
use crate::backup::session::{Claim, News, Outcome};
use crate::backup::status::{State, Status};

const STORAGE: StorageId = StorageId(0x0003_0001);
const SID: &str = "0a000001";
const REGISTRATION: &str = r#"<?xml version="1.0" standalone="yes"?>
<backup_registration version="1.0">
  <passive_backup><include_directory name="\"/></passive_backup>
</backup_registration>"#;

struct Fx {
    _tmp: tempfile::TempDir,
    cage: PathBuf,
    spool: PathBuf,
    p: BackupProvider,
    service: BackupService,
    events: Vec<(EventCode, u32)>,
}

fn fixture() -> Fx {
    fixture_with(Duration::from_secs(2), |_| {})
}

/// A fixture whose Backup storage needs the device user's consent.
fn fixture_consent() -> Fx {
    fixture_full(Duration::from_secs(2), Policy::Consent, |_| {})
}

/// A fixture whose tree `before` may change before the engine starts (it gets the
/// temporary directory: `c/`, `spool/`, `owners/`).
fn fixture_with(ready_timeout: Duration, before: impl FnOnce(&Path)) -> Fx {
    fixture_full(ready_timeout, Policy::Open, before)
}

fn fixture_full(ready_timeout: Duration, policy: Policy, before: impl FnOnce(&Path)) -> Fx {
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("c");
    let cage = c.join("private").join(SID);
    std::fs::create_dir_all(&cage).unwrap();
    std::fs::write(cage.join("backup_registration.xml"), REGISTRATION).unwrap();
    std::fs::write(cage.join("notes.txt"), b"the first notes").unwrap();
    let spool = tmp.path().join("spool");
    before(tmp.path());
    let config = EngineConfig {
        drives: vec![Drive::new('c', &c)],
        spool: spool.clone(),
        socket: tmp.path().join("engine.sock"),
        owner_dir: tmp.path().join("owners"),
        state_file: None,
        ready_timeout,
        cenrep: CENTRAL_REPOSITORY_SID,
        system: engine::system::SystemPolicy::default(),
        owner_group: None,
        key_file: Some(tmp.path().join("backup-key.toml")),
    };
    let (news, news_rx) = std::sync::mpsc::channel();
    let (service, left_out) = BackupService::start(config, news).unwrap();
    assert!(left_out.is_empty(), "{left_out:?}");
    let intake = Intake::new(spool.clone(), ['c'].into(), service.clone())
        .with_key_file(Some(tmp.path().join("backup-key.toml")));
    let mut p = BackupProvider::new(STORAGE, &spool, intake, news_rx, policy).unwrap();
    p.attach(ProviderId(2));
    Fx {
        _tmp: tmp,
        cage,
        spool,
        p,
        service,
        events: Vec::new(),
    }
}

impl Fx {
    fn find(&mut self, parent: ParentFilter, name: &str) -> Option<ObjectHandle> {
        let handles = self.p.object_handles(STORAGE, None, parent).unwrap();
        handles
            .into_iter()
            .find(|h| self.p.object(*h).unwrap().name == name)
    }

    fn read(&mut self, h: ObjectHandle) -> Vec<u8> {
        let mut src = self.p.open_read(h, 0, u64::MAX).unwrap();
        let mut out = Vec::new();
        while (out.len() as u64) < src.len() {
            match src.read(4096).unwrap() {
                Chunk::Data(d) => out.extend_from_slice(&d),
                Chunk::NotReady => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        out
    }

    fn status(&mut self) -> Status {
        let h = self.find(ParentFilter::Root, "status.toml").unwrap();
        let size = self.p.object(h).unwrap().size;
        let text = self.read(h);
        assert_eq!(text.len() as u64, size, "status.toml's size is exact");
        Status::from_toml(std::str::from_utf8(&text).unwrap()).unwrap()
    }

    /// Uploads `name` with `data` into `parent` (None: the root).
    fn upload(
        &mut self,
        parent: Option<ObjectHandle>,
        name: &str,
        data: &[u8],
    ) -> Result<ObjectHandle, ResponseCode> {
        let info = ObjectInfo {
            format: ObjectFormat::Undefined.to_u16(),
            compressed_size: u32::try_from(data.len()).unwrap(),
            filename: name.into(),
            ..ObjectInfo::default()
        };
        let at = Placement {
            storage: STORAGE,
            parent,
        };
        let h = self
            .p
            .send_object_info(at, &info, Some(data.len() as u64))?;
        let mut sink = self.p.send_object(h)?;
        sink.write(Bytes::copy_from_slice(data))?;
        sink.finish(data.len() as u64)?;
        Ok(h)
    }

    fn request(&mut self, name: &str, text: &str) -> Result<ObjectHandle, ResponseCode> {
        let requests = self.find(ParentFilter::Root, "requests");
        self.upload(requests, name, text.as_bytes())
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.p.poll_event() {
            self.events.push((e.code, e.params[0].unwrap_or(0)));
        }
    }

    /// Polls events until the status leaves the running states (at most 20 s).
    fn wait_done(&mut self) -> Status {
        let start = Instant::now();
        loop {
            self.drain_events();
            let s = self.status();
            if matches!(s.state, State::Done | State::Failed) && self.p.session.running().is_none()
            {
                self.drain_events();
                return s;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "stuck: {s:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn only_set(&self) -> String {
        self.only_sets().pop().unwrap_or_default()
    }

    /// The set folders in the spool, sorted (hidden files and `requests/` left out).
    fn only_sets(&self) -> Vec<String> {
        let mut sets: Vec<String> = std::fs::read_dir(&self.spool)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "requests" && !n.starts_with('.'))
            .collect();
        sets.sort();
        sets
    }
}

mod growing;
mod requests;
mod restore;
mod security;
mod sessions;

#[test]
fn unix_now_reads_the_wall_clock_in_seconds() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let now = super::unix_now();
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    // The coarse clock lags by at most a few ticks, never by a whole second more.
    assert!(
        (before - 1..=after).contains(&now),
        "{before} <= {now} <= {after}"
    );
}
