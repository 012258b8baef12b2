//! The BUR mode: the seeds' values (`sbdefs.h`: `TBURPartType`, `TBackupIncType`), the
//! one type both the engine and owners use (it travels on the wire as its value), and a
//! watcher that reports the current mode at start and every change. The engine adds
//! only the transition rules and the bus.

use std::fmt;

use tokio::sync::watch;

use crate::wire::ModeInfo;

/// Mask of the part type in a published mode value (`KBURPartTypeMask`).
pub const PART_TYPE_MASK: u32 = 0x0000_00FF;
/// Mask of the increment type in a published mode value (`KBackupIncTypeMask`).
pub const INC_TYPE_MASK: u32 = 0xFFFF_FF00;

/// `TBURPartType`: what kind of operation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum BurPartType {
    /// `EBURUnset` (0x00): never set, treated as Normal.
    Unset = 0x00,
    /// `EBURNormal` (0x01): no backup or restore.
    Normal = 0x01,
    /// `EBURBackupFull` (0x02): backup of every owner.
    BackupFull = 0x02,
    /// `EBURBackupPartial` (0x04): backup of the owners in the SID list.
    BackupPartial = 0x04,
    /// `EBURRestoreFull` (0x08): restore of every owner.
    RestoreFull = 0x08,
    /// `EBURRestorePartial` (0x10): restore of the owners in the SID list.
    RestorePartial = 0x10,
}

impl BurPartType {
    /// Returns the part type for its seed value.
    pub fn from_bits(bits: u32) -> Option<Self> {
        Some(match bits {
            0x00 => Self::Unset,
            0x01 => Self::Normal,
            0x02 => Self::BackupFull,
            0x04 => Self::BackupPartial,
            0x08 => Self::RestoreFull,
            0x10 => Self::RestorePartial,
            _ => return None,
        })
    }

    /// Returns true for Normal and Unset (no operation running).
    pub fn is_normal(self) -> bool {
        matches!(self, Self::Normal | Self::Unset)
    }

    /// Returns true for the two backup part types.
    pub fn is_backup(self) -> bool {
        matches!(self, Self::BackupFull | Self::BackupPartial)
    }

    /// Returns true for the two restore part types.
    pub fn is_restore(self) -> bool {
        matches!(self, Self::RestoreFull | Self::RestorePartial)
    }

    /// Returns true for the two partial part types.
    pub fn is_partial(self) -> bool {
        matches!(self, Self::BackupPartial | Self::RestorePartial)
    }
}

/// `TBackupIncType`: base or incremental.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum BackupIncType {
    /// `ENoBackup` (0x000).
    NoBackup = 0x000,
    /// `EBackupBase` (0x100): full data.
    Base = 0x100,
    /// `EBackupIncrement` (0x200): changes since a snapshot.
    Increment = 0x200,
}

impl BackupIncType {
    /// Returns the increment type for its seed value.
    pub fn from_bits(bits: u32) -> Option<Self> {
        Some(match bits {
            0x000 => Self::NoBackup,
            0x100 => Self::Base,
            0x200 => Self::Increment,
            _ => return None,
        })
    }
}

/// A BUR mode: part type plus increment type, published as `part | inc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BurMode {
    part: BurPartType,
    inc: BackupIncType,
}

/// A mode value or transition the rules do not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModeError {
    /// The value has unknown bits.
    #[error("unknown bur mode value {0:#x}")]
    UnknownValue(u32),
    /// A backup mode needs Base or Increment; Normal/Unset needs NoBackup.
    #[error("increment type {inc:?} does not go with {part:?}")]
    BadCombination {
        /// The part type.
        part: BurPartType,
        /// The increment type.
        inc: BackupIncType,
    },
    /// Entering a backup or restore mode from anything but Normal (Symbian KErrCorrupt).
    #[error("cannot go from {from:?} to {to:?} without passing through normal")]
    NotThroughNormal {
        /// The current part type.
        from: BurPartType,
        /// The requested part type.
        to: BurPartType,
    },
}

impl BurMode {
    /// Normal operation.
    pub const NORMAL: Self = Self {
        part: BurPartType::Normal,
        inc: BackupIncType::NoBackup,
    };
    /// Never set.
    pub const UNSET: Self = Self {
        part: BurPartType::Unset,
        inc: BackupIncType::NoBackup,
    };

    /// Creates a mode, checking the combination.
    ///
    /// # Errors
    /// [`ModeError::BadCombination`] if a backup lacks Base/Increment or Normal/Unset
    /// carries one. Restore modes accept any increment type (it is ignored, as in Symbian).
    pub fn new(part: BurPartType, inc: BackupIncType) -> Result<Self, ModeError> {
        let ok = match part {
            BurPartType::Unset | BurPartType::Normal => inc == BackupIncType::NoBackup,
            BurPartType::BackupFull | BurPartType::BackupPartial => inc != BackupIncType::NoBackup,
            BurPartType::RestoreFull | BurPartType::RestorePartial => true,
        };
        if ok {
            Ok(Self { part, inc })
        } else {
            Err(ModeError::BadCombination { part, inc })
        }
    }

    /// Parses a published value (`part | inc`).
    ///
    /// # Errors
    /// [`ModeError::UnknownValue`] for unknown bits, else as [`BurMode::new`].
    pub fn from_bits(bits: u32) -> Result<Self, ModeError> {
        let part = BurPartType::from_bits(bits & PART_TYPE_MASK);
        let inc = BackupIncType::from_bits(bits & INC_TYPE_MASK);
        match (part, inc) {
            (Some(part), Some(inc)) => Self::new(part, inc),
            _ => Err(ModeError::UnknownValue(bits)),
        }
    }

    /// Returns the published value `part | inc`.
    pub fn bits(self) -> u32 {
        self.part as u32 | self.inc as u32
    }

    /// Returns the part type.
    pub fn part(self) -> BurPartType {
        self.part
    }

    /// Returns the increment type.
    pub fn inc(self) -> BackupIncType {
        self.inc
    }

    /// Returns true when no backup or restore runs.
    pub fn is_normal(self) -> bool {
        self.part.is_normal()
    }
}

impl fmt::Display for BurMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}|{:?} ({:#06x})", self.part, self.inc, self.bits())
    }
}

impl ModeInfo {
    /// The part type (`BURModeInfoL`'s first out parameter).
    pub fn part_type(&self) -> BurPartType {
        self.mode.part()
    }

    /// The increment type (`BURModeInfoL`'s second out parameter).
    pub fn inc_type(&self) -> BackupIncType {
        self.mode.inc()
    }

    /// True while a backup or restore runs, whether or not it concerns this owner: the
    /// application must not write its data and must release its locks.
    pub fn is_bur_running(&self) -> bool {
        let part = self.part_type();
        part.is_backup() || part.is_restore()
    }

    /// True while a backup or restore that concerns this owner runs.
    pub fn is_my_bur(&self) -> bool {
        self.is_bur_running() && self.affects_me
    }
}

/// Reports the mode an owner last heard of: the current one at once, then every change.
///
/// Obtained from [`ActiveBackupClient::mode_watcher`](crate::client::ActiveBackupClient::mode_watcher);
/// any number of watchers may exist, for example one per application task.
#[derive(Debug, Clone)]
pub struct ModeWatcher {
    rx: watch::Receiver<ModeInfo>,
    seen_first: bool,
}

impl ModeWatcher {
    pub(crate) fn new(rx: watch::Receiver<ModeInfo>) -> Self {
        Self {
            rx,
            seen_first: false,
        }
    }

    /// The current mode, without waiting.
    pub fn current(&self) -> ModeInfo {
        self.rx.borrow().clone()
    }

    /// The next mode to act on: the current one on the first call, then each change.
    /// Returns `None` once the client is gone (the connection ended). Like any
    /// `tokio::sync::watch`, a watcher that falls behind skips to the latest mode: act on
    /// the mode it returns, not on the transition.
    pub async fn next(&mut self) -> Option<ModeInfo> {
        if !self.seen_first {
            self.seen_first = true;
            self.rx.mark_unchanged();
            return Some(self.current());
        }
        self.rx.changed().await.ok()?;
        Some(self.rx.borrow_and_update().clone())
    }
}

#[cfg(test)]
mod tests;
