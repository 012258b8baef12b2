//! Errors across the boundary: the last failure of a library call, per thread, and the
//! message a callback attaches to the error code it returns.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static REPLY_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records `message` as this thread's last error.
pub(crate) fn set_last(message: impl Into<String>) {
    let text = message.into().replace('\0', " ");
    let text = CString::new(text).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

/// Takes the message a callback set for the error it is returning, or makes one.
pub(crate) fn take_reply_message(callback: &str, code: i32) -> String {
    REPLY_MESSAGE
        .with(|m| m.borrow_mut().take())
        .unwrap_or_else(|| format!("{callback} failed with {code}"))
}

/// Forgets a message set by a callback that then succeeded.
pub(crate) fn clear_reply_message() {
    REPLY_MESSAGE.with(|m| m.borrow_mut().take());
}

/// The last failure of a library call on this thread (`mtpbur_owner_connect`,
/// `mtpbur_owner_run`, ...), as a NUL-terminated string; empty if none. The pointer is
/// valid until the next library call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn mtpbur_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Called inside a callback that is about to return an error code: `message` (UTF-8,
/// NUL-terminated; copied) goes to the engine with the code, and reaches the device log
/// and the owner's outcome. Without it the engine gets "<callback> failed with <code>".
///
/// # Safety
/// `message` is NULL or a valid NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mtpbur_set_error_message(message: *const c_char) {
    let text = if message.is_null() {
        None
    } else {
        // SAFETY: the caller passes a valid NUL-terminated string.
        Some(
            unsafe { CStr::from_ptr(message) }
                .to_string_lossy()
                .into_owned(),
        )
    };
    REPLY_MESSAGE.with(|m| *m.borrow_mut() = text);
}
