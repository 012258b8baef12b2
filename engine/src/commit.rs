//! One owner's restore committed as a whole: everything the engine itself writes for an
//! owner (each cage with its passive data and databases, its public files) is staged and
//! durable first, then a journal names it, then it is put in place. After a power cut,
//! recovery finishes a journalled commit and removes an unjournalled one, so each owner
//! has entirely its old or entirely its new engine-held data.
//!
//! The order of writes (docs/engine.md, "Durability"):
//!
//! 1. **stage**: each cage's staging copy is synced (`syncfs`), each public file is
//!    synced under its temporary name, and each folder holding one is synced;
//! 2. **journal**: `<spool>/.commit-<sid>.toml` is written atomically (temporary file,
//!    fsync, rename, fsync of the spool). From here on the commit is rolled forward;
//! 3. **apply**: each cage is exchanged with its staging copy and handed over, each public
//!    file is renamed over its target (as its owner), each folder is synced;
//! 4. **end**: the journal is removed (the spool synced), then the old cages.
//!
//! A power cut before step 2 leaves staging folders and temporary files, which recovery
//! removes: the old data stays. After it, [`recover`] does step 3 again for whatever is
//! not done: a cage is exchanged only if its staging folder is still the staged one (by
//! device and inode, which nobody can forge), a public file is renamed only if its
//! temporary file is still there.
#![allow(
    clippy::disallowed_methods,
    reason = "the spool is root's, configured by the profile"
)]

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::passive::{CageRecord, StagedCage};
use crate::public::{FileRecord, StagedFile};
use crate::registration::{Drive, Sid};

/// The journal's name prefix in the spool (hidden: the Backup storage never shows it).
const JOURNAL_PREFIX: &str = ".commit-";
const JOURNAL_SUFFIX: &str = ".toml";

/// Why a commit failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// Staging could not be made durable or the journal written: nothing was changed.
    #[error("nothing restored: {0}")]
    Prepare(String),
    /// Some parts could not be put in place (the others were).
    #[error("partly restored ({done} of {total} parts in place): {}", problems.join("; "))]
    Apply {
        /// Parts put in place.
        done: usize,
        /// Parts in all.
        total: usize,
        /// What failed, in words.
        problems: Vec<String>,
    },
}

/// The journal of one owner's commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Journal {
    sid: String,
    #[serde(default)]
    cage: Vec<CageRecord>,
    #[serde(default)]
    file: Vec<FileRecord>,
}

/// Everything staged for one owner, committed together by [`OwnerCommit::commit`].
#[derive(Debug)]
pub struct OwnerCommit {
    sid: Sid,
    spool: PathBuf,
    cages: Vec<StagedCage>,
    files: Vec<StagedFile>,
}

impl OwnerCommit {
    /// An empty commit for `sid`, journalled in `spool`.
    pub fn new(spool: &Path, sid: Sid) -> Self {
        Self {
            sid,
            spool: spool.to_owned(),
            cages: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Adds a staged cage.
    pub fn add_cage(&mut self, cage: StagedCage) {
        self.cages.push(cage);
    }

    /// Adds staged public files.
    pub fn add_files(&mut self, files: impl IntoIterator<Item = StagedFile>) {
        self.files.extend(files);
    }

    /// Returns true if nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.cages.is_empty() && self.files.is_empty()
    }

    /// Commits everything staged (see the module documentation). Dropped without commit,
    /// the staged data is removed (public temporary files at once, staging folders by the
    /// next restore or recovery) and nothing changes.
    ///
    /// # Errors
    /// [`CommitError::Prepare`] if nothing was changed, [`CommitError::Apply`] naming what
    /// could not be put in place.
    pub fn commit(self) -> Result<(), CommitError> {
        if self.is_empty() {
            return Ok(());
        }
        let journal = self.spool.join(journal_name(self.sid));
        self.prepare(&journal)?;
        let total = self.cages.len() + self.files.len();
        let mut problems = Vec::new();
        for cage in &self.cages {
            if let Err(e) = cage.apply() {
                problems.push(format!("{}: {e}", cage.cage().display()));
            }
        }
        for file in self.files {
            let shown = file.record();
            let folder = file.folder().try_clone();
            let placed = file.apply().and_then(|()| folder?.sync());
            if let Err(e) = placed {
                let path = shown.root.join(&shown.dir).join(&shown.name);
                problems.push(format!("{}: {e}", path.display()));
            }
        }
        // Whatever failed now would fail again at recovery: the journal ends here.
        if let Err(e) = remove_journal(&journal) {
            problems.push(format!("{}: {e}", journal.display()));
        }
        // The old cages go when `self.cages` is dropped, after the journal.
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CommitError::Apply {
                done: total.saturating_sub(problems.len()),
                total,
                problems,
            })
        }
    }

    /// Steps 1 and 2: the public folders synced (the cages were synced when staged), then
    /// the journal written durably.
    fn prepare(&self, journal: &Path) -> Result<(), CommitError> {
        let fail = |what: &dyn std::fmt::Display| CommitError::Prepare(what.to_string());
        for file in &self.files {
            file.folder()
                .sync()
                .map_err(|e| fail(&format_args!("{}: {e}", file.folder().path().display())))?;
        }
        let record = Journal {
            sid: self.sid.to_string(),
            cage: self.cages.iter().map(StagedCage::record).collect(),
            file: self.files.iter().map(StagedFile::record).collect(),
        };
        let text = toml::to_string(&record).map_err(|e| fail(&e))?;
        crate::mode::write_atomically(journal, text.as_bytes(), 0o600)
            .map_err(|e| fail(&format_args!("{}: {e}", journal.display())))
    }
}

fn journal_name(sid: Sid) -> String {
    format!("{JOURNAL_PREFIX}{sid}{JOURNAL_SUFFIX}")
}

fn remove_journal(journal: &Path) -> std::io::Result<()> {
    std::fs::remove_file(journal)?;
    let spool = journal.parent().unwrap_or(Path::new("/"));
    std::fs::File::open(spool)?.sync_all()
}

/// What [`recover`] did.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Cages whose commit was finished.
    pub cages: Vec<PathBuf>,
    /// Public files placed.
    pub files: usize,
    /// What could not be finished, in words.
    pub problems: Vec<String>,
}

/// Finishes every journalled commit in `spool` (step 3 for what is not done, then the
/// journal is removed). A journal is trusted only as far as the device's configuration
/// goes: a cage must be in a configured drive's `private/`, a public file below a
/// configured drive's root, renamed as a user other than root.
pub fn recover(spool: &Path, drives: &[Drive]) -> Recovered {
    let mut out = Recovered::default();
    let Ok(entries) = std::fs::read_dir(spool) else {
        return out;
    };
    let mut journals: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(JOURNAL_PREFIX) && name.ends_with(JOURNAL_SUFFIX)
        })
        .map(|e| e.path())
        .collect();
    journals.sort();
    for path in journals {
        match read_journal(&path) {
            Ok(journal) => finish(&journal, drives, &mut out),
            Err(e) => out.problems.push(format!("{}: {e}", path.display())),
        }
        if let Err(e) = remove_journal(&path) {
            out.problems.push(format!("{}: {e}", path.display()));
        }
    }
    out
}

fn read_journal(path: &Path) -> Result<Journal, String> {
    let text = crate::confined::read_text(path, 1 << 20).map_err(|e| e.to_string())?;
    toml::from_str(&text).map_err(|e| e.to_string())
}

fn finish(journal: &Journal, drives: &[Drive], out: &mut Recovered) {
    for cage in &journal.cage {
        let path = cage.private.join(&cage.cage);
        let trusted = drives
            .iter()
            .any(|d| cage.private == d.root.join("private"))
            && Sid::parse_hex(&cage.cage).is_some_and(|sid| sid.to_string() == cage.cage);
        if !trusted {
            out.problems
                .push(format!("{}: not a cage of this device", path.display()));
            continue;
        }
        match crate::passive::finish_commit(cage) {
            Ok(()) => out.cages.push(path),
            Err(e) => out.problems.push(format!("{}: {e}", path.display())),
        }
    }
    for file in &journal.file {
        let path = file.root.join(&file.dir).join(&file.name);
        let trusted = drives.iter().any(|d| file.root == d.root) && file.owner.0 != 0;
        if !trusted {
            out.problems.push(format!(
                "{}: not a public file of this device",
                path.display()
            ));
            continue;
        }
        match crate::public::finish_commit(file) {
            Ok(()) => out.files += 1,
            Err(e) => out.problems.push(format!("{}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests;
