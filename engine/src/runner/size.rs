//! Expected data size of a unit (Symbian `ExpectedDataSizeL`): progress only.

use data_owners::wire::{Callback, Reply};

use super::engine::Engine;
use super::kinds::effective_passive;
use super::owner_calls::{drive_letter, watchdog};
use crate::ipc::OwnerError;
use crate::unit::{UnitId, UnitKind};

/// Why a size cannot be given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SizeError {
    /// The owner is not registered or the drive is not configured.
    #[error("unknown owner or drive for {0}")]
    NotFound(UnitId),
    /// The owner has no data of that kind, or the kind has no size (snapshots of active owners).
    #[error("no size for {0}")]
    NotSupported(UnitId),
    /// Files could not be listed.
    #[error("{0}")]
    Io(String),
    /// The owner failed to answer.
    #[error(transparent)]
    Owner(#[from] OwnerError),
}

impl Engine {
    /// Returns the approximate raw size of a unit: the size of the files a passive,
    /// public or DBMS unit would carry (plus per-file headers), or the active owner's own
    /// estimate (`GetExpectedDataSize`, the owner must be connected and ready).
    ///
    /// # Errors
    /// A [`SizeError`].
    pub async fn expected_data_size(&self, id: UnitId) -> Result<u64, SizeError> {
        let reg = self
            .registrations
            .get(&id.sid)
            .ok_or(SizeError::NotFound(id))?;
        let drive = self
            .config
            .drives
            .iter()
            .find(|d| d.letter == id.drive)
            .ok_or(SizeError::NotFound(id))?;
        match id.kind {
            UnitKind::PassiveBase
            | UnitKind::PassiveIncrement
            | UnitKind::PassiveSnapshot
            | UnitKind::Dbms
            | UnitKind::Public => self.engine_held_size(reg, drive, id),
            UnitKind::ActiveBase | UnitKind::ActiveIncrement => {
                let handle = self.ipc.owner(id.sid).ok_or(OwnerError::NotConnected)?;
                let d = drive_letter(drive).map_err(|f| SizeError::Io(f.reason))?;
                match handle
                    .call(Callback::GetExpectedDataSize { drive: d }, watchdog(reg))
                    .await?
                {
                    Reply::Value(v) => Ok(v),
                    other => {
                        Err(OwnerError::Protocol(format!("expected a size, got {other:?}")).into())
                    }
                }
            }
            _ => Err(SizeError::NotSupported(id)),
        }
    }
}

impl Engine {
    /// The size of a unit the engine copies itself (passive, DBMS, public), measured.
    fn engine_held_size(
        &self,
        reg: &crate::registration::BackupRegistration,
        drive: &crate::registration::Drive,
        id: UnitId,
    ) -> Result<u64, SizeError> {
        match id.kind {
            UnitKind::PassiveBase | UnitKind::PassiveIncrement | UnitKind::PassiveSnapshot => {
                passive_size(reg, drive, id)
            }
            UnitKind::Dbms => {
                let cage =
                    crate::confined::Dir::open_leaf(&drive.cage(id.sid)).map_err(|e| io(&e))?;
                let dbs = crate::dbms::list_databases(&cage, &reg.dbms).map_err(|e| io(&e))?;
                Ok(dbs
                    .iter()
                    .map(|(rel, size)| header(rel.as_str().len()) + size)
                    .sum())
            }
            UnitKind::Public => {
                let public = reg.public.as_ref().ok_or(SizeError::NotSupported(id))?;
                let owner = crate::registration::owner_identity(&self.config.drives, id.sid)
                    .map_err(|e| io(&e))?;
                let list =
                    crate::public::public_file_list(drive, public, owner).map_err(|e| io(&e))?;
                Ok(list
                    .iter()
                    .map(|e| header(e.path.as_str().len()) + e.size)
                    .sum())
            }
            _ => Err(SizeError::NotSupported(id)),
        }
    }

    /// Returns the expected size of the data a backup of `owners` copies itself (passive
    /// files, databases, public files, on the drives the request wants): what
    /// `status.toml` shows as the total from the start. Active data is not known before
    /// its owner is asked and counts as it is written; what cannot be measured counts 0.
    pub(crate) fn expected_backup_size(
        &self,
        owners: &[crate::registration::Sid],
        req: &super::request::BackupRequest,
    ) -> u64 {
        let mut total = 0u64;
        for sid in owners {
            let Some(reg) = self.registrations.get(sid) else {
                continue;
            };
            for drive in self
                .config
                .drives
                .iter()
                .filter(|d| req.wants_drive(d.letter))
            {
                let id = |kind| UnitId {
                    sid: *sid,
                    drive: drive.letter,
                    kind,
                };
                let mut units = Vec::new();
                if reg.passive.is_some() {
                    units.push(id(UnitKind::PassiveBase));
                }
                if !reg.dbms.is_empty() {
                    units.push(id(UnitKind::Dbms));
                }
                if reg.public.is_some() {
                    units.push(id(UnitKind::Public));
                }
                for unit in units {
                    let size = self.engine_held_size(reg, drive, unit).unwrap_or(0);
                    total = total.saturating_add(size);
                }
            }
        }
        total
    }
}

fn io(e: &dyn std::fmt::Display) -> SizeError {
    SizeError::Io(e.to_string())
}

/// The bytes a file of a path `path_len` long adds to a unit besides its content.
fn header(path_len: usize) -> u64 {
    1 + 2 + path_len as u64 + 20
}

/// The size of a passive unit (or snapshot) of `reg` on `drive`.
fn passive_size(
    reg: &crate::registration::BackupRegistration,
    drive: &crate::registration::Drive,
    id: UnitId,
) -> Result<u64, SizeError> {
    let passive = effective_passive(reg).ok_or(SizeError::NotSupported(id))?;
    let cage = crate::confined::Dir::open_leaf(&drive.cage(id.sid)).map_err(|e| io(&e))?;
    // Summed as the walk goes: an owner's files are never listed.
    let mut total = 0u64;
    crate::passive::select_with(&cage, &passive, |rel, meta| {
        total += if id.kind == UnitKind::PassiveSnapshot {
            2 + rel.as_str().len() as u64 + 48
        } else {
            header(rel.as_str().len()) + meta.size
        };
    })
    .map_err(|e| io(&e))?;
    Ok(total)
}
