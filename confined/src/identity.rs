//! Acting with a data owner's file-system identity on the calling thread.
//!
//! Linux keeps user and group ids per thread (the C library makes `setuid` process-wide
//! by signalling every thread; the raw system calls do not). [`as_user`] sets the calling
//! thread's effective uid, gid and supplementary groups to the owner's, runs a closure and
//! sets them back. While the effective uid is not 0 the kernel clears the thread's
//! effective capabilities, so every file access in the closure is checked against the
//! owner's rights: the engine can read and write only what the owner itself could.
//! The real and saved uid stay 0, so the switch back is allowed; if it ever failed the
//! process aborts rather than carry on with the wrong identity.

use std::io;

use rustix::process::{Gid, Uid};
use rustix::thread as t;

/// A user and group to act as: the owner of a cage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl Identity {
    /// Returns the identity `uid`:`gid`.
    pub fn new(uid: u32, gid: u32) -> Self {
        Self { uid, gid }
    }
}

/// Restores the thread's identity when dropped.
struct Restore {
    uid: Uid,
    gid: Gid,
    groups: Vec<Gid>,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let back = t::set_thread_res_uid(None, Some(self.uid), None)
            .and_then(|()| t::set_thread_res_gid(None, Some(self.gid), None))
            .and_then(|()| t::set_thread_groups(&self.groups));
        if let Err(e) = back {
            tracing::error!(%e, "cannot restore the engine thread's identity; aborting");
            std::process::abort();
        }
    }
}

/// Runs `f` with the file-system identity of `who` on this thread.
///
/// If the thread already runs as `uid`, or `uid` is 0, `f` runs unchanged.
///
/// # Errors
/// `PermissionDenied` if the engine is not root and `uid` is not its own uid; an error
/// from the identity switch (nothing ran then).
pub fn as_user<T>(who: Identity, f: impl FnOnce() -> T) -> io::Result<T> {
    let Identity { uid, gid } = who;
    let me = rustix::process::geteuid();
    if me.as_raw() == uid || uid == 0 {
        return Ok(f());
    }
    if !me.is_root() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the engine runs as uid {} and cannot act as uid {uid}",
                me.as_raw()
            ),
        ));
    }
    let restore = Restore {
        uid: me,
        gid: rustix::process::getegid(),
        groups: rustix::process::getgroups()?,
    };
    let gid = Gid::from_raw(gid);
    t::set_thread_groups(&[gid])?;
    t::set_thread_res_gid(None, Some(gid), None)?;
    t::set_thread_res_uid(None, Some(Uid::from_raw(uid)), None)?;
    let out = f();
    drop(restore);
    Ok(out)
}
