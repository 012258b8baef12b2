//! Progress of a running session, reported to whoever drives the engine (the Backup
//! storage turns it into `status.toml`).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::registration::Sid;

/// A step of a running session.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// The sets a restore or an incremental backup builds on are being verified.
    Verifying,
    /// Owners are being captured or restored; `owners` of them in all. `bytes`: for a
    /// restore the unit bytes it will read; for a backup the expected size of the data
    /// the engine copies itself (passive files, databases, public files), measured
    /// before the capture; active data is counted as it is written.
    Started {
        /// Owners in the session.
        owners: u32,
        /// Unit bytes to restore, or the expected size of a backup.
        bytes: u64,
    },
    /// Unit bytes written since the last report, while an owner is captured (reported
    /// every MiB and when a unit is complete; an owner's final figure is in its
    /// [`ProgressEvent::OwnerDone`]).
    Written {
        /// Bytes written.
        bytes: u64,
    },
    /// One owner is finished (captured or restored, or failed).
    OwnerDone {
        /// The owner.
        sid: Sid,
        /// Whether it succeeded.
        ok: bool,
        /// Unit bytes written (backup) or read (restore) for it.
        bytes: u64,
    },
    /// The folder of a new backup set was created (empty).
    SetCreated {
        /// The set's folder.
        path: PathBuf,
    },
    /// A file of a set is complete, synced and under its final name: a unit that was not
    /// announced by [`ProgressEvent::UnitOpened`], the manifest, a restore's result.
    FileWritten {
        /// The file.
        path: PathBuf,
    },
    /// A unit file whose exact final size is known is being written under its final
    /// name: it may be read while it grows, up to its current length (uncompressed units
    /// of files the engine copies itself; the others appear only complete).
    UnitOpened {
        /// The unit file.
        path: PathBuf,
        /// Its size once complete.
        size: u64,
    },
    /// A unit announced by [`ProgressEvent::UnitOpened`] is complete and synced (`ok`),
    /// or was abandoned and removed.
    UnitClosed {
        /// The unit file.
        path: PathBuf,
        /// True if complete.
        ok: bool,
    },
}

/// A callback receiving [`ProgressEvent`]s; it runs on the engine's task and must not
/// block.
#[derive(Clone)]
pub struct Progress(Arc<dyn Fn(ProgressEvent) + Send + Sync>);

impl Progress {
    /// Wraps a callback.
    pub fn new(f: impl Fn(ProgressEvent) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    /// Reports one event.
    pub(crate) fn report(&self, event: ProgressEvent) {
        (self.0)(event);
    }
}

impl fmt::Debug for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Progress(..)")
    }
}
