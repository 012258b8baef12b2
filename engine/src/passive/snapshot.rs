//! Passive snapshots and increment arithmetic (pure).
//!
//! A snapshot lists every selected file with size, mtime and a 128-bit content hash
//! (XXH3-128, as rsync's `--checksum`). An increment relative to a snapshot carries files
//! that are new or changed (any of size, mtime or hash differs — Symbian compared only
//! mtime and lost new files) and the paths that were deleted (Symbian did not record
//! deletions).
//!
//! The hash only detects change: it is not what protects a set (every unit file carries
//! a SHA-256 in the manifest, checked before anything is restored). XXH3 runs about ten
//! times faster than SHA-256 where the CPU has no SHA instructions, and every byte of a
//! passive file is hashed at each backup (`SNP1` snapshots held SHA-256).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::registration::CagePath;

/// What a snapshot knows about one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// XXH3-128 of the content (little-endian).
    pub hash: [u8; 16],
}

/// The passive files of one owner on one drive at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Files by path relative to the cage.
    pub files: BTreeMap<CagePath, FileMeta>,
}

/// Builds the snapshot of many files with the nodes of its map full.
///
/// Inserted one at a time in ascending order (the order of a walk or of an encoded
/// snapshot), a `BTreeMap` leaves each node it splits about half full: for 100 000 files
/// some 10.8 MB of nodes where 6 MB would do. The builder gathers files in a small map
/// and moves them over a run at a time with [`BTreeMap::append`], which builds its nodes
/// full. A run grows with the map (an eighth of it), so the moves cost a few passes over
/// the map in all.
#[derive(Debug, Default)]
pub(super) struct SnapshotBuilder {
    files: BTreeMap<CagePath, FileMeta>,
    run: BTreeMap<CagePath, FileMeta>,
}

/// The smallest run a [`SnapshotBuilder`] moves.
const MIN_RUN: usize = 1024;

impl SnapshotBuilder {
    /// Adds a file; returns false, and keeps the first, if its path is there already.
    pub(super) fn insert(&mut self, path: CagePath, meta: FileMeta) -> bool {
        if self.files.contains_key(&path) {
            return false;
        }
        match self.run.entry(path) {
            Entry::Occupied(_) => return false,
            Entry::Vacant(slot) => {
                slot.insert(meta);
            }
        }
        if self.run.len() >= MIN_RUN.max(self.files.len() / 8) {
            self.files.append(&mut self.run);
        }
        true
    }

    /// The snapshot of every file added.
    pub(super) fn finish(mut self) -> Snapshot {
        self.files.append(&mut self.run);
        Snapshot { files: self.files }
    }
}

/// The difference between a snapshot and the current files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// Paths not in the old snapshot.
    pub added: Vec<CagePath>,
    /// Paths whose size, mtime or hash differ.
    pub changed: Vec<CagePath>,
    /// Paths in the old snapshot that are gone.
    pub deleted: Vec<CagePath>,
}

impl Changes {
    /// Returns true if nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.deleted.is_empty()
    }
}

/// Returns what changed from `old` to `new`.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Changes {
    let mut changes = Changes::default();
    for (path, meta) in &new.files {
        match old.files.get(path) {
            None => changes.added.push(path.clone()),
            Some(before) if before != meta => changes.changed.push(path.clone()),
            Some(_) => {}
        }
    }
    changes.deleted = old
        .files
        .keys()
        .filter(|p| !new.files.contains_key(*p))
        .cloned()
        .collect();
    changes
}

/// A snapshot that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Wrong magic.
    #[error("not a passive snapshot")]
    BadMagic,
    /// A snapshot of the earlier format (`SNP1`, SHA-256): an increment needs a new base.
    #[error("passive snapshot of an older format (SNP1): take a new base backup")]
    OldFormat,
    /// Ends inside a record.
    #[error("snapshot is truncated")]
    Truncated,
    /// A path that is not a valid cage path (or not UTF-8).
    #[error("snapshot holds a bad path")]
    BadPath,
    /// A path listed twice.
    #[error("snapshot lists a path twice")]
    Duplicate,
    /// Bytes after the last record.
    #[error("trailing bytes after the snapshot")]
    TrailingBytes,
}

const MAGIC: &[u8; 4] = b"SNP2";
const OLD_MAGIC: &[u8; 4] = b"SNP1";
const HASH_LEN: usize = 16;
/// About how many bytes [`Snapshot::encode_each`] hands over at a time.
const PIECE: usize = 64 * 1024;

impl Snapshot {
    /// Encodes the snapshot: `"SNP2" | count u32 | (path u16+utf8, size u64, mtime i64,
    /// xxh3_128 [16])*`, little-endian.
    pub fn encode(&self) -> BytesMut {
        let mut out = BytesMut::new();
        let Ok(()) = self.encode_each(|piece| {
            out.extend_from_slice(&piece);
            Ok::<_, std::convert::Infallible>(())
        });
        out
    }

    /// Encodes the snapshot as [`Snapshot::encode`] does, handing the encoding to `write`
    /// about 64 KiB at a time: a snapshot of many files is never encoded whole.
    ///
    /// # Errors
    /// The first error `write` returns.
    pub fn encode_each<E>(&self, mut write: impl FnMut(Bytes) -> Result<(), E>) -> Result<(), E> {
        let mut out = BytesMut::with_capacity(PIECE);
        out.put_slice(MAGIC);
        out.put_u32_le(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        for (path, meta) in &self.files {
            put_path(&mut out, path);
            out.put_u64_le(meta.size);
            out.put_i64_le(meta.mtime_ns);
            out.put_slice(&meta.hash);
            if out.len() >= PIECE {
                write(out.split().freeze())?;
                out.reserve(PIECE);
            }
        }
        write(out.freeze())
    }

    /// Decodes a snapshot.
    ///
    /// # Errors
    /// A [`SnapshotError`] for anything malformed.
    pub fn decode(mut data: &[u8]) -> Result<Self, SnapshotError> {
        if data.len() >= 4 && &data[..4] == OLD_MAGIC {
            return Err(SnapshotError::OldFormat);
        }
        if data.len() < 8 || &data[..4] != MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        data.advance(4);
        let count = data.get_u32_le();
        let mut files = SnapshotBuilder::default();
        for _ in 0..count {
            let path = get_path(&mut data)?;
            if data.len() < 16 + HASH_LEN {
                return Err(SnapshotError::Truncated);
            }
            let size = data.get_u64_le();
            let mtime_ns = data.get_i64_le();
            let mut hash = [0u8; HASH_LEN];
            data.copy_to_slice(&mut hash);
            let meta = FileMeta {
                size,
                mtime_ns,
                hash,
            };
            if !files.insert(path, meta) {
                return Err(SnapshotError::Duplicate);
            }
        }
        if data.is_empty() {
            Ok(files.finish())
        } else {
            Err(SnapshotError::TrailingBytes)
        }
    }
}

/// Appends a path as `u16 length + UTF-8`.
pub(crate) fn put_path(out: &mut BytesMut, path: &CagePath) {
    let bytes = path.as_str().as_bytes();
    let len = bytes.len().min(usize::from(u16::MAX));
    out.put_u16_le(u16::try_from(len).unwrap_or(u16::MAX));
    out.put_slice(&bytes[..len]);
}

/// Reads a path written by [`put_path`]; the root (empty path) is refused.
pub(crate) fn get_path(data: &mut &[u8]) -> Result<CagePath, SnapshotError> {
    if data.len() < 2 {
        return Err(SnapshotError::Truncated);
    }
    let len = usize::from(data.get_u16_le());
    if data.len() < len {
        return Err(SnapshotError::Truncated);
    }
    let text = std::str::from_utf8(&data[..len]).map_err(|_| SnapshotError::BadPath)?;
    data.advance(len);
    // Names as the file system gave them (`:` and `\` included), `/`-separated.
    CagePath::parse_native(text)
        .filter(|p| !p.is_root())
        .ok_or(SnapshotError::BadPath)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(i: u32) -> FileMeta {
        FileMeta {
            size: u64::from(i),
            mtime_ns: -i64::from(i),
            hash: [i as u8; HASH_LEN],
        }
    }

    fn path(i: u32) -> CagePath {
        CagePath::parse_native(&format!("folder{:03}/file{i:05}.txt", i % 97)).expect("path")
    }

    #[test]
    fn a_built_snapshot_holds_what_inserts_one_at_a_time_hold() {
        let mut builder = SnapshotBuilder::default();
        let mut expected = BTreeMap::new();
        // Not in order, and many runs long.
        for i in (0..20_000u32).map(|i| i * 7919 % 20_000) {
            assert!(builder.insert(path(i), meta(i)));
            expected.insert(path(i), meta(i));
        }
        assert!(!builder.insert(path(3), meta(4)), "a path twice");
        let built = builder.finish();
        assert_eq!(built.files, expected, "the first one kept");
        assert_eq!(Snapshot::decode(&built.encode()), Ok(built));
    }

    #[test]
    fn a_snapshot_encodes_the_same_bytes_in_pieces() {
        let mut s = Snapshot::default();
        for i in 0..5_000 {
            s.files.insert(path(i), meta(i));
        }
        let mut pieces = Vec::new();
        let Ok(()) = s.encode_each(|piece| {
            pieces.push(piece);
            Ok::<_, std::convert::Infallible>(())
        });
        assert!(pieces.len() > 3, "{} pieces", pieces.len());
        assert!(pieces.iter().all(|p| p.len() < PIECE + 100));
        assert_eq!(pieces.concat(), s.encode().to_vec());
        let failed = s.encode_each(|_| Err("full"));
        assert_eq!(failed, Err("full"));
    }

    #[test]
    fn a_path_listed_twice_far_apart_is_refused() {
        let mut s = Snapshot::default();
        for i in 0..3_000 {
            s.files.insert(path(i), meta(i));
        }
        let mut bytes = s.encode();
        bytes[4..8].copy_from_slice(&3_001u32.to_le_bytes());
        let first = s.files.iter().next().expect("a file");
        put_path(&mut bytes, first.0);
        bytes.put_u64_le(first.1.size);
        bytes.put_i64_le(first.1.mtime_ns);
        bytes.put_slice(&first.1.hash);
        assert_eq!(Snapshot::decode(&bytes), Err(SnapshotError::Duplicate));
    }
}
