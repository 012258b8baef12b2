//! Reference owner: a settings store acting as proxy data manager (Central Repository
//! style).
//!
//! Runs under the Central Repository SID (`0x10202BE9`), so an owner that registers
//! `<cenrep_backup/>` has its settings backed up through this store. Each client owner's
//! keys live in `<cage>/<client sid>.keys`, one per line: `key TAB flag TAB value`, where
//! the flag is `b` (backed up) or `n` (not backed up, e.g. a device-specific value). Keys
//! and values contain no tab or line break.
//!
//! Proxy backup of owner S sends the lines of S's backed-up keys (base only). Proxy
//! restore replaces S's backed-up keys with the restored ones and keeps its
//! not-backed-up keys as they are; the file is written atomically once the unit's last
//! section arrived, so a restore broken off half way changes nothing.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::{ERR_CORRUPT, ERR_NOT_READY, SectionReader, io_error, write_atomic};
use data_owners::client::{ActiveBackupDataClient, OwnerError, Section};
use data_owners::wire::{DriveLetter, ModeInfo};

/// One setting: its value and whether it is backed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The value.
    pub value: String,
    /// True if the key takes part in backup and restore.
    pub backup: bool,
}

/// One owner's keys.
pub type Keys = BTreeMap<String, Setting>;

/// The key file of owner `sid` in the store's cage.
pub fn keys_path(cage: &Path, sid: u32) -> PathBuf {
    cage.join(format!("{sid:08x}.keys"))
}

/// Encodes keys, only the backed-up ones if `backup_only`.
pub fn encode(keys: &Keys, backup_only: bool) -> Vec<u8> {
    let mut out = String::new();
    for (k, s) in keys.iter().filter(|(_, s)| s.backup || !backup_only) {
        let flag = if s.backup { 'b' } else { 'n' };
        out.push_str(&format!("{k}\t{flag}\t{}\n", s.value));
    }
    out.into_bytes()
}

/// Decodes keys.
///
/// # Errors
/// [`ERR_CORRUPT`] for a malformed line or non-UTF-8 data.
pub fn decode(data: &[u8]) -> Result<Keys, OwnerError> {
    let corrupt = |what: &str| OwnerError::new(ERR_CORRUPT, format!("settings: {what}"));
    let text = std::str::from_utf8(data).map_err(|_| corrupt("not utf-8"))?;
    let mut keys = Keys::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(3, '\t');
        let (Some(k), Some(flag), Some(v)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(corrupt("malformed line"));
        };
        let backup = match flag {
            "b" => true,
            "n" => false,
            _ => return Err(corrupt("bad flag")),
        };
        keys.insert(
            k.to_owned(),
            Setting {
                value: v.to_owned(),
                backup,
            },
        );
    }
    Ok(keys)
}

/// Reads owner `sid`'s keys (none if the file is absent).
///
/// # Errors
/// I/O or format errors.
pub fn load(cage: &Path, sid: u32) -> Result<Keys, OwnerError> {
    match fs::read(keys_path(cage, sid)) {
        Ok(d) => decode(&d),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Keys::new()),
        Err(e) => Err(io_error(e)),
    }
}

/// Writes owner `sid`'s keys atomically.
///
/// # Errors
/// I/O errors.
pub fn save(cage: &Path, sid: u32, keys: &Keys) -> Result<(), OwnerError> {
    write_atomic(&keys_path(cage, sid), &encode(keys, false)).map_err(io_error)
}

/// The settings store's owner.
#[derive(Debug)]
pub struct SettingsStoreOwner {
    cage: PathBuf,
    writable: bool,
    out: SectionReader,
    restoring: Option<(u32, Vec<u8>)>,
}

impl SettingsStoreOwner {
    /// An owner over `cage`.
    pub fn open(cage: PathBuf) -> Result<Self, std::io::Error> {
        Ok(Self {
            cage,
            writable: false,
            out: SectionReader::default(),
            restoring: None,
        })
    }

    /// Sets a key for owner `sid` (the store's write path for applications).
    ///
    /// # Errors
    /// [`ERR_NOT_READY`] while a backup or restore runs; I/O errors.
    pub fn set(&mut self, sid: u32, key: &str, setting: Setting) -> Result<(), OwnerError> {
        if !self.writable {
            return Err(OwnerError::new(ERR_NOT_READY, "BUR running"));
        }
        let mut keys = load(&self.cage, sid)?;
        keys.insert(key.to_owned(), setting);
        save(&self.cage, sid, &keys)
    }
}

impl ActiveBackupDataClient for SettingsStoreOwner {
    fn bur_mode_changed(&mut self, mode: &ModeInfo) -> Option<i32> {
        self.writable = !mode.is_bur_running();
        self.restoring = None;
        mode.is_bur_running().then_some(0)
    }

    fn initialise_get_backup_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        // The store's own data: nothing beyond its clients' keys.
        self.out = SectionReader::default();
        Ok(())
    }

    fn get_backup_data_section(&mut self, max_len: usize) -> Result<Section, OwnerError> {
        Ok(self.out.next(max_len))
    }

    fn initialise_restore_base_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        self.restoring = None;
        Ok(())
    }

    fn restore_base_data_section(&mut self, data: &[u8], last: bool) -> Result<(), OwnerError> {
        let Some((sid, buf)) = self.restoring.as_mut() else {
            return Ok(()); // the store's own (empty) data
        };
        buf.extend_from_slice(data);
        if !last {
            return Ok(());
        }
        let sid = *sid;
        let restored = decode(buf)?;
        self.restoring = None;
        let mut keys = load(&self.cage, sid)?;
        keys.retain(|_, s| !s.backup);
        keys.extend(restored.into_iter().filter(|(_, s)| s.backup));
        save(&self.cage, sid, &keys)
    }

    fn initialise_get_proxy_backup_data(
        &mut self,
        sid: u32,
        _drive: DriveLetter,
    ) -> Result<(), OwnerError> {
        self.out = SectionReader::new(encode(&load(&self.cage, sid)?, true));
        Ok(())
    }

    fn initialise_restore_proxy_base_data(
        &mut self,
        sid: u32,
        _drive: DriveLetter,
    ) -> Result<(), OwnerError> {
        self.restoring = Some((sid, Vec::new()));
        Ok(())
    }

    fn terminate_multi_stage_operation(&mut self) {
        self.restoring = None;
    }
}

/// The binary's entry point (`ref-settings-store`).
pub fn main() {
    crate::run_main("ref-settings-store", SettingsStoreOwner::open);
}

#[cfg(test)]
mod tests;
