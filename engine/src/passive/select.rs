//! Passive file selection inside a cage (the rules are pure; the walk is I/O through the
//! confined layer).

use crate::confined::{Dir, Kind, Meta};
use crate::registration::{CagePath, PassiveBackup, Selection};
use std::collections::BTreeMap;

/// Returns true if `path` (relative to the cage) is selected by `passive`.
///
/// A path is selected when an include covers it (a file include names exactly it, a
/// directory include contains it) and no exclude contains it. Registration files at the
/// cage root and everything under a `NoBackup` directory at the root are never selected.
pub fn is_selected(path: &CagePath, passive: &PassiveBackup) -> bool {
    if path.is_root() || is_always_excluded(path) {
        return false;
    }
    let included = passive.includes.iter().any(|inc| match inc {
        Selection::File(p) => p == path,
        Selection::Directory(p) => p.contains(path),
    });
    included && !passive.excludes.iter().any(|ex| ex.contains(path))
}

fn is_always_excluded(path: &CagePath) -> bool {
    let mut comps = path.components();
    let first = comps.next().unwrap_or("");
    let at_root = comps.next().is_none();
    first.eq_ignore_ascii_case("nobackup")
        || (at_root && {
            let lower = first.to_ascii_lowercase();
            lower.starts_with("backup_registration") && lower.ends_with(".xml")
        })
}

/// What a passive registration selects in a cage.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The selected regular files, by cage path, with their metadata.
    pub files: BTreeMap<CagePath, Meta>,
    /// The selected folders that are empty (no entry at all), with their permission bits:
    /// a backup carries them so that an application finds its folder layout after a
    /// restore.
    pub empty_dirs: BTreeMap<CagePath, u32>,
}

/// Lists the selected regular files of a cage, by cage path, with their metadata.
///
/// # Errors
/// As [`select`].
pub fn select_files(
    cage: &Dir,
    passive: &PassiveBackup,
) -> std::io::Result<BTreeMap<CagePath, Meta>> {
    select(cage, passive).map(|s| s.files)
}

/// Lists the selected regular files and empty folders of a cage.
///
/// Symbolic links found in a directory are never followed or selected; an include whose
/// own path runs through a symbolic link is an error (the owner tried to leave its cage);
/// paths that do not exist are skipped, and so are FIFOs, sockets and devices.
///
/// # Errors
/// An I/O error other than "not found" while walking, or a link on an include's way.
pub fn select(cage: &Dir, passive: &PassiveBackup) -> std::io::Result<Selected> {
    let mut files = BTreeMap::new();
    let empty_dirs = select_with(cage, passive, |rel, meta| {
        files.insert(rel, meta);
    })?;
    Ok(Selected { files, empty_dirs })
}

/// Walks the selection of a cage as [`select`] does without listing its files: `file` is
/// called once for each selected regular file (in walk order, not sorted), so a caller
/// that keeps only some of each file holds no list of them all. Returns the selected
/// empty folders with their permission bits.
///
/// What an earlier include's walk covers (its path contains it) is not walked again: a
/// file under overlapping includes (merged registrations) is found once.
///
/// # Errors
/// As [`select`].
pub fn select_with(
    cage: &Dir,
    passive: &PassiveBackup,
    mut file: impl FnMut(CagePath, Meta),
) -> std::io::Result<BTreeMap<CagePath, u32>> {
    let mut empty_dirs = BTreeMap::new();
    for (i, include) in passive.includes.iter().enumerate() {
        let walk = Walk {
            cage,
            passive,
            earlier: &passive.includes[..i],
        };
        walk.visit(include.path(), &mut file, &mut empty_dirs)?;
    }
    Ok(empty_dirs)
}

/// One include's walk.
struct Walk<'a> {
    cage: &'a Dir,
    passive: &'a PassiveBackup,
    /// The includes walked before this one.
    earlier: &'a [Selection<CagePath>],
}

impl Walk<'_> {
    /// Visits `rel` and, if it is a folder, everything below it.
    fn visit(
        &self,
        rel: &CagePath,
        file: &mut impl FnMut(CagePath, Meta),
        empty_dirs: &mut BTreeMap<CagePath, u32>,
    ) -> std::io::Result<()> {
        let Some(meta) = self.cage.stat(rel.as_str())? else {
            return Ok(());
        };
        // Looked at only once the path is known to stay inside the cage, so an include
        // through a link is still refused when an earlier one covers it. An earlier walk
        // reached everything below its path that this one can reach.
        if self.earlier.iter().any(|inc| inc.path().contains(rel)) {
            return Ok(());
        }
        match meta.kind {
            Kind::File if is_selected(rel, self.passive) => file(rel.clone(), meta),
            Kind::Dir => {
                if self
                    .passive
                    .excludes
                    .iter()
                    .any(|ex| !ex.is_root() && ex.contains(rel))
                {
                    return Ok(());
                }
                let entries = self.cage.open_dir(rel.as_str())?.entries()?;
                if entries.is_empty() && is_selected(rel, self.passive) {
                    empty_dirs.insert(rel.clone(), meta.mode);
                }
                for entry in entries {
                    if !matches!(entry.kind, Kind::File | Kind::Dir) {
                        continue;
                    }
                    if let Some(child) = rel.join_name(&entry.name) {
                        self.visit(&child, file, empty_dirs)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
