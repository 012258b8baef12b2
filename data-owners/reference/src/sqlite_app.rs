//! Reference owner: an application with a SQLite database registered through
//! `dbms_backup`.
//!
//! The database is `<cage>/dbms/<policy>/notes.db` ([`POLICY`]); the engine copies it
//! itself with SQLite's online backup API and restores it in one transaction. The
//! application connects as an active owner only to follow the BUR mode: it closes its
//! connection (releasing every lock) when a backup or restore starts, and reopens the
//! database on `RestoreComplete` or the return to normal. Its active data is a schema
//! tag ([`SCHEMA`]), checked on restore, so an incompatible database is refused.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::{ERR_CORRUPT, ERR_GENERAL, ERR_NOT_READY, SectionReader};
use data_owners::client::{ActiveBackupDataClient, OwnerError, Section};
use data_owners::wire::{DriveLetter, ModeInfo};

/// The `dbms_backup` policy of the shipped registration.
pub const POLICY: &str = "0a5e1000";
/// The schema tag sent as active data.
pub const SCHEMA: &[u8] = b"notes-schema-1";

/// The database path in a cage.
pub fn db_path(cage: &Path) -> PathBuf {
    cage.join("dbms").join(POLICY).join("notes.db")
}

/// Opens (creating if needed) the notes database.
///
/// # Errors
/// SQLite errors.
pub fn open_db(cage: &Path) -> rusqlite::Result<Connection> {
    let path = db_path(cage);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let db = Connection::open(path)?;
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    )?;
    Ok(db)
}

fn sql_error(e: rusqlite::Error) -> OwnerError {
    OwnerError::new(ERR_GENERAL, e.to_string())
}

/// The SQLite application's owner.
#[derive(Debug)]
pub struct SqliteAppOwner {
    cage: PathBuf,
    db: Option<Connection>,
    out: SectionReader,
    restored: Vec<u8>,
}

impl SqliteAppOwner {
    /// Opens the database unless a backup or restore is already running (the mode is
    /// checked when the client connects; until then the database stays closed).
    pub fn open(cage: PathBuf) -> Result<Self, rusqlite::Error> {
        Ok(Self {
            cage,
            db: None,
            out: SectionReader::default(),
            restored: Vec::new(),
        })
    }

    /// True while the application has its database open.
    pub fn is_open(&self) -> bool {
        self.db.is_some()
    }

    /// Adds a note (the application's write path).
    ///
    /// # Errors
    /// [`ERR_NOT_READY`] while a backup or restore runs; SQLite errors.
    pub fn add_note(&mut self, body: &str) -> Result<i64, OwnerError> {
        let db = self
            .db
            .as_ref()
            .ok_or_else(|| OwnerError::new(ERR_NOT_READY, "backup or restore running"))?;
        db.execute("INSERT INTO notes (body) VALUES (?1)", [body])
            .map_err(sql_error)?;
        Ok(db.last_insert_rowid())
    }

    fn reopen(&mut self) -> Result<(), OwnerError> {
        self.db = None;
        self.db = Some(open_db(&self.cage).map_err(sql_error)?);
        Ok(())
    }
}

impl ActiveBackupDataClient for SqliteAppOwner {
    fn bur_mode_changed(&mut self, mode: &ModeInfo) -> Option<i32> {
        if mode.is_bur_running() {
            // Close: every write is committed (autocommit), closing releases the locks.
            self.db = None;
            return Some(0);
        }
        match self.reopen() {
            Ok(()) => None,
            Err(e) => {
                eprintln!("ref-sqlite-app: cannot reopen: {e}");
                None
            }
        }
    }

    fn initialise_get_backup_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        self.out = SectionReader::new(SCHEMA.to_vec());
        Ok(())
    }

    fn get_backup_data_section(&mut self, max_len: usize) -> Result<Section, OwnerError> {
        Ok(self.out.next(max_len))
    }

    fn get_snapshot_data(
        &mut self,
        _drive: DriveLetter,
        _max_len: usize,
    ) -> Result<Section, OwnerError> {
        // The active part has no history; the engine copies the database whole.
        Ok((Vec::new(), true))
    }

    fn initialise_restore_base_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        self.restored.clear();
        Ok(())
    }

    fn restore_base_data_section(&mut self, data: &[u8], last: bool) -> Result<(), OwnerError> {
        self.restored.extend_from_slice(data);
        if last && self.restored != SCHEMA {
            return Err(OwnerError::new(ERR_CORRUPT, "unknown notes schema"));
        }
        Ok(())
    }

    fn restore_complete(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        // The engine replaced the database: reopen so no stale page cache is used. The
        // mode is still restore, so close again until normal.
        self.reopen()?;
        self.db = None;
        Ok(())
    }

    fn terminate_multi_stage_operation(&mut self) {
        self.restored.clear();
    }
}

/// The binary's entry point (`ref-sqlite-app`).
pub fn main() {
    crate::run_main("ref-sqlite-app", SqliteAppOwner::open);
}

#[cfg(test)]
mod tests;
