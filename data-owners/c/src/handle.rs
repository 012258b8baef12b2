//! The owner's connection: connect, run, confirm readiness, free.

use std::ffi::{CStr, c_char};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::sync::Mutex;

use data_owners::client::{ActiveBackupClient, OwnerEnv, ReadyHandle};
use data_owners::mode::ModeWatcher;
use tokio::runtime::Runtime;

use crate::callbacks::{CallbackOwner, MtpburCallbacks};
use crate::error::set_last;
use crate::mode::MtpburModeInfo;

/// An owner's connection to the engine (Symbian `CActiveBackupClient`). Opaque to C.
pub struct MtpburOwner {
    runtime: Runtime,
    /// Taken by `mtpbur_owner_run`, which serves the connection to its end (then the
    /// mode's sender is gone too, and watchers report the connection gone).
    client: Mutex<Option<ActiveBackupClient>>,
    ready: ReadyHandle,
    mode: ModeWatcher,
    sid: u32,
}

impl MtpburOwner {
    /// A watcher of this connection's mode.
    pub(crate) fn mode_watcher(&self) -> ModeWatcher {
        self.mode.clone()
    }
}

fn runtime() -> Result<Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the client's runtime: {e}"))
}

fn connect(socket: &Path, sid: u32) -> Result<MtpburOwner, String> {
    let runtime = runtime()?;
    let client = runtime
        .block_on(ActiveBackupClient::connect(socket, sid))
        .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    Ok(MtpburOwner {
        ready: client.ready_handle(),
        mode: client.mode_watcher(),
        client: Mutex::new(Some(client)),
        runtime,
        sid,
    })
}

fn boxed(result: Result<MtpburOwner, String>) -> *mut MtpburOwner {
    match result {
        Ok(owner) => Box::into_raw(Box::new(owner)),
        Err(e) => {
            set_last(e);
            std::ptr::null_mut()
        }
    }
}

/// Connects to the engine's socket as owner `sid` (the engine checks that the calling
/// uid owns the SID's cage). Returns NULL on failure; `mtpbur_last_error` says why.
///
/// # Safety
/// `socket` is a valid NUL-terminated path.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtpbur_owner_connect(socket: *const c_char, sid: u32) -> *mut MtpburOwner {
    if socket.is_null() {
        set_last("socket path is NULL");
        return std::ptr::null_mut();
    }
    // SAFETY: the caller passes a valid NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(socket) }.to_bytes();
    let path = Path::new(std::ffi::OsStr::from_bytes(bytes));
    boxed(connect(path, sid))
}

/// Connects with what the engine put in the environment of the owner it started
/// (`SBE_SOCKET`, `SBE_SID`; `SBE_CAGE` is the owner's private directory, read it with
/// `getenv`). Returns NULL on failure; `mtpbur_last_error` says why.
#[unsafe(no_mangle)]
pub extern "C" fn mtpbur_owner_connect_env() -> *mut MtpburOwner {
    boxed(OwnerEnv::from_env().and_then(|env| connect(&env.socket, env.sid)))
}

/// The SID this connection said hello as.
///
/// # Safety
/// `owner` is a live connection.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtpbur_owner_sid(owner: *const MtpburOwner) -> u32 {
    // SAFETY: the caller passes a live connection.
    unsafe { &*owner }.sid
}

/// Serves the engine's callbacks on the calling thread, one at a time, until the engine
/// closes the connection (0) or the connection fails (-1; `mtpbur_last_error` says
/// why). Calls `bur_mode_changed` with the mode at connect first. A connection is run
/// once: a second call returns -1 at once.
///
/// # Safety
/// `owner` is a live connection; `callbacks` points to a table whose functions may be
/// called with its `ctx` from this thread until this function returns (the table is
/// copied; it need not outlive the call).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtpbur_owner_run(
    owner: *mut MtpburOwner,
    callbacks: *const MtpburCallbacks,
) -> i32 {
    // SAFETY: the caller passes a live connection; only shared access is needed (the
    // client is behind a mutex), so other threads may use it at the same time.
    let owner = unsafe { &*owner };
    if callbacks.is_null() {
        set_last("callback table is NULL");
        return -1;
    }
    // SAFETY: the caller passes a valid table.
    let mut served = CallbackOwner::new(unsafe { *callbacks });
    let taken = owner.client.lock().map(|mut c| c.take()).ok().flatten();
    let Some(mut client) = taken else {
        set_last("the connection is being run or has ended");
        return -1;
    };
    let result = owner.runtime.block_on(client.run(&mut served));
    drop(client);
    match result {
        Ok(()) => 0,
        Err(e) => {
            set_last(format!("connection to the engine failed: {e}"));
            -1
        }
    }
}

/// Confirms readiness for the current operation (`error` 0) or reports that the owner
/// cannot take part (a negative code), after `bur_mode_changed` returned
/// `MTPBUR_DEFER`. Callable from any thread; sent by `mtpbur_owner_run` (at once while
/// it runs). Returns 0, or -1 if the connection is gone.
///
/// # Safety
/// `owner` is a live connection.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtpbur_owner_confirm_ready(owner: *const MtpburOwner, error: i32) -> i32 {
    // SAFETY: the caller passes a live connection.
    if unsafe { &*owner }.ready.confirm(error.min(0)) {
        0
    } else {
        set_last("the connection is gone");
        -1
    }
}

/// Writes the mode the engine last reported to `*out`, without waiting.
///
/// # Safety
/// `owner` is a live connection, `out` a valid place.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtpbur_owner_mode_info(
    owner: *const MtpburOwner,
    out: *mut MtpburModeInfo,
) {
    // SAFETY: the caller passes a live connection and a valid place.
    unsafe { *out = MtpburModeInfo::from(&(*owner).mode.current()) };
}

/// Closes the connection and frees it. NULL is ignored.
///
/// # Safety
/// `owner` is NULL or a connection from `mtpbur_owner_connect*` not freed yet and not
/// being run.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtpbur_owner_free(owner: *mut MtpburOwner) {
    if !owner.is_null() {
        // SAFETY: the caller gives up a connection made by `boxed`.
        drop(unsafe { Box::from_raw(owner) });
    }
}
