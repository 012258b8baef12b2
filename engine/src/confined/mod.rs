//! The engine's side of the confined file layer (the `confined` crate): every path the
//! engine touches on a tree that someone else can change (an owner's cage, a public or
//! system folder, the spool and the sets the host uploads) goes through a
//! [`confined::Dir`], plus the size limits of what it reads whole and the watch over work
//! that cannot go through a descriptor.
//!
//! Nothing else in the engine calls `std::fs` on such a tree: `engine/clippy.toml` lists
//! the path-based `std::fs` functions as disallowed methods, and the modules that may use
//! them on trusted paths (the mode state file, tests) say so with an `allow`.

pub mod watch;

pub use confined::{Dir, Entry, Kind, Meta, TempFile, chown_file, identity, read_file, read_text};

/// The largest registration file, package file list or request the engine reads.
pub const SMALL_FILE_LIMIT: u64 = 1024 * 1024;

/// The largest manifest the engine reads (a set of many thousands of units).
pub const MANIFEST_LIMIT: u64 = 16 * 1024 * 1024;
