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

#[test]
fn the_root_shows_generated_files_and_the_requests_folder() {
    let mut fx = fixture();
    let root =
        fx.p.object_handles(STORAGE, None, ParentFilter::Root)
            .unwrap();
    let mut names: Vec<String> = root.iter().map(|h| fx.p.object(*h).unwrap().name).collect();
    names.sort();
    assert_eq!(
        names,
        ["README.txt", "owners.toml", "requests", "status.toml"]
    );
    let readme = fx.find(ParentFilter::Root, "README.txt").unwrap();
    assert!(
        String::from_utf8(fx.read(readme))
            .unwrap()
            .contains("mtp-sendfile")
    );
    let owners = fx.find(ParentFilter::Root, "owners.toml").unwrap();
    let text = String::from_utf8(fx.read(owners)).unwrap();
    assert!(text.contains("sid = \"0x0a000001\""), "{text}");
    assert_eq!(fx.status().state, State::Idle);
    assert_eq!(fx.p.storage_info(STORAGE).unwrap().description, "Backup");
}

#[test]
fn generated_files_and_requests_cannot_be_changed() {
    let mut fx = fixture();
    let status = fx.find(ParentFilter::Root, "status.toml").unwrap();
    let requests = fx.find(ParentFilter::Root, "requests").unwrap();
    assert_eq!(
        fx.p.delete_object(status),
        Err(ResponseCode::ObjectWriteProtected)
    );
    assert_eq!(
        fx.p.delete_object(requests),
        Err(ResponseCode::ObjectWriteProtected)
    );
    assert_eq!(
        fx.upload(None, "status.toml", b"state = \"done\"\n"),
        Err(ResponseCode::AccessDenied)
    );
    let rename = mtp::codec::value::PropValue::Str("other".into());
    assert_eq!(
        fx.p.set_object_prop(
            requests,
            mtp::codec::ObjectPropCode::ObjectFileName,
            &rename
        ),
        Err(ResponseCode::AccessDenied)
    );
    assert!(fx.spool.join("requests").is_dir());
}

#[test]
fn a_backup_request_captures_a_set_and_announces_every_file() {
    let mut fx = fixture();
    fx.drain_events();
    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    let done = fx.wait_done();
    assert_eq!(done.state, State::Done, "{done:?}");
    assert_eq!((done.owners_done, done.owners_total), (1, 1));
    let set = fx.only_set();
    assert_eq!(done.session.as_deref(), Some(set.as_str()));
    // Every file of the set is listed with its exact size and was announced.
    let folder = fx.find(ParentFilter::Root, &set).unwrap();
    let added: Vec<u32> = fx
        .events
        .iter()
        .filter(|e| e.0 == EventCode::ObjectAdded)
        .map(|e| e.1)
        .collect();
    assert!(added.contains(&folder.0), "set folder announced");
    let mut once = added.clone();
    once.sort_unstable();
    once.dedup();
    assert_eq!(
        once.len(),
        added.len(),
        "each object announced once: {added:?}"
    );
    let all =
        fx.p.object_handles(STORAGE, None, ParentFilter::All)
            .unwrap();
    let mut unit_bytes = 0;
    let mut objects_in_set = 0;
    for h in all {
        let Some(path) = fx.p.path_of(h) else {
            continue;
        };
        if !path.starts_with(&set) {
            continue;
        }
        objects_in_set += 1;
        assert!(added.contains(&h.0), "{} announced", path.display());
        let rec = fx.p.object(h).unwrap();
        if !rec.is_folder() {
            let on_disk = std::fs::metadata(fx.spool.join(&path)).unwrap().len();
            assert_eq!(rec.size, on_disk, "{}", path.display());
            assert_eq!(fx.read(h).len() as u64, on_disk);
            if path.extension().is_some_and(|e| e == "unit") {
                unit_bytes += on_disk;
            }
        }
    }
    assert!(fx.spool.join(&set).join("manifest.toml").is_file());
    // ObjectAdded follows the engine's reports: the set, the owner's folder, its drive
    // folder, its two units and the manifest, each once.
    assert_eq!(
        objects_in_set, 6,
        "set, owner, drive, base, snapshot, manifest"
    );
    let added_in_set = added
        .iter()
        .filter(|h| {
            fx.p.path_of(ObjectHandle(**h))
                .is_some_and(|p| p.starts_with(&set))
        })
        .count();
    assert_eq!(added_in_set, objects_in_set, "{added:?}");
    assert_eq!(done.bytes_done, unit_bytes);
    let status = fx.find(ParentFilter::Root, "status.toml").unwrap();
    assert!(
        fx.events
            .contains(&(EventCode::ObjectInfoChanged, status.0)),
        "status changes announced"
    );
    // The accepted request stays in requests/.
    assert!(fx.spool.join("requests/backup.request").is_file());
}

#[test]
fn bad_requests_are_refused_with_the_reason_in_status_and_leave_no_file() {
    let mut fx = fixture();
    let garbage = fx.request("backup.request", "scope = \"full\"\ntype = \"sideways\"\n");
    assert_eq!(garbage, Err(ResponseCode::InvalidParameter));
    let s = fx.status();
    assert_eq!(s.state, State::Failed);
    let reason = s.last_error.unwrap();
    assert!(
        reason.contains("line 2") && reason.contains("type"),
        "{reason}"
    );
    assert!(!fx.spool.join("requests/backup.request").exists());

    let unknown = fx.request(
        "backup.request",
        "scope = \"partial\"\ntype = \"base\"\nowners = [\"0x0badf00d\"]\n",
    );
    assert_eq!(unknown, Err(ResponseCode::InvalidParameter));
    let reason = fx.status().last_error.unwrap();
    assert!(
        reason.contains("0x0badf00d") && reason.contains("not registered"),
        "{reason}"
    );

    let missing = fx.request(
        "restore.request",
        "source = \"20200101T000000Z\"\nscope = \"full\"\n",
    );
    assert_eq!(missing, Err(ResponseCode::InvalidParameter));
    let reason = fx.status().last_error.unwrap();
    assert!(reason.contains("20200101T000000Z"), "{reason}");
    assert_eq!(fx.only_set(), "", "no set was created");
}

#[test]
fn an_oversized_request_is_refused_whole() {
    let mut fx = fixture();
    let mut text = String::from("scope = \"full\"\ntype = \"base\"\n");
    while text.len() <= crate::backup::request::MAX_REQUEST_LEN {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    assert_eq!(
        fx.request("backup.request", &text),
        Err(ResponseCode::InvalidParameter)
    );
    let reason = fx.status().last_error.unwrap();
    assert!(reason.contains("bytes long"), "{reason}");
    assert!(!fx.spool.join("requests/backup.request").exists());
    assert_eq!(fx.only_set(), "");
}

#[test]
fn an_empty_request_is_stored_and_does_nothing() {
    let mut fx = fixture();
    fx.request("backup.request", "").unwrap();
    assert!(fx.spool.join("requests/backup.request").is_file());
    assert_eq!(fx.status().state, State::Idle);
}

#[test]
fn a_request_while_a_session_runs_gets_device_busy_and_its_folders_are_locked() {
    let mut fx = fixture();
    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    fx.wait_done();
    let set = fx.only_set();
    // Pretend a restore of that set runs (the engine is idle, so nothing else changes).
    fx.service.tell(News::Accepted(Claim {
        folder: set.clone(),
        in_use: [set.clone()].into(),
        restoring: true,
    }));
    let busy = fx.request(
        "restore.request",
        &format!("source = \"{set}\"\nscope = \"full\"\n"),
    );
    assert_eq!(busy, Err(ResponseCode::DeviceBusy));
    let folder = fx.find(ParentFilter::Root, &set).unwrap();
    assert_eq!(fx.p.delete_object(folder), Err(ResponseCode::DeviceBusy));
    assert_eq!(
        fx.upload(Some(folder), "extra.unit", b"x"),
        Err(ResponseCode::DeviceBusy)
    );
    fx.service.tell(News::Ended(Outcome {
        ok: true,
        error: None,
    }));
    fx.p.delete_object(folder).unwrap();
    assert!(!fx.spool.join(&set).exists());
}

#[test]
fn restore_of_an_uploaded_set_and_refusal_of_a_tampered_one() {
    let mut fx = fixture();
    fx.request(
        "backup.request",
        "scope = \"full\"\ntype = \"base\"\nlabel = \"one\"\n",
    )
    .unwrap();
    assert_eq!(fx.wait_done().state, State::Done);
    let set = fx.only_set();
    assert!(set.ends_with("-one"), "{set}");
    // The host copies the set out, then "uploads" it again under another name.
    let copy = fx.spool.join("uploaded");
    copy_tree(&fx.spool.join(&set), &copy);
    std::fs::write(fx.cage.join("notes.txt"), b"changed").unwrap();

    // A tampered copy is refused after verification and nothing changes.
    let tampered = fx.spool.join("tampered");
    copy_tree(&fx.spool.join(&set), &tampered);
    let unit = find_unit(&tampered);
    let mut bytes = std::fs::read(&unit).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    std::fs::write(&unit, bytes).unwrap();
    fx.request(
        "restore.request",
        "source = \"tampered\"\nscope = \"full\"\n",
    )
    .unwrap();
    let s = fx.wait_done();
    assert_eq!(s.state, State::Failed);
    assert!(s.last_error.unwrap().contains("does not verify"));
    assert_eq!(
        std::fs::read(fx.cage.join("notes.txt")).unwrap(),
        b"changed"
    );

    fx.request(
        "restore.request",
        "source = \"uploaded\"\nscope = \"full\"\n",
    )
    .unwrap();
    let s = fx.wait_done();
    assert_eq!(s.state, State::Done, "{s:?}");
    assert_eq!(
        std::fs::read(fx.cage.join("notes.txt")).unwrap(),
        b"the first notes"
    );
    let result =
        fx.p.files
            .handle_at(STORAGE, Path::new("uploaded/restore-result.toml"))
            .unwrap();
    assert!(fx.events.contains(&(EventCode::ObjectAdded, result.0)));
    let text = String::from_utf8(fx.read(result)).unwrap();
    assert!(text.contains("outcome = \"ok\""), "{text}");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn find_unit(dir: &Path) -> PathBuf {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            let found = find_unit(&e.path());
            if !found.as_os_str().is_empty() {
                return found;
            }
        } else if e.path().extension().is_some_and(|x| x == "unit") {
            return e.path();
        }
    }
    PathBuf::new()
}

#[test]
fn the_storage_offers_whole_uploads_but_no_in_place_edits() {
    use mtp::codec::OperationCode as Op;
    let fx = fixture();
    let ops = fx.p.capabilities().operations;
    for op in [
        Op::GetObject,
        Op::SendObjectInfo,
        Op::SendObject,
        Op::DeleteObject,
    ] {
        assert!(ops.contains(&op), "{op:?} missing");
    }
    for op in [
        Op::BeginEditObject,
        Op::SendPartialObject,
        Op::TruncateObject,
    ] {
        assert!(!ops.contains(&op), "{op:?} offered");
    }
}

#[test]
fn a_unit_still_being_written_is_listed_with_its_final_size_and_read_as_it_grows() {
    use std::io::Write as _;
    let mut fx = fixture();
    let dir = fx.spool.join("20261125T000000Z");
    std::fs::create_dir_all(&dir).unwrap();
    let mut unit = std::fs::File::create(dir.join("u.unit")).unwrap();
    unit.write_all(&[1; 100]).unwrap();
    let path = dir.join("u.unit");
    let opened = |size| {
        News::Progress(ProgressEvent::UnitOpened {
            path: path.clone(),
            size,
        })
    };
    let closed = |ok| {
        News::Progress(ProgressEvent::UnitClosed {
            path: path.clone(),
            ok,
        })
    };
    fx.service.tell(opened(300));
    let folder = fx.find(ParentFilter::Root, "20261125T000000Z").unwrap();
    let h = fx.find(ParentFilter::Children(folder), "u.unit").unwrap();
    assert_eq!(fx.p.object(h).unwrap().size, 300);

    let mut src = fx.p.open_read(h, 0, u64::MAX).unwrap();
    assert_eq!(src.len(), 300);
    assert_eq!(src.read(64).unwrap(), Chunk::Data(Bytes::from(vec![1; 64])));
    // 36 bytes are on disk, 200 asked for: wait rather than send a short piece.
    assert_eq!(src.read(200).unwrap(), Chunk::NotReady);
    unit.write_all(&[2; 200]).unwrap();
    fx.service.tell(closed(true));
    fx.drain_events();
    let Chunk::Data(rest) = src.read(4096).unwrap() else {
        panic!("complete unit not ready")
    };
    assert_eq!(rest.len(), 236);
    assert_eq!(fx.p.object(h).unwrap().size, 300);

    // Abandoned while read (its owner failed): the read fails, a new one is refused.
    fx.service.tell(opened(1000));
    let mut src = fx.p.open_read(h, 0, u64::MAX).unwrap();
    assert_eq!(src.read(4096).unwrap(), Chunk::NotReady);
    fx.service.tell(closed(false));
    fx.drain_events();
    assert_eq!(src.read(4096), Err(ResponseCode::IncompleteTransfer));
    assert_eq!(
        fx.p.open_read(h, 0, u64::MAX).err(),
        Some(ResponseCode::InvalidObjectHandle)
    );
}

#[test]
fn everything_in_the_backup_storage_is_the_daemons_alone() {
    use std::os::unix::fs::PermissionsExt;
    let mut fx = fixture();
    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    assert_eq!(fx.wait_done().state, State::Done);
    // An uploaded folder and file, as a host copying a set back.
    let folder_info = ObjectInfo {
        format: ObjectFormat::Association.to_u16(),
        association_type: 1,
        filename: "uploaded".into(),
        ..ObjectInfo::default()
    };
    let at = Placement {
        storage: STORAGE,
        parent: None,
    };
    let folder = fx.p.send_object_info(at, &folder_info, Some(0)).unwrap();
    fx.upload(Some(folder), "manifest.toml", b"format = 1\n")
        .unwrap();
    let mut stack = vec![fx.spool.clone()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                seen += 1;
                let mode = meta.permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", e.path().display());
            }
        }
    }
    assert!(
        seen >= 4,
        "the set, the request and the upload were looked at ({seen})"
    );
}

#[test]
fn a_session_interrupted_by_a_power_cut_is_reported_and_undone_at_start() {
    let mut fx = fixture_with(Duration::from_secs(2), |tmp| {
        // What a power cut during a backup leaves: the journal, a set without manifest.
        let set = tmp.join("spool/b-cut/0a000001/c");
        std::fs::create_dir_all(&set).unwrap();
        std::fs::write(set.join("passive-base.unit"), b"half").unwrap();
        engine::recovery::begin(
            &tmp.join("spool"),
            engine::recovery::SessionKind::Backup,
            "b-cut",
        )
        .unwrap();
    });
    let s = fx.status();
    assert_eq!(s.state, State::Failed);
    let reason = s.last_error.unwrap();
    assert!(
        reason.contains("interrupted") && reason.contains("b-cut"),
        "{reason}"
    );
    assert!(!fx.spool.join("b-cut").exists());
    assert!(fx.find(ParentFilter::Root, "b-cut").is_none());
}

/// SIGTERM while a session waits for an owner: the session ends at once with the
/// reason in `status.toml`, the engine thread ends, and the next start removes the
/// incomplete set.
#[test]
fn stopping_the_daemon_interrupts_a_running_session() {
    use std::os::unix::fs::PermissionsExt;
    const SLOW: &str = "0a000002";
    let mut fx = fixture_with(Duration::from_secs(60), |tmp| {
        // An active owner that never connects: the session waits for it.
        let owners = tmp.join("owners");
        std::fs::create_dir_all(&owners).unwrap();
        std::fs::write(owners.join("never-ready"), "#!/bin/sh\nexec sleep 120\n").unwrap();
        std::fs::set_permissions(
            owners.join("never-ready"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let cage = tmp.join("c/private").join(SLOW);
        std::fs::create_dir_all(&cage).unwrap();
        std::fs::write(
            cage.join("backup_registration.xml"),
            r#"<backup_registration version="1.0"><active_backup process_name="never-ready"/></backup_registration>"#,
        )
        .unwrap();
        if rustix::process::geteuid().is_root() {
            // Owners never run as root: the cage (and the way to the script) for uid 5000.
            std::os::unix::fs::chown(&cage, Some(5000), Some(5000)).unwrap();
            std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    });
    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    let start = Instant::now();
    while {
        fx.drain_events();
        fx.p.session.running().is_none() || fx.only_sets().is_empty()
    } {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the session never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let set = fx.only_set();
    assert!(
        fx.service.stop(Duration::from_secs(10)),
        "the engine thread ends"
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "not after the owner's timeout"
    );
    let s = fx.status();
    assert_eq!(s.state, State::Failed);
    assert!(s.last_error.unwrap().contains("interrupted"));
    assert!(fx.p.session.running().is_none());
    assert!(
        fx.spool.join(engine::recovery::JOURNAL).exists(),
        "the journal stays for the next start"
    );
    assert!(fx.spool.join(&set).is_dir());
}

/// An application installed after the daemon started takes part in the next backup
/// (the registrations are read again before every session).
#[test]
fn an_owner_installed_after_start_is_in_the_next_backup() {
    let mut fx = fixture();
    let late = fx.cage.parent().unwrap().join("0a000003");
    std::fs::create_dir_all(&late).unwrap();
    std::fs::write(late.join("backup_registration.xml"), REGISTRATION).unwrap();
    std::fs::write(late.join("late.txt"), b"installed after the start").unwrap();
    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    let done = fx.wait_done();
    assert_eq!(done.state, State::Done, "{done:?}");
    assert_eq!((done.owners_done, done.owners_total), (2, 2));
    let set = fx.only_set();
    assert!(fx.spool.join(&set).join("0a000003").is_dir());
}

/// The engine reports a growing unit just before it renames it to its final name: the
/// ObjectAdded waits until the name exists, and is sent once.
#[test]
fn a_growing_unit_is_announced_once_its_final_name_exists() {
    let mut fx = fixture();
    fx.drain_events();
    let dir = fx.spool.join("20261125T000000Z");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("u.unit");
    fx.service.tell(News::Accepted(Claim {
        folder: "20261125T000000Z".into(),
        in_use: ["20261125T000000Z".to_owned()].into(),
        restoring: false,
    }));
    fx.service.tell(News::Progress(ProgressEvent::UnitOpened {
        path: path.clone(),
        size: 10,
    }));
    fx.drain_events();
    let added = |fx: &Fx| {
        fx.events
            .iter()
            .filter(|e| e.0 == EventCode::ObjectAdded)
            .count()
    };
    assert_eq!(added(&fx), 1, "the folder only: {:?}", fx.events);
    std::fs::write(&path, b"01234").unwrap();
    fx.drain_events();
    assert_eq!(added(&fx), 2);
    let h = fx.events.last().unwrap().1;
    assert_eq!(
        fx.p.path_of(ObjectHandle(h)).unwrap(),
        Path::new("20261125T000000Z/u.unit")
    );
    assert_eq!(fx.p.object(ObjectHandle(h)).unwrap().size, 10);
    fx.drain_events();
    assert_eq!(added(&fx), 2, "once");
}

/// Hidden names in the spool are the engine's: its session journal, its commit journals
/// (which recovery acts on at the next start), its scratch folders and temporary files. A
/// host that could upload one could forge what recovery does, so it cannot, in the root
/// or below, nor rename a file to one. (Before, such uploads were accepted and hidden.)
#[test]
fn the_host_cannot_place_a_hidden_name_in_the_spool() {
    let mut fx = fixture();
    for name in [
        ".session.toml",
        ".session-temps",
        ".commit-0a000001.toml",
        ".dbms-scratch",
        "x.unit.part",
    ] {
        assert_eq!(
            fx.upload(None, name, b"kind = \"restore\"\n"),
            Err(ResponseCode::AccessDenied),
            "{name}"
        );
        assert!(!fx.spool.join(name).exists(), "{name}");
    }
    let requests = fx.find(ParentFilter::Root, "requests");
    assert_eq!(
        fx.upload(requests, ".hidden", b"x"),
        Err(ResponseCode::AccessDenied)
    );
    let h = fx.upload(None, "notes.txt", b"x").unwrap();
    let rename = mtp::codec::value::PropValue::Str(".session-temps".into());
    assert_eq!(
        fx.p.set_object_prop(h, mtp::codec::ObjectPropCode::ObjectFileName, &rename),
        Err(ResponseCode::InvalidObjectPropValue)
    );
    assert!(fx.spool.join("notes.txt").is_file());
    assert!(!fx.spool.join(".session-temps").exists());
}

/// The test clock for consent: Unix seconds the provider reads through `now`.
static CLOCK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1_000_000);

fn clock() -> i64 {
    CLOCK.load(std::sync::atomic::Ordering::SeqCst)
}

/// Under `access = "consent"` a host sees only README.txt and status.toml (which says
/// consent is required) and can neither read nor start anything, until the device's user
/// allows it over the control socket; when the consent ends, the storage closes again
/// and the host hears StorageInfoChanged each time.
#[test]
fn with_consent_required_a_host_sees_nothing_private_until_allowed() {
    let mut fx = fixture_consent();
    fx.p.now = clock;
    let names = |fx: &mut Fx| -> Vec<String> {
        let hs =
            fx.p.object_handles(STORAGE, None, ParentFilter::All)
                .unwrap();
        let mut n: Vec<String> = hs.iter().map(|h| fx.p.object(*h).unwrap().name).collect();
        n.sort();
        n
    };
    std::fs::create_dir_all(fx.spool.join("20261125T000000Z")).unwrap();
    assert_eq!(names(&mut fx), ["README.txt", "status.toml"]);
    let status = fx.status();
    assert_eq!(status.access.as_deref(), Some("consent required"));
    assert_eq!(status.session, None);
    assert_eq!(
        fx.upload(
            None,
            "backup.request",
            b"scope = \"full\"\ntype = \"base\"\n"
        ),
        Err(ResponseCode::AccessDenied)
    );
    let owners = super::virtual_files::Generated::Owners.handle(ProviderId(2));
    assert_eq!(fx.p.object(owners).err(), Some(ResponseCode::AccessDenied));
    assert_eq!(
        fx.p.open_read(owners, 0, 10).err(),
        Some(ResponseCode::AccessDenied)
    );

    // The device's user allows it through the control socket.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let socket = fx.spool.parent().unwrap().join("control.sock");
    let listener = rt
        .block_on(async { crate::backup::control::bind(&socket) })
        .unwrap();
    let server = rt.spawn(crate::backup::control::serve(
        listener,
        Policy::Consent,
        fx.service.clone(),
        clock,
    ));
    let ask = |control| {
        let socket = socket.clone();
        rt.block_on(rt.spawn_blocking(move || crate::backup::control::request(&socket, control)))
            .unwrap()
    };
    let said = ask(Control::Allow { secs: 600 }).unwrap();
    assert!(said.contains("allowed until"), "{said}");
    fx.drain_events();
    assert!(
        fx.events
            .contains(&(EventCode::StorageInfoChanged, STORAGE.0)),
        "the host hears the storage opened"
    );
    assert!(names(&mut fx).contains(&"20261125T000000Z".to_owned()));
    assert!(names(&mut fx).contains(&"owners.toml".to_owned()));
    assert_eq!(fx.status().access.as_deref(), Some("allowed"));
    assert!(ask(Control::Status).unwrap().contains("600 s left"));

    // Ten minutes later the consent has ended.
    CLOCK.fetch_add(600, std::sync::atomic::Ordering::SeqCst);
    fx.events.clear();
    assert_eq!(names(&mut fx), ["README.txt", "status.toml"]);
    fx.drain_events();
    assert!(
        fx.events
            .contains(&(EventCode::StorageInfoChanged, STORAGE.0)),
        "the host hears the storage closed"
    );
    assert!(ask(Control::Status).unwrap().contains("consent required"));
    // Revoked early, likewise.
    ask(Control::Allow { secs: 60 }).unwrap();
    fx.drain_events();
    assert!(names(&mut fx).len() > 2);
    ask(Control::Revoke).unwrap();
    fx.drain_events();
    assert_eq!(names(&mut fx), ["README.txt", "status.toml"]);
    let e = ask(Control::Allow { secs: 0 });
    assert!(e.is_err(), "{e:?}");
    server.abort();
}

/// The control socket is the daemon user's alone: its mode keeps every other user out,
/// and a connection from another user would be refused by its peer check as well.
#[test]
fn the_control_socket_is_the_daemon_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let fx = fixture_consent();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let socket = fx.spool.parent().unwrap().join("run/control.sock");
    let listener = rt
        .block_on(async { crate::backup::control::bind(&socket) })
        .unwrap();
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let server = rt.spawn(crate::backup::control::serve(
        listener,
        Policy::Consent,
        fx.service.clone(),
        clock,
    ));
    if !rustix::process::geteuid().is_root() {
        eprintln!("NOT ROOT: another user's attempt cannot be made (CI runs this as root)");
        server.abort();
        return;
    }
    for p in [
        fx.spool.parent().unwrap(),
        &fx.spool.parent().unwrap().join("run"),
    ] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let other = engine::confined::identity::Identity::new(4242, 4242);
    let socket2 = socket.clone();
    let tried = rt
        .block_on(rt.spawn_blocking(move || {
            engine::confined::identity::as_user(other, || {
                crate::backup::control::request(&socket2, Control::Allow { secs: 600 })
            })
        }))
        .unwrap()
        .unwrap();
    let e = tried.expect_err("another user may not allow");
    assert!(e.contains("ermission denied"), "{e}");
    server.abort();
}

/// Every file below `dir`, as text where it is text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.push_str(&all_text(&e.path()));
        } else {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()));
        }
    }
    out
}

#[test]
fn a_backup_password_encrypts_sets_and_is_never_stored() {
    let mut fx = fixture();
    assert_eq!(fx.status().encryption.as_deref(), Some("off"));
    let on = "action = \"on\"\npassword = \"pw-one\"\n";
    fx.request("encryption.request", on).expect("encryption on");
    let s = fx.status();
    assert_eq!(
        (s.state, s.encryption.as_deref()),
        (State::Done, Some("on")),
        "{s:?}"
    );
    assert_eq!(
        fx.request("encryption.request", on).unwrap_err(),
        ResponseCode::InvalidParameter,
        "on twice"
    );
    assert!(fx.status().last_error.unwrap().contains("on already"));

    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    assert_eq!(fx.wait_done().state, State::Done);
    let set = fx.only_set();
    assert!(fx.spool.join(&set).join("key.age").is_file());
    assert!(
        !all_text(&fx.spool.join(&set)).contains("the first notes"),
        "units are ciphertext"
    );

    std::fs::write(fx.cage.join("notes.txt"), b"changed").unwrap();
    for (password, want) in [
        ("", "needs the backup password"),
        ("password = \"nope\"\n", "wrong backup password"),
    ] {
        let req = format!("source = \"{set}\"\nscope = \"full\"\n{password}");
        fx.request("restore.request", &req).unwrap();
        let s = fx.wait_done();
        assert_eq!(s.state, State::Failed);
        assert!(
            s.last_error.as_deref().unwrap_or("").contains(want),
            "{s:?}"
        );
        assert_eq!(
            std::fs::read(fx.cage.join("notes.txt")).unwrap(),
            b"changed"
        );
    }
    let req = format!("source = \"{set}\"\nscope = \"full\"\npassword = \"pw-one\"\n");
    fx.request("restore.request", &req).unwrap();
    assert_eq!(fx.wait_done().state, State::Done);
    assert_eq!(
        std::fs::read(fx.cage.join("notes.txt")).unwrap(),
        b"the first notes"
    );

    let wrong = "action = \"change\"\npassword = \"nope\"\nnew_password = \"pw-two\"\n";
    assert_eq!(
        fx.request("encryption.request", wrong).unwrap_err(),
        ResponseCode::InvalidParameter
    );
    assert!(
        fx.status()
            .last_error
            .unwrap()
            .contains("wrong backup password")
    );
    let change = "action = \"change\"\npassword = \"pw-one\"\nnew_password = \"pw-two\"\n";
    fx.request("encryption.request", change).unwrap();
    fx.request(
        "encryption.request",
        "action = \"off\"\npassword = \"pw-two\"\n",
    )
    .unwrap();
    assert_eq!(fx.status().encryption.as_deref(), Some("off"));

    // No password ever reached the spool: the stored requests hold stars.
    let stored = all_text(&fx.spool.join("requests"));
    for pw in ["pw-one", "pw-two", "nope"] {
        assert!(!stored.contains(pw), "{pw} stored: {stored}");
    }
    assert!(stored.contains("password = \"******\""), "{stored}");
}

#[test]
fn a_backup_with_no_owner_registered_is_refused_with_the_reason() {
    let mut fx = fixture_with(Duration::from_secs(2), |dir| {
        std::fs::remove_file(
            dir.join("c/private")
                .join(SID)
                .join("backup_registration.xml"),
        )
        .unwrap();
    });
    let err = fx
        .request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap_err();
    assert_eq!(err, ResponseCode::InvalidParameter);
    let s = fx.status();
    assert!(
        s.last_error
            .as_deref()
            .unwrap_or("")
            .contains("no data owner is registered"),
        "{s:?}"
    );
    assert!(fx.only_sets().is_empty(), "no empty set was made");
}
