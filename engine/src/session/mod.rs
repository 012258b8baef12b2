//! Backup and restore sessions over a spool.

mod backup;
mod engine;
pub mod plan;
mod restore;
pub mod sequence;
mod size;

#[cfg(test)]
mod tests;

pub use engine::{
    BackupRequest, Engine, EngineConfig, OwnerRestoreResult, RestoreReport, RestoreRequest,
    SessionError,
};
pub use size::SizeError;
