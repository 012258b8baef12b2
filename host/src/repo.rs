//! The repository on the PC: one folder per device serial, one folder per set in the
//! same layout as on the device, and an index of chains.
//!
//! ```text
//! REPO/
//!   <serial>/
//!     index.toml            derived from the manifests; rewritten atomically
//!     .lock                 one mtpbur-host at a time per device
//!     <set>/manifest.toml   a complete, verified set
//!     <set>/<sid>/<drive>/<kind>.unit
//!     .partial-<set>/       a set being copied (never mistaken for a set)
//!     .trash-<set>/         a set being removed
//! ```
//!
//! A set appears under its name only complete and checked: it is copied into
//! `.partial-<set>`, every file and folder is synced, then one rename makes it a set and
//! the device folder is synced. Removing renames first, so a killed `mtpbur-host` leaves
//! either the whole set or none that looks complete.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use engine::manifest::{BackupType, Manifest, OwnerOutcome, is_session_name};
use engine::registration::Sid;
use engine::spool::SpoolSet;
use engine::unit::UnitKind;

/// The index file of a device folder.
pub const INDEX: &str = "index.toml";
const PARTIAL: &str = ".partial-";
const TRASH: &str = ".trash-";

/// The folder name a device serial is kept under: the serial where it is a plain name,
/// otherwise with every other character replaced (a device chooses its serial, and it
/// must not choose where on the PC its data goes).
pub fn folder_for_serial(serial: &str) -> String {
    let mut s: String = serial
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    s
}

/// The path inside a set of a file the device lists, if it is one a set may hold:
/// `manifest.toml`, `key.age` (encrypted sets) or `<sid>/<drive>/<kind>.unit`. Anything
/// else is not copied.
pub fn set_file(rel: &str) -> Option<PathBuf> {
    if rel == engine::manifest::MANIFEST_FILE || rel == engine::crypto::SET_KEY_FILE {
        return Some(PathBuf::from(rel));
    }
    let mut parts = rel.split('/');
    let (sid, drive, file) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || sid.len() != 8 || Sid::parse_hex(sid).is_none() {
        return None;
    }
    let mut d = drive.chars();
    let letter = d.next()?;
    if d.next().is_some() || !letter.is_ascii_lowercase() {
        return None;
    }
    let kind = file.strip_suffix(".unit")?;
    kind.parse::<UnitKind>().ok()?;
    Some(PathBuf::from(rel))
}

/// A repository.
#[derive(Debug, Clone)]
pub struct Repo {
    root: PathBuf,
}

impl Repo {
    /// Opens an existing repository.
    ///
    /// # Errors
    /// It is not a folder.
    pub fn open(root: &Path) -> io::Result<Self> {
        if !fs::metadata(root)?.is_dir() {
            return Err(io::Error::other(format!(
                "{}: not a folder",
                root.display()
            )));
        }
        Ok(Self {
            root: root.to_owned(),
        })
    }

    /// Opens a repository, creating its folder if needed.
    ///
    /// # Errors
    /// It cannot be created.
    pub fn create(root: &Path) -> io::Result<Self> {
        fs::create_dir_all(root)?;
        Self::open(root)
    }

    /// The device folders in the repository.
    ///
    /// # Errors
    /// The repository cannot be read.
    pub fn devices(&self) -> io::Result<Vec<DeviceRepo>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.root)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type()?.is_dir() && !name.starts_with('.') {
                out.push(DeviceRepo {
                    dir: e.path(),
                    serial: name,
                });
            }
        }
        out.sort_by(|a, b| a.serial.cmp(&b.serial));
        Ok(out)
    }

    /// The folder of the device with `serial` (created when `create`).
    ///
    /// # Errors
    /// It cannot be created, or does not exist and `create` is false.
    pub fn device(&self, serial: &str, create: bool) -> io::Result<DeviceRepo> {
        let name = folder_for_serial(serial);
        let dir = self.root.join(&name);
        if create {
            fs::create_dir_all(&dir)?;
        } else if !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{}: no sets of a device with serial {serial:?}",
                    dir.display()
                ),
            ));
        }
        Ok(DeviceRepo { dir, serial: name })
    }
}

/// One complete set in the repository.
#[derive(Debug, Clone)]
pub struct SetInfo {
    /// Its folder name (the session name).
    pub name: String,
    /// Its manifest.
    pub manifest: Manifest,
    /// Bytes of its units.
    pub size: u64,
}

impl SetInfo {
    /// True for an incremental set.
    pub fn is_incremental(&self) -> bool {
        self.manifest.backup_type == BackupType::Incremental
    }

    /// Owners that failed in this set.
    pub fn failed_owners(&self) -> Vec<Sid> {
        self.manifest
            .owners
            .iter()
            .filter(|o| !matches!(o.outcome, OwnerOutcome::Ok))
            .map(|o| o.sid)
            .collect()
    }
}

/// The sets of one device.
#[derive(Debug, Clone)]
pub struct DeviceRepo {
    dir: PathBuf,
    serial: String,
}

/// An exclusive hold on a device folder, released when dropped.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] File);

impl DeviceRepo {
    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The device's folder name.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// Takes the device folder for this process.
    ///
    /// # Errors
    /// Another `mtpbur-host` holds it.
    pub fn lock(&self) -> io::Result<Lock> {
        let f = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join(".lock"))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| {
                io::Error::other(format!(
                    "{}: another mtpbur-host is using this device's sets",
                    self.dir.display()
                ))
            },
        )?;
        Ok(Lock(f))
    }

    /// The path of set `name`.
    pub fn set_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Every complete set, oldest first (by creation time, then name), and the folders
    /// that look like sets but whose manifest cannot be read.
    ///
    /// # Errors
    /// The folder cannot be read.
    pub fn sets(&self) -> io::Result<(Vec<SetInfo>, Vec<String>)> {
        let mut sets = Vec::new();
        let mut bad = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !e.file_type()?.is_dir() || !is_session_name(&name) {
                continue;
            }
            match SpoolSet::open(e.path()).read_manifest() {
                Ok(manifest) => {
                    let size = manifest.units.iter().map(|u| u.size).sum();
                    sets.push(SetInfo {
                        name,
                        manifest,
                        size,
                    });
                }
                Err(err) => bad.push(format!("{name}: {err}")),
            }
        }
        sets.sort_by(|a, b| (&a.manifest.created, &a.name).cmp(&(&b.manifest.created, &b.name)));
        Ok((sets, bad))
    }

    /// The newest set.
    ///
    /// # Errors
    /// The folder cannot be read.
    pub fn tip(&self) -> io::Result<Option<SetInfo>> {
        Ok(self.sets()?.0.pop())
    }

    /// Set `name` and everything it builds on, base first.
    ///
    /// # Errors
    /// The set, or a set it builds on, is not in the repository.
    pub fn chain(&self, name: &str) -> Result<Vec<SetInfo>, String> {
        let (sets, _) = self
            .sets()
            .map_err(|e| format!("{}: {e}", self.dir.display()))?;
        chain_of(&sets, name)
    }

    /// Starts copying set `name`: removes what a killed run left, refuses a name that
    /// is there already.
    ///
    /// # Errors
    /// The name is not a set name, the set exists, or the folder cannot be made.
    pub fn begin(&self, name: &str) -> io::Result<PartialSet> {
        if !is_session_name(name) {
            return Err(io::Error::other(format!("{name:?} is not a set name")));
        }
        self.clean_leftovers()?;
        let final_dir = self.dir.join(name);
        if final_dir.exists() {
            return Err(io::Error::other(format!(
                "{}: a set of that name is in the repository already",
                final_dir.display()
            )));
        }
        let dir = self.dir.join(format!("{PARTIAL}{name}"));
        fs::create_dir(&dir)?;
        Ok(PartialSet {
            dir,
            final_dir,
            parent: self.dir.clone(),
        })
    }

    /// Removes what killed runs left (`.partial-*`, `.trash-*`).
    ///
    /// # Errors
    /// The folder cannot be read or cleaned.
    pub fn clean_leftovers(&self) -> io::Result<()> {
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if (name.starts_with(PARTIAL) || name.starts_with(TRASH)) && e.file_type()?.is_dir() {
                fs::remove_dir_all(e.path())?;
            }
        }
        Ok(())
    }

    /// Removes set `name`: renamed out of sight first, then deleted.
    ///
    /// # Errors
    /// The set cannot be removed.
    pub fn remove_set(&self, name: &str) -> io::Result<()> {
        let trash = self.dir.join(format!("{TRASH}{name}"));
        fs::rename(self.dir.join(name), &trash)?;
        sync_dir(&self.dir)?;
        fs::remove_dir_all(&trash)
    }

    /// Rewrites `index.toml` from the manifests.
    ///
    /// # Errors
    /// It cannot be written.
    pub fn write_index(&self) -> io::Result<()> {
        let (sets, _) = self.sets()?;
        let mut text = String::from(
            "# Written by mtpbur-host from the sets' manifests (which are what counts).\n",
        );
        for s in &sets {
            let chain = chain_of(&sets, &s.name)
                .map(|c| {
                    c.iter()
                        .map(|s| format!("{:?}", s.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let m = &s.manifest;
            text.push_str(&format!(
                "\n[[sets]]\nname = {:?}\ncreated = {:?}\ntype = {:?}\n",
                s.name,
                m.created,
                if s.is_incremental() {
                    "incremental"
                } else {
                    "base"
                }
            ));
            if let Some(p) = &m.previous {
                text.push_str(&format!("previous = {p:?}\n"));
            }
            text.push_str(&format!(
                "owners = {}\nfailed = {}\nunits = {}\nbytes = {}\nchain = [{chain}]\n",
                m.owners.len(),
                s.failed_owners().len(),
                m.units.len(),
                s.size
            ));
        }
        write_atomically(&self.dir.join(INDEX), text.as_bytes())
    }
}

/// `name` and the sets it builds on, base first.
///
/// # Errors
/// A set is missing, or the chain loops.
pub fn chain_of(sets: &[SetInfo], name: &str) -> Result<Vec<SetInfo>, String> {
    let by_name: BTreeMap<&str, &SetInfo> = sets.iter().map(|s| (s.name.as_str(), s)).collect();
    // Sets are found by the `session` their manifests give (the device checks the same).
    let by_session: BTreeMap<&str, &SetInfo> = sets
        .iter()
        .map(|s| (s.manifest.session.as_str(), s))
        .collect();
    let mut chain = Vec::new();
    let mut seen = BTreeSet::new();
    let mut at = *by_name
        .get(name)
        .ok_or_else(|| format!("there is no set {name:?}"))?;
    loop {
        if !seen.insert(at.name.clone()) {
            return Err(format!("the chain of {name} loops at {}", at.name));
        }
        chain.push(at.clone());
        let Some(prev) = &at.manifest.previous else {
            break;
        };
        at = by_session.get(prev.as_str()).copied().ok_or_else(|| {
            format!(
                "{} builds on {prev}, which is not in the repository",
                at.name
            )
        })?;
    }
    chain.reverse();
    Ok(chain)
}

/// A set being copied into the repository.
#[derive(Debug)]
pub struct PartialSet {
    dir: PathBuf,
    final_dir: PathBuf,
    parent: PathBuf,
}

impl PartialSet {
    /// The folder being filled.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates file `rel` (a [`set_file`] path) and its folders.
    ///
    /// # Errors
    /// It cannot be created, or exists.
    pub fn create(&self, rel: &Path) -> io::Result<File> {
        let path = self.dir.join(rel);
        if let Some(p) = path.parent() {
            fs::create_dir_all(p)?;
        }
        File::options().write(true).create_new(true).open(path)
    }

    /// Makes the copy a set: syncs every file and folder, renames, syncs the device
    /// folder. Returns the set's folder.
    ///
    /// # Errors
    /// A sync or the rename failed; the copy stays partial.
    pub fn commit(self) -> io::Result<PathBuf> {
        sync_tree(&self.dir)?;
        fs::rename(&self.dir, &self.final_dir)?;
        sync_dir(&self.parent)?;
        Ok(self.final_dir)
    }

    /// Throws the copy away.
    pub fn abandon(self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn sync_tree(dir: &Path) -> io::Result<()> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            sync_tree(&e.path())?;
        } else {
            File::open(e.path())?.sync_all()?;
        }
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `path` whole or not at all: a temporary file, synced, renamed over it.
///
/// # Errors
/// The file cannot be written.
pub fn write_atomically(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests;
