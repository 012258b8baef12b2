//! Reference owner: a hybrid that prepares files actively and lets them go passively.
//!
//! The application's live data is a journal, `live/journal.log`, appended to while it
//! runs (not safe to copy mid-write, so the registration does not select it). When a
//! backup unit begins, the owner writes a consistent export, `export/journal.snapshot`
//! (temporary file + rename), and sends as active data a manifest naming its length and
//! SHA-256. The engine then copies `export/` passively (active before passive on backup).
//! On restore the engine puts `export/` back first, then sends the manifest; on
//! `RestoreComplete` the owner checks the export against it and installs it as the live
//! journal (again atomically). A restore broken off before then leaves the journal alone.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{ERR_CORRUPT, SectionReader, io_error, write_atomic};
use data_owners::client::{ActiveBackupDataClient, OwnerError, Section};
use data_owners::wire::{DriveLetter, ModeInfo};

/// The live journal, relative to the cage.
pub const JOURNAL: &str = "live/journal.log";
/// The export the passive part carries, relative to the cage.
pub const EXPORT: &str = "export/journal.snapshot";

fn manifest(data: &[u8]) -> Vec<u8> {
    let hash: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{} {hash}\n", data.len()).into_bytes()
}

/// The hybrid owner.
#[derive(Debug)]
pub struct HybridOwner {
    cage: PathBuf,
    writable: bool,
    out: SectionReader,
    restored: Vec<u8>,
    manifest: Option<Vec<u8>>,
}

impl HybridOwner {
    /// An owner over `cage`.
    pub fn open(cage: PathBuf) -> Result<Self, std::io::Error> {
        Ok(Self {
            cage,
            writable: false,
            out: SectionReader::default(),
            restored: Vec::new(),
            manifest: None,
        })
    }

    /// Appends a line to the journal (the application's write path).
    ///
    /// # Errors
    /// Refused while a backup or restore runs; I/O errors.
    pub fn append(&self, line: &str) -> Result<(), OwnerError> {
        if !self.writable {
            return Err(OwnerError::new(crate::ERR_NOT_READY, "BUR running"));
        }
        append_line(&self.cage, line).map_err(io_error)
    }
}

/// Appends a line to the journal of `cage` (what the running app does).
///
/// # Errors
/// I/O errors.
pub fn append_line(cage: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let path = cage.join(JOURNAL);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{line}")
}

impl ActiveBackupDataClient for HybridOwner {
    fn bur_mode_changed(&mut self, mode: &ModeInfo) -> Option<i32> {
        self.writable = !mode.is_bur_running();
        self.manifest = None;
        self.restored.clear();
        mode.is_bur_running().then_some(0)
    }

    fn initialise_get_backup_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        let journal = match fs::read(self.cage.join(JOURNAL)) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error(e)),
        };
        write_atomic(&self.cage.join(EXPORT), &journal).map_err(io_error)?;
        self.out = SectionReader::new(manifest(&journal));
        Ok(())
    }

    fn get_backup_data_section(&mut self, max_len: usize) -> Result<Section, OwnerError> {
        Ok(self.out.next(max_len))
    }

    fn initialise_restore_base_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        self.restored.clear();
        Ok(())
    }

    fn restore_base_data_section(&mut self, data: &[u8], last: bool) -> Result<(), OwnerError> {
        self.restored.extend_from_slice(data);
        if last {
            self.manifest = Some(std::mem::take(&mut self.restored));
        }
        Ok(())
    }

    fn restore_complete(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        let Some(expected) = self.manifest.take() else {
            return Ok(());
        };
        let export = fs::read(self.cage.join(EXPORT)).map_err(io_error)?;
        if manifest(&export) != expected {
            return Err(OwnerError::new(
                ERR_CORRUPT,
                "export does not match its manifest",
            ));
        }
        write_atomic(&self.cage.join(JOURNAL), &export).map_err(io_error)
    }

    fn terminate_multi_stage_operation(&mut self) {
        self.manifest = None;
        self.restored.clear();
    }
}

/// The binary's entry point (`ref-hybrid`).
pub fn main() {
    crate::run_main("ref-hybrid", HybridOwner::open);
}

#[cfg(test)]
mod tests;
