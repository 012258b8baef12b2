//! Unit sequencing (pure): which units an owner gets on backup, in which order, and the
//! order units of a chain of sets are restored in.
//!
//! Backup: active before passive (a hybrid owner's active part may prepare the files its
//! passive part then carries), data before the new snapshot, proxies after the owner's
//! own active data. Restore: passive before active, and per kind the last base of the
//! chain followed by every later increment, oldest first. Symbian left both orders to the
//! server; here they are fixed.

use crate::manifest::{BackupType, Manifest};
use crate::registration::{BackupRegistration, Sid};
use crate::unit::{UnitId, UnitKind};

/// The units to capture for one owner on one drive, in order.
///
/// `has_active_snapshot` / `has_passive_snapshot`: the previous set holds a snapshot of
/// that kind for this owner and drive (only then can an increment be taken).
pub fn backup_units(
    reg: &BackupRegistration,
    backup_type: BackupType,
    has_active_snapshot: bool,
    has_passive_snapshot: bool,
) -> Vec<UnitKind> {
    let incremental = backup_type == BackupType::Incremental;
    let mut units = Vec::new();
    if let Some(active) = &reg.active {
        if active.active_type.has_own_active_data() {
            let inc = incremental && active.supports_incremental && has_active_snapshot;
            units.push(if inc {
                UnitKind::ActiveIncrement
            } else {
                UnitKind::ActiveBase
            });
            if active.supports_incremental {
                units.push(UnitKind::ActiveSnapshot);
            }
        }
    }
    units.extend(reg.proxies.iter().map(|p| UnitKind::Proxy(*p)));
    if let Some(passive) = &reg.passive {
        let inc = incremental && !passive.base_backup_only && has_passive_snapshot;
        units.push(if inc {
            UnitKind::PassiveIncrement
        } else {
            UnitKind::PassiveBase
        });
        if !passive.base_backup_only {
            units.push(UnitKind::PassiveSnapshot);
        }
    }
    if !reg.dbms.is_empty() {
        units.push(UnitKind::Dbms);
    }
    units
}

/// A restore chain that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// No set was given.
    #[error("no backup set given")]
    Empty,
    /// The first set is not a base backup.
    #[error("the first set {0} is not a base backup")]
    FirstNotBase(String),
    /// An increment does not follow the set before it.
    #[error("set {set} follows {actual:?}, not {expected}")]
    Broken {
        /// The increment.
        set: String,
        /// The set before it in the chain.
        expected: String,
        /// What its manifest names.
        actual: Option<String>,
    },
}

/// Checks that `sets` form a chain: a base, then increments each naming the set before.
///
/// # Errors
/// The first [`ChainError`].
pub fn check_chain(sets: &[Manifest]) -> Result<(), ChainError> {
    let first = sets.first().ok_or(ChainError::Empty)?;
    if first.backup_type != BackupType::Base {
        return Err(ChainError::FirstNotBase(first.session.clone()));
    }
    for pair in sets.windows(2) {
        let (before, set) = (&pair[0], &pair[1]);
        if set.backup_type != BackupType::Incremental
            || set.previous.as_deref() != Some(&before.session)
        {
            return Err(ChainError::Broken {
                set: set.session.clone(),
                expected: before.session.clone(),
                actual: set.previous.clone(),
            });
        }
    }
    Ok(())
}

/// One unit to restore: the index of its set in the chain and the unit.
pub type RestoreStep = (usize, UnitId);

/// Why an owner's units cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SequenceError {
    /// An increment without a base before it in the chain.
    #[error("{0} has no base before it")]
    IncrementWithoutBase(UnitId),
}

/// Returns the restore steps for `sid` over a checked chain, in the required order:
/// per drive, system (package) files, passive (base then increments), DBMS, public
/// files, active (base then increments), then proxy data. Snapshots are not restored (they serve the next increment).
///
/// # Errors
/// [`SequenceError`] if an increment has no base before it.
pub fn restore_steps(sets: &[Manifest], sid: Sid) -> Result<Vec<RestoreStep>, SequenceError> {
    let mut drives: Vec<char> = sets
        .iter()
        .flat_map(|m| m.units.iter())
        .filter(|u| u.id.sid == sid)
        .map(|u| u.id.drive)
        .collect();
    drives.sort_unstable();
    drives.dedup();
    let mut steps = Vec::new();
    for drive in drives {
        steps.extend(base_and_increments(
            sets,
            sid,
            drive,
            UnitKind::System,
            None,
        )?);
        steps.extend(base_and_increments(
            sets,
            sid,
            drive,
            UnitKind::PassiveBase,
            Some(UnitKind::PassiveIncrement),
        )?);
        steps.extend(base_and_increments(sets, sid, drive, UnitKind::Dbms, None)?);
        steps.extend(base_and_increments(
            sets,
            sid,
            drive,
            UnitKind::Public,
            None,
        )?);
        let active = base_and_increments(
            sets,
            sid,
            drive,
            UnitKind::ActiveBase,
            Some(UnitKind::ActiveIncrement),
        )?;
        if !active.is_empty() {
            // The owner's latest snapshot goes first (Symbian: active snapshot, base,
            // increments), so that it can compute its next increment from the state it
            // gets back.
            steps.extend(latest(sets, sid, drive, UnitKind::ActiveSnapshot));
        }
        steps.extend(active);
        let mut proxies: Vec<UnitKind> = sets
            .iter()
            .flat_map(|m| m.units.iter())
            .filter(|u| {
                u.id.sid == sid && u.id.drive == drive && matches!(u.id.kind, UnitKind::Proxy(_))
            })
            .map(|u| u.id.kind)
            .collect();
        proxies.sort_unstable();
        proxies.dedup();
        for proxy in proxies {
            steps.extend(base_and_increments(sets, sid, drive, proxy, None)?);
        }
    }
    Ok(steps)
}

/// The last unit of `kind` of `sid` on `drive` in the chain, if any.
fn latest(sets: &[Manifest], sid: Sid, drive: char, kind: UnitKind) -> Option<RestoreStep> {
    sets.iter().enumerate().rev().find_map(|(i, m)| {
        m.units
            .iter()
            .find(|u| u.id.sid == sid && u.id.drive == drive && u.id.kind == kind)
            .map(|u| (i, u.id))
    })
}

/// The last `base` unit of the chain and every `increment` after it.
fn base_and_increments(
    sets: &[Manifest],
    sid: Sid,
    drive: char,
    base: UnitKind,
    increment: Option<UnitKind>,
) -> Result<Vec<RestoreStep>, SequenceError> {
    let find = |kind: UnitKind| {
        sets.iter().enumerate().filter_map(move |(i, m)| {
            m.units
                .iter()
                .find(|u| u.id.sid == sid && u.id.drive == drive && u.id.kind == kind)
                .map(|u| (i, u.id))
        })
    };
    let last_base = find(base).next_back();
    let increments: Vec<RestoreStep> = increment.map(|k| find(k).collect()).unwrap_or_default();
    let Some((base_at, base_id)) = last_base else {
        return match increments.first() {
            Some((_, id)) => Err(SequenceError::IncrementWithoutBase(*id)),
            None => Ok(Vec::new()),
        };
    };
    let mut steps = vec![(base_at, base_id)];
    steps.extend(increments.into_iter().filter(|(i, _)| *i > base_at));
    Ok(steps)
}
