//! The mode watcher for application threads that must stop writing during a backup or
//! restore.

use std::time::Duration;

use data_owners::mode::ModeWatcher;
use tokio::runtime::Runtime;

use crate::error::set_last;
use crate::handle::MtpburOwner;
use crate::mode::MtpburModeInfo;

/// Follows a connection's BUR mode from any thread. Opaque to C.
pub struct MtpburModeWatcher {
    runtime: Runtime,
    watcher: ModeWatcher,
}

/// A watcher of `owner`'s mode (any number may exist, one per thread that needs it).
/// Returns NULL on failure. It may outlive the connection: it then reports it gone.
///
/// # Safety
/// `owner` is a live connection.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtpbur_mode_watcher_new(
    owner: *const MtpburOwner,
) -> *mut MtpburModeWatcher {
    // SAFETY: the caller passes a live connection.
    let watcher = unsafe { &*owner }.mode_watcher();
    match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => Box::into_raw(Box::new(MtpburModeWatcher { runtime, watcher })),
        Err(e) => {
            set_last(format!("cannot start the watcher's runtime: {e}"));
            std::ptr::null_mut()
        }
    }
}

/// Waits for the next mode to act on: the current one on the first call, then each
/// change (a watcher that falls behind skips to the latest). `timeout_ms` < 0 waits
/// without limit. Returns 1 with the mode in `*out`, 0 on timeout, -1 once the
/// connection is gone (the engine closed it and `mtpbur_owner_run` returned).
///
/// # Safety
/// `watcher` is a live watcher used by one thread at a time, `out` a valid place.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtpbur_mode_watcher_next(
    watcher: *mut MtpburModeWatcher,
    out: *mut MtpburModeInfo,
    timeout_ms: i64,
) -> i32 {
    // SAFETY: the caller passes a live watcher, used by this thread only.
    let w = unsafe { &mut *watcher };
    let next = w.watcher.next();
    let result = match u64::try_from(timeout_ms) {
        Ok(ms) => w.runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(ms), next)
                .await
                .ok()
        }),
        Err(_) => Some(w.runtime.block_on(next)),
    };
    match result {
        None => 0,
        Some(None) => -1,
        Some(Some(mode)) => {
            // SAFETY: the caller passes a valid place.
            unsafe { *out = MtpburModeInfo::from(&mode) };
            1
        }
    }
}

/// Frees a watcher. NULL is ignored.
///
/// # Safety
/// `watcher` is NULL or a watcher from `mtpbur_mode_watcher_new` not freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtpbur_mode_watcher_free(watcher: *mut MtpburModeWatcher) {
    if !watcher.is_null() {
        // SAFETY: the caller gives up a watcher made by `mtpbur_mode_watcher_new`.
        drop(unsafe { Box::from_raw(watcher) });
    }
}
