//! What the engine is asked and what it answers: its configuration, the backup and
//! restore requests, the restore report, session errors and the per-owner [`Failure`].

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::ipc::OwnerError;
use crate::manifest::{BackupType, OwnerOutcome};
use crate::mode::BusError;
use crate::passive::{CaptureError, RestoreError};
use crate::registration::{Drive, Sid};
use crate::session::plan::{ChainError, SequenceError};
use crate::spool::{ReadError, SpoolError};

/// How the engine is set up (from the board profile).
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The drives.
    pub drives: Vec<Drive>,
    /// Where backup sets are created.
    pub spool: PathBuf,
    /// The data-owner socket.
    pub socket: PathBuf,
    /// Where `process_name` executables live.
    pub owner_dir: PathBuf,
    /// The BUR state file for scripts (optional).
    pub state_file: Option<PathBuf>,
    /// How long an active owner may take to connect and confirm ready.
    pub ready_timeout: Duration,
    /// The Central Repository SID (`<cenrep_backup/>`).
    pub cenrep: Sid,
    /// What system (package) data a restore may write.
    pub system: crate::system::SystemPolicy,
    /// The group that may connect to the owner socket ([`crate::ipc::IpcConfig`]).
    pub owner_group: Option<u32>,
    /// The backup key (`crypto::Keys`): while this file exists, every set is written
    /// encrypted and only encrypted sets are restored. `None`: encryption is never on.
    pub key_file: Option<PathBuf>,
}

/// A session-level failure (owner failures are per owner, in the manifest or report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The mode could not be changed (for example a session is already running).
    #[error(transparent)]
    Mode(#[from] BusError),
    /// The spool failed.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// A restore set did not verify; nothing was touched.
    #[error("backup set does not verify: {}", .0.join("; "))]
    Verify(Vec<String>),
    /// The restore sets do not form a chain.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The IPC socket could not be bound.
    #[error("cannot bind the owner socket: {0}")]
    Bind(std::io::Error),
    /// The session journal could not be written; nothing was touched.
    #[error("cannot write the session journal: {0}")]
    Journal(std::io::Error),
    /// Encryption: a wrong or missing password, a damaged key, a set that does not
    /// authenticate or is not encrypted while encryption is on; nothing was touched.
    #[error("{0}")]
    Encryption(String),
}

/// What to back up.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    /// The session (and set directory) name.
    pub session: String,
    /// Creation time for the manifest (RFC 3339; the caller owns the clock).
    pub created: String,
    /// `Some(list)` for a partial backup of those SIDs, `None` for every owner.
    pub partial: Option<BTreeSet<Sid>>,
    /// Base or incremental.
    pub backup_type: BackupType,
    /// For an incremental backup: the set whose snapshots to use.
    pub previous: Option<PathBuf>,
    /// Compress units.
    pub compress: bool,
    /// `Some(letters)` to back up only those drives, `None` for every drive.
    pub drives: Option<BTreeSet<char>>,
}

impl BackupRequest {
    /// Returns true if drive `letter` is to be backed up.
    pub fn wants_drive(&self, letter: char) -> bool {
        self.drives.as_ref().is_none_or(|s| s.contains(&letter))
    }
}

/// What to restore.
#[derive(Debug, Clone)]
pub struct RestoreRequest {
    /// The chain: a base set, then its increments oldest first.
    pub sets: Vec<PathBuf>,
    /// `Some(list)` for a partial restore of those SIDs.
    pub partial: Option<BTreeSet<Sid>>,
}

/// One owner's restore result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRestoreResult {
    /// The owner.
    pub sid: Sid,
    /// Restored, or why not.
    pub outcome: OwnerOutcome,
    /// The registration asks for a reboot after restore.
    pub requires_reboot: bool,
    /// Passive files in the set that the current registration does not select.
    pub skipped: Vec<String>,
}

/// The outcome of a restore.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestoreReport {
    /// Per owner, in SID order.
    pub owners: Vec<OwnerRestoreResult>,
}

impl RestoreReport {
    /// Returns the report as TOML (for `restore-result.toml` next to the restored set):
    /// one `[[owners]]` table per owner with `sid`, `outcome` (`ok`/`failed`),
    /// `error_code`/`error` when failed, `requires_reboot` and `skipped` paths.
    pub fn to_toml(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for o in &self.owners {
            let _ = writeln!(out, "[[owners]]\nsid = \"{}\"", o.sid);
            match &o.outcome {
                OwnerOutcome::Ok => out.push_str("outcome = \"ok\"\n"),
                OwnerOutcome::Failed { code, reason } => {
                    let _ = writeln!(
                        out,
                        "outcome = \"failed\"\nerror_code = {code}\nerror = {}",
                        toml_string(reason)
                    );
                }
            }
            let _ = writeln!(out, "requires_reboot = {}", o.requires_reboot);
            let skipped: Vec<String> = o.skipped.iter().map(|p| toml_string(p)).collect();
            let _ = writeln!(out, "skipped = [{}]\n", skipped.join(", "));
        }
        out
    }

    /// Returns true if any successfully restored owner asks for a reboot.
    pub fn requires_reboot(&self) -> bool {
        self.owners
            .iter()
            .any(|o| o.requires_reboot && o.outcome == OwnerOutcome::Ok)
    }
}

/// Quotes a string as a TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Why one owner failed; recorded, the session continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: i32,
    pub(crate) reason: String,
}

impl From<OwnerError> for Failure {
    fn from(e: OwnerError) -> Self {
        Self {
            code: e.code(),
            reason: e.to_string(),
        }
    }
}

macro_rules! failure_from {
    ($($t:ty => $code:expr),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Self { code: $code, reason: e.to_string() }
            }
        }
    )*};
}

failure_from!(SpoolError => -2, CaptureError => -2, RestoreError => -2, ReadError => -20, SequenceError => -20);

impl Failure {
    pub(crate) fn new(code: i32, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    pub(crate) fn outcome(self) -> OwnerOutcome {
        OwnerOutcome::Failed {
            code: self.code,
            reason: self.reason,
        }
    }
}
