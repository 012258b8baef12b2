//! The BUR mode as typed values (Symbian `TBURPartType` and `TBackupIncType`) and a
//! watcher that reports the current mode at start and every change.

use tokio::sync::watch;

use crate::wire::ModeInfo;

/// Mask of the part type in the published mode value.
pub const PART_MASK: u32 = 0x0000_00FF;
/// Mask of the increment type in the published mode value.
pub const INC_MASK: u32 = 0xFFFF_FF00;

/// Which operation runs (Symbian `TBURPartType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartType {
    /// `EBURUnset` (0x00): no mode published yet.
    Unset,
    /// `EBURNormal` (0x01): applications run normally.
    Normal,
    /// `EBURBackupFull` (0x02).
    BackupFull,
    /// `EBURBackupPartial` (0x04).
    BackupPartial,
    /// `EBURRestoreFull` (0x08).
    RestoreFull,
    /// `EBURRestorePartial` (0x10).
    RestorePartial,
    /// A value the seeds do not define.
    Other(u32),
}

impl PartType {
    /// Decodes the part bits of a mode value.
    pub fn from_bits(bits: u32) -> Self {
        match bits & PART_MASK {
            0x00 => Self::Unset,
            0x01 => Self::Normal,
            0x02 => Self::BackupFull,
            0x04 => Self::BackupPartial,
            0x08 => Self::RestoreFull,
            0x10 => Self::RestorePartial,
            other => Self::Other(other),
        }
    }

    /// True for a full or partial backup.
    pub fn is_backup(self) -> bool {
        matches!(self, Self::BackupFull | Self::BackupPartial)
    }

    /// True for a full or partial restore.
    pub fn is_restore(self) -> bool {
        matches!(self, Self::RestoreFull | Self::RestorePartial)
    }

    /// True for a partial operation (only listed owners take part).
    pub fn is_partial(self) -> bool {
        matches!(self, Self::BackupPartial | Self::RestorePartial)
    }
}

/// Base or incremental (Symbian `TBackupIncType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncType {
    /// `ENoBackup` (0x000): not a backup.
    NoBackup,
    /// `EBackupBase` (0x100).
    Base,
    /// `EBackupIncrement` (0x200).
    Increment,
    /// A value the seeds do not define.
    Other(u32),
}

impl IncType {
    /// Decodes the increment bits of a mode value.
    pub fn from_bits(bits: u32) -> Self {
        match bits & INC_MASK {
            0x000 => Self::NoBackup,
            0x100 => Self::Base,
            0x200 => Self::Increment,
            other => Self::Other(other),
        }
    }
}

impl ModeInfo {
    /// The part type (`BURModeInfoL`'s first out parameter).
    pub fn part_type(&self) -> PartType {
        PartType::from_bits(self.mode_bits)
    }

    /// The increment type (`BURModeInfoL`'s second out parameter).
    pub fn inc_type(&self) -> IncType {
        IncType::from_bits(self.mode_bits)
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
