//! What the engine itself does for the data kinds it holds, shared by sessions and the
//! per-unit API: the effective passive selection, and applying restored passive (with
//! DBMS) and public units.

use super::request::{EngineConfig, Failure};
use crate::passive::PassiveRestore;
use crate::registration::{BackupRegistration, Drive};
use crate::spool::UnitReader;
use crate::unit::{UnitId, UnitKind};

/// Returns the owner's passive selection with its DBMS directory excluded (databases
/// travel consistently in the DBMS unit, never as raw files).
pub(crate) fn effective_passive(
    reg: &BackupRegistration,
) -> Option<crate::registration::PassiveBackup> {
    let mut passive = reg.passive.clone()?;
    if !reg.dbms.is_empty() {
        if let Some(dir) = crate::registration::CagePath::parse_relative(crate::dbms::DBMS_DIR) {
            passive.excludes.push(dir);
        }
    }
    Some(passive)
}

pub(crate) fn open_unit(path: &std::path::Path) -> Result<UnitReader, Failure> {
    UnitReader::open(path).map_err(|e| Failure::new(-2, format!("{}: {e}", path.display())))
}

/// The spool's root-only directory for database copies (backup and restore).
pub(crate) const DBMS_SCRATCH: &str = ".dbms-scratch";

/// Restores passive units of `reg` on `drive`, in order: passive base and increments
/// into one staging copy of the cage, committed atomically, then DBMS units. `fresh`:
/// the first passive data of this drive in the operation (only then does
/// `delete_before_restore` start from an empty cage; later increments build on it).
/// Returns the files the registration does not select.
pub(crate) fn restore_passive(
    config: &EngineConfig,
    reg: &BackupRegistration,
    drive: &Drive,
    units: &[(UnitId, std::path::PathBuf)],
    fresh: bool,
) -> Result<Vec<String>, Failure> {
    let cage = drive.cage(reg.sid);
    let (dbms, files): (Vec<_>, Vec<_>) =
        units.iter().partition(|(id, _)| id.kind == UnitKind::Dbms);
    let mut skipped = Vec::new();
    if !files.is_empty() {
        let mut selection = effective_passive(reg).ok_or_else(|| {
            Failure::new(
                -5,
                "set has passive data but the owner has no passive registration",
            )
        })?;
        selection.delete_before_restore &= fresh;
        let mut restore = PassiveRestore::begin(&cage, &selection)?;
        for (_, path) in files {
            let mut reader = open_unit(path)?;
            while let Some(block) = reader.next_block()? {
                restore.feed(&block)?;
            }
            restore.end_unit()?;
        }
        skipped = restore.skipped().iter().map(ToString::to_string).collect();
        restore.commit()?;
    }
    for (_, path) in dbms {
        let scratch = config.spool.join(DBMS_SCRATCH);
        let mut restore = crate::dbms::DbmsRestore::new(&cage, &reg.dbms, &scratch);
        let mut reader = open_unit(path)?;
        let dbms_err = |e: crate::dbms::DbmsError| Failure::new(-20, e.to_string());
        while let Some(block) = reader.next_block()? {
            restore.feed(&block).map_err(dbms_err)?;
        }
        restore.commit().map_err(dbms_err)?;
    }
    Ok(skipped)
}

/// Restores a public unit onto `drive` (each file atomically; paths outside the rules skipped).
pub(crate) fn restore_public(
    config: &EngineConfig,
    reg: &BackupRegistration,
    drive: &Drive,
    path: &std::path::Path,
) -> Result<(), Failure> {
    let public = reg.public.as_ref().ok_or_else(|| {
        Failure::new(
            -5,
            "set has public files but the owner has no public registration",
        )
    })?;
    let public_err = |e: crate::public::PublicError| Failure::new(-2, e.to_string());
    let owner = crate::registration::owner_identity(&config.drives, reg.sid)
        .map_err(|e| Failure::new(-2, e.to_string()))?;
    let mut restore = crate::public::PublicRestore::new(drive, public, owner)
        .noting_temps(crate::recovery::TempLog::new(&config.spool));
    let mut reader = open_unit(path)?;
    while let Some(block) = reader.next_block()? {
        restore.feed(&block).map_err(public_err)?;
    }
    let skipped = restore.finish().map_err(public_err)?;
    if !skipped.is_empty() {
        tracing::warn!(sid = %reg.sid, count = skipped.len(), "public files outside the rules skipped");
    }
    Ok(())
}
