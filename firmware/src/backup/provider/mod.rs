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
//! - announcements: every folder and file a session writes is announced with ObjectAdded
//!   as the engine reports it (a unit read while it grows as soon as it is opened);
//! - protection: the folders a running session reads or writes cannot be changed
//!   (DeviceBusy) until it ends;
//! - consent: under `access = "consent"`, while the device's user has not allowed it,
//!   the host sees only `README.txt` and `status.toml` (which says `access = "consent
//!   required"`) and everything else is refused with AccessDenied; when access starts
//!   or ends the host hears StorageInfoChanged.
//!
//! What a session changes is owned by [`Session`]; the provider drains its news channel
//! at every call ([`BackupProvider::pump`]) and turns its outputs into MTP events.

mod growing;
mod hidden;
mod request_sink;
mod virtual_files;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use mtp::codec::dataset::{ObjectInfo, StorageInfo};
use mtp::codec::value::PropValue;
use mtp::codec::{EventCode, ObjectFormat, ObjectPropCode, OperationCode, ResponseCode};
use mtp::provider::{
    Capabilities, DataProvider, ObjectHandle, ObjectRecord, ObjectSink, ObjectSource, ParentFilter,
    Placement, ProviderEvent, ProviderId, ProviderResult, StorageId,
};
use mtp::providers::{FilesProvider, StorageConfig};

use growing::GrowingSource;
use hidden::is_hidden;
use request_sink::RequestSink;
use virtual_files::{Generated, Published, TextSource, record};

use super::access::Policy;
use super::intake::{Intake, REQUESTS_DIR, RequestKind};
use super::readme::README_TEXT;
use super::session::{GrowingUnit, News, Output, Session, UnitState};
use super::status::Status;

/// Returns the current Unix time in seconds, from the kernel's coarse clock.
///
/// The driver asks for it at every turn of its loop (`pump`, through `poll_event`), several
/// times per transaction. The coarse clock is read from the vDSO page on every clock
/// source; `SystemTime::now` falls back to a system call where the clock source has no
/// vDSO reader (the emulated board's HPET, docs/BENCHMARKS.md "One libmtp transaction on
/// the wire"). Its few milliseconds of lag do not matter to times kept in seconds.
pub fn unix_now() -> i64 {
    rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse).tv_sec
}

/// The Backup storage provider (see the module documentation).
pub struct BackupProvider {
    id: ProviderId,
    storage: StorageId,
    spool: PathBuf,
    files: FilesProvider,
    intake: Intake,
    session: Session,
    news: Receiver<News>,
    readme: Published,
    owners: Published,
    status: Published,
    /// Growing units reported before their final name exists (see [`Self::announce`]).
    deferred: Vec<PathBuf>,
    /// Whether the host was allowed at the last look (to announce a change).
    was_allowed: bool,
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
    /// directory, which is created with `requests/` if missing. `news` is the receiving
    /// end of the channel the engine thread and the intake tell the session through.
    ///
    /// # Errors
    /// The spool or `requests/` cannot be created.
    pub fn new(
        storage: StorageId,
        spool: &Path,
        intake: Intake,
        news: Receiver<News>,
        policy: Policy,
    ) -> std::io::Result<Self> {
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
        let now = unix_now();
        // The engine reports paths as it was configured; listings use the real spool.
        let session = Session::new(spool.to_owned(), policy);
        let mut provider = Self {
            id: ProviderId(0),
            storage,
            spool: spool.canonicalize()?,
            files,
            intake,
            session,
            news,
            readme: Published {
                text: bytes::Bytes::from_static(README_TEXT.as_bytes()),
                modified: now,
            },
            owners: Published::default(),
            status: Published::default(),
            deferred: Vec::new(),
            was_allowed: policy == Policy::Open,
            pending_request: None,
            events: VecDeque::new(),
            now: unix_now,
        };
        // What the engine said while starting is the first state, not a change.
        provider.pump();
        provider.events.clear();
        provider.status = published(provider.status_text(now), now);
        provider.owners = published(provider.session.owners_text().to_owned(), now);
        Ok(provider)
    }

    /// Takes in the session's news and turns what the host must hear into events.
    fn pump(&mut self) {
        while let Ok(news) = self.news.try_recv() {
            self.session.handle(news);
        }
        let now = (self.now)();
        for rel in std::mem::take(&mut self.deferred) {
            self.announce(rel);
        }
        while let Some(out) = self.session.poll_output() {
            match out {
                Output::Added(rel) => self.announce(rel),
                Output::StatusChanged => {
                    self.status = published(self.status_text(now), now);
                    self.queue(EventCode::ObjectInfoChanged, Generated::Status);
                }
                Output::OwnersChanged => {
                    self.owners = published(self.session.owners_text().to_owned(), now);
                    self.queue(EventCode::ObjectInfoChanged, Generated::Owners);
                }
            }
        }
        let allowed = self.session.allowed(now);
        if allowed != self.was_allowed {
            tracing::info!(allowed, "access to the Backup storage changed");
            self.was_allowed = allowed;
            self.status = published(self.status_text(now), now);
            self.queue(EventCode::ObjectInfoChanged, Generated::Status);
            self.events.push_back(ProviderEvent::with(
                EventCode::StorageInfoChanged,
                self.storage.0,
            ));
        }
    }

    /// `status.toml`'s text at `now`: the whole status with the access state while a
    /// host is allowed, only the state and "consent required" otherwise.
    fn status_text(&self, now: i64) -> String {
        let access = self.session.access();
        let described = Some(access.describe(now).to_owned());
        if !access.allowed(now) {
            let locked = Status {
                state: self.session.status().state,
                access: described,
                ..Status::default()
            };
            return locked.to_toml();
        }
        let status = Status {
            access: described,
            access_until: access.until(now).map(super::naming::rfc3339),
            encryption: Some(
                if self.session.encrypted() {
                    "on"
                } else {
                    "off"
                }
                .into(),
            ),
            ..self.session.status().clone()
        };
        status.to_toml()
    }

    /// Refuses everything but `README.txt` and `status.toml` while no host is allowed.
    fn guard_access(&self) -> ProviderResult<()> {
        if self.session.allowed((self.now)()) {
            Ok(())
        } else {
            Err(ResponseCode::AccessDenied)
        }
    }

    /// True for the generated files shown while access needs consent.
    fn public_while_locked(g: Generated) -> bool {
        matches!(g, Generated::Readme | Generated::Status)
    }

    /// Queues ObjectAdded for `rel`. A growing unit is reported just before the engine
    /// renames it to its final name (so no listing sees it unsized): until the name
    /// exists, its announcement waits.
    fn announce(&mut self, rel: PathBuf) {
        if !self.was_allowed {
            return; // a host that may not look hears nothing of the sets
        }
        match self.files.handle_at(self.storage, &rel) {
            Some(h) => self
                .events
                .push_back(ProviderEvent::with(EventCode::ObjectAdded, h.0)),
            None if self
                .session
                .growing(&rel)
                .is_some_and(|u| u.cell.get() == UnitState::Open) =>
            {
                self.deferred.push(rel);
            }
            None => tracing::debug!(path = %rel.display(), "gone before it was announced"),
        }
    }

    fn queue(&mut self, code: EventCode, g: Generated) {
        self.events
            .push_back(ProviderEvent::with(code, g.handle(self.id).0));
    }

    /// Returns the object's path below the spool and the unit if the engine writes it
    /// under its final name.
    fn growing(&self, h: ObjectHandle) -> Option<(PathBuf, GrowingUnit)> {
        let path = self.path_of(h)?;
        let unit = self.session.growing(&path)?.clone();
        Some((path, unit))
    }

    fn text_of(&self, g: Generated) -> &Published {
        match g {
            Generated::Readme => &self.readme,
            Generated::Owners => &self.owners,
            Generated::Status => &self.status,
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
        if self.session.locks(path) {
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
        self.pump();
        let allowed = self.was_allowed;
        let mut handles = Vec::new();
        let in_root = matches!(parent, ParentFilter::All | ParentFilter::Root);
        if storage == self.storage && in_root && format.is_none_or(|f| f == ObjectFormat::Text) {
            let shown = Generated::ALL
                .iter()
                .filter(|g| allowed || Self::public_while_locked(**g));
            handles.extend(shown.map(|g| g.handle(self.id)));
        }
        if allowed {
            handles.extend(self.files.object_handles(storage, format, parent)?);
        }
        Ok(handles)
    }

    fn object(&mut self, handle: ObjectHandle) -> ProviderResult<ObjectRecord> {
        self.pump();
        if let Some(g) = self.generated(handle) {
            if !Self::public_while_locked(g) {
                self.guard_access()?;
            }
            return Ok(record(g, self.id, self.storage, self.text_of(g)));
        }
        self.guard_access()?;
        let mut rec = self.files.object(handle)?;
        if let Some((_, unit)) = self.growing(handle) {
            // Listed with the size it will have: the host may copy it as it grows.
            rec.size = unit.size;
        }
        Ok(rec)
    }

    fn open_read(
        &mut self,
        handle: ObjectHandle,
        offset: u64,
        max_len: u64,
    ) -> ProviderResult<Box<dyn ObjectSource>> {
        self.pump();
        if !self
            .generated(handle)
            .is_some_and(Self::public_while_locked)
        {
            self.guard_access()?;
        }
        match self.generated(handle) {
            Some(g) => Ok(Box::new(TextSource::new(
                &self.text_of(g).text,
                offset,
                max_len,
            )?)),
            None => match self.growing(handle) {
                Some((_, unit)) if unit.cell.get() == UnitState::Abandoned => {
                    Err(ResponseCode::InvalidObjectHandle)
                }
                Some((rel, unit)) => Ok(Box::new(GrowingSource::open(
                    &self.spool,
                    &rel,
                    unit,
                    offset,
                    max_len,
                )?)),
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
        self.pump();
        self.guard_access()?;
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
        if is_hidden(std::ffi::OsStr::new(&info.filename)) {
            // Hidden names are the engine's (journals, scratch, temporary files): a host
            // that could place one could forge what the next start recovers.
            tracing::warn!(name = %info.filename, "upload of a hidden name refused");
            return Err(ResponseCode::AccessDenied);
        }
        let request = RequestKind::of(&info.filename).filter(|_| in_requests && !folder);
        if let (Some(_), Some(running)) = (request, self.session.running()) {
            tracing::warn!(%running, "request refused: a session is running");
            return Err(ResponseCode::DeviceBusy);
        }
        let handle = self.files.send_object_info(at, info, size)?;
        self.pending_request = request.map(|kind| (handle, kind));
        Ok(handle)
    }

    fn send_object(&mut self, handle: ObjectHandle) -> ProviderResult<Box<dyn ObjectSink>> {
        self.guard_access()?;
        let sink = self.files.send_object(handle)?;
        match self.pending_request.take() {
            Some((h, kind)) if h == handle => Ok(Box::new(RequestSink::new(
                sink,
                kind,
                self.intake.clone(),
                self.session.registered().clone(),
                self.now,
            ))),
            _ => Ok(sink),
        }
    }

    fn delete_object(&mut self, handle: ObjectHandle) -> ProviderResult<()> {
        self.pump();
        self.guard_access()?;
        self.guard_object(handle)?;
        self.files.delete_object(handle)
    }

    fn move_object(&mut self, handle: ObjectHandle, to: Placement) -> ProviderResult<()> {
        self.pump();
        self.guard_access()?;
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
        self.pump();
        self.guard_access()?;
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
        self.pump();
        self.guard_access()?;
        self.guard_object(handle).map_err(|code| match code {
            ResponseCode::ObjectWriteProtected => ResponseCode::AccessDenied,
            other => other,
        })?;
        let in_root = self.files.object(handle)?.parent.is_none();
        if let PropValue::Str(name) = value {
            if in_root && Self::reserved_root_name(name) || is_hidden(std::ffi::OsStr::new(name)) {
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
        self.pump();
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
