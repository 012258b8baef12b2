//! The reference-data fixture behind the `ref-data` binary: installs the reference owners
//! on drive roots as the engine sees them, writes deterministic sample data, changes a
//! small part of it, destroys it, and dumps all of it as canonical text.
//!
//! | Owner | SID | Cage content (relative to `<drive>/private/<sid>/`) |
//! |---|---|---|
//! | `ref-settings-store` | `10202be9` | `<client sid>.keys` |
//! | `ref-record-store` | `20000001` | `records.bin` |
//! | `ref-sqlite-app` | `20000010` | `dbms/0a5e1000/notes.db` |
//! | passive app | `20000020` | `notes.txt`, `docs/*`; public files in `<drive>/public/20000020/` |
//! | settings client | `20000030` | registration only (`<cenrep_backup/>`) |
//! | `ref-hybrid` | `20000040` | `live/journal.log` (`export/` is written during backup) |
//!
//! Every owner lives on the first drive given; further drives get only the passive app
//! (its cage files and public files), because the engine handles passive data per drive
//! while the active reference owners keep one store.

use std::fmt;
use std::path::{Path, PathBuf};

mod change;
pub mod cli;
mod data;
mod destroy;
mod dump;
mod seed;
#[cfg(test)]
mod tests;

pub use change::change;
pub use destroy::destroy;
pub use dump::dump;
pub use seed::seed;

/// The Central Repository SID the settings store runs under.
pub const SETTINGS_STORE: u32 = 0x1020_2be9;
/// The record store's SID.
pub const RECORD_STORE: u32 = 0x2000_0001;
/// The SQLite app's SID.
pub const SQLITE_APP: u32 = 0x2000_0010;
/// The passive-only app's SID.
pub const PASSIVE_APP: u32 = 0x2000_0020;
/// The settings client's SID (its keys live in the settings store).
pub const SETTINGS_CLIENT: u32 = 0x2000_0030;
/// The hybrid owner's SID.
pub const HYBRID: u32 = 0x2000_0040;

/// One reference owner the fixture installs.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    /// Its name (the directory under `data-owners/owners/`).
    pub name: &'static str,
    /// The uid its cage belongs to on a device (and in the VM): owners never run as root.
    pub uid: u32,
    /// Its SID.
    pub sid: u32,
    /// Its registration files: (file name in the cage, content).
    pub registrations: &'static [(&'static str, &'static str)],
    /// True if it is installed on every drive, not only the first.
    pub every_drive: bool,
}

const PRIMARY: &str = "backup_registration.xml";

/// The reference owners, with their shipped registrations.
pub const OWNERS: &[Owner] = &[
    Owner {
        name: "settings-store",
        uid: 10001,
        sid: SETTINGS_STORE,
        registrations: &[(
            PRIMARY,
            include_str!("../../owners/settings-store/backup_registration.xml"),
        )],
        every_drive: false,
    },
    Owner {
        name: "record-store",
        uid: 10002,
        sid: RECORD_STORE,
        registrations: &[(
            PRIMARY,
            include_str!("../../owners/record-store/backup_registration.xml"),
        )],
        every_drive: false,
    },
    Owner {
        name: "sqlite-app",
        uid: 10003,
        sid: SQLITE_APP,
        registrations: &[(
            PRIMARY,
            include_str!("../../owners/sqlite-app/backup_registration.xml"),
        )],
        every_drive: false,
    },
    Owner {
        name: "passive-app",
        uid: 10004,
        sid: PASSIVE_APP,
        registrations: &[
            (
                PRIMARY,
                include_str!("../../owners/passive-app/backup_registration.xml"),
            ),
            (
                "backup_registration_public.xml",
                include_str!("../../owners/passive-app/backup_registration_public.xml"),
            ),
        ],
        every_drive: true,
    },
    Owner {
        name: "settings-client",
        uid: 10005,
        sid: SETTINGS_CLIENT,
        registrations: &[(
            PRIMARY,
            include_str!("../../owners/settings-client/backup_registration.xml"),
        )],
        every_drive: false,
    },
    Owner {
        name: "hybrid",
        uid: 10006,
        sid: HYBRID,
        registrations: &[(
            PRIMARY,
            include_str!("../../owners/hybrid/backup_registration.xml"),
        )],
        every_drive: false,
    },
];

/// A drive as the engine sees it: a letter and its root directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveRoot {
    /// The drive letter (`a`–`z`).
    pub letter: char,
    /// The root directory.
    pub root: PathBuf,
}

impl DriveRoot {
    /// A drive.
    pub fn new(letter: char, root: impl Into<PathBuf>) -> Self {
        Self {
            letter,
            root: root.into(),
        }
    }

    /// The cage of `sid` on this drive.
    pub fn cage(&self, sid: u32) -> PathBuf {
        self.root.join("private").join(format!("{sid:08x}"))
    }

    /// The passive app's public directory on this drive.
    pub fn public_dir(&self) -> PathBuf {
        self.root.join("public").join(format!("{PASSIVE_APP:08x}"))
    }
}

/// As root, gives every installed owner's cage (and the passive app's public folder) to
/// the owner's own uid, through `lchown` (never following a link): the engine never
/// starts an owner as root, and everything an owner keeps is its own. Not as root,
/// nothing changes (the files are the caller's already).
///
/// # Errors
/// The first file that could not be handed over.
pub fn hand_over(drives: &[DriveRoot]) -> Result<(), FixtureError> {
    if !rustix::process::geteuid().is_root() {
        return Ok(());
    }
    for (i, drive) in drives.iter().enumerate() {
        for owner in owners_on(i) {
            chown_tree(&drive.cage(owner.sid), owner.uid)?;
        }
        let public_owner = OWNERS
            .iter()
            .find(|o| o.sid == PASSIVE_APP)
            .map_or(0, |o| o.uid);
        chown_tree(&drive.public_dir(), public_owner)?;
    }
    Ok(())
}

fn chown_tree(path: &Path, uid: u32) -> Result<(), FixtureError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).map_err(FixtureError::at(path))?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)
            .map_err(FixtureError::at(path))?
            .flatten()
        {
            chown_tree(&entry.path(), uid)?;
        }
    }
    Ok(())
}

/// The owners installed on `drives[index]`.
pub fn owners_on(index: usize) -> impl Iterator<Item = &'static Owner> {
    OWNERS.iter().filter(move |o| index == 0 || o.every_drive)
}

/// A failure, naming the file it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureError {
    /// The file or directory.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

impl FixtureError {
    /// An error about `path`.
    pub fn new(path: &Path, message: impl fmt::Display) -> Self {
        Self {
            path: path.to_owned(),
            message: message.to_string(),
        }
    }

    /// A closure turning an error into a [`FixtureError`] about `path`.
    pub fn at<E: fmt::Display>(path: &Path) -> impl FnOnce(E) -> Self + '_ {
        move |e| Self::new(path, e)
    }
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for FixtureError {}

/// Creates the cages of every reference owner with their registrations, the SQLite app's
/// database (empty table) and the public directory. Idempotent: existing data is kept,
/// registrations are rewritten only if they differ.
///
/// # Errors
/// The first file that could not be created.
pub fn install(drives: &[DriveRoot]) -> Result<(), FixtureError> {
    for (i, drive) in drives.iter().enumerate() {
        for owner in owners_on(i) {
            let cage = drive.cage(owner.sid);
            std::fs::create_dir_all(&cage).map_err(FixtureError::at(&cage))?;
            for (name, xml) in owner.registrations {
                let path = cage.join(name);
                if std::fs::read(&path).ok().as_deref() != Some(xml.as_bytes()) {
                    super::write_atomic(&path, xml.as_bytes()).map_err(FixtureError::at(&path))?;
                }
            }
        }
        if i == 0 {
            let cage = drive.cage(SQLITE_APP);
            super::sqlite_app::open_db(&cage)
                .map_err(FixtureError::at(&super::sqlite_app::db_path(&cage)))?;
        }
        let public = drive.public_dir();
        std::fs::create_dir_all(&public).map_err(FixtureError::at(&public))?;
    }
    hand_over(drives)
}

/// True for a registration file name (`backup_registration*.xml`).
pub fn is_registration(name: &str) -> bool {
    name.starts_with("backup_registration") && name.ends_with(".xml")
}
