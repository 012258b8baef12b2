//! Crash recovery: what a session leaves behind when a power cut or a kill interrupts
//! it, and how the next start finishes or undoes it.
//!
//! A session writes a journal, `<spool>/.session.toml` (its kind and the folder it
//! writes or reads), durably before it touches anything, and removes it when it ends.
//! [`recover`] runs when the engine starts, before any session:
//!
//! 1. an interrupted **backup**: its set has no manifest (the manifest is written last,
//!    after every unit is durable), so the set is useless and is removed; a set that has
//!    its manifest is complete and kept;
//! 2. an interrupted **owner commit** (`crate::commit`): its journal
//!    `<spool>/.commit-<sid>.toml` names the owner's staged cages and public files, all
//!    durable before the journal was written; the commit is finished (each cage
//!    exchanged unless it was, and handed over; each public file placed unless it was).
//!    Then every drive's staging folders (`private/.<sid>.staging`: either new data whose
//!    commit was never journalled, or an old cage after its exchange) are removed, so
//!    each owner has entirely its old or entirely its new engine-held data;
//! 3. the spool's scratch folders (database copies, units in transit) are emptied, and
//!    the temporary files (`.mtpbur-*.tmp`) a public or system restore may have left are
//!    removed from the folders it noted in `<spool>/.session-temps` ([`TempLog`]) before
//!    creating the first one there;
//! 4. the journal is removed; the BUR mode starts in Normal ([`crate::mode::ModeBus`]),
//!    which owners hear when they connect.
//!
//! What was interrupted is returned, so that the Backup storage can say so in
//! `status.toml`.
#![allow(
    clippy::disallowed_methods,
    reason = "the spool and the drives' private folders are root's, configured by the profile"
)]

use std::path::{Path, PathBuf};

use crate::confined::{Dir, Kind};
use crate::registration::Drive;

/// The journal's name in the spool (hidden: the Backup storage never shows it).
pub const JOURNAL: &str = ".session.toml";

/// Where a session notes the folders it creates temporary files in (see [`TempLog`]).
pub const TEMPS: &str = ".session-temps";

/// The prefix and suffix of the confined layer's temporary names.
const TEMP_PREFIX: &str = ".mtpbur-";
const TEMP_SUFFIX: &str = ".tmp";

/// The spool's scratch folders, emptied at start.
const SCRATCH: &[&str] = &[".dbms-scratch", ".unit-transfer"];

/// What kind of session was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A backup into a new set.
    Backup,
    /// A restore of a chain of sets.
    Restore,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Backup => "backup",
            Self::Restore => "restore",
        }
    }
}

/// A session that did not end: what the journal said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interrupted {
    /// Its kind.
    pub kind: SessionKind,
    /// The folder (below the spool) it wrote (backup) or whose result it was to write
    /// (restore).
    pub folder: String,
}

/// What [`recover`] found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The session that was interrupted, if any.
    pub interrupted: Option<Interrupted>,
    /// Cages whose commit (exchange and hand-over) was finished.
    pub handed_over: Vec<PathBuf>,
    /// What was removed (incomplete sets, staging folders, scratch files).
    pub removed: Vec<PathBuf>,
    /// What could not be cleaned up, in words (logged; the next start tries again).
    pub problems: Vec<String>,
}

/// Records, durably, that a session starts.
///
/// # Errors
/// The journal cannot be written; the session must not start then.
pub fn begin(spool: &Path, kind: SessionKind, folder: &str) -> std::io::Result<()> {
    let text = format!(
        "kind = {}\nfolder = {}\n",
        toml::Value::String(kind.as_str().into()),
        toml::Value::String(folder.into())
    );
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(spool)?;
    crate::mode::write_atomically(&spool.join(JOURNAL), text.as_bytes(), 0o600)
}

/// Records, durably, that the session ended.
///
/// # Errors
/// The journal cannot be removed.
pub fn end(spool: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(spool.join(TEMPS)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    match std::fs::remove_file(spool.join(JOURNAL)) {
        Ok(()) => std::fs::File::open(spool)?.sync_all(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Reads the journal, if a session was running.
fn read_journal(spool: &Path) -> Option<Interrupted> {
    let text = std::fs::read_to_string(spool.join(JOURNAL)).ok()?;
    let table: toml::Table = text.parse().ok()?;
    let kind = match table.get("kind")?.as_str()? {
        "backup" => SessionKind::Backup,
        "restore" => SessionKind::Restore,
        _ => return None,
    };
    let folder = table.get("folder")?.as_str()?.to_owned();
    crate::manifest::is_session_name(&folder).then_some(Interrupted { kind, folder })
}

/// Finishes or undoes what an interrupted session left (see the module documentation).
pub fn recover(spool: &Path, drives: &[Drive]) -> Recovered {
    let mut out = Recovered {
        interrupted: read_journal(spool),
        ..Recovered::default()
    };
    if let Some(Interrupted {
        kind: SessionKind::Backup,
        folder,
    }) = out.interrupted.clone()
    {
        remove_incomplete_set(spool, &folder, &mut out);
    }
    let commits = crate::commit::recover(spool, drives);
    out.handed_over.extend(commits.cages);
    out.problems.extend(commits.problems);
    for drive in drives {
        remove_staging(&drive.root.join("private"), &mut out);
    }
    remove_noted_temps(spool, drives, &mut out);
    for scratch in SCRATCH {
        let dir = spool.join(scratch);
        if dir.exists() {
            remove(&dir, &mut out);
        }
    }
    if let Err(e) = end(spool) {
        out.problems
            .push(format!("{}: {e}", spool.join(JOURNAL).display()));
    }
    for p in &out.problems {
        tracing::warn!(problem = %p, "recovery");
    }
    out
}

/// Notes, durably and once per folder, each folder a session creates a temporary file in,
/// so that the next start can remove what a power cut left there.
#[derive(Debug)]
pub struct TempLog {
    file: PathBuf,
    noted: std::sync::Mutex<std::collections::BTreeSet<PathBuf>>,
}

impl TempLog {
    /// A log in `spool` (the session's journal folder).
    pub fn new(spool: &Path) -> Self {
        Self {
            file: spool.join(TEMPS),
            noted: std::sync::Mutex::default(),
        }
    }

    /// Notes `dir` (an absolute path below a drive) before a temporary file is created
    /// in it.
    ///
    /// # Errors
    /// The log cannot be written; the temporary file must not be created then.
    pub fn note(&self, dir: &Path) -> std::io::Result<()> {
        use std::io::Write;
        let mut noted = self
            .noted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if noted.contains(dir) {
            return Ok(());
        }
        let mut file = std::os::unix::fs::OpenOptionsExt::mode(
            std::fs::OpenOptions::new().create(true).append(true),
            0o600,
        )
        .open(&self.file)?;
        file.write_all(format!("{}\n", dir.display()).as_bytes())?;
        file.sync_all()?;
        noted.insert(dir.to_owned());
        Ok(())
    }
}

/// Removes the confined layer's temporary files from the folders the log names. Each
/// folder is reached from its drive's root without following a link; folders outside
/// every drive are ignored.
fn remove_noted_temps(spool: &Path, drives: &[Drive], out: &mut Recovered) {
    let Ok(text) = std::fs::read_to_string(spool.join(TEMPS)) else {
        return;
    };
    for line in text.lines().collect::<std::collections::BTreeSet<_>>() {
        let path = Path::new(line);
        let Some((drive, rel)) = drives
            .iter()
            .find_map(|d| Some((d, path.strip_prefix(&d.root).ok()?.to_str()?)))
        else {
            continue;
        };
        let Ok(dir) = Dir::open_root(&drive.root).and_then(|r| r.open_dir(rel)) else {
            continue;
        };
        for e in dir.entries().unwrap_or_default() {
            let ours = e.name.starts_with(TEMP_PREFIX) && e.name.ends_with(TEMP_SUFFIX);
            if ours && e.kind == Kind::File {
                match dir.remove_file(&e.name) {
                    Ok(()) => out.removed.push(path.join(&e.name)),
                    Err(err) => out
                        .problems
                        .push(format!("{}: {err}", path.join(&e.name).display())),
                }
            }
        }
    }
}

/// Removes the set of an interrupted backup unless its manifest made it complete.
fn remove_incomplete_set(spool: &Path, folder: &str, out: &mut Recovered) {
    let set = spool.join(folder);
    if set.join(crate::manifest::MANIFEST_FILE).exists() || !set.exists() {
        return;
    }
    remove(&set, out);
}

/// Removes the staging folders in one `private/`.
fn remove_staging(private: &Path, out: &mut Recovered) {
    let Ok(dir) = Dir::open_root(private) else {
        return;
    };
    let Ok(entries) = dir.entries() else {
        out.problems
            .push(format!("{}: cannot be listed", private.display()));
        return;
    };
    for e in entries {
        if e.kind == Kind::Dir && e.name.starts_with('.') && e.name.ends_with(".staging") {
            match dir.remove_tree(&e.name) {
                Ok(()) => out.removed.push(private.join(&e.name)),
                Err(err) => out
                    .problems
                    .push(format!("{}: {err}", private.join(&e.name).display())),
            }
        }
    }
    if let Err(e) = dir.sync() {
        out.problems.push(format!("{}: {e}", private.display()));
    }
}

/// Removes a file or a tree, recording it.
fn remove(path: &Path, out: &mut Recovered) {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
    else {
        return;
    };
    let removed = Dir::open_root(parent).and_then(|d| {
        d.remove_tree(name)?;
        d.sync()
    });
    match removed {
        Ok(()) => out.removed.push(path.to_owned()),
        Err(e) => out.problems.push(format!("{}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests;
