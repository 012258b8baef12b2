//! Turns one owner's units of a chain back into plain files on the PC, without a device:
//!
//! ```text
//! DIR/<drive>/private/...      passive data (the base, then each increment applied)
//! DIR/<drive>/public/...       public files (from the newest set that has them)
//! DIR/<drive>/databases/...    database files
//! DIR/<drive>/streams/<set>.<kind>.bin   active, proxy and system data, decoded
//! ```
//!
//! Every unit is checked (block checksums while decoding, SHA-256 against its manifest at
//! the end). Paths come from a set that a host could have written, so each is checked
//! again here: relative, no `.` or `..`, nothing but plain names; the target folder
//! must be new or empty, so nothing in it can be a link the set's paths lead through.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use engine::manifest::UnitRecord;
use engine::passive::archive::{ArchiveDecoder, ArchiveEvent};
use engine::registration::{CagePath, Sid};
use engine::spool::{ReadError, SpoolSet, UnitReader};
use engine::unit::UnitKind;

use crate::repo::SetInfo;
use engine::crypto::Unlocked;

/// One set of a chain: what it is, where, and the key of an encrypted one.
pub type ChainSet = (SetInfo, PathBuf, Option<Unlocked>);

/// What was written.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Extracted {
    /// Files written (private, public, databases).
    pub files: u64,
    /// Files an increment deleted.
    pub deleted: u64,
    /// Stream files written (active, proxy, system).
    pub streams: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Extracts owner `sid` of `chain` (base first, every set in the repository at `dirs`)
/// into `out`.
///
/// # Errors
/// `out` is not empty, a unit is damaged, or a file cannot be written.
pub fn extract(chain: &[ChainSet], sid: Sid, out: &Path) -> Result<Extracted, String> {
    if out.exists()
        && fs::read_dir(out)
            .map_err(|e| format!("{}: {e}", out.display()))?
            .next()
            .is_some()
    {
        return Err(format!(
            "{}: not empty (extract writes into a new or empty folder)",
            out.display()
        ));
    }
    fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut done = Extracted::default();
    let mut any = false;
    for (set, dir, key) in chain {
        for unit in set.manifest.units.iter().filter(|u| u.id.sid == sid) {
            any = true;
            let drive = out.join(unit.id.drive.to_string());
            let (target, replace) = match unit.id.kind {
                UnitKind::PassiveBase => (Some(drive.join("private")), true),
                UnitKind::PassiveIncrement => (Some(drive.join("private")), false),
                UnitKind::Public => (Some(drive.join("public")), true),
                UnitKind::Dbms => (Some(drive.join("databases")), true),
                UnitKind::ActiveSnapshot | UnitKind::PassiveSnapshot => continue,
                _ => (None, false),
            };
            let path = SpoolSet::open(dir.clone()).unit_path(unit.id);
            match target {
                Some(root) => {
                    if replace && root.exists() {
                        fs::remove_dir_all(&root)
                            .map_err(|e| format!("{}: {e}", root.display()))?;
                    }
                    fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
                    unpack(&path, key.as_ref(), unit, &root, &mut done)?;
                }
                None => {
                    let streams = drive.join("streams");
                    fs::create_dir_all(&streams)
                        .map_err(|e| format!("{}: {e}", streams.display()))?;
                    let file = streams.join(format!("{}.{}.bin", set.name, unit.id.kind));
                    let mut f =
                        File::create(&file).map_err(|e| format!("{}: {e}", file.display()))?;
                    read_unit(&path, key.as_ref(), unit, |block| {
                        done.bytes += block.len() as u64;
                        f.write_all(block)
                            .map_err(|e| format!("{}: {e}", file.display()))
                    })?;
                    done.streams += 1;
                }
            }
        }
    }
    if !any {
        return Err(format!("owner {sid} has no data in this chain"));
    }
    Ok(done)
}

/// Reads a unit block by block into `each`, then checks its SHA-256.
fn read_unit(
    path: &Path,
    key: Option<&Unlocked>,
    unit: &UnitRecord,
    mut each: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    let mut reader =
        UnitReader::open_with(path, key).map_err(|e| format!("{}: {e}", path.display()))?;
    loop {
        match reader.next_block() {
            Ok(Some(block)) => each(&block)?,
            Ok(None) => break,
            Err(ReadError::Io(e)) => return Err(format!("{}: {e}", path.display())),
            Err(e) => return Err(format!("{}: {e}", unit.id)),
        }
    }
    if reader.sha256() != unit.sha256 {
        return Err(format!("{}: SHA-256 differs from the manifest", unit.id));
    }
    Ok(())
}

/// Unpacks an archive unit (passive, public, databases) under `root`.
fn unpack(
    path: &Path,
    key: Option<&Unlocked>,
    unit: &UnitRecord,
    root: &Path,
    done: &mut Extracted,
) -> Result<(), String> {
    let mut decoder = ArchiveDecoder::new();
    let mut current: Option<(File, PathBuf, i64, u32)> = None;
    read_unit(path, key, unit, |block| {
        decoder.handle_input(block);
        while let Some(event) = decoder
            .poll_event()
            .map_err(|e| format!("{}: {e}", unit.id))?
        {
            match event {
                ArchiveEvent::File {
                    path,
                    mtime_ns,
                    mode,
                    ..
                } => {
                    let target = root.join(plain(&path).ok_or_else(|| bad_path(unit, &path))?);
                    if let Some(p) = target.parent() {
                        fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
                    }
                    let _ = fs::remove_file(&target);
                    let f =
                        File::create(&target).map_err(|e| format!("{}: {e}", target.display()))?;
                    current = Some((f, target, mtime_ns, mode));
                }
                ArchiveEvent::Data(bytes) => {
                    let (f, target, ..) = current
                        .as_mut()
                        .ok_or_else(|| format!("{}: data outside a file", unit.id))?;
                    f.write_all(&bytes)
                        .map_err(|e| format!("{}: {e}", target.display()))?;
                    done.bytes += bytes.len() as u64;
                }
                ArchiveEvent::FileEnd => {
                    if let Some((f, target, mtime_ns, mode)) = current.take() {
                        finish_file(&f, mtime_ns, mode)
                            .map_err(|e| format!("{}: {e}", target.display()))?;
                        done.files += 1;
                    }
                }
                ArchiveEvent::Deleted(path) => {
                    let target = root.join(plain(&path).ok_or_else(|| bad_path(unit, &path))?);
                    if fs::remove_file(&target).is_ok() {
                        done.deleted += 1;
                    }
                }
                ArchiveEvent::EmptyDir { path, .. } => {
                    let target = root.join(plain(&path).ok_or_else(|| bad_path(unit, &path))?);
                    fs::create_dir_all(&target)
                        .map_err(|e| format!("{}: {e}", target.display()))?;
                }
                ArchiveEvent::End => {}
            }
        }
        Ok(())
    })?;
    decoder.finish().map_err(|e| format!("{}: {e}", unit.id))
}

fn finish_file(f: &File, mtime_ns: i64, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(ns) = u64::try_from(mtime_ns) {
        f.set_modified(UNIX_EPOCH + Duration::from_nanos(ns))?;
    }
    // Permission bits only: never set-id bits from a set.
    f.set_permissions(fs::Permissions::from_mode(mode & 0o777))
}

/// The path as plain relative components, or `None` if any is not a plain name.
fn plain(path: &CagePath) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        if c.is_empty() || c == "." || c == ".." || c.contains('/') || c.contains('\0') {
            return None;
        }
        out.push(c);
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

fn bad_path(unit: &UnitRecord, path: &CagePath) -> String {
    format!("{}: holds an unusable path {:?}", unit.id, path.as_str())
}

#[cfg(test)]
mod tests;
