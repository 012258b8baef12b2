//! Passive file selection inside a cage (the rules are pure; the walk is I/O).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::registration::{CagePath, PassiveBackup, Selection};

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

/// Lists the selected regular files of a cage, by cage path.
///
/// Symbolic links are never followed or selected (a link could point out of the cage);
/// paths that do not exist are skipped.
///
/// # Errors
/// An I/O error other than "not found" while walking.
pub fn select_files(
    cage: &Path,
    passive: &PassiveBackup,
) -> std::io::Result<BTreeMap<CagePath, PathBuf>> {
    let mut out = BTreeMap::new();
    for include in &passive.includes {
        let rel = include.path();
        visit(cage, rel, passive, &mut out)?;
    }
    Ok(out)
}

fn visit(
    cage: &Path,
    rel: &CagePath,
    passive: &PassiveBackup,
    out: &mut BTreeMap<CagePath, PathBuf>,
) -> std::io::Result<()> {
    let abs = if rel.is_root() {
        cage.to_owned()
    } else {
        cage.join(rel.as_str())
    };
    let meta = match std::fs::symlink_metadata(&abs) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let kind = meta.file_type();
    if kind.is_file() {
        if is_selected(rel, passive) {
            out.insert(rel.clone(), abs);
        }
    } else if kind.is_dir() {
        if passive
            .excludes
            .iter()
            .any(|ex| !ex.is_root() && ex.contains(rel))
        {
            return Ok(());
        }
        let mut names: Vec<String> = std::fs::read_dir(&abs)?
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
        names.sort();
        for name in names {
            if let Some(child) = rel.join(&name) {
                visit(cage, &child, passive, out)?;
            }
        }
    }
    Ok(())
}
