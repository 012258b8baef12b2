//! What the engine itself does for the data kinds it holds, shared by sessions and the
//! per-unit API: the effective passive selection, and staging restored passive (with
//! DBMS) and public units for the owner's commit (`crate::commit`).

use super::request::{EngineConfig, Failure};
use crate::commit::OwnerCommit;
use crate::dbms::DbmsRestore;
use crate::passive::{PassiveRestore, StagedCage};
use crate::public::StagedFile;
use crate::registration::{BackupRegistration, Drive, PassiveBackup};
use crate::spool::{UnitFile, UnitReader};
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

pub(crate) fn open_unit(path: &UnitFile) -> Result<UnitReader, Failure> {
    path.open()
        .map_err(|e| Failure::new(-2, format!("{}: {e}", path.display())))
}

/// The spool's root-only directory for database copies (backup and restore).
pub(crate) const DBMS_SCRATCH: &str = ".dbms-scratch";

/// Stages passive units of `reg` on `drive` into one staging copy of the cage, in order:
/// passive base and increments, then the databases of the DBMS units. `fresh`: the first
/// passive data of this drive in the operation (only then does `delete_before_restore`
/// start from an empty cage; later increments build on it). Returns the staged cage, to
/// be committed with the owner's other data, and the files the registration does not
/// select.
pub(crate) fn stage_cage(
    config: &EngineConfig,
    reg: &BackupRegistration,
    drive: &Drive,
    units: &[(UnitId, UnitFile)],
    fresh: bool,
) -> Result<(StagedCage, Vec<String>), Failure> {
    let cage = drive.cage(reg.sid);
    let (dbms, files): (Vec<_>, Vec<_>) =
        units.iter().partition(|(id, _)| id.kind == UnitKind::Dbms);
    let selection = if files.is_empty() {
        // Databases only: the rest of the cage is kept as it is.
        PassiveBackup::default()
    } else {
        let mut selection = effective_passive(reg).ok_or_else(|| {
            Failure::new(
                -5,
                "set has passive data but the owner has no passive registration",
            )
        })?;
        selection.delete_before_restore &= fresh;
        selection
    };
    let mut restore = PassiveRestore::begin(&cage, &selection)?;
    for (_, path) in files {
        let mut reader = open_unit(path)?;
        while let Some(block) = reader.next_block()? {
            restore.feed(&block)?;
        }
        restore.end_unit()?;
    }
    let skipped = restore.skipped().iter().map(ToString::to_string).collect();
    let dbms_err = |e: crate::dbms::DbmsError| Failure::new(-20, e.to_string());
    for (_, path) in dbms {
        let mut databases = DbmsRestore::new(&reg.dbms, &config.spool.join(DBMS_SCRATCH));
        let mut reader = open_unit(path)?;
        while let Some(block) = reader.next_block()? {
            databases.feed(&block).map_err(dbms_err)?;
        }
        databases.stage_into(&mut restore).map_err(dbms_err)?;
    }
    Ok((restore.stage()?, skipped))
}

/// Stages a public unit onto `drive`: each file durable under a temporary name next to
/// its target (paths outside the rules skipped), to be committed with the owner's other
/// data.
pub(crate) fn stage_public(
    config: &EngineConfig,
    reg: &BackupRegistration,
    drive: &Drive,
    path: &UnitFile,
) -> Result<Vec<StagedFile>, Failure> {
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
    let staged = restore.finish().map_err(public_err)?;
    if !staged.skipped.is_empty() {
        tracing::warn!(sid = %reg.sid, count = staged.skipped.len(), "public files outside the rules skipped");
    }
    Ok(staged.files)
}

/// Commits what is staged for one owner; the failure says whether anything changed.
pub(crate) fn commit(staged: OwnerCommit) -> Result<(), Failure> {
    staged.commit().map_err(|e| Failure::new(-2, e.to_string()))
}

/// Restores passive (and DBMS) units of one owner on one drive and commits them at once
/// (the per-unit API, which hands units over one at a time; a session commits all of an
/// owner's engine-held data together). Returns the files the registration does not
/// select.
pub(crate) fn restore_passive(
    config: &EngineConfig,
    reg: &BackupRegistration,
    drive: &Drive,
    units: &[(UnitId, UnitFile)],
    fresh: bool,
) -> Result<Vec<String>, Failure> {
    let (cage, skipped) = stage_cage(config, reg, drive, units, fresh)?;
    let mut staged = OwnerCommit::new(&config.spool, reg.sid);
    staged.add_cage(cage);
    commit(staged)?;
    Ok(skipped)
}

/// Restores a public unit onto `drive` and commits it at once (the per-unit API).
pub(crate) fn restore_public(
    config: &EngineConfig,
    reg: &BackupRegistration,
    drive: &Drive,
    path: &UnitFile,
) -> Result<(), Failure> {
    let files = stage_public(config, reg, drive, path)?;
    let mut staged = OwnerCommit::new(&config.spool, reg.sid);
    staged.add_files(files);
    commit(staged)
}
