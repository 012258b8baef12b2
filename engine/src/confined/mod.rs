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
pub mod watch;

#[cfg(test)]
mod tests;

pub use dir::{Dir, Entry, Kind, Meta};
pub use temp::TempFile;

/// The largest registration file, package file list or request the engine reads.
pub const SMALL_FILE_LIMIT: u64 = 1024 * 1024;

/// The largest manifest the engine reads (a set of many thousands of units).
pub const MANIFEST_LIMIT: u64 = 16 * 1024 * 1024;

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
