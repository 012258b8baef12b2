//! The one layer through which the engine touches a tree that someone else can change:
//! an owner's cage, a public or system folder, the spool and the sets the host uploads.
//!
//! A path string is not a permission. The right to touch a tree is a [`Dir`], a directory
//! descriptor, and every path below it is resolved from that descriptor without following
//! a symbolic link at any component (`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, or
//! an `O_NOFOLLOW` walk on kernels before 5.6). Files are opened only if they are regular
//! files (a non-blocking open, then `fstat`, so a FIFO planted where a file was listed
//! cannot block the engine). A file that will replace another is created under an
//! unpredictable name with `O_CREAT | O_EXCL | O_NOFOLLOW` ([`TempFile`]), written, synced,
//! given its owner and mode through its own descriptor and renamed within the directory
//! descriptor. Trees are removed through descriptors as well ([`Dir::remove_tree`]).
//!
//! [`identity::as_user`] runs a closure with a data owner's file-system identity on the
//! calling thread, for work that is simpler to do with the owner's rights than to check
//! (SQLite opens journals by path; public files belong to their owner's rights).
//!
//! Nothing else in the engine calls `std::fs` on such a tree: `engine/clippy.toml` lists
//! the path-based `std::fs` functions as disallowed methods, and the modules that may use
//! them on trusted paths (this one, the mode state file, tests) say so with an `allow`.

mod dir;
pub mod identity;
mod temp;

#[cfg(test)]
mod tests;

pub use dir::{Dir, Entry, Kind, Meta};
pub use temp::TempFile;

/// Gives an open file to `uid`:`gid`, if it is not theirs already (through its descriptor).
///
/// # Errors
/// An I/O error (only root may give a file away).
pub fn chown_file(file: &std::fs::File, uid: u32, gid: u32) -> std::io::Result<()> {
    dir::chown_fd(file, uid, gid).map_err(std::io::Error::from)
}

/// Returns the error for a path that runs through a symbolic link.
pub(crate) fn symlink_refused(path: &std::path::Path) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "{}: a symbolic link on the way is never followed",
            path.display()
        ),
    )
}

/// Returns the error for a path that is not a regular file.
pub(crate) fn not_regular(path: &std::path::Path, kind: Kind) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("{}: not a regular file ({kind:?})", path.display()),
    )
}
