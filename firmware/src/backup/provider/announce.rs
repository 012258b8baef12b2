//! Finding what a session wrote into its folder, so the host hears ObjectAdded for every
//! unit file (as it is finished), the owner folders and the manifest.
//!
//! The engine writes unit files under temporary names and renames them when complete;
//! temporary names are hidden ([`is_hidden`]), so whatever a scan finds is final.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Deepest level below a set folder that is scanned (`<SID>/<drive>/<unit>` is 3).
const MAX_DEPTH: usize = 4;

/// True for names the Backup storage never shows: the engine's temporary files
/// (`*.part`, `.name.tmp-pid`) and other hidden files.
pub(crate) fn is_hidden(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.') || name.ends_with(".part")
}

/// Remembers what was announced in the watched folder.
#[derive(Debug, Default)]
pub(crate) struct Announcer {
    folder: Option<String>,
    known: HashSet<PathBuf>,
}

impl Announcer {
    /// Starts watching `folder` (a path below the spool). With `prime`, what it holds now
    /// counts as known (a restore's set, which the host has seen already).
    pub(crate) fn watch(&mut self, spool: &Path, folder: &str, prime: bool) {
        if self.folder.as_deref() == Some(folder) {
            return;
        }
        self.folder = Some(folder.to_owned());
        self.known.clear();
        if prime {
            // What the set holds now is known to the host, except the file the restore
            // writes: the first scan may come after the (quick) restore has finished.
            let _ = self.scan(spool);
            self.known
                .remove(&Path::new(folder).join(engine::runner::RESTORE_RESULT_FILE));
        }
    }

    /// Returns the entries of the watched folder (itself included) that appeared since
    /// the last scan, as paths below the spool, parents before children.
    pub(crate) fn scan(&mut self, spool: &Path) -> Vec<PathBuf> {
        let Some(folder) = self.folder.clone() else {
            return Vec::new();
        };
        let top = PathBuf::from(&folder);
        if !spool.join(&top).is_dir() {
            return Vec::new();
        }
        let mut found = Vec::new();
        if self.known.insert(top.clone()) {
            found.push(top.clone());
        }
        let mut stack = vec![(top, 0usize)];
        while let Some((rel, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(spool.join(&rel)) else {
                continue;
            };
            let mut names: Vec<(PathBuf, bool)> = entries
                .flatten()
                .filter(|e| !is_hidden(&e.file_name()))
                .filter_map(|e| {
                    let ty = e.file_type().ok()?;
                    (ty.is_file() || ty.is_dir()).then(|| (rel.join(e.file_name()), ty.is_dir()))
                })
                .collect();
            names.sort();
            for (path, is_dir) in names {
                if self.known.insert(path.clone()) {
                    found.push(path.clone());
                }
                if is_dir && depth < MAX_DEPTH {
                    stack.push((path, depth + 1));
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_hidden() {
        assert!(is_hidden(OsStr::new("passive-base.unit.part")));
        assert!(is_hidden(OsStr::new(".manifest.toml.tmp-42")));
        assert!(!is_hidden(OsStr::new("manifest.toml")));
        assert!(!is_hidden(OsStr::new("0ab7e58c")));
    }

    #[test]
    fn each_entry_is_announced_once_parents_first_and_temporaries_never() {
        let spool = tempfile::tempdir().unwrap();
        let mut a = Announcer::default();
        a.watch(spool.path(), "s1", false);
        assert!(a.scan(spool.path()).is_empty(), "folder not there yet");
        let unit_dir = spool.path().join("s1/0ab7e58c/c");
        std::fs::create_dir_all(&unit_dir).unwrap();
        std::fs::write(unit_dir.join("active-base.unit.part"), b"x").unwrap();
        let first = a.scan(spool.path());
        let names: Vec<_> = first
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["s1", "s1/0ab7e58c", "s1/0ab7e58c/c"]);
        std::fs::rename(
            unit_dir.join("active-base.unit.part"),
            unit_dir.join("active-base.unit"),
        )
        .unwrap();
        std::fs::write(spool.path().join("s1/manifest.toml"), b"m").unwrap();
        let second = a.scan(spool.path());
        assert_eq!(
            second,
            [
                PathBuf::from("s1/manifest.toml"),
                PathBuf::from("s1/0ab7e58c/c/active-base.unit")
            ]
        );
        assert!(a.scan(spool.path()).is_empty());
    }

    #[test]
    fn priming_a_watched_set_announces_only_new_files() {
        let spool = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(spool.path().join("base/0ab7e58c")).unwrap();
        std::fs::write(spool.path().join("base/manifest.toml"), b"m").unwrap();
        let mut a = Announcer::default();
        std::fs::write(spool.path().join("base/restore-result.toml"), b"old").unwrap();
        a.watch(spool.path(), "base", true);
        std::fs::write(spool.path().join("base/restore-result.toml"), b"r").unwrap();
        assert_eq!(
            a.scan(spool.path()),
            [PathBuf::from("base/restore-result.toml")]
        );
    }
}
