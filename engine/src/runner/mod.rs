//! I/O shell: the [`Engine`] object that runs backup and restore sessions over a spool,
//! and serves the per-unit client calls of a backup server (`units`: request and supply
//! data unit by unit), driving owners through the IPC server and applying the rules of
//! [`crate::session`].

//!
//! Modules, each importing only those above it in this list: `request` (configuration,
//! requests, reports, errors), `units::state`, `engine` (the object), `owner_calls`,
//! `kinds`, `preflight`, then the methods: `backup`, `restore`, `size`, `units::api`.

mod backup;
mod engine;
mod kinds;
mod owner_calls;
mod preflight;
mod request;
mod restore;
mod size;
mod units;

pub use crate::progress::{Progress, ProgressEvent};
pub use engine::{DELAYED_READY_FACTOR, Engine};
pub use request::{
    BackupRequest, EngineConfig, OwnerRestoreResult, RestoreReport, RestoreRequest, SessionError,
};
pub use restore::RESTORE_RESULT_FILE;
pub use size::SizeError;
pub use units::{Chunk, MAX_CHUNK, Supplied, UnitError, UnitStream};
