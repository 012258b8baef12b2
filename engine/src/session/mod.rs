//! Backup and restore sessions over a spool.

mod backup;
mod engine;
pub mod plan;
mod restore;

#[cfg(test)]
mod tests;

pub use engine::{
    BackupRequest, Engine, EngineConfig, OwnerRestoreResult, RestoreReport, RestoreRequest,
    SessionError,
};
