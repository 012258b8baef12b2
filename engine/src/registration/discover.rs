//! I/O shell: finds and parses the registration files on the configured drives.
#![allow(
    clippy::disallowed_methods,
    reason = "listing only (entry types are never followed); every registration file is read through confined::read_text"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::model::{BackupRegistration, PackageRegistration, RegistrationFile, Sid};
use super::parse::{FileRole, ParseError, parse_registration};
use super::{ENGINE_SID, merge};

/// A configured drive: a letter and the directory that stands for its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drive {
    /// The drive letter, lower case.
    pub letter: char,
    /// The directory holding the drive's files (`private/`, public folders).
    pub root: PathBuf,
    /// On removable media: `root` must be a mount point to be backed up or restored.
    pub removable: bool,
}

impl Drive {
    /// Creates a drive (the letter is stored in lower case).
    pub fn new(letter: char, root: impl Into<PathBuf>) -> Self {
        Self {
            letter: letter.to_ascii_lowercase(),
            root: root.into(),
            removable: false,
        }
    }

    /// Marks the drive as removable media: it is used only while something is mounted
    /// on its root.
    pub fn on_removable_media(mut self) -> Self {
        self.removable = true;
        self
    }

    /// Whether the drive can be used now: always for a fixed drive; for removable media,
    /// when its root is a mount point (on another file system than its parent), so that
    /// an unmounted card is never backed up empty nor restored onto the root file system.
    pub fn is_present(&self) -> bool {
        if !self.removable {
            return true;
        }
        let dev = |p: &std::path::Path| rustix::fs::stat(p).ok().map(|s| s.st_dev);
        match (dev(&self.root), self.root.parent().and_then(dev)) {
            (Some(root), Some(parent)) => root != parent,
            _ => false,
        }
    }

    /// Returns the cage of `sid` on this drive: `<root>/private/<sid>`.
    pub fn cage(&self, sid: Sid) -> PathBuf {
        self.root.join("private").join(sid.to_string())
    }
}

/// Returns who owns the cages of `sid`: the owner of its first cage (a cage is a
/// directory, never a symbolic link). The engine acts with this identity on the owner's
/// public files and databases. An import package without an owner has no cage: its
/// package directory (in the engine's own cage on drive c, installed by the device
/// maker) stands for it.
///
/// # Errors
/// `NotFound` if `sid` has neither a cage on any drive nor a package directory.
pub fn owner_identity(
    drives: &[Drive],
    sid: Sid,
) -> std::io::Result<crate::confined::identity::Identity> {
    let package = format!("private/{ENGINE_SID}/import/packages/{sid}");
    let places = drives.iter().map(|d| (d, format!("private/{sid}"))).chain(
        drives
            .iter()
            .filter(|d| d.letter == 'c')
            .map(|d| (d, package.clone())),
    );
    for (drive, rel) in places {
        let Ok(root) = crate::confined::Dir::open_root(&drive.root) else {
            continue;
        };
        if let Some(meta) = root.stat(&rel)? {
            if meta.kind == crate::confined::Kind::Dir {
                return Ok(crate::confined::identity::Identity::new(meta.uid, meta.gid));
            }
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("{sid} has no cage on any drive"),
    ))
}

/// Why a registration file (and with it an owner or package) was left out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationErrorKind {
    /// The file could not be parsed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// The owner has secondary files but no `backup_registration.xml`.
    #[error("no primary backup_registration.xml")]
    NoPrimary,
}

/// A registration problem with the file it was found in.
#[derive(Debug, thiserror::Error)]
#[error("{}: {kind}", file.display())]
pub struct RegistrationError {
    /// The file.
    pub file: PathBuf,
    /// The owner the file belongs to (`None` for import packages).
    pub sid: Option<Sid>,
    /// The reason.
    pub kind: RegistrationErrorKind,
}

/// A registered owner with the files it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The merged registration.
    pub registration: BackupRegistration,
    /// The registration files, primary first.
    pub files: Vec<PathBuf>,
}

/// The result of a discovery: the usable owners and packages, and every error.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Owners by SID.
    pub owners: BTreeMap<Sid, Owner>,
    /// Import packages.
    pub packages: Vec<PackageRegistration>,
    /// Files that were left out, with the reason.
    pub errors: Vec<RegistrationError>,
}

/// Scans every drive for registration files and parses them.
///
/// A directory under `private/` whose name is not 8 hex digits is skipped. A broken file
/// leaves out only its owner (or package); the error is returned in
/// [`Discovery::errors`] and logged.
pub fn discover(drives: &[Drive], cenrep: Sid) -> Discovery {
    let mut found: BTreeMap<Sid, Vec<PathBuf>> = BTreeMap::new();
    for drive in drives {
        for (sid, file) in registration_files(&drive.root.join("private")) {
            found.entry(sid).or_default().push(file);
        }
    }
    let mut out = Discovery::default();
    for (sid, files) in found {
        match load_owner(sid, files, cenrep) {
            Ok(owner) => {
                out.owners.insert(sid, owner);
            }
            Err(e) => {
                tracing::warn!(%sid, error = %e, "registration left out");
                out.errors.push(e);
            }
        }
    }
    if let Some(c) = drives.iter().find(|d| d.letter == 'c') {
        load_packages(
            &c.cage(ENGINE_SID).join("import").join("packages"),
            cenrep,
            &mut out,
        );
    }
    out
}

fn registration_files(private: &Path) -> Vec<(Sid, PathBuf)> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(private) else {
        return out;
    };
    for dir in dirs.flatten() {
        // A cage is a real directory; a symlink could point anywhere.
        if !dir.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = dir.file_name();
        let Some(sid) = name
            .to_str()
            .filter(|n| n.len() == 8)
            .and_then(Sid::parse_hex)
        else {
            continue;
        };
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        let mut names: Vec<PathBuf> = files
            .flatten()
            .filter(|f| f.file_type().is_ok_and(|t| t.is_file()))
            .map(|f| f.path())
            .filter(|p| is_registration_name(p))
            .collect();
        names.sort();
        out.extend(names.into_iter().map(|p| (sid, p)));
    }
    out
}

fn is_registration_name(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        let n = n.to_ascii_lowercase();
        n.starts_with("backup_registration") && n.ends_with(".xml")
    })
}

fn is_primary(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.eq_ignore_ascii_case("backup_registration.xml"))
}

fn load_owner(sid: Sid, files: Vec<PathBuf>, cenrep: Sid) -> Result<Owner, RegistrationError> {
    let primary_path = files
        .iter()
        .find(|p| is_primary(p))
        .cloned()
        .ok_or_else(|| RegistrationError {
            file: files.first().cloned().unwrap_or_default(),
            sid: Some(sid),
            kind: RegistrationErrorKind::NoPrimary,
        })?;
    let primary = load_file(&primary_path, sid, FileRole::Primary)?;
    let mut warnings = warnings_of(&primary_path, &primary);
    let mut secondaries = Vec::new();
    let mut paths = vec![primary_path.clone()];
    for file in files.into_iter().filter(|p| !is_primary(p)) {
        let secondary = load_file(&file, sid, FileRole::Secondary)?;
        warnings.extend(warnings_of(&file, &secondary));
        secondaries.push(secondary);
        paths.push(file);
    }
    let mut registration = merge(sid, primary, secondaries, cenrep);
    registration.warnings = warnings;
    Ok(Owner {
        registration,
        files: paths,
    })
}

fn load_file(path: &Path, sid: Sid, role: FileRole) -> Result<RegistrationFile, RegistrationError> {
    let err = |kind| RegistrationError {
        file: path.to_owned(),
        sid: Some(sid),
        kind,
    };
    let text = crate::confined::read_text(path, crate::confined::SMALL_FILE_LIMIT)
        .map_err(|e| err(e.into()))?;
    parse_registration(&text, sid, role).map_err(|e| err(e.into()))
}

/// The warnings of a registration file, each with the file's path, for its owner.
fn warnings_of(path: &Path, file: &RegistrationFile) -> Vec<String> {
    file.warnings
        .iter()
        .map(|w| format!("{}: {w}: left out", path.display()))
        .collect()
}

/// Reads the import packages. A package whose id is no owner's SID is backed up on its
/// own, as an owner with only its system data and public files (Symbian's package data
/// transfer): so an application installed without data of its own still comes back. A
/// package whose id is an owner's SID is that owner's: its file list is the owner's
/// system data.
fn load_packages(dir: &Path, cenrep: Sid, out: &mut Discovery) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut dirs: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    for pkg_dir in dirs {
        let Some(id) = pkg_dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(Sid::parse_hex)
        else {
            continue;
        };
        let file = pkg_dir.join("backup_registration.xml");
        if !file.is_file() {
            continue;
        }
        let parsed = crate::confined::read_text(&file, crate::confined::SMALL_FILE_LIMIT)
            .map_err(RegistrationErrorKind::from)
            .and_then(|t| {
                parse_registration(&t, id, FileRole::Package).map_err(RegistrationErrorKind::from)
            });
        match parsed {
            Ok(reg) => {
                out.packages.push(PackageRegistration {
                    package_id: id.0,
                    public: reg.public.clone(),
                    system_backup: reg.system_backup,
                });
                let has_data = reg.system_backup || reg.public.is_some();
                if has_data && !out.owners.contains_key(&id) {
                    out.owners.insert(
                        id,
                        Owner {
                            registration: merge(id, reg, Vec::new(), cenrep),
                            files: vec![file],
                        },
                    );
                }
            }
            Err(kind) => {
                let e = RegistrationError {
                    file,
                    sid: None,
                    kind,
                };
                tracing::warn!(error = %e, "package registration left out");
                out.errors.push(e);
            }
        }
    }
}
