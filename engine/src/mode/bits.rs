//! The BUR mode transition rules (pure); the values are `data_owners::mode`'s.

pub use data_owners::mode::{
    BackupIncType, BurMode, BurPartType, INC_TYPE_MASK, ModeError, PART_TYPE_MASK,
};

/// What a mode change means for the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Normal to Normal: nothing is published.
    Unchanged,
    /// Unset to Normal (first publication).
    Initialise,
    /// Normal to a backup mode.
    EnterBackup,
    /// Normal to a restore mode.
    EnterRestore,
    /// A backup mode back to Normal/Unset.
    EndBackup,
    /// A restore mode back to Normal/Unset: owners get RestoreComplete.
    EndRestore,
}

/// Decides whether `from -> to` is allowed (backup and restore only through Normal).
///
/// # Errors
/// [`ModeError::NotThroughNormal`] when a backup or restore mode is requested while one
/// is already active (even the same one).
pub fn transition(from: BurMode, to: BurMode) -> Result<Transition, ModeError> {
    let (f, t) = (from.part(), to.part());
    if t.is_normal() {
        return Ok(if f.is_backup() {
            Transition::EndBackup
        } else if f.is_restore() {
            Transition::EndRestore
        } else if f == t || t == BurPartType::Unset {
            Transition::Unchanged
        } else {
            Transition::Initialise
        });
    }
    if !f.is_normal() {
        return Err(ModeError::NotThroughNormal { from: f, to: t });
    }
    Ok(if t.is_backup() {
        Transition::EnterBackup
    } else {
        Transition::EnterRestore
    })
}
