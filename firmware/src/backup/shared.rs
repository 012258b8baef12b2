//! What the engine thread and the Backup storage provider share: the live status, the
//! text of `owners.toml`, who is registered, whether a session runs and which folder it
//! writes.
//!
//! Each text carries a generation number; the provider compares it with the one it last
//! announced and raises ObjectInfoChanged when it moved.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use engine::registration::Sid;

use super::status::{State, Status};

/// The shared state (behind [`SharedState`]).
#[derive(Debug, Default)]
pub struct Shared {
    /// `status.toml`'s model.
    pub status: Status,
    /// Bumped whenever `status` changes.
    pub status_gen: u64,
    /// `owners.toml`'s text.
    pub owners_text: String,
    /// Bumped whenever `owners_text` changes.
    pub owners_gen: u64,
    /// The registered owners (requests naming others are refused).
    pub registered: BTreeSet<Sid>,
    /// True from the moment a request is accepted until its session has ended.
    pub busy: bool,
    /// True while the session is a restore.
    pub restoring: bool,
    /// The folder the current or last session writes into (the new set of a backup,
    /// the last set of a restore chain, which receives `restore-result.toml`).
    pub folder: Option<String>,
    /// Every folder the running session reads or writes (the host may not change them
    /// until it ends).
    pub in_use: BTreeSet<String>,
    /// Bumped when a session ends, so the provider announces what it wrote last.
    pub finished_gen: u64,
    /// Unit files being written under their final names (paths below the spool), which
    /// the host may read while they grow.
    pub growing: HashMap<PathBuf, Growing>,
}

/// A unit file the engine writes under its final name (see [`Shared::growing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growing {
    /// Being written; this is its size once complete.
    Open(u64),
    /// Abandoned (its owner failed): a read of it fails.
    Abandoned,
}

impl Shared {
    /// Changes the status through `f` and bumps its generation.
    pub fn update_status(&mut self, f: impl FnOnce(&mut Status)) {
        f(&mut self.status);
        self.status_gen += 1;
    }

    /// Records a refused request: state `failed` with the reason, unless a session runs
    /// (its status stays as it is).
    pub fn refuse(&mut self, reason: String) {
        if self.busy {
            return;
        }
        self.update_status(|s| {
            *s = Status {
                state: State::Failed,
                session: None,
                last_error: Some(reason),
                ..Status::default()
            };
        });
    }

    /// Sets `owners.toml`'s text (bumping the generation only when it changed).
    pub fn set_owners(&mut self, text: String, registered: BTreeSet<Sid>) {
        if text != self.owners_text {
            self.owners_text = text;
            self.owners_gen += 1;
        }
        self.registered = registered;
    }
}

/// A handle on the shared state; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SharedState(Arc<Mutex<Shared>>);

impl SharedState {
    /// Locks the state. A panic while it was held cannot leave it inconsistent (every
    /// change is a plain field assignment), so a poisoned lock is used as it is.
    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
