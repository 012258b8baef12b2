//! I/O shell: the BUR mode bus (a `tokio::sync::watch` channel plus a state file).
#![allow(
    clippy::disallowed_methods,
    reason = "the state file path comes from the profile (root's), not from an owner"
)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::registration::Sid;

use tokio::sync::watch;

use super::bits::{BurMode, ModeError, Transition, transition};

/// Why a mode change failed; the mode is then unchanged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    /// The rules do not allow the change.
    #[error(transparent)]
    Mode(#[from] ModeError),
    /// The state file could not be replaced.
    #[error("cannot write state file {}: {source}", path.display())]
    StateFile {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What the bus publishes: the mode plus the operation's drives and partial SID list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurState {
    /// The mode.
    pub mode: BurMode,
    /// The drives of the current operation (lower-case letters).
    pub drives: Vec<char>,
    /// The SIDs of a partial operation (empty for full operations and Normal).
    pub partial: BTreeSet<Sid>,
}

impl BurState {
    /// Returns true if the current operation concerns `sid` (Symbian
    /// `DoesPartialBURAffectMe`, with the documented semantics: everyone in a full
    /// operation, the listed owners in a partial one, no one in Normal).
    pub fn affects(&self, sid: Sid) -> bool {
        match self.mode.part() {
            p if p.is_normal() => false,
            p if p.is_partial() => self.partial.contains(&sid),
            _ => true,
        }
    }
}

/// The BUR mode bus: the one place the mode changes.
///
/// Watchers (in-process tasks and the IPC server, which forwards to data owners) get the
/// current mode at subscription and every change. Scripts read the state file, which is
/// replaced atomically (temporary file + rename) before the change is published, so it
/// never shows a mode the engine has not reached and is never half written.
#[derive(Debug)]
pub struct ModeBus {
    tx: watch::Sender<BurState>,
    state_file: Option<PathBuf>,
    /// Makes check, state file and publication one step: two callers can never both
    /// move the device out of Normal.
    change: std::sync::Mutex<()>,
}

impl ModeBus {
    /// Creates the bus in Normal and writes the state file (if any).
    ///
    /// # Errors
    /// [`BusError::StateFile`] if the state file cannot be written.
    pub fn new(state_file: Option<PathBuf>) -> Result<Self, BusError> {
        let state = BurState {
            mode: BurMode::NORMAL,
            drives: Vec::new(),
            partial: BTreeSet::new(),
        };
        let bus = Self {
            tx: watch::Sender::new(state),
            state_file,
            change: std::sync::Mutex::new(()),
        };
        bus.write_state(BurMode::NORMAL)?;
        Ok(bus)
    }

    /// Returns a receiver that sees the current mode and every change.
    pub fn subscribe(&self) -> watch::Receiver<BurState> {
        self.tx.subscribe()
    }

    /// Returns the current mode.
    pub fn current(&self) -> BurMode {
        self.tx.borrow().mode
    }

    /// Returns the current state (mode, drives, partial list).
    pub fn state(&self) -> BurState {
        self.tx.borrow().clone()
    }

    /// Changes the mode if the rules allow it, then writes the state file and publishes.
    ///
    /// # Errors
    /// [`BusError::Mode`] if the change is not allowed, [`BusError::StateFile`] if the
    /// state file cannot be replaced; in both cases nothing is published.
    pub fn set(&self, target: BurMode) -> Result<Transition, BusError> {
        let state = self.state();
        self.set_operation(target, state.drives, state.partial)
    }

    /// Like [`ModeBus::set`], also setting the drives and partial SID list published with
    /// the mode (both are cleared when the mode returns to Normal).
    ///
    /// # Errors
    /// As [`ModeBus::set`].
    pub fn set_operation(
        &self,
        target: BurMode,
        drives: Vec<char>,
        partial: BTreeSet<Sid>,
    ) -> Result<Transition, BusError> {
        let _guard = self
            .change
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let from = self.current();
        let change = transition(from, target)?;
        if change == Transition::Unchanged {
            return Ok(change);
        }
        self.write_state(target)?;
        let state = if target.is_normal() {
            BurState {
                mode: target,
                drives: Vec::new(),
                partial: BTreeSet::new(),
            }
        } else {
            BurState {
                mode: target,
                drives,
                partial,
            }
        };
        self.tx.send_replace(state);
        tracing::info!(%from, to = %target, "bur mode changed");
        Ok(change)
    }

    fn write_state(&self, mode: BurMode) -> Result<(), BusError> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        write_atomically(path, state_text(mode).as_bytes(), 0o644).map_err(|source| {
            BusError::StateFile {
                path: path.clone(),
                source,
            }
        })
    }
}

impl Drop for ModeBus {
    /// Leaves the state file at Normal when the engine stops, so scripts never see a
    /// backup or restore that nobody runs any more (Symbian resets the key on exit).
    fn drop(&mut self) {
        if !self.current().is_normal() {
            if let Err(e) = self.write_state(BurMode::NORMAL) {
                tracing::warn!(error = %e, "cannot reset the state file");
            }
        }
    }
}

/// Returns the state file text: shell-sourceable `key=value` lines.
pub fn state_text(mode: BurMode) -> String {
    format!(
        "BUR_MODE={:#010x}\nBUR_PART={:?}\nBUR_INC={:?}\n",
        mode.bits(),
        mode.part(),
        mode.inc()
    )
}

/// Writes `bytes` to a temporary file next to `path`, syncs it and renames it over `path`
/// (the file is created with `mode`, less the umask).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::os::unix::fs::OpenOptionsExt::mode(
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true),
            mode,
        )
        .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The new name is durable only once the folder is.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
