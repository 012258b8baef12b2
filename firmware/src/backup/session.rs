//! The Backup storage's session: one sans-IO state machine that owns everything a session
//! changes in what the host sees (the live status, `owners.toml`'s text, who is
//! registered, whether a session runs and which folders it holds, the units being written,
//! what was announced).
//!
//! Its inputs are [`News`]: from the engine thread (owner list, progress, units opened
//! and closed, set created, file written, the end of a session) and from the request
//! intake (a request accepted or refused), all through one channel that the provider
//! drains on the USB thread ([`Session::handle`]). Its outputs ([`Session::poll_output`])
//! are what the host must hear: objects added, `status.toml` or `owners.toml` changed.
//! The provider turns them into MTP events and asks the machine before every change the
//! host makes ([`Session::locks`]).
//!
//! ```text
//!            Accepted                 Progress(..)*              Ended
//!   Idle ─────────────▶ Running ───────────────────▶ Running ─────────────▶ Idle
//!    │ Refused: status failed   (status, announcements)        (status done/failed,
//!    └─▶ Idle                                                   folders released)
//! ```
//!
//! Nothing here touches files, clocks or threads. The one piece of state shared with
//! another object is a [`UnitCell`] per growing unit, which a reading source consults.
#![warn(clippy::disallowed_methods)]

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use engine::registration::Sid;
use engine::runner::ProgressEvent;

use super::access::{Access, Policy};
use super::status::{State, Status};

/// What changes the session (see the module documentation).
#[derive(Debug)]
pub enum News {
    /// The registered owners and `owners.toml`'s text.
    Owners {
        /// The text of `owners.toml`.
        text: String,
        /// The registered owners (requests naming others are refused).
        registered: BTreeSet<Sid>,
    },
    /// A request was accepted and its job handed to the engine.
    Accepted(Claim),
    /// A request was refused, with the reason for `status.toml`.
    Refused(String),
    /// The engine reports progress of the running session.
    Progress(ProgressEvent),
    /// The session ended (or one was found interrupted at start, or the engine died).
    Ended(Outcome),
    /// The device's user allowed hosts until this Unix time (the control socket).
    AllowUntil(i64),
    /// The device's user ended the consent.
    Revoke,
    /// Encryption was turned on (`true`) or off, or found so at start.
    Encryption(bool),
    /// An `encryption.request` was carried out; the words for `status.toml`.
    KeyChanged(String),
}

/// What an accepted request claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The folder the session writes into (a backup's new set; a restore's last set,
    /// which receives `restore-result.toml`).
    pub folder: String,
    /// Every top-level folder the session reads or writes (locked until it ends).
    pub in_use: BTreeSet<String>,
    /// True for a restore.
    pub restoring: bool,
}

/// How a session ended, for `status.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// False if the session failed as a whole.
    pub ok: bool,
    /// What went wrong (with `ok`: which owners failed).
    pub error: Option<String>,
}

impl Outcome {
    /// A failed session with its reason.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self {
            ok: false,
            error: Some(reason.into()),
        }
    }
}

/// What the host must hear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A folder or file appeared (path below the spool).
    Added(PathBuf),
    /// `status.toml` changed.
    StatusChanged,
    /// `owners.toml` changed.
    OwnersChanged,
}

/// A unit the engine writes under its final name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitState {
    /// Being written.
    Open,
    /// Complete and synced: its length is final.
    Complete,
    /// Abandoned (its owner failed) and removed: a read of it fails.
    Abandoned,
}

/// The state of one growing unit, shared by the session (which sets it) and the sources
/// reading the unit (which only look).
#[derive(Debug, Clone)]
pub struct UnitCell(Arc<AtomicU8>);

impl UnitCell {
    fn new() -> Self {
        Self(Arc::new(AtomicU8::new(0)))
    }

    fn set(&self, state: UnitState) {
        let v = match state {
            UnitState::Open => 0,
            UnitState::Complete => 1,
            UnitState::Abandoned => 2,
        };
        self.0.store(v, Ordering::Release);
    }

    /// Returns the unit's state now.
    pub fn get(&self) -> UnitState {
        match self.0.load(Ordering::Acquire) {
            0 => UnitState::Open,
            1 => UnitState::Complete,
            _ => UnitState::Abandoned,
        }
    }
}

/// A unit being written, as the provider serves it.
#[derive(Debug, Clone)]
pub struct GrowingUnit {
    /// Its size once complete.
    pub size: u64,
    /// Its state, for a reading source.
    pub cell: UnitCell,
}

/// The running session.
#[derive(Debug)]
struct Running {
    claim: Claim,
    /// Bytes counted for the owner being captured, replaced by its final figure when it
    /// is done.
    owner_bytes: u64,
}

/// The Backup storage's session state (see the module documentation).
#[derive(Debug)]
pub struct Session {
    spool: PathBuf,
    access: Access,
    encrypted: bool,
    status: Status,
    owners_text: String,
    registered: BTreeSet<Sid>,
    running: Option<Running>,
    /// Paths below the spool the host knows of from this session (never announced twice).
    announced: HashSet<PathBuf>,
    growing: HashMap<PathBuf, GrowingUnit>,
    added: VecDeque<PathBuf>,
    status_changed: bool,
    owners_changed: bool,
}

impl Session {
    /// A session machine for sets below `spool` (engine paths are made relative to it),
    /// under the access `policy`.
    pub fn new(spool: PathBuf, policy: Policy) -> Self {
        Self {
            spool,
            access: Access::new(policy),
            encrypted: false,
            status: Status::default(),
            owners_text: String::new(),
            registered: BTreeSet::new(),
            running: None,
            announced: HashSet::new(),
            growing: HashMap::new(),
            added: VecDeque::new(),
            status_changed: false,
            owners_changed: false,
        }
    }

    /// Takes in one piece of news.
    pub fn handle(&mut self, news: News) {
        match news {
            News::Owners { text, registered } => {
                if text != self.owners_text {
                    self.owners_text = text;
                    self.owners_changed = true;
                }
                self.registered = registered;
            }
            News::Accepted(claim) => self.accept(claim),
            News::Refused(reason) => self.refuse(reason),
            News::Progress(event) => self.progress(event),
            News::Ended(outcome) => self.end(outcome),
            News::AllowUntil(until) => self.access.allow_until(until),
            News::Revoke => self.access.revoke(),
            News::Encryption(on) => {
                self.encrypted = on;
                self.status_changed = true;
            }
            News::KeyChanged(what) => {
                if self.running.is_none() {
                    self.set_status(|s| {
                        *s = Status {
                            state: State::Done,
                            last_error: None,
                            ..Status::default()
                        };
                    });
                    tracing::info!(%what, "backup password");
                }
            }
        }
    }

    /// Whether new sets are encrypted.
    pub fn encrypted(&self) -> bool {
        self.encrypted
    }

    /// Whether a host may use the storage (beyond `README.txt` and `status.toml`) at
    /// `now` (Unix seconds).
    pub fn allowed(&self, now: i64) -> bool {
        self.access.allowed(now)
    }

    /// The access state, for `status.toml`.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Returns the next thing the host must hear: objects added first, then changed
    /// texts (so a host that reads "done" has heard of every file).
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(path) = self.added.pop_front() {
            return Some(Output::Added(path));
        }
        if std::mem::take(&mut self.status_changed) {
            return Some(Output::StatusChanged);
        }
        if std::mem::take(&mut self.owners_changed) {
            return Some(Output::OwnersChanged);
        }
        None
    }

    /// `status.toml`'s model.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// `owners.toml`'s text.
    pub fn owners_text(&self) -> &str {
        &self.owners_text
    }

    /// The registered owners.
    pub fn registered(&self) -> &BTreeSet<Sid> {
        &self.registered
    }

    /// The folder of the running session, if one runs.
    pub fn running(&self) -> Option<&str> {
        self.running.as_ref().map(|r| r.claim.folder.as_str())
    }

    /// True if a change below `path` (below the spool) must wait: its top-level folder
    /// is in use by the running session.
    pub fn locks(&self, path: &Path) -> bool {
        let (Some(running), Some(top)) = (&self.running, path.components().next()) else {
            return false;
        };
        let top = top.as_os_str().to_string_lossy();
        running.claim.in_use.contains(top.as_ref())
    }

    /// The unit at `path` (below the spool) if the engine writes it under its final name
    /// (or abandoned it in this session).
    pub fn growing(&self, path: &Path) -> Option<&GrowingUnit> {
        self.growing.get(path)
    }

    fn set_status(&mut self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status);
        self.status_changed = true;
    }

    fn accept(&mut self, claim: Claim) {
        if let Some(r) = &self.running {
            // The intake checks first; a second claim would be a bug.
            tracing::error!(running = %r.claim.folder, "second session claimed; ignored");
            return;
        }
        self.growing.clear();
        self.announced.clear();
        if claim.restoring {
            // The sets a restore reads are known to the host already.
            self.announced
                .extend(claim.in_use.iter().map(PathBuf::from));
        }
        let state = if claim.restoring {
            State::Verifying
        } else {
            State::Capturing
        };
        let session = claim.folder.clone();
        self.set_status(|st| {
            *st = Status {
                state,
                session: Some(session),
                ..Status::default()
            };
        });
        self.running = Some(Running {
            claim,
            owner_bytes: 0,
        });
    }

    /// Records a refused request: state `failed` with the reason, unless a session runs
    /// (its status stays as it is).
    fn refuse(&mut self, reason: String) {
        if self.running.is_some() {
            return;
        }
        self.set_status(|s| {
            *s = Status {
                state: State::Failed,
                session: None,
                last_error: Some(reason),
                ..Status::default()
            };
        });
    }

    fn progress(&mut self, event: ProgressEvent) {
        let restoring = self.running.as_ref().is_some_and(|r| r.claim.restoring);
        match event {
            ProgressEvent::Verifying => self.set_status(|st| st.state = State::Verifying),
            ProgressEvent::Started { owners, bytes } => self.set_status(|st| {
                st.state = if restoring {
                    State::Restoring
                } else {
                    State::Capturing
                };
                st.owners_total = owners;
                st.bytes_total = bytes;
            }),
            ProgressEvent::Written { bytes } => {
                if let Some(r) = self.running.as_mut() {
                    r.owner_bytes = r.owner_bytes.saturating_add(bytes);
                }
                self.set_status(|st| {
                    st.bytes_done = st.bytes_done.saturating_add(bytes);
                    // The total is an estimate: active data is counted as it comes.
                    st.bytes_total = st.bytes_total.max(st.bytes_done);
                });
            }
            ProgressEvent::OwnerDone { bytes, .. } => {
                let counted = self
                    .running
                    .as_mut()
                    .map_or(0, |r| std::mem::take(&mut r.owner_bytes));
                self.set_status(|st| {
                    st.owners_done += 1;
                    st.bytes_done = st.bytes_done.saturating_sub(counted).saturating_add(bytes);
                    if !restoring {
                        st.bytes_total = st.bytes_total.max(st.bytes_done);
                    }
                });
            }
            ProgressEvent::SetCreated { path } | ProgressEvent::FileWritten { path } => {
                self.announce(&path);
            }
            ProgressEvent::UnitOpened { path, size } => {
                if let Some(rel) = self.below_spool(&path) {
                    let unit = GrowingUnit {
                        size,
                        cell: UnitCell::new(),
                    };
                    self.growing.insert(rel, unit);
                }
                // Listed at once with its final size: the host may copy it as it grows.
                self.announce(&path);
            }
            ProgressEvent::UnitClosed { path, ok } => self.close_unit(&path, ok),
            _ => {}
        }
    }

    fn close_unit(&mut self, path: &Path, ok: bool) {
        let Some(rel) = self.below_spool(path) else {
            return;
        };
        if ok {
            if let Some(unit) = self.growing.remove(&rel) {
                unit.cell.set(UnitState::Complete);
            }
        } else if let Some(unit) = self.growing.get(&rel) {
            unit.cell.set(UnitState::Abandoned);
        }
    }

    /// Queues `path` and each of its parents inside the session's folder that the host
    /// has not heard of, parents first.
    fn announce(&mut self, path: &Path) {
        let Some(rel) = self.below_spool(path) else {
            return;
        };
        let mut new = Vec::new();
        let mut at = Some(rel.as_path());
        while let Some(p) = at.filter(|p| !p.as_os_str().is_empty()) {
            if !self.announced.insert(p.to_owned()) {
                break;
            }
            new.push(p.to_owned());
            at = p.parent();
        }
        self.added.extend(new.into_iter().rev());
    }

    fn below_spool(&self, path: &Path) -> Option<PathBuf> {
        path.strip_prefix(&self.spool)
            .ok()
            .filter(|rel| !rel.as_os_str().is_empty())
            .map(Path::to_owned)
    }

    fn end(&mut self, outcome: Outcome) {
        let backup = self.running.as_ref().is_some_and(|r| !r.claim.restoring);
        self.set_status(|st| {
            st.state = if outcome.ok {
                State::Done
            } else {
                State::Failed
            };
            // A finished backup's total is what it wrote (the start's was an estimate).
            if outcome.ok && (backup || st.bytes_total < st.bytes_done) {
                st.bytes_total = st.bytes_done;
            }
            st.last_error = outcome.error;
        });
        // Units still open when the session ends were abandoned.
        for unit in self.growing.values() {
            if unit.cell.get() == UnitState::Open {
                unit.cell.set(UnitState::Abandoned);
            }
        }
        self.running = None;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
