//! Reference owner: a record store with real incremental backup.
//!
//! The application keeps records (`u64` id -> bytes) in one file, `records.bin`, in its
//! cage. Backup data is produced by the owner (active, `supports_incremental="yes"`):
//!
//! * snapshot `RSS1 count u32 (id u64, hash u64)*`: every record id and the first 8 bytes
//!   of the SHA-256 of its value;
//! * base `RSB1 count u32 (id u64, len u32, bytes)*`: every record;
//! * increment `RSI1 (0x01 id len bytes | 0x02 id)* 0x00`: records added or changed since
//!   the snapshot (`0x01`), and records deleted since it (`0x02`).
//!
//! Restore applies the base, then every increment in the order the engine sends them, to
//! a staged copy; the file is replaced atomically (temporary file, fsync, rename) only on
//! `RestoreComplete`, so a restore broken off half way leaves the old records in place.
//! All integers are little-endian.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{ERR_CORRUPT, ERR_NOT_READY, SectionReader, io_error};
use data_owners::client::{ActiveBackupDataClient, OwnerError, Section};
use data_owners::wire::{DriveLetter, ModeInfo};

/// The records: id -> value.
pub type Records = BTreeMap<u64, Vec<u8>>;
/// A snapshot: id -> short hash of the value.
pub type Snapshot = BTreeMap<u64, u64>;

/// The store file's name in the cage.
pub const STORE_FILE: &str = "records.bin";

const BASE_MAGIC: &[u8; 4] = b"RSB1";
const SNAP_MAGIC: &[u8; 4] = b"RSS1";
const INC_MAGIC: &[u8; 4] = b"RSI1";

/// A malformed base, increment or snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed record data: {0}")]
pub struct FormatError(&'static str);

impl From<FormatError> for OwnerError {
    fn from(e: FormatError) -> Self {
        Self::new(ERR_CORRUPT, e.to_string())
    }
}

/// The short hash a snapshot keeps per record.
pub fn record_hash(value: &[u8]) -> u64 {
    let d = Sha256::digest(value);
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Encodes records as a base (also the store file's format).
pub fn encode_base(records: &Records) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + records.values().map(|v| 12 + v.len()).sum::<usize>());
    out.extend_from_slice(BASE_MAGIC);
    out.extend_from_slice(&count(records.len()).to_le_bytes());
    for (id, v) in records {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&count(v.len()).to_le_bytes());
        out.extend_from_slice(v);
    }
    out
}

/// Decodes a base.
///
/// # Errors
/// [`FormatError`] if it is truncated, has trailing bytes or a wrong magic.
pub fn decode_base(data: &[u8]) -> Result<Records, FormatError> {
    let mut r = Cursor::new(data, BASE_MAGIC)?;
    let n = r.u32()?;
    let mut out = Records::new();
    for _ in 0..n {
        let id = r.u64()?;
        let len = r.u32()? as usize;
        out.insert(id, r.take(len)?.to_vec());
    }
    r.end()?;
    Ok(out)
}

/// Encodes the snapshot of `records`.
pub fn encode_snapshot(records: &Records) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 16 * records.len());
    out.extend_from_slice(SNAP_MAGIC);
    out.extend_from_slice(&count(records.len()).to_le_bytes());
    for (id, v) in records {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&record_hash(v).to_le_bytes());
    }
    out
}

/// Decodes a snapshot.
///
/// # Errors
/// [`FormatError`] if it is malformed.
pub fn decode_snapshot(data: &[u8]) -> Result<Snapshot, FormatError> {
    let mut r = Cursor::new(data, SNAP_MAGIC)?;
    let n = r.u32()?;
    let mut out = Snapshot::new();
    for _ in 0..n {
        let id = r.u64()?;
        out.insert(id, r.u64()?);
    }
    r.end()?;
    Ok(out)
}

/// Encodes what changed in `records` since `snapshot`: added and changed records, then
/// deleted ids.
pub fn encode_increment(records: &Records, snapshot: &Snapshot) -> Vec<u8> {
    let mut out = INC_MAGIC.to_vec();
    for (id, v) in records {
        if snapshot.get(id) != Some(&record_hash(v)) {
            out.push(0x01);
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&count(v.len()).to_le_bytes());
            out.extend_from_slice(v);
        }
    }
    for id in snapshot.keys().filter(|id| !records.contains_key(id)) {
        out.push(0x02);
        out.extend_from_slice(&id.to_le_bytes());
    }
    out.push(0x00);
    out
}

/// Applies an increment to `records`.
///
/// # Errors
/// [`FormatError`] if it is malformed; `records` may then be partly updated (callers
/// apply to a staged copy).
pub fn apply_increment(records: &mut Records, data: &[u8]) -> Result<(), FormatError> {
    let mut r = Cursor::new(data, INC_MAGIC)?;
    loop {
        match r.take(1)?[0] {
            0x00 => return r.end(),
            0x01 => {
                let id = r.u64()?;
                let len = r.u32()? as usize;
                records.insert(id, r.take(len)?.to_vec());
            }
            0x02 => {
                records.remove(&r.u64()?);
            }
            _ => return Err(FormatError("unknown increment record")),
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8], magic: &[u8; 4]) -> Result<Self, FormatError> {
        let mut c = Self { data };
        if c.take(4)? == magic {
            Ok(c)
        } else {
            Err(FormatError("bad magic"))
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if self.data.len() < n {
            return Err(FormatError("truncated"));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, FormatError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, FormatError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn end(&self) -> Result<(), FormatError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(FormatError("trailing bytes"))
        }
    }
}

/// Reads the store file of a cage (an absent file is an empty store).
///
/// # Errors
/// An I/O error, or [`std::io::ErrorKind::InvalidData`] for a malformed file.
pub fn load(cage: &Path) -> std::io::Result<Records> {
    match fs::read(cage.join(STORE_FILE)) {
        Ok(data) => {
            decode_base(&data).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Records::new()),
        Err(e) => Err(e),
    }
}

/// Writes the store file atomically (temporary file, fsync, rename).
///
/// # Errors
/// An I/O error; the old file is then untouched.
pub fn save(cage: &Path, records: &Records) -> std::io::Result<()> {
    let tmp = cage.join(format!("{STORE_FILE}.tmp"));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(&encode_base(records))?;
    f.sync_all()?;
    fs::rename(&tmp, cage.join(STORE_FILE))
}

/// What the owner is doing between callbacks.
#[derive(Debug, Default)]
enum Stage {
    /// Nothing in progress.
    #[default]
    Idle,
    /// Backup data being handed out.
    Backup(SectionReader),
    /// Restore: sections of the current unit (`increment` or base), and the staged records.
    Restore {
        increment: bool,
        pending: Vec<u8>,
        staged: Records,
    },
}

/// The record store's data owner.
#[derive(Debug)]
pub struct RecordStoreOwner {
    cage: PathBuf,
    /// The application's view (a cache of the file while the app runs normally).
    records: Records,
    /// False while a backup or restore runs: the app must not write.
    writable: bool,
    snapshot_in: Vec<u8>,
    snapshot: Option<Snapshot>,
    snapshot_out: Option<SectionReader>,
    stage: Stage,
    staged: Option<Records>,
}

impl RecordStoreOwner {
    /// An owner over `cage`. The store is loaded when the first mode arrives (at
    /// connect), so a damaged file is reported to the engine as a readiness failure
    /// (`KErrCorrupt`) instead of a process that exits.
    ///
    /// # Errors
    /// None today; the signature leaves room for opening resources.
    pub fn open(cage: PathBuf) -> std::io::Result<Self> {
        Ok(Self {
            cage,
            records: Records::new(),
            // Not until the first mode says Normal: a backup may already be running.
            writable: false,
            snapshot_in: Vec::new(),
            snapshot: None,
            snapshot_out: None,
            stage: Stage::Idle,
            staged: None,
        })
    }

    /// The records the application sees.
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// True if the application may write now.
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Writes a record (the application's write path).
    ///
    /// # Errors
    /// [`ERR_NOT_READY`] while a backup or restore runs; an I/O error.
    pub fn put(&mut self, id: u64, value: Vec<u8>) -> Result<(), OwnerError> {
        if !self.writable {
            return Err(OwnerError::new(ERR_NOT_READY, "backup or restore running"));
        }
        self.records.insert(id, value);
        save(&self.cage, &self.records).map_err(io_error)
    }

    fn forget_operation(&mut self) {
        self.stage = Stage::Idle;
        self.staged = None;
        self.snapshot_in.clear();
        self.snapshot = None;
        self.snapshot_out = None;
    }
}

impl ActiveBackupDataClient for RecordStoreOwner {
    fn bur_mode_changed(&mut self, mode: &ModeInfo) -> Option<i32> {
        if mode.is_bur_running() {
            // Stop writing: everything the app wrote is already in the file (writes go
            // through `save`), so the cache is clean. Re-read what is on disk so backup
            // data is the file's content.
            self.writable = false;
            self.forget_operation();
            return Some(match load(&self.cage) {
                Ok(r) => {
                    self.records = r;
                    0
                }
                // A restore is how a damaged store is repaired: take part in it.
                Err(_) if mode.part_type().is_restore() => {
                    self.records = Records::new();
                    0
                }
                Err(_) => ERR_CORRUPT,
            });
        }
        // Back to normal (also after a broken-off operation): drop anything staged and
        // reload what is on disk.
        self.forget_operation();
        match load(&self.cage) {
            Ok(r) => {
                self.records = r;
                self.writable = true;
            }
            // A damaged store stays read-only until a restore replaces it.
            Err(e) => eprintln!("ref-record-store: cannot load the store: {e}"),
        }
        None
    }

    fn receive_snapshot_data(
        &mut self,
        _drive: DriveLetter,
        data: &[u8],
        last: bool,
    ) -> Result<(), OwnerError> {
        self.snapshot_in.extend_from_slice(data);
        if last {
            self.snapshot = Some(decode_snapshot(&self.snapshot_in)?);
            self.snapshot_in.clear();
        }
        Ok(())
    }

    fn get_expected_data_size(&mut self, _drive: DriveLetter) -> Result<u64, OwnerError> {
        Ok(encode_base(&self.records).len() as u64)
    }

    fn get_snapshot_data(
        &mut self,
        _drive: DriveLetter,
        max_len: usize,
    ) -> Result<Section, OwnerError> {
        let reader = self
            .snapshot_out
            .get_or_insert_with(|| SectionReader::new(encode_snapshot(&self.records)));
        let section = reader.next(max_len);
        if section.1 {
            self.snapshot_out = None;
        }
        Ok(section)
    }

    fn initialise_get_backup_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        let data = match &self.snapshot {
            Some(snap) => encode_increment(&self.records, snap),
            None => encode_base(&self.records),
        };
        self.stage = Stage::Backup(SectionReader::new(data));
        Ok(())
    }

    fn get_backup_data_section(&mut self, max_len: usize) -> Result<Section, OwnerError> {
        let Stage::Backup(reader) = &mut self.stage else {
            return Err(OwnerError::new(ERR_NOT_READY, "no backup in progress"));
        };
        let section = reader.next(max_len);
        if section.1 {
            self.stage = Stage::Idle;
        }
        Ok(section)
    }

    fn initialise_restore_base_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        self.stage = Stage::Restore {
            increment: false,
            pending: Vec::new(),
            staged: Records::new(),
        };
        Ok(())
    }

    fn restore_base_data_section(&mut self, data: &[u8], last: bool) -> Result<(), OwnerError> {
        self.restore_section(false, data, last)
    }

    fn initialise_restore_increment_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        let Some(staged) = self.staged.take() else {
            return Err(OwnerError::new(ERR_NOT_READY, "increment without a base"));
        };
        self.stage = Stage::Restore {
            increment: true,
            pending: Vec::new(),
            staged,
        };
        Ok(())
    }

    fn restore_increment_data_section(
        &mut self,
        data: &[u8],
        last: bool,
    ) -> Result<(), OwnerError> {
        self.restore_section(true, data, last)
    }

    fn restore_complete(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        if let Some(staged) = self.staged.take() {
            save(&self.cage, &staged).map_err(io_error)?;
        }
        // Reload: the file is the truth after a restore.
        self.records = load(&self.cage).map_err(io_error)?;
        Ok(())
    }

    fn terminate_multi_stage_operation(&mut self) {
        self.forget_operation();
    }

    fn get_data_checksum(&mut self, _drive: DriveLetter) -> u64 {
        record_hash(&encode_base(&self.records))
    }
}

impl RecordStoreOwner {
    fn restore_section(&mut self, inc: bool, data: &[u8], last: bool) -> Result<(), OwnerError> {
        let Stage::Restore {
            increment,
            pending,
            staged,
        } = &mut self.stage
        else {
            return Err(OwnerError::new(ERR_NOT_READY, "no restore in progress"));
        };
        if *increment != inc {
            return Err(OwnerError::new(ERR_NOT_READY, "section of another unit"));
        }
        pending.extend_from_slice(data);
        if !last {
            return Ok(());
        }
        let mut records = std::mem::take(staged);
        let applied = if inc {
            apply_increment(&mut records, pending).map(|()| records)
        } else {
            decode_base(pending)
        };
        self.stage = Stage::Idle;
        self.staged = Some(applied?);
        Ok(())
    }
}

/// The binary's entry point (`ref-record-store`).
pub fn main() {
    crate::run_main("ref-record-store", RecordStoreOwner::open);
}

#[cfg(test)]
mod tests;
