//! I/O shell: the [`Engine`] object that runs backup and restore sessions over a spool,
//! and serves the per-unit client calls of a backup server (`units`: request and supply
//! data unit by unit), driving owners through the IPC server and applying the rules of
//! [`crate::session`].

mod backup;
mod engine;
mod preflight;
mod progress;
mod restore;
mod size;
mod units;

pub use engine::{
    BackupRequest, Engine, EngineConfig, OwnerRestoreResult, RestoreReport, RestoreRequest,
    SessionError,
};
pub use progress::{Progress, ProgressEvent};
pub use restore::RESTORE_RESULT_FILE;
pub use size::SizeError;
pub use units::{Chunk, MAX_CHUNK, Supplied, UnitError, UnitStream};
