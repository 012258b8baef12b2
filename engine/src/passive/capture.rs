//! I/O shell: writes passive base and increment streams from a cage.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use bytes::BytesMut;
use sha2::{Digest, Sha256};

use super::archive;
use super::select::select_files;
use super::snapshot::{Changes, FileMeta, Snapshot, diff};
use crate::registration::{CagePath, PassiveBackup};

/// Why a passive capture failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The sink could not be written.
    #[error("cannot write the unit: {0}")]
    Sink(std::io::Error),
    /// A file changed while it was being captured (the owner did not stay frozen).
    #[error("{}: changed during capture", .0.display())]
    Changed(PathBuf),
}

const CHUNK: usize = 64 * 1024;

/// What a capture produced besides the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The snapshot of every selected file now (for the next increment).
    pub snapshot: Snapshot,
    /// What the stream carries relative to the previous snapshot (all added for a base).
    pub changes: Changes,
}

/// Writes every selected file of the cage to `sink` as a passive stream.
///
/// # Errors
/// A [`CaptureError`]; the stream is then incomplete and must be discarded.
pub fn capture_base(
    cage: &Path,
    passive: &PassiveBackup,
    sink: &mut impl Write,
) -> Result<Captured, CaptureError> {
    capture(cage, passive, None, sink)
}

/// Writes the files that are new or changed since `previous`, and the deletions.
///
/// # Errors
/// A [`CaptureError`]; the stream is then incomplete and must be discarded.
pub fn capture_increment(
    cage: &Path,
    passive: &PassiveBackup,
    previous: &Snapshot,
    sink: &mut impl Write,
) -> Result<Captured, CaptureError> {
    capture(cage, passive, Some(previous), sink)
}

fn capture(
    cage: &Path,
    passive: &PassiveBackup,
    previous: Option<&Snapshot>,
    sink: &mut impl Write,
) -> Result<Captured, CaptureError> {
    let files = select_files(cage, passive).map_err(|source| CaptureError::Read {
        path: cage.to_owned(),
        source,
    })?;
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    let Some(previous) = previous else {
        // A base reads every file once: the hash is taken while the file is copied.
        let mut snapshot = Snapshot::default();
        for (rel, abs) in &files {
            let meta = write_file(rel, abs, None, &mut out, sink)?;
            snapshot.files.insert(rel.clone(), meta);
        }
        archive::end(&mut out);
        sink.write_all(&out).map_err(CaptureError::Sink)?;
        let changes = diff(&Snapshot::default(), &snapshot);
        return Ok(Captured { snapshot, changes });
    };
    let mut snapshot = Snapshot::default();
    for (rel, abs) in &files {
        snapshot.files.insert(rel.clone(), file_meta(abs)?);
    }
    let changes = diff(previous, &snapshot);
    for rel in changes.added.iter().chain(&changes.changed) {
        let (Some(abs), Some(meta)) = (files.get(rel), snapshot.files.get(rel)) else {
            continue;
        };
        write_file(rel, abs, Some(meta), &mut out, sink)?;
    }
    for rel in &changes.deleted {
        archive::deleted(&mut out, rel);
    }
    archive::end(&mut out);
    sink.write_all(&out).map_err(CaptureError::Sink)?;
    Ok(Captured { snapshot, changes })
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> CaptureError + '_ {
    move |source| CaptureError::Read {
        path: path.to_owned(),
        source,
    }
}

/// Returns size, mtime and SHA-256 of a file.
fn file_meta(path: &Path) -> Result<FileMeta, CaptureError> {
    let mut file = File::open(path).map_err(read_err(path))?;
    let meta = file.metadata().map_err(read_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(read_err(path))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok(FileMeta {
        size,
        mtime_ns: mtime_ns(&meta),
        sha256: hasher.finalize().into(),
    })
}

/// Returns the modification time in nanoseconds since the epoch (0 if unavailable).
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).ok(),
            Err(e) => i64::try_from(e.duration().as_nanos()).ok().map(|n| -n),
        })
        .unwrap_or(0)
}

/// Writes one file record; with `expected` (from a snapshot taken just before) the file
/// must still match it, without it its metadata and hash are taken now. Returns what the
/// snapshot records for the file.
fn write_file(
    rel: &CagePath,
    abs: &Path,
    expected: Option<&FileMeta>,
    out: &mut BytesMut,
    sink: &mut impl Write,
) -> Result<FileMeta, CaptureError> {
    let mut file = File::open(abs).map_err(read_err(abs))?;
    let stat = file.metadata().map_err(read_err(abs))?;
    let mode = stat.permissions().mode() & 0o7777;
    let (size, mtime_ns) = expected.map_or((stat.len(), mtime_ns(&stat)), |m| (m.size, m.mtime_ns));
    archive::file_header(out, rel, size, mtime_ns, mode);
    let mut hasher = Sha256::new();
    let exact = copy_exact(&mut file, size, out, sink, Some(&mut hasher)).map_err(|e| match e {
        CopyError::Read(source) => CaptureError::Read {
            path: abs.to_owned(),
            source,
        },
        CopyError::Sink(e) => CaptureError::Sink(e),
    })?;
    let sha256: [u8; 32] = hasher.finalize().into();
    if !exact || expected.is_some_and(|m| m.sha256 != sha256) {
        return Err(CaptureError::Changed(abs.to_owned()));
    }
    Ok(FileMeta {
        size,
        mtime_ns,
        sha256,
    })
}

/// A failure of [`copy_exact`]: reading the file or writing the sink.
#[derive(Debug)]
pub(crate) enum CopyError {
    Read(std::io::Error),
    Sink(std::io::Error),
}

/// Streams exactly `size` bytes of `file` through `out` into `sink`, flushing whenever
/// `out` holds a chunk, so no file is ever held in memory whole. Returns false if the
/// file is shorter or longer than `size` (it changed during capture).
pub(crate) fn copy_exact(
    file: &mut File,
    size: u64,
    out: &mut BytesMut,
    sink: &mut impl Write,
    mut hasher: Option<&mut Sha256>,
) -> Result<bool, CopyError> {
    let mut remaining = size;
    let mut buf = vec![0u8; CHUNK];
    while remaining > 0 {
        let want = usize::try_from(remaining).unwrap_or(CHUNK).min(CHUNK);
        let n = file.read(&mut buf[..want]).map_err(CopyError::Read)?;
        if n == 0 {
            return Ok(false);
        }
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&buf[..n]);
        }
        out.extend_from_slice(&buf[..n]);
        remaining -= n as u64;
        if out.len() >= CHUNK {
            sink.write_all(&out.split()).map_err(CopyError::Sink)?;
        }
    }
    Ok(file.read(&mut buf[..1]).map_err(CopyError::Read)? == 0)
}
