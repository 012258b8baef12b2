//! I/O shell: writes passive base and increment streams from a cage.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use bytes::BytesMut;
use xxhash_rust::xxh3::Xxh3;

use super::archive;
use super::select::select_with;
use super::snapshot::{Changes, FileMeta, Snapshot, SnapshotBuilder, diff};
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
    /// What an increment's stream carries relative to the previous snapshot (empty for a
    /// base, whose stream carries every file of `snapshot`).
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
    let mut found = SnapshotBuilder::default();
    // Each path the walk finds moves into the snapshot: the owner's file list is held
    // once, whatever the number of files.
    let empty_dirs = select_with(&cage.dir, passive, |rel, meta| {
        let planned = FileMeta {
            size: meta.size,
            mtime_ns: meta.mtime_ns,
            hash: [0; 16],
        };
        found.insert(rel, planned);
    })
    .map_err(whole)?;
    let mut snapshot = found.finish();
    let base = previous.is_none();
    take_snapshot(&cage, &mut snapshot, !base)?;
    // A base carries every file: listing them all again as added would cost as much as
    // the snapshot's paths.
    let changes = previous.map(|p| diff(p, &snapshot)).unwrap_or_default();
    let raw_len = stream_len(
        &empty_dirs,
        carried(&snapshot, &changes, base),
        &changes.deleted,
    );
    let compressible = worth_compressing(&cage, carried(&snapshot, &changes, base))?;
    sink.declare(raw_len, compressible)
        .map_err(CaptureError::Sink)?;
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    // Every unit carries the empty folders as they are now (a few bytes each), so a
    // restore of any chain recreates them.
    for (rel, mode) in &empty_dirs {
        archive::empty_dir(&mut out, rel, *mode);
    }
    if base {
        // A base learns each file's hash while it copies the file.
        for (rel, meta) in &mut snapshot.files {
            meta.hash = write_file(&cage, rel, meta, false, &mut out, sink)?;
        }
    } else {
        for (rel, meta) in carried(&snapshot, &changes, base) {
            write_file(&cage, rel, meta, true, &mut out, sink)?;
        }
    }
    for rel in &changes.deleted {
        archive::deleted(&mut out, rel);
    }
    archive::end(&mut out);
    sink.write_bytes(out.split().freeze())
        .map_err(CaptureError::Sink)?;
    Ok(Captured { snapshot, changes })
}

/// Takes the snapshot of the selected files: the size and mtime of each as it is opened
/// now, and with `hashed` (an increment) its content hash. A base reads every file once:
/// its hash is taken later, while the file is copied.
fn take_snapshot(cage: &Cage, snapshot: &mut Snapshot, hashed: bool) -> Result<(), CaptureError> {
    // One read buffer for every file: zeroing 64 KiB per file would cost more than
    // hashing 100 000 small files.
    let mut buf = if hashed { vec![0u8; CHUNK] } else { Vec::new() };
    for (rel, meta) in &mut snapshot.files {
        *meta = if hashed {
            file_meta(cage, rel, &mut buf)?
        } else {
            let (_, stat) = cage.open(rel)?;
            FileMeta {
                size: stat.size,
                mtime_ns: stat.mtime_ns,
                hash: [0; 16],
            }
        };
    }
    Ok(())
}

/// The files a stream carries, with what the snapshot knows of them: every file of a
/// base (`base`); the new, then the changed files of an increment.
fn carried<'a>(
    snapshot: &'a Snapshot,
    changes: &'a Changes,
    base: bool,
) -> impl Iterator<Item = (&'a CagePath, &'a FileMeta)> {
    let all = base.then(|| snapshot.files.iter());
    let listed = changes
        .added
        .iter()
        .chain(&changes.changed)
        .filter_map(|rel| snapshot.files.get_key_value(rel));
    all.into_iter().flatten().chain(listed)
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

/// Returns the exact length of the passive stream that carries `carried` and the
/// deletions. Each record is encoded and measured on its own: no buffer holds the headers
/// of all the files.
fn stream_len<'a>(
    empty_dirs: &BTreeMap<CagePath, u32>,
    carried: impl Iterator<Item = (&'a CagePath, &'a FileMeta)>,
    deleted: &[CagePath],
) -> u64 {
    let mut record = BytesMut::new();
    let mut total = 0u64;
    let mut measure = |record: &mut BytesMut| {
        total += record.len() as u64;
        record.clear();
    };
    archive::begin(&mut record);
    measure(&mut record);
    for (rel, mode) in empty_dirs {
        archive::empty_dir(&mut record, rel, *mode);
        measure(&mut record);
    }
    let mut content = 0u64;
    for (rel, meta) in carried {
        archive::file_header(&mut record, rel, meta.size, 0, 0);
        measure(&mut record);
        content += meta.size;
    }
    for rel in deleted {
        archive::deleted(&mut record, rel);
        measure(&mut record);
    }
    archive::end(&mut record);
    measure(&mut record);
    total + content
}

/// Bytes of each file's start that [`worth_compressing`] compresses, and of all files.
const SAMPLE_PER_FILE: usize = 64 * 1024;
const SAMPLE_TOTAL: usize = 1024 * 1024;

/// Decides from samples (the start of each file, 1 MiB in all) whether LZ4 pays for these
/// files: it must save at least a tenth. Photos, videos and archives do not compress, and
/// an uncompressed unit knows its exact size before it is written (so it can be served
/// while it is written).
fn worth_compressing<'a>(
    cage: &Cage,
    carried: impl Iterator<Item = (&'a CagePath, &'a FileMeta)>,
) -> Result<bool, CaptureError> {
    let (mut raw, mut packed) = (0usize, 0usize);
    let mut buf = vec![0u8; SAMPLE_PER_FILE];
    for (rel, _) in carried {
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

/// Returns size, mtime and content hash of a file, read through `buf`.
fn file_meta(cage: &Cage, rel: &CagePath, buf: &mut [u8]) -> Result<FileMeta, CaptureError> {
    let path = cage.dir.display(rel.as_str());
    let (mut file, meta) = cage.open(rel)?;
    let mut hasher = Xxh3::new();
    let mut size = 0u64;
    loop {
        let n = file.read(buf).map_err(read_err(&path))?;
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
/// the content hash.
fn write_file(
    cage: &Cage,
    rel: &CagePath,
    planned: &FileMeta,
    hashed: bool,
    out: &mut BytesMut,
    sink: &mut impl SizedWrite,
) -> Result<[u8; 16], CaptureError> {
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
    Ok(hash)
}

/// A failure of [`copy_exact`]: reading the file or writing the sink.
#[derive(Debug)]
pub(crate) enum CopyError {
    Read(std::io::Error),
    Sink(std::io::Error),
}

/// Files up to this size are read into the records' buffer, behind their header (see
/// [`copy_exact`]).
const SMALL_FILE: usize = 4 * 1024;
/// The room a small file and its header need: with less left, the records' buffer is
/// handed on.
const HEADROOM: usize = SMALL_FILE + 1024;
/// The room the records' buffer takes anew once handed on.
const GATHER: usize = 64 * 1024;

/// Streams exactly `size` bytes of `file` into `sink`, after the records waiting in
/// `out`. Returns false if the file is shorter or longer than `size` (it changed during
/// capture).
///
/// A file of up to [`SMALL_FILE`] bytes is read into `out` behind its header, and `out`
/// is handed on only once it is nearly full: a cage of many small files makes one
/// segment for every 60 KiB or so, not two per file (each a few bytes with an allocation
/// of its own that the unit writer's batches and hashing queue would hold by the
/// thousand). The caller hands on what is left in `out` at the end. A larger file is
/// read chunk by chunk into buffers of their own that the sink keeps without copying
/// ([`SizedWrite::write_bytes`]): no file is ever held in memory whole and no byte is
/// copied in user space.
pub(crate) fn copy_exact(
    file: &mut File,
    size: u64,
    out: &mut BytesMut,
    sink: &mut impl SizedWrite,
    mut hasher: Option<&mut Xxh3>,
) -> Result<bool, CopyError> {
    if let Some(small) = usize::try_from(size).ok().filter(|s| *s <= SMALL_FILE) {
        return copy_small(file, small, out, sink, hasher);
    }
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

/// [`copy_exact`] for a small file: reads it into `out`, then hands `out` on if it is
/// nearly full.
fn copy_small(
    file: &mut File,
    size: usize,
    out: &mut BytesMut,
    sink: &mut impl SizedWrite,
    hasher: Option<&mut Xxh3>,
) -> Result<bool, CopyError> {
    let start = out.len();
    // One byte more than planned: reading it means the file grew.
    out.resize(start + size + 1, 0);
    let n = read_full(file, &mut out[start..]).map_err(CopyError::Read)?;
    out.truncate(start + n);
    if n != size {
        return Ok(false);
    }
    if let Some(h) = hasher {
        h.update(&out[start..]);
    }
    if out.capacity() - out.len() < HEADROOM {
        sink.write_bytes(out.split().freeze())
            .map_err(CopyError::Sink)?;
        out.reserve(GATHER);
    }
    Ok(true)
}

/// Reads until `buf` is full or the file ends, retrying when interrupted; returns the
/// bytes read.
fn read_full(mut file: &File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(got) => n += got,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
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
