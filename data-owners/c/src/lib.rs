//! The C interface for data owners: what `data-owners` gives a Rust owner, as a shared
//! and a static library (`libmtpbur_owner.so`, `libmtpbur_owner.a`) with a generated
//! header (`include/mtpbur_owner.h`, made by cbindgen from this crate).
//!
//! An owner written in C fills an [`MtpburCallbacks`] table (Symbian's
//! `MActiveBackupDataClient`: one function pointer per callback, NULL for the default),
//! connects with [`mtpbur_owner_connect_env`] and serves the engine with
//! [`mtpbur_owner_run`], which calls the table on the calling thread, one call at a time.
//! Other threads may confirm readiness ([`mtpbur_owner_confirm_ready`]) and follow the
//! BUR mode ([`mtpbur_mode_watcher_new`]) while it runs. The protocol code is the Rust
//! client's own ([`data_owners::client`]); this crate only translates.
//!
//! The C reference owner (`reference/c-journal.c`) and `docs/data-owners.md` show it in
//! use.
// The crate is an FFI boundary: every function takes raw pointers from C. Each unsafe
// block says what the caller promised (the header documents it for C).
#![allow(unsafe_code)]

mod callbacks;
mod error;
mod handle;
mod mode;
mod watcher;

pub use callbacks::MtpburCallbacks;
pub use error::{mtpbur_last_error, mtpbur_set_error_message};
pub use handle::{
    MtpburOwner, mtpbur_owner_confirm_ready, mtpbur_owner_connect, mtpbur_owner_connect_env,
    mtpbur_owner_free, mtpbur_owner_mode_info, mtpbur_owner_run, mtpbur_owner_sid,
};
pub use mode::MtpburModeInfo;
pub use watcher::{
    MtpburModeWatcher, mtpbur_mode_watcher_free, mtpbur_mode_watcher_new, mtpbur_mode_watcher_next,
};

/// The version of this library, a NUL-terminated string.
#[unsafe(no_mangle)]
pub extern "C" fn mtpbur_owner_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Returned by `bur_mode_changed`: ready for the operation.
pub const MTPBUR_READY: i32 = 0;
/// Returned by `bur_mode_changed`: confirm nothing now; the owner prepares and calls
/// `mtpbur_owner_confirm_ready` later (from any thread).
pub const MTPBUR_DEFER: i32 = 1;

/// Symbian `KErrGeneral`: an I/O or other failure.
pub const MTPBUR_ERR_GENERAL: i32 = -2;
/// Symbian `KErrNotSupported`: what a NULL optional callback answers.
pub const MTPBUR_ERR_NOT_SUPPORTED: i32 = -5;
/// Symbian `KErrNotReady`: asked for something out of order, or busy.
pub const MTPBUR_ERR_NOT_READY: i32 = -18;
/// Symbian `KErrCorrupt`: data that does not decode.
pub const MTPBUR_ERR_CORRUPT: i32 = -20;

/// Part type `EBURUnset`: never set (before the first backup or restore), as Normal.
pub const MTPBUR_PART_UNSET: u32 = 0x00;
/// Part type `EBURNormal`: no backup or restore runs.
pub const MTPBUR_PART_NORMAL: u32 = 0x01;
/// Part type `EBURBackupFull`.
pub const MTPBUR_PART_BACKUP_FULL: u32 = 0x02;
/// Part type `EBURBackupPartial`.
pub const MTPBUR_PART_BACKUP_PARTIAL: u32 = 0x04;
/// Part type `EBURRestoreFull`.
pub const MTPBUR_PART_RESTORE_FULL: u32 = 0x08;
/// Part type `EBURRestorePartial`.
pub const MTPBUR_PART_RESTORE_PARTIAL: u32 = 0x10;
/// Increment type `ENoBackup`.
pub const MTPBUR_INC_NONE: u32 = 0x000;
/// Increment type `EBackupBase`.
pub const MTPBUR_INC_BASE: u32 = 0x100;
/// Increment type `EBackupIncrement`.
pub const MTPBUR_INC_INCREMENT: u32 = 0x200;

#[cfg(test)]
mod tests;
