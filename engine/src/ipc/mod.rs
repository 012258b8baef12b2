//! The data-owner IPC server: peer check, per-owner connections, watchdogs, launcher.

mod conn;
mod peer;
mod server;

pub use conn::{OwnerError, OwnerHandle, OwnerStatus};
pub use peer::{CageInfo, Refusal, check_claim};
pub use server::{IpcConfig, IpcServer};
