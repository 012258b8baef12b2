//! The Backup storage: an MTP data provider that turns what a host does with ordinary
//! MTP operations into backup and restore sessions.
//!
//! The storage is the spool directory, served by a wrapped [`FilesProvider`] (so set
//! folders behave like any folder: listing, exact sizes, streamed reads, uploads written
//! to a temporary file and renamed when complete), plus:
//!
//! - the generated files `README.txt`, `owners.toml`, `status.toml` in the root
//!   (read-only; ObjectInfoChanged when they change);
//! - the permanent `requests/` folder, which cannot be deleted, moved or renamed;
//! - request uploads: `backup.request` / `restore.request` sent into `requests/` (or
//!   the root) are checked before the file is committed; a bad one is refused with
//!   InvalidParameter and the reason in `status.toml`, one sent while a session runs gets
//!   DeviceBusy, a good one starts its session and stays in `requests/`;
//! - announcements: while a session runs, every folder and finished file it writes is
//!   announced with ObjectAdded;
//! - protection: the folders a running session reads or writes cannot be changed
//!   (DeviceBusy) until it ends.

mod announce;
mod growing;
mod request_sink;
mod virtual_files;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mtp::codec::dataset::{ObjectInfo, StorageInfo};
use mtp::codec::value::PropValue;
use mtp::codec::{EventCode, ObjectFormat, ObjectPropCode, OperationCode, ResponseCode};
use mtp::provider::{
    Capabilities, DataProvider, ObjectHandle, ObjectRecord, ObjectSink, ObjectSource, ParentFilter,
    Placement, ProviderEvent, ProviderId, ProviderResult, StorageId,
};
use mtp::providers::{FilesProvider, StorageConfig};

use announce::{Announcer, is_hidden};
use growing::GrowingSource;
use request_sink::RequestSink;
use virtual_files::{Generated, Published, TextSource, record};

use super::intake::{Intake, REQUESTS_DIR, RequestKind};
use super::readme::README_TEXT;
use super::shared::{Growing, SharedState};

/// How often a running session's folder is scanned for new files.
const SCAN_EVERY: Duration = Duration::from_millis(200);

/// Returns the current Unix time in seconds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The Backup storage provider (see the module documentation).
pub struct BackupProvider {
    id: ProviderId,
    storage: StorageId,
    spool: PathBuf,
    files: FilesProvider,
    intake: Intake,
    shared: SharedState,
    readme: Published,
    owners: (u64, Published),
    status: (u64, Published),
    finished_gen: u64,
    announcer: Announcer,
    last_scan: Option<Instant>,
    pending_request: Option<(ObjectHandle, RequestKind)>,
    events: VecDeque<ProviderEvent>,
    now: fn() -> i64,
}

impl std::fmt::Debug for BackupProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupProvider")
            .field("storage", &self.storage)
            .field("spool", &self.spool)
            .finish_non_exhaustive()
    }
}

impl BackupProvider {
    /// Creates the provider for storage `storage` (described "Backup") over the spool
    /// directory, which is created with `requests/` if missing.
    ///
    /// # Errors
    /// The spool or `requests/` cannot be created.
    pub fn new(storage: StorageId, spool: &Path, intake: Intake) -> std::io::Result<Self> {
        // Everything in the Backup storage is every application's private data: the
        // daemon's alone (0700 folders, 0600 files; uploads too, see `private`).
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(spool.join(REQUESTS_DIR))?;
        for dir in [spool.to_owned(), spool.join(REQUESTS_DIR)] {
            std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        }
        let files = FilesProvider::new(vec![StorageConfig {
            id: storage,
            description: "Backup".into(),
            root: spool.to_owned(),
            writable: true,
            private: true,
        }])?
        .with_hidden(is_hidden);
        let shared = intake.shared().clone();
        let now = unix_now();
        Ok(Self {
            id: ProviderId(0),
            storage,
            spool: spool.canonicalize()?,
            files,
            intake,
            shared,
            readme: Published {
                text: bytes::Bytes::from_static(README_TEXT.as_bytes()),
                modified: now,
            },
            owners: (u64::MAX, Published::default()),
            status: (u64::MAX, Published::default()),
            finished_gen: 0,
            announcer: Announcer::default(),
            last_scan: None,
            pending_request: None,
            events: VecDeque::new(),
            now: unix_now,
        })
    }

    /// Brings the generated texts up to date, queueing ObjectInfoChanged for changes.
    fn publish(&mut self) {
        let now = (self.now)();
        let (status_gen, status_text, owners_gen, owners_text) = {
            let s = self.shared.lock();
            let status = (s.status_gen != self.status.0).then(|| s.status.to_toml());
            let owners = (s.owners_gen != self.owners.0).then(|| s.owners_text.clone());
            (s.status_gen, status, s.owners_gen, owners)
        };
        let first = self.status.0 == u64::MAX;
        if let Some(text) = status_text {
            self.status = (status_gen, published(text, now));
            if !first {
                self.queue(EventCode::ObjectInfoChanged, Generated::Status);
            }
        }
        let first = self.owners.0 == u64::MAX;
        if let Some(text) = owners_text {
            self.owners = (owners_gen, published(text, now));
            if !first {
                self.queue(EventCode::ObjectInfoChanged, Generated::Owners);
            }
        }
    }

    fn queue(&mut self, code: EventCode, g: Generated) {
        self.events
            .push_back(ProviderEvent::with(code, g.handle(self.id).0));
    }

    /// Announces what the running (or just finished) session wrote.
    fn announce(&mut self) {
        let (busy, folder, restoring, finished) = {
            let s = self.shared.lock();
            (s.busy, s.folder.clone(), s.restoring, s.finished_gen)
        };
        let just_finished = finished != self.finished_gen;
        let due = self.last_scan.is_none_or(|t| t.elapsed() >= SCAN_EVERY);
        if !(just_finished || busy && due) {
            return;
        }
        self.finished_gen = finished;
        self.last_scan = Some(Instant::now());
        let Some(folder) = folder else { return };
        self.announcer.watch(&self.spool, &folder, restoring);
        for rel in self.announcer.scan(&self.spool) {
            if let Some(h) = self.files.handle_at(self.storage, &rel) {
                self.events
                    .push_back(ProviderEvent::with(EventCode::ObjectAdded, h.0));
            }
        }
    }

    /// Returns the object's path below the spool and its final size if it is a unit the
    /// engine is still writing (`None` as size once it was abandoned).
    fn growing(&self, h: ObjectHandle) -> Option<(PathBuf, Option<u64>)> {
        let path = self.path_of(h)?;
        let state = *self.shared.lock().growing.get(&path)?;
        Some(match state {
            Growing::Open(size) => (path, Some(size)),
            Growing::Abandoned => (path, None),
        })
    }

    fn text_of(&self, g: Generated) -> &Published {
        match g {
            Generated::Readme => &self.readme,
            Generated::Owners => &self.owners.1,
            Generated::Status => &self.status.1,
        }
    }

    fn generated(&self, h: ObjectHandle) -> Option<Generated> {
        Generated::of(h, self.id)
    }

    /// Returns the object's path below the spool.
    fn path_of(&self, h: ObjectHandle) -> Option<PathBuf> {
        self.files.path_of(h).map(|(_, p)| p)
    }

    /// Refuses changes to generated files, to `requests/` itself and to folders the
    /// running session uses.
    fn guard_object(&self, h: ObjectHandle) -> ProviderResult<()> {
        if self.generated(h).is_some() {
            return Err(ResponseCode::ObjectWriteProtected);
        }
        match self.path_of(h) {
            Some(p) if p == Path::new(REQUESTS_DIR) => Err(ResponseCode::ObjectWriteProtected),
            Some(p) => self.guard_path(&p),
            None => Ok(()),
        }
    }

    /// Refuses a destination inside a folder the running session uses.
    fn guard_placement(&self, at: Placement) -> ProviderResult<()> {
        match at.parent {
            Some(p) if self.generated(p).is_some() => Err(ResponseCode::InvalidParentObject),
            Some(p) => self
                .path_of(p)
                .map_or(Ok(()), |path| self.guard_path(&path)),
            None => Ok(()),
        }
    }

    fn guard_path(&self, path: &Path) -> ProviderResult<()> {
        let Some(top) = path.components().next() else {
            return Ok(());
        };
        let top = top.as_os_str().to_string_lossy();
        let s = self.shared.lock();
        if s.busy && s.in_use.contains(top.as_ref()) {
            return Err(ResponseCode::DeviceBusy);
        }
        Ok(())
    }

    /// Returns true for a name that may not be created or renamed to in the root.
    fn reserved_root_name(name: &str) -> bool {
        Generated::named(name).is_some() || name == REQUESTS_DIR
    }
}

fn published(text: String, modified: i64) -> Published {
    Published {
        text: text.into(),
        modified,
    }
}

impl DataProvider for BackupProvider {
    fn name(&self) -> &str {
        "backup"
    }

    fn attach(&mut self, id: ProviderId) {
        self.id = id;
        self.files.attach(id);
    }

    fn capabilities(&self) -> Capabilities {
        use OperationCode as Op;
        // What the files provider offers, less in-place edits: a set's files change only
        // as whole uploads (so a unit is never half rewritten).
        let mut caps = self.files.capabilities();
        caps.operations.retain(|op| {
            !matches!(
                op,
                Op::BeginEditObject
                    | Op::EndEditObject
                    | Op::SendPartialObject
                    | Op::TruncateObject
            )
        });
        caps
    }

    fn storage_ids(&self) -> Vec<StorageId> {
        vec![self.storage]
    }

    fn storage_info(&mut self, storage: StorageId) -> ProviderResult<StorageInfo> {
        self.files.storage_info(storage)
    }

    fn object_handles(
        &mut self,
        storage: StorageId,
        format: Option<ObjectFormat>,
        parent: ParentFilter,
    ) -> ProviderResult<Vec<ObjectHandle>> {
        self.publish();
        let mut handles = Vec::new();
        let in_root = matches!(parent, ParentFilter::All | ParentFilter::Root);
        if storage == self.storage && in_root && format.is_none_or(|f| f == ObjectFormat::Text) {
            handles.extend(Generated::ALL.iter().map(|g| g.handle(self.id)));
        }
        handles.extend(self.files.object_handles(storage, format, parent)?);
        Ok(handles)
    }

    fn object(&mut self, handle: ObjectHandle) -> ProviderResult<ObjectRecord> {
        self.publish();
        if let Some(g) = self.generated(handle) {
            return Ok(record(g, self.id, self.storage, self.text_of(g)));
        }
        let mut rec = self.files.object(handle)?;
        if let Some((_, Some(size))) = self.growing(handle) {
            // Listed with the size it will have: the host may copy it as it grows.
            rec.size = size;
        }
        Ok(rec)
    }

    fn open_read(
        &mut self,
        handle: ObjectHandle,
        offset: u64,
        max_len: u64,
    ) -> ProviderResult<Box<dyn ObjectSource>> {
        self.publish();
        match self.generated(handle) {
            Some(g) => Ok(Box::new(TextSource::new(
                &self.text_of(g).text,
                offset,
                max_len,
            )?)),
            None => match self.growing(handle) {
                Some((rel, Some(size))) => Ok(Box::new(GrowingSource::open(
                    &self.spool,
                    &rel,
                    self.shared.clone(),
                    size,
                    offset,
                    max_len,
                )?)),
                Some((_, None)) => Err(ResponseCode::InvalidObjectHandle),
                None => self.files.open_read(handle, offset, max_len),
            },
        }
    }

    fn send_object_info(
        &mut self,
        at: Placement,
        info: &ObjectInfo,
        size: Option<u64>,
    ) -> ProviderResult<ObjectHandle> {
        self.pending_request = None;
        self.guard_placement(at)?;
        let folder = info.format == ObjectFormat::Association.to_u16();
        let in_requests = match at.parent {
            None => true,
            Some(p) => self
                .path_of(p)
                .is_some_and(|p| p == Path::new(REQUESTS_DIR)),
        };
        if at.parent.is_none() && Self::reserved_root_name(&info.filename) {
            return Err(ResponseCode::AccessDenied);
        }
        let request = RequestKind::of(&info.filename).filter(|_| in_requests && !folder);
        if let (Some(_), Some(running)) = (request, self.intake.busy()) {
            tracing::warn!(%running, "request refused: a session is running");
            return Err(ResponseCode::DeviceBusy);
        }
        let handle = self.files.send_object_info(at, info, size)?;
        self.pending_request = request.map(|kind| (handle, kind));
        Ok(handle)
    }

    fn send_object(&mut self, handle: ObjectHandle) -> ProviderResult<Box<dyn ObjectSink>> {
        let sink = self.files.send_object(handle)?;
        match self.pending_request.take() {
            Some((h, kind)) if h == handle => Ok(Box::new(RequestSink::new(
                sink,
                kind,
                self.intake.clone(),
                self.now,
            ))),
            _ => Ok(sink),
        }
    }

    fn delete_object(&mut self, handle: ObjectHandle) -> ProviderResult<()> {
        self.guard_object(handle)?;
        self.files.delete_object(handle)
    }

    fn move_object(&mut self, handle: ObjectHandle, to: Placement) -> ProviderResult<()> {
        self.guard_object(handle)?;
        self.guard_placement(to)?;
        if to.parent.is_none() {
            let name = self.files.object(handle)?.name;
            if Self::reserved_root_name(&name) {
                return Err(ResponseCode::AccessDenied);
            }
        }
        self.files.move_object(handle, to)
    }

    fn copy_object(&mut self, handle: ObjectHandle, to: Placement) -> ProviderResult<ObjectHandle> {
        if self.generated(handle).is_some() {
            return Err(ResponseCode::AccessDenied);
        }
        self.guard_placement(to)?;
        self.files.copy_object(handle, to)
    }

    fn set_object_prop(
        &mut self,
        handle: ObjectHandle,
        prop: ObjectPropCode,
        value: &PropValue,
    ) -> ProviderResult<()> {
        self.guard_object(handle).map_err(|code| match code {
            ResponseCode::ObjectWriteProtected => ResponseCode::AccessDenied,
            other => other,
        })?;
        let in_root = self.files.object(handle)?.parent.is_none();
        if let (true, PropValue::Str(name)) = (in_root, value) {
            if Self::reserved_root_name(name) {
                return Err(ResponseCode::InvalidObjectPropValue);
            }
        }
        self.files.set_object_prop(handle, prop, value)
    }

    fn poll_event(&mut self) -> Option<ProviderEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        if let Some(e) = self.files.poll_event() {
            return Some(e);
        }
        self.publish();
        self.announce();
        self.events.pop_front()
    }

    fn on_session_open(&mut self) {
        self.files.on_session_open();
    }

    fn on_session_close(&mut self) {
        self.pending_request = None;
        self.files.on_session_close();
    }
}
