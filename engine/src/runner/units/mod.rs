//! I/O shell: the per-unit client API of the backup server (Symbian `CSBEClient`): set
//! the BUR mode and the partial SID list, request and supply data one transfer unit
//! (SID, drive, kind) at a time with a finished flag, `AllSnapshotsSupplied` and
//! `AllSystemFilesRestored`.
//!
//! Nothing here is a second implementation: units are captured by the same code as
//! sessions ([`Engine::capture_unit`], system and public capture) into a scratch unit
//! file and handed out in bounded chunks of the framed unit format; supplied units are
//! checked block by block as they arrive (framing, CRC-32, end record) and applied,
//! once complete, by the same restore code as sessions (staged, atomic passive commit,
//! DBMS, public, system, owner callbacks). Every step goes through the owner's
//! [`UnitSequencer`] first.
//!
//! Call protocol: [`Engine::set_sid_list_for_partial`] (Normal), [`Engine::set_bur_mode`]
//! into a backup or restore mode, then the unit calls, then `set_bur_mode` back to
//! Normal (which sends RestoreComplete after a restore). Unit calls are refused unless
//! the current mode was entered through [`Engine::set_bur_mode`] (a session or a direct
//! bus change in between ends the operation).

mod api;
pub(super) mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;

use bytes::Bytes;
use data_owners::wire::Callback;
use tokio::sync::watch;

use super::request::Failure;
use crate::ipc::OwnerHandle;
use crate::manifest::UnitRecord;
use crate::mode::{BurMode, BurState, BusError};
use crate::passive::Snapshot;
use crate::registration::{BackupRegistration, Drive, RegistrationError, Sid};
use crate::session::sequence::{Direction, SequenceViolation, UnitSequencer};
use crate::spool::SpoolSet;
use crate::stream::{FrameError, UnitDecoder};
use crate::unit::{UnitId, UnitKind};

use state::*;

/// Largest chunk [`UnitStream::next_chunk`] hands out.
pub const MAX_CHUNK: usize = 64 * 1024;

/// Scratch directory (under the spool) for units in transit.
const SCRATCH: &str = ".unit-transfer";

/// Why a per-unit call was refused or failed. A refused call changes nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    /// The call is not allowed in the current mode (Symbian KErrAccessDenied), or the
    /// mode was not entered through [`Engine::set_bur_mode`].
    #[error("{call} is not allowed in mode {mode}")]
    WrongMode {
        /// The refused call.
        call: &'static str,
        /// The current mode.
        mode: BurMode,
    },
    /// The mode could not be changed.
    #[error(transparent)]
    Mode(#[from] BusError),
    /// The owner is not registered (KErrNotFound).
    #[error("owner {0} is not registered")]
    UnknownOwner(Sid),
    /// The drive is not configured or not part of the operation (KErrNotFound).
    #[error("drive {0} is not part of the operation")]
    UnknownDrive(char),
    /// The owner has no cage on the unit's drive (KErrNotFound).
    #[error("{0}: the owner has no data on this drive")]
    NotOnDrive(UnitId),
    /// A partial operation that does not list the owner.
    #[error("owner {0} is not in the partial operation")]
    NotSelected(Sid),
    /// The owner's registration has no data of this kind (KErrNotSupported).
    #[error("{0}: the owner did not register this kind of data")]
    NotRegistered(UnitId),
    /// The sequencing rules refuse the step (KErrCorrupt; KErrNotReady when another unit
    /// of the owner and drive is in progress).
    #[error("{unit}: {violation}")]
    Sequence {
        /// The unit.
        unit: UnitId,
        /// The rule.
        violation: SequenceViolation,
    },
    /// A snapshot supplied after [`Engine::all_snapshots_supplied`].
    #[error("{0}: all snapshots were already supplied")]
    SnapshotsClosed(UnitId),
    /// Owner data supplied before [`Engine::all_system_files_restored`].
    #[error("{0}: system files come first (call all_system_files_restored)")]
    SystemFilesPending(UnitId),
    /// System data supplied after [`Engine::all_system_files_restored`].
    #[error("{0}: system files were already restored")]
    SystemFilesDone(UnitId),
    /// The supplied data is corrupt (framing, block checksum, truncation, content);
    /// the unit is discarded and nothing was applied.
    #[error("{unit}: corrupt data: {reason}")]
    Corrupt {
        /// The unit.
        unit: UnitId,
        /// What is wrong.
        reason: String,
    },
    /// Capturing or applying the unit failed (owner error, I/O); the unit is abandoned
    /// and may be tried again.
    #[error("{unit}: failed ({code}): {reason}")]
    Failed {
        /// The unit.
        unit: UnitId,
        /// A Symbian-style code (the owner's own code for its errors).
        code: i32,
        /// Why.
        reason: String,
    },
}

impl UnitError {
    /// Returns the Symbian error code the server would have seen.
    pub fn code(&self) -> i32 {
        match self {
            Self::WrongMode { .. } | Self::NotSelected(_) => -21,
            Self::Mode(BusError::Mode(_)) => -20,
            Self::Mode(_) => -2,
            Self::UnknownOwner(_) | Self::UnknownDrive(_) | Self::NotOnDrive(_) => -1,
            Self::NotRegistered(_) => -5,
            Self::Sequence { violation, .. } => match violation {
                SequenceViolation::InProgress(_) => -18,
                SequenceViolation::NotSupported(_) => -5,
                _ => -20,
            },
            Self::SystemFilesPending(_) => -18,
            Self::SnapshotsClosed(_) | Self::SystemFilesDone(_) | Self::Corrupt { .. } => -20,
            Self::Failed { code, .. } => *code,
        }
    }

    fn failed(unit: UnitId, f: Failure) -> Self {
        Self::Failed {
            unit,
            code: f.code,
            reason: f.reason,
        }
    }
}

/// One chunk of a requested unit (Symbian `TransferDataInfoL`: data plus finished).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// At most [`MAX_CHUNK`] bytes of the framed unit.
    pub data: Bytes,
    /// This is the unit's last chunk.
    pub finished: bool,
}

/// A requested unit, handed out in chunks of the framed unit format; the chunks
/// concatenated are exactly the unit file a session would write.
#[derive(Debug)]
pub struct UnitStream {
    record: UnitRecord,
    file: File,
    left: u64,
}

impl UnitStream {
    /// Returns the unit.
    pub fn unit(&self) -> UnitId {
        self.record.id
    }

    /// Returns the unit's record (encoded size, raw size, SHA-256, compression), as a
    /// session's manifest would list it.
    pub fn record(&self) -> &UnitRecord {
        &self.record
    }

    /// Returns true once the last chunk was handed out.
    pub fn is_finished(&self) -> bool {
        self.left == 0
    }

    /// Returns the next chunk (`finished` on the last), `Ok(None)` after the last.
    ///
    /// # Errors
    /// [`UnitError::Failed`] if the scratch copy cannot be read.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, UnitError> {
        if self.left == 0 {
            return Ok(None);
        }
        let n = usize::try_from(self.left)
            .unwrap_or(MAX_CHUNK)
            .min(MAX_CHUNK);
        let mut data = vec![0u8; n];
        self.file
            .read_exact(&mut data)
            .map_err(|e| UnitError::failed(self.record.id, Failure::new(-2, e.to_string())))?;
        self.left -= n as u64;
        Ok(Some(Chunk {
            data: data.into(),
            finished: self.left == 0,
        }))
    }
}

/// What a [`Engine::supply_data`] call did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Supplied {
    /// The chunk was checked and kept; the unit is not finished.
    Pending,
    /// The unit was complete, sound and applied.
    Applied {
        /// Passive files in the unit that the registration does not select (skipped).
        skipped: Vec<String>,
    },
}
