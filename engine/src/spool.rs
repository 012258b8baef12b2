//! I/O shell: backup sets on disk (`<spool>/<session>/<SID>/<drive>/<kind>.unit` plus
//! `manifest.toml`), unit writers that hash as they write, and verification of a set.
#![allow(
    clippy::disallowed_methods,
    reason = "the spool is the engine's own root-only (0700) tree, named by the profile; host-uploaded sets in it are still read by path (docs/security.md: not yet confined)"
)]

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::manifest::{MANIFEST_FILE, Manifest, ManifestError, UnitRecord, is_session_name};
use crate::mode::write_atomically;
use crate::progress::{Progress, ProgressEvent};
use crate::registration::Sid;
use crate::stream::FrameError;
use crate::unit::UnitId;

/// A spool operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The session name is not usable as a directory name.
    #[error("bad session name {0:?}")]
    BadSession(String),
    /// The manifest is unusable.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One thing wrong with a set found by [`SpoolSet::verify`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A listed unit file is missing.
    #[error("{0}: missing")]
    Missing(UnitId),
    /// A listed unit is a symlink, directory or other non-regular file.
    #[error("{0}: not a regular file")]
    NotAFile(UnitId),
    /// A unit file has another size than listed.
    #[error("{id}: size {found}, manifest says {expected}")]
    Size {
        /// The unit.
        id: UnitId,
        /// Listed size.
        expected: u64,
        /// Actual size.
        found: u64,
    },
    /// A unit file's SHA-256 differs from the manifest.
    #[error("{0}: sha-256 mismatch")]
    Hash(UnitId),
    /// A unit's framing or block checksums are broken.
    #[error("{0}: {1}")]
    Corrupt(UnitId, FrameError),
    /// A unit holds another amount of raw data than listed, or another compression.
    #[error("{0}: content does not match the manifest")]
    Content(UnitId),
    /// An encrypted unit in a set whose manifest is not sealed (a host stripped the MAC).
    #[error("{0}: encrypted, but the set's manifest is not sealed")]
    Unsealed(UnitId),
    /// A file in an owner directory that the manifest does not list.
    #[error("{}: not listed in the manifest", .0.display())]
    Unlisted(PathBuf),
    /// The set names an owner that is not registered on this device.
    #[error("owner {0} is not registered")]
    Unregistered(Sid),
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The mode of every file the engine writes in the spool: sets hold every application's
/// private data, and the spool is the Backup storage the host sees.
pub(crate) const PRIVATE_FILE: u32 = 0o600;

/// Creates `dir` and its missing parents with mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), SpoolError> {
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(dir)
        .map_err(io_err(dir))
}

/// Creates (or truncates) a file with mode 0600.
pub(crate) fn create_private_file(path: &Path) -> std::io::Result<File> {
    std::os::unix::fs::OpenOptionsExt::mode(
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true),
        PRIVATE_FILE,
    )
    .open(path)
}

/// One backup set directory.
#[derive(Debug, Clone)]
pub struct SpoolSet {
    dir: PathBuf,
    observer: Option<Progress>,
    /// Encrypt what is written (the device's backup key).
    keys: Option<std::sync::Arc<crate::crypto::Keys>>,
    /// Decrypt what is read.
    key: Option<crate::crypto::Unlocked>,
}

/// The first line of an encrypted set's manifest: `mac = "<hex>"`, the HMAC-SHA256 of
/// the rest of the file under the backup key's MAC key.
const MAC_LINE: &str = "mac = \"";

impl SpoolSet {
    /// Creates a new, empty set `<spool>/<session>`.
    ///
    /// # Errors
    /// [`SpoolError::BadSession`] for an unusable name, [`SpoolError::Io`] if the
    /// directory exists already or cannot be created.
    pub fn create(spool: &Path, session: &str) -> Result<Self, SpoolError> {
        if !is_session_name(session) {
            return Err(SpoolError::BadSession(session.to_owned()));
        }
        let dir = spool.join(session);
        create_private_dir(spool)?;
        // Sets hold owners' private data: only the engine may enter them.
        std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700)
            .create(&dir)
            .map_err(io_err(&dir))?;
        Ok(Self {
            dir,
            observer: None,
            keys: None,
            key: None,
        })
    }

    /// Opens an existing set directory (nothing is checked until [`SpoolSet::verify`]).
    pub fn open(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            observer: None,
            keys: None,
            key: None,
        }
    }

    /// Encrypts every unit written to the backup key, and seals the manifest (its MAC,
    /// and the wrapped key as `key.age`). `None`: a plain set.
    pub fn encrypted_with(mut self, keys: Option<std::sync::Arc<crate::crypto::Keys>>) -> Self {
        self.keys = keys;
        self
    }

    /// Decrypts the units read with `key`.
    pub fn unlocked_with(mut self, key: Option<crate::crypto::Unlocked>) -> Self {
        self.key = key;
        self
    }

    /// The key units are read with.
    pub fn key(&self) -> Option<&crate::crypto::Unlocked> {
        self.key.as_ref()
    }

    /// Unit `id` with the key to read it.
    pub fn unit_file(&self, id: UnitId) -> UnitFile {
        UnitFile {
            path: self.unit_path(id),
            key: self.key.clone(),
        }
    }

    /// The manifest's text and, for an encrypted set, its MAC.
    ///
    /// # Errors
    /// [`SpoolError::Io`] if it cannot be read.
    pub fn manifest_text(&self) -> Result<(String, Option<[u8; 32]>), SpoolError> {
        let path = self.dir.join(MANIFEST_FILE);
        let text = crate::confined::read_text(&path, crate::confined::MANIFEST_LIMIT)
            .map_err(io_err(&path))?;
        let mac = text
            .strip_prefix(MAC_LINE)
            .and_then(|rest| rest.get(..64))
            .and_then(|hex| {
                let mut out = [0u8; 32];
                for (i, b) in out.iter_mut().enumerate() {
                    *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
                }
                Some(out)
            });
        Ok((text, mac))
    }

    /// True when the set was written encrypted (its manifest carries a MAC).
    pub fn is_encrypted(&self) -> bool {
        self.manifest_text().is_ok_and(|(_, mac)| mac.is_some())
    }

    /// The wrapped backup key an encrypted set carries (`key.age`).
    ///
    /// # Errors
    /// [`SpoolError::Io`] if there is none.
    pub fn wrapped_key(&self) -> Result<String, SpoolError> {
        let path = self.dir.join(crate::crypto::SET_KEY_FILE);
        crate::confined::read_text(&path, 16 * 1024).map_err(io_err(&path))
    }

    /// Checks that the manifest is the one the holder of `key` wrote: its MAC.
    ///
    /// # Errors
    /// A plain set, or one whose manifest was changed.
    pub fn authenticate(&self, key: &crate::crypto::Unlocked) -> Result<(), String> {
        let (text, mac) = self.manifest_text().map_err(|e| e.to_string())?;
        let Some(mac) = mac else {
            return Err("the set is not encrypted".into());
        };
        let body = text.split_once('\n').map_or("", |(_, b)| b);
        key.check_mac(body, &mac).map_err(|e| e.to_string())
    }

    /// Sets who may serve units while they are written: a unit whose exact size is known
    /// before its first byte (see [`UnitWriter::declare`]) is then written under its final
    /// name, announced with [`ProgressEvent::UnitOpened`] first and
    /// [`ProgressEvent::UnitClosed`] when complete or abandoned. Without an observer every
    /// unit appears only when complete.
    pub fn observed_by(mut self, observer: Option<Progress>) -> Self {
        self.observer = observer;
        self
    }

    /// Returns the set's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Returns the path of a unit's file.
    pub fn unit_path(&self, id: UnitId) -> PathBuf {
        self.dir.join(id.relative_path())
    }

    /// Starts writing a unit; the file appears under its name only on
    /// [`UnitWriter::finish`].
    ///
    /// # Errors
    /// [`SpoolError::Io`] if the file cannot be created.
    pub fn unit_writer(&self, id: UnitId, compress: bool) -> Result<UnitWriter, SpoolError> {
        let path = self.unit_path(id);
        let parent = path.parent().unwrap_or(&self.dir).to_owned();
        create_private_dir(&parent)?;
        let tmp = path.with_extension("unit.part");
        let file = create_private_file(&tmp).map_err(io_err(&tmp))?;
        let w = UnitWriter::new(id, compress, file, tmp, path, self.observer.clone());
        match &self.keys {
            Some(keys) => w.encrypt_to(&keys.recipients(id.kind)),
            None => Ok(w),
        }
    }

    /// Writes the manifest atomically; call it last, after every unit is finished. Every
    /// unit (synced when finished) and every folder entry of the set is made durable
    /// first (`syncfs`), so a set whose manifest survives a power cut has all its units.
    ///
    /// # Errors
    /// [`SpoolError::Io`] if it cannot be written.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<(), SpoolError> {
        crate::confined::Dir::open_root(&self.dir)
            .and_then(|d| d.sync_fs())
            .map_err(io_err(&self.dir))?;
        let path = self.dir.join(MANIFEST_FILE);
        let mut text = manifest.to_toml();
        if let Some(keys) = &self.keys {
            let key_path = self.dir.join(crate::crypto::SET_KEY_FILE);
            write_atomically(&key_path, keys.wrapped().as_bytes(), PRIVATE_FILE)
                .map_err(io_err(&key_path))?;
            let mac = crate::manifest::to_hex(&keys.mac(&text));
            text = format!("{MAC_LINE}{mac}\"\n{text}");
        }
        write_atomically(&path, text.as_bytes(), PRIVATE_FILE).map_err(io_err(&path))?;
        if let Some(observer) = &self.observer {
            observer.report(ProgressEvent::FileWritten { path });
        }
        Ok(())
    }

    /// Reads and parses the manifest.
    ///
    /// # Errors
    /// [`SpoolError::Io`] or [`SpoolError::Manifest`].
    pub fn read_manifest(&self) -> Result<Manifest, SpoolError> {
        let path = self.dir.join(MANIFEST_FILE);
        let text = crate::confined::read_text(&path, crate::confined::MANIFEST_LIMIT)
            .map_err(io_err(&path))?;
        Ok(Manifest::from_toml(&text)?)
    }

    /// Verifies the whole set: the manifest, every unit's size, SHA-256, framing and
    /// block checksums, that no unlisted file hides in an owner directory, and that every
    /// owner with units is registered (`is_registered`). Nothing is modified.
    ///
    /// # Errors
    /// [`SpoolError`] if the manifest is unusable, otherwise `Ok` with every
    /// [`Problem`] found (empty when the set is sound).
    pub fn verify(
        &self,
        is_registered: impl Fn(Sid) -> bool,
    ) -> Result<(Manifest, Vec<Problem>), SpoolError> {
        let manifest = self.read_manifest()?;
        let mut problems = Vec::new();
        // Only owners with data matter; a failed owner without units restores nothing.
        let with_units: std::collections::BTreeSet<Sid> =
            manifest.units.iter().map(|u| u.id.sid).collect();
        for sid in with_units {
            if !is_registered(sid) {
                problems.push(Problem::Unregistered(sid));
            }
        }
        let sealed = self.is_encrypted();
        for unit in &manifest.units {
            if let Err(p) = self.verify_unit(unit, sealed) {
                problems.push(p);
            }
        }
        self.find_unlisted(&manifest, &mut problems);
        Ok((manifest, problems))
    }

    /// Verifies what an incremental backup reads of this set, the earlier one: its
    /// manifest and every snapshot unit it lists (size, SHA-256, framing, block
    /// checksums). Its other units need not be there: a host keeps the sets and uploads
    /// only the manifest and the snapshots for the next increment. Nothing is modified.
    ///
    /// # Errors
    /// [`SpoolError`] if the manifest is unusable, otherwise `Ok` with every
    /// [`Problem`] found (empty when the snapshots are sound).
    pub fn verify_snapshots(&self) -> Result<(Manifest, Vec<Problem>), SpoolError> {
        let manifest = self.read_manifest()?;
        let sealed = self.is_encrypted();
        let problems = manifest
            .units
            .iter()
            .filter(|u| u.id.kind.is_snapshot())
            .filter_map(|u| self.verify_unit(u, sealed).err())
            .collect();
        Ok((manifest, problems))
    }

    fn verify_unit(&self, unit: &UnitRecord, sealed: bool) -> Result<(), Problem> {
        let id = unit.id;
        let path = self.unit_path(id);
        let meta = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Problem::Missing(id)),
            Err(source) => return Err(Problem::Io { path, source }),
            Ok(m) => m,
        };
        if !meta.file_type().is_file() {
            return Err(Problem::NotAFile(id));
        }
        if meta.len() != unit.size {
            return Err(Problem::Size {
                id,
                expected: unit.size,
                found: meta.len(),
            });
        }
        let mut reader =
            UnitReader::open_for_check(&path, self.key.as_ref()).map_err(|source| Problem::Io {
                path: path.clone(),
                source,
            })?;
        let mut raw = 0u64;
        loop {
            match reader.next_block() {
                Ok(Some(block)) => raw += block.len() as u64,
                Ok(None) => break,
                Err(ReadError::Io(source)) => return Err(Problem::Io { path, source }),
                Err(ReadError::Frame(e)) => return Err(Problem::Corrupt(id, e)),
            }
        }
        if reader.sha256() != unit.sha256 {
            return Err(Problem::Hash(id));
        }
        if reader.is_sealed() {
            // Without the key only the ciphertext's size and SHA-256 can be checked.
            return if sealed {
                Ok(())
            } else {
                Err(Problem::Unsealed(id))
            };
        }
        if raw != unit.raw_size || reader.compressed() != Some(unit.compressed) {
            return Err(Problem::Content(id));
        }
        Ok(())
    }

    fn find_unlisted(&self, manifest: &Manifest, problems: &mut Vec<Problem>) {
        let listed: std::collections::BTreeSet<PathBuf> = manifest
            .units
            .iter()
            .map(|u| self.unit_path(u.id))
            .collect();
        let Ok(top) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for owner_dir in top.flatten() {
            let name = owner_dir.file_name();
            let is_owner = name
                .to_str()
                .is_some_and(|n| n.len() == 8 && Sid::parse_hex(n).is_some());
            if is_owner {
                walk_unlisted(&owner_dir.path(), &listed, problems);
            }
        }
    }
}

fn walk_unlisted(
    dir: &Path,
    listed: &std::collections::BTreeSet<PathBuf>,
    problems: &mut Vec<Problem>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        problems.push(Problem::Unlisted(dir.to_owned()));
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk_unlisted(&path, listed, problems),
            _ if listed.contains(&path) => {}
            _ => problems.push(Problem::Unlisted(path)),
        }
    }
}

/// A sink that can be told, before any data, how long the raw stream will be and whether
/// it is worth compressing (so a unit can know its exact size up front).
pub trait SizedWrite: Write {
    /// Declares the raw length that will follow and whether LZ4 pays for it; call it
    /// before the first write (later it has no effect).
    ///
    /// # Errors
    /// The sink cannot act on it.
    fn declare(&mut self, raw_len: u64, compressible: bool) -> std::io::Result<()> {
        let _ = (raw_len, compressible);
        Ok(())
    }

    /// Writes `data` whole; a sink that keeps [`Bytes`] (a unit writer) takes it without
    /// copying.
    ///
    /// # Errors
    /// As [`Write::write_all`].
    fn write_bytes(&mut self, data: Bytes) -> std::io::Result<()> {
        self.write_all(&data)
    }

    /// An empty buffer with room for `want` bytes, to read into and hand back with
    /// [`SizedWrite::write_buffer`]; a unit writer lends the same few buffers again.
    fn buffer(&mut self, want: usize) -> Vec<u8> {
        Vec::with_capacity(want)
    }

    /// Writes a buffer from [`SizedWrite::buffer`] whole, without copying it.
    ///
    /// # Errors
    /// As [`Write::write_all`].
    fn write_buffer(&mut self, buf: Vec<u8>) -> std::io::Result<()> {
        self.write_bytes(Bytes::from(buf))
    }
}

impl SizedWrite for Vec<u8> {}
impl SizedWrite for std::io::Sink {}

/// Why reading a unit failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The unit is corrupt.
    #[error(transparent)]
    Frame(#[from] FrameError),
}

mod buffer_pool;
mod hash_pipe;
mod seal_pipe;
#[cfg(test)]
mod tests;
mod unit_reader;
mod unit_writer;

pub use unit_reader::{UnitFile, UnitReader};
pub use unit_writer::UnitWriter;
