//! Passive data: file selection in a cage, snapshots and increments, the passive stream,
//! capture and atomic restore.

pub mod archive;
mod capture;
mod restore;
mod select;
mod snapshot;

#[cfg(test)]
mod tests;

pub use capture::{CaptureError, Captured, capture_base, capture_increment, mtime_ns};
pub(crate) use capture::{CopyError, copy_exact};
pub use restore::{CageRecord, PassiveRestore, RestoreError, StagedCage, finish_commit};
pub use select::{Selected, is_selected, select, select_files, select_with};
pub use snapshot::{Changes, FileMeta, Snapshot, SnapshotError, diff};
