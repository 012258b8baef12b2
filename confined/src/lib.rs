//! The one layer through which mtpbur touches a tree that someone else can change: a
//! data owner's cage, a public or system folder, the spool, the sets a host uploads, and
//! the folders a files storage serves to the USB host.
//!
//! A path string is not a permission. The right to touch a tree is a [`Dir`], a directory
//! descriptor, and every path below it is resolved from that descriptor without following
//! a symbolic link at any component (`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, or
//! an `O_NOFOLLOW` walk on kernels before 5.6) and without entering another mounted file
//! system. Files are opened only if they are regular files (a non-blocking open, then
//! `fstat`, so a FIFO planted where a file was listed cannot block the caller). A file
//! that will replace another is created under an unpredictable name with `O_CREAT |
//! O_EXCL | O_NOFOLLOW` ([`TempFile`]), written, synced, given its owner and mode through
//! its own descriptor and renamed within the directory descriptor. Trees are removed
//! through descriptors as well ([`Dir::remove_tree`]).
//!
//! Names are byte strings (`&str`, `&OsStr`, `&Path`): a relative path is split at `/`,
//! and an empty component, `.` or `..` is refused before the kernel sees it.
//!
//! [`identity::as_user`] runs a closure with another user's file-system identity on the
//! calling thread, for work that is simpler to do with that user's rights than to check
//! (SQLite opens journals by path; public files belong to their owner's rights).
//!
//! Callers keep to it mechanically: `engine/clippy.toml` and `mtp/clippy.toml` list the
//! path-based `std::fs` functions as disallowed methods.

mod dir;
pub mod identity;
mod meta;
mod temp;

#[cfg(test)]
mod tests;

pub use dir::{Dir, Entry};
pub use meta::{Kind, Meta};
pub use temp::TempFile;

/// Reads the whole regular file at `path`, whose directory is trusted not to be a link
/// (a cage, a set in the spool), never following a link in its place, never blocking on
/// a FIFO, and refusing a file larger than `limit`.
///
/// # Errors
/// As [`Dir::read_file`].
pub fn read_file(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
    else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{}: not a file path", path.display()),
        ));
    };
    Dir::open_leaf(parent)?.read_file(name, limit)
}

/// As [`read_file`], for text.
///
/// # Errors
/// As [`read_file`], or `InvalidData` if the file is not UTF-8.
pub fn read_text(path: &std::path::Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_file(path, limit)?).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: not UTF-8 text", path.display()),
        )
    })
}

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
