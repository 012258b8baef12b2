//! I/O shell: writes passive base and increment streams from a cage.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use bytes::BytesMut;
use xxhash_rust::xxh3::Xxh3;

use super::archive;
use super::select::select;
use super::snapshot::{Changes, FileMeta, Snapshot, diff};
use crate::confined::{Dir, Meta};
use crate::registration::{CagePath, PassiveBackup};
use crate::spool::SizedWrite;

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
/// Every file is looked at (size, mtime) before the first byte is written, so `sink`
/// learns the stream's exact length and whether it is worth compressing up front
/// ([`SizedWrite::declare`]); a file that then differs failed to stay frozen.
///
/// # Errors
/// A [`CaptureError`]; the stream is then incomplete and must be discarded.
pub fn capture_base(
    cage: &Path,
    passive: &PassiveBackup,
    sink: &mut impl SizedWrite,
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
    sink: &mut impl SizedWrite,
) -> Result<Captured, CaptureError> {
    capture(cage, passive, Some(previous), sink)
}

fn capture(
    cage: &Path,
    passive: &PassiveBackup,
    previous: Option<&Snapshot>,
    sink: &mut impl SizedWrite,
) -> Result<Captured, CaptureError> {
    let whole = |source| CaptureError::Read {
        path: cage.to_owned(),
        source,
    };
    let dir = Dir::open_leaf(cage).map_err(whole)?;
    let cage_uid = dir.meta().map_err(whole)?.uid;
    let cage = Cage { dir, uid: cage_uid };
    let selected = select(&cage.dir, passive).map_err(whole)?;
    let files = &selected.files;
    let (mut snapshot, changes) = take_snapshot(&cage, files.keys(), previous)?;
    let carried: Vec<&CagePath> = changes
        .added
        .iter()
        .chain(&changes.changed)
        .filter(|rel| files.contains_key(*rel))
        .collect();
    let raw_len = stream_len(&selected.empty_dirs, &carried, &snapshot, &changes.deleted);
    let compressible = worth_compressing(&cage, &carried)?;
    sink.declare(raw_len, compressible)
        .map_err(CaptureError::Sink)?;
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    // Every unit carries the empty folders as they are now (a few bytes each), so a
    // restore of any chain recreates them.
    for (rel, mode) in &selected.empty_dirs {
        archive::empty_dir(&mut out, rel, *mode);
    }
    for rel in carried {
        let Some(meta) = snapshot.files.get_mut(rel) else {
            continue;
        };
        *meta = write_file(&cage, rel, meta, previous.is_some(), &mut out, sink)?;
    }
    for rel in &changes.deleted {
        archive::deleted(&mut out, rel);
    }
    archive::end(&mut out);
    sink.write_bytes(out.split().freeze())
        .map_err(CaptureError::Sink)?;
    Ok(Captured { snapshot, changes })
}

/// Takes the snapshot of `files` and compares it with `previous` (a base: with nothing).
/// A base reads every file once: its hash is taken later, while the file is copied.
fn take_snapshot<'a>(
    cage: &Cage,
    files: impl Iterator<Item = &'a CagePath>,
    previous: Option<&Snapshot>,
) -> Result<(Snapshot, Changes), CaptureError> {
    let mut snapshot = Snapshot::default();
    for rel in files {
        let meta = if previous.is_some() {
            file_meta(cage, rel)?
        } else {
            let (_, stat) = cage.open(rel)?;
            FileMeta {
                size: stat.size,
                mtime_ns: stat.mtime_ns,
                hash: [0; 16],
            }
        };
        snapshot.files.insert(rel.clone(), meta);
    }
    let changes = diff(previous.unwrap_or(&Snapshot::default()), &snapshot);
    Ok((snapshot, changes))
}

/// An open cage and the uid it belongs to.
struct Cage {
    dir: Dir,
    uid: u32,
}

impl Cage {
    /// Opens a selected file through the confined layer. A file with more than one link
    /// that the cage owner does not own is refused: it is a hard link to someone else's
    /// file, which the owner could otherwise take into its own backup.
    fn open(&self, rel: &CagePath) -> Result<(File, Meta), CaptureError> {
        let path = self.dir.display(rel.as_str());
        let (file, meta) = self.dir.open_file(rel.as_str()).map_err(read_err(&path))?;
        if meta.nlink > 1 && meta.uid != self.uid {
            return Err(CaptureError::Read {
                source: std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!(
                        "a hard link to a file of uid {} in a cage of uid {}",
                        meta.uid, self.uid
                    ),
                ),
                path,
            });
        }
        Ok((file, meta))
    }
}

/// Returns the exact length of the passive stream that carries `carried` (sizes from
/// `snapshot`) and the deletions.
fn stream_len(
    empty_dirs: &BTreeMap<CagePath, u32>,
    carried: &[&CagePath],
    snapshot: &Snapshot,
    deleted: &[CagePath],
) -> u64 {
    let mut records = BytesMut::new();
    archive::begin(&mut records);
    for (rel, mode) in empty_dirs {
        archive::empty_dir(&mut records, rel, *mode);
    }
    let mut content = 0u64;
    for rel in carried {
        let size = snapshot.files.get(*rel).map_or(0, |m| m.size);
        archive::file_header(&mut records, rel, size, 0, 0);
        content += size;
    }
    for rel in deleted {
        archive::deleted(&mut records, rel);
    }
    archive::end(&mut records);
    records.len() as u64 + content
}

/// Bytes of each file's start that [`worth_compressing`] compresses, and of all files.
const SAMPLE_PER_FILE: usize = 64 * 1024;
const SAMPLE_TOTAL: usize = 1024 * 1024;

/// Decides from samples (the start of each file, 1 MiB in all) whether LZ4 pays for these
/// files: it must save at least a tenth. Photos, videos and archives do not compress, and
/// an uncompressed unit knows its exact size before it is written (so it can be served
/// while it is written).
fn worth_compressing(cage: &Cage, carried: &[&CagePath]) -> Result<bool, CaptureError> {
    let (mut raw, mut packed) = (0usize, 0usize);
    let mut buf = vec![0u8; SAMPLE_PER_FILE];
    for rel in carried {
        if raw >= SAMPLE_TOTAL {
            break;
        }
        let path = cage.dir.display(rel.as_str());
        let (file, _) = cage.open(rel)?;
        let mut n = 0;
        let mut reader = file.take(SAMPLE_PER_FILE as u64);
        loop {
            let got = reader.read(&mut buf[n..]).map_err(read_err(&path))?;
            if got == 0 {
                break;
            }
            n += got;
        }
        raw += n;
        packed += lz4_flex::block::compress(&buf[..n]).len();
    }
    Ok(raw == 0 || packed * 10 <= raw * 9)
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> CaptureError + '_ {
    move |source| CaptureError::Read {
        path: path.to_owned(),
        source,
    }
}

/// Returns size, mtime and content hash of a file.
fn file_meta(cage: &Cage, rel: &CagePath) -> Result<FileMeta, CaptureError> {
    let path = cage.dir.display(rel.as_str());
    let (mut file, meta) = cage.open(rel)?;
    let mut hasher = Xxh3::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(read_err(&path))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok(FileMeta {
        size,
        mtime_ns: meta.mtime_ns,
        hash: hasher.digest128().to_le_bytes(),
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

/// Writes one file record. The file must still have the size and mtime `planned` holds
/// (taken just before), and with `hashed` (an increment) the content hash too. Returns
/// what the snapshot records for the file.
fn write_file(
    cage: &Cage,
    rel: &CagePath,
    planned: &FileMeta,
    hashed: bool,
    out: &mut BytesMut,
    sink: &mut impl SizedWrite,
) -> Result<FileMeta, CaptureError> {
    let abs = cage.dir.display(rel.as_str());
    let (mut file, stat) = cage.open(rel)?;
    if stat.size != planned.size || stat.mtime_ns != planned.mtime_ns {
        return Err(CaptureError::Changed(abs));
    }
    archive::file_header(out, rel, planned.size, planned.mtime_ns, stat.mode);
    let mut hasher = Xxh3::new();
    let exact =
        copy_exact(&mut file, planned.size, out, sink, Some(&mut hasher)).map_err(|e| match e {
            CopyError::Read(source) => CaptureError::Read {
                path: abs.clone(),
                source,
            },
            CopyError::Sink(e) => CaptureError::Sink(e),
        })?;
    let hash = hasher.digest128().to_le_bytes();
    if !exact || hashed && planned.hash != hash {
        return Err(CaptureError::Changed(abs));
    }
    Ok(FileMeta { hash, ..*planned })
}

/// A failure of [`copy_exact`]: reading the file or writing the sink.
#[derive(Debug)]
pub(crate) enum CopyError {
    Read(std::io::Error),
    Sink(std::io::Error),
}

/// Streams exactly `size` bytes of `file` into `sink`, after the records waiting in
/// `out`. Each chunk is read into a buffer of its own that the sink keeps without
/// copying ([`SizedWrite::write_bytes`]), so no file is ever held in memory whole and no
/// byte is copied in user space. Returns false if the file is shorter or longer than
/// `size` (it changed during capture).
pub(crate) fn copy_exact(
    file: &mut File,
    size: u64,
    out: &mut BytesMut,
    sink: &mut impl SizedWrite,
    mut hasher: Option<&mut Xxh3>,
) -> Result<bool, CopyError> {
    if !out.is_empty() {
        sink.write_bytes(out.split().freeze())
            .map_err(CopyError::Sink)?;
    }
    let mut remaining = size;
    while remaining > 0 {
        let want = usize::try_from(remaining).unwrap_or(CHUNK).min(CHUNK);
        let mut buf = sink.buffer(want);
        // The buffer may have room for more than `want`: more than `remaining` read means
        // the file grew.
        let n = read_into(file, &mut buf).map_err(CopyError::Read)?;
        if n == 0 || n as u64 > remaining {
            return Ok(false);
        }
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&buf);
        }
        remaining -= n as u64;
        sink.write_buffer(buf).map_err(CopyError::Sink)?;
    }
    let mut probe = [0u8; 1];
    Ok(file.read(&mut probe).map_err(CopyError::Read)? == 0)
}

/// Reads once into the spare capacity of `buf` (which grows by what was read), retrying
/// when interrupted; returns the bytes read, 0 at the end of the file.
fn read_into(file: &File, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    loop {
        match rustix::io::read(file, rustix::buffer::spare_capacity(buf)) {
            Err(rustix::io::Errno::INTR) => {}
            r => return r.map_err(std::io::Error::from),
        }
    }
}
