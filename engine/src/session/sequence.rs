//! The per-(owner, drive) sequencing rules of the reference (§4.3, §4.4), sans-IO, with
//! its documented defects fixed. Every unit chunk a server asks for (backup) or supplies
//! (restore, or snapshots during an incremental backup) goes through
//! [`UnitSequencer::handle_request`] or [`UnitSequencer::handle_supply`] first; a refused
//! step is a [`SequenceViolation`] and nothing reaches the owner.
//!
//! Fixed defects: hybrid owners must move active data before passive data on backup and
//! passive before active on restore; active increments need their base first on restore;
//! a passive increment needs only its base on restore (increments carry deletions, so
//! the restore-time snapshot is optional).

use std::collections::BTreeMap;

use crate::registration::BackupRegistration;
use crate::unit::UnitKind;

/// Which way data moves in the current operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Backup: data is requested (snapshots may be supplied first).
    Backup,
    /// Restore: data is supplied.
    Restore,
}

/// A step the rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SequenceViolation {
    /// The owner has no data of that kind (Symbian KErrNotSupported / KErrCorrupt).
    #[error("owner has no {0} data")]
    NotSupported(UnitKind),
    /// Another unit of this owner and drive is still in progress (Symbian KErrNotReady).
    #[error("{0} is still in progress")]
    InProgress(UnitKind),
    /// The step breaks the order (Symbian KErrCorrupt).
    #[error("{kind} out of order: {reason}")]
    OutOfOrder {
        /// The unit.
        kind: UnitKind,
        /// Which rule.
        reason: &'static str,
    },
    /// This kind does not move in this direction.
    #[error("{0} cannot be {1} here")]
    WrongDirection(UnitKind, &'static str),
}

/// Progress of one unit kind on one drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Progress {
    #[default]
    None,
    Started,
    Done,
}

#[derive(Debug, Default)]
struct DriveState {
    /// Units requested (backup) or supplied (restore).
    units: BTreeMap<UnitKind, Progress>,
    /// Snapshots supplied by the server during a backup (kept apart from the new
    /// snapshots the server requests).
    supplied: BTreeMap<UnitKind, Progress>,
    current: Option<UnitKind>,
    /// What the unit in progress replaced: (supplied during backup, kind, progress before).
    undo: Option<(bool, UnitKind, Progress)>,
}

impl DriveState {
    fn progress(&self, kind: UnitKind) -> Progress {
        self.units.get(&kind).copied().unwrap_or_default()
    }
    fn touched(&self, kind: UnitKind) -> bool {
        self.progress(kind) != Progress::None
    }
    fn done(&self, kind: UnitKind) -> bool {
        self.progress(kind) == Progress::Done
    }
    fn supplied(&self, kind: UnitKind) -> Progress {
        self.supplied.get(&kind).copied().unwrap_or_default()
    }
}

/// The sequencing state of one owner during one operation.
#[derive(Debug)]
pub struct UnitSequencer {
    direction: Direction,
    own_active: bool,
    active_inc: bool,
    passive: bool,
    passive_inc: bool,
    drives: BTreeMap<char, DriveState>,
}

impl UnitSequencer {
    /// Starts the rules for `reg` in one operation.
    pub fn new(reg: &BackupRegistration, direction: Direction) -> Self {
        Self {
            direction,
            own_active: reg
                .active
                .as_ref()
                .is_some_and(|a| a.active_type.has_own_active_data()),
            active_inc: reg.active_supports_incremental(),
            passive: reg.passive.is_some(),
            passive_inc: reg.passive_supports_incremental(),
            drives: BTreeMap::new(),
        }
    }

    /// The server asks for a chunk of `kind` on `drive` (`finished`: the chunk ends the unit).
    ///
    /// # Errors
    /// The [`SequenceViolation`]; the state is unchanged.
    pub fn handle_request(
        &mut self,
        drive: char,
        kind: UnitKind,
        finished: bool,
    ) -> Result<(), SequenceViolation> {
        if self.direction != Direction::Backup {
            return Err(SequenceViolation::WrongDirection(kind, "requested"));
        }
        self.supported(kind)?;
        let state = self.drives.entry(drive).or_default();
        check_current(state, kind)?;
        if state.progress(kind) == Progress::None {
            backup_request_rules(self.own_active, self.passive, state, kind)?;
        } else if state.done(kind) {
            return Err(out_of_order(kind, "requested twice"));
        }
        remember(state, false, kind);
        advance(state, kind, finished);
        Ok(())
    }

    /// The server supplies a chunk of `kind` on `drive`.
    ///
    /// # Errors
    /// The [`SequenceViolation`]; the state is unchanged.
    pub fn handle_supply(
        &mut self,
        drive: char,
        kind: UnitKind,
        finished: bool,
    ) -> Result<(), SequenceViolation> {
        self.supported(kind)?;
        let (own_active, passive, active_inc, passive_inc, direction) = (
            self.own_active,
            self.passive,
            self.active_inc,
            self.passive_inc,
            self.direction,
        );
        let state = self.drives.entry(drive).or_default();
        check_current(state, kind)?;
        if direction == Direction::Backup {
            match state.supplied(kind) {
                Progress::None => backup_supply_rules(active_inc, passive_inc, state, kind)?,
                Progress::Done => return Err(out_of_order(kind, "supplied twice")),
                Progress::Started => {}
            }
            let progress = if finished {
                Progress::Done
            } else {
                Progress::Started
            };
            remember(state, true, kind);
            state.supplied.insert(kind, progress);
            state.current = (!finished).then_some(kind);
            return Ok(());
        }
        if state.progress(kind) == Progress::None {
            restore_rules(own_active, passive, passive_inc, state, kind)?;
        } else if state.done(kind) && !kind.is_increment() {
            return Err(out_of_order(kind, "supplied twice"));
        }
        remember(state, false, kind);
        advance(state, kind, finished);
        Ok(())
    }

    /// The unit in progress on `drive` was abandoned (an error, a corrupt chunk, an owner
    /// failure): it goes back to where it was before its first chunk, so the server may
    /// try it again (Symbian: "any error resets that state"). A no-op when none is open.
    pub fn handle_abandon(&mut self, drive: char) {
        let Some(state) = self.drives.get_mut(&drive) else {
            return;
        };
        if state.current.take().is_none() {
            return;
        }
        if let Some((supplied, kind, before)) = state.undo.take() {
            let map = if supplied {
                &mut state.supplied
            } else {
                &mut state.units
            };
            map.insert(kind, before);
        }
    }

    fn supported(&self, kind: UnitKind) -> Result<(), SequenceViolation> {
        let ok = match kind {
            UnitKind::ActiveBase | UnitKind::ActiveIncrement | UnitKind::ActiveSnapshot => {
                self.own_active
            }
            UnitKind::PassiveBase | UnitKind::PassiveIncrement | UnitKind::PassiveSnapshot => {
                self.passive
            }
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(SequenceViolation::NotSupported(kind))
        }
    }
}

fn out_of_order(kind: UnitKind, reason: &'static str) -> SequenceViolation {
    SequenceViolation::OutOfOrder { kind, reason }
}

fn check_current(state: &DriveState, kind: UnitKind) -> Result<(), SequenceViolation> {
    match state.current {
        Some(current) if current != kind => Err(SequenceViolation::InProgress(current)),
        _ => Ok(()),
    }
}

/// Records what a unit that starts now replaces (for [`UnitSequencer::handle_abandon`]).
fn remember(state: &mut DriveState, supplied: bool, kind: UnitKind) {
    if state.current.is_none() {
        let before = if supplied {
            state.supplied(kind)
        } else {
            state.progress(kind)
        };
        state.undo = Some((supplied, kind, before));
    }
}

fn advance(state: &mut DriveState, kind: UnitKind, finished: bool) {
    if finished {
        state.units.insert(kind, Progress::Done);
        state.current = None;
    } else {
        state.units.insert(kind, Progress::Started);
        state.current = Some(kind);
    }
}

fn backup_request_rules(
    own_active: bool,
    passive: bool,
    s: &DriveState,
    kind: UnitKind,
) -> Result<(), SequenceViolation> {
    use UnitKind::*;
    let active_data_done = s.done(ActiveBase) || s.done(ActiveIncrement);
    match kind {
        ActiveBase if s.supplied(ActiveSnapshot) != Progress::None => {
            Err(out_of_order(kind, "base after a supplied snapshot"))
        }
        ActiveIncrement if s.supplied(ActiveSnapshot) != Progress::Done => {
            Err(out_of_order(kind, "increment without a supplied snapshot"))
        }
        ActiveBase | ActiveIncrement if s.touched(ActiveBase) || s.touched(ActiveIncrement) => {
            Err(out_of_order(kind, "base and increment both requested"))
        }
        PassiveBase if s.supplied(PassiveSnapshot) != Progress::None => {
            Err(out_of_order(kind, "base after a supplied snapshot"))
        }
        PassiveIncrement if s.supplied(PassiveSnapshot) != Progress::Done => {
            Err(out_of_order(kind, "increment without a supplied snapshot"))
        }
        PassiveBase | PassiveIncrement if s.touched(PassiveBase) || s.touched(PassiveIncrement) => {
            Err(out_of_order(kind, "base and increment both requested"))
        }
        PassiveBase | PassiveIncrement if own_active && passive && !active_data_done => Err(
            out_of_order(kind, "a hybrid owner's active data comes first on backup"),
        ),
        _ => Ok(()),
    }
}

fn backup_supply_rules(
    active_inc: bool,
    passive_inc: bool,
    s: &DriveState,
    kind: UnitKind,
) -> Result<(), SequenceViolation> {
    use UnitKind::*;
    match kind {
        ActiveSnapshot if !active_inc => Err(SequenceViolation::NotSupported(kind)),
        ActiveSnapshot if s.touched(ActiveBase) || s.touched(ActiveIncrement) => {
            Err(out_of_order(kind, "snapshot after data was requested"))
        }
        PassiveSnapshot if !passive_inc => Err(SequenceViolation::NotSupported(kind)),
        PassiveSnapshot if s.touched(PassiveBase) || s.touched(PassiveIncrement) => {
            Err(out_of_order(kind, "snapshot after data was requested"))
        }
        ActiveSnapshot | PassiveSnapshot => Ok(()),
        _ => Err(SequenceViolation::WrongDirection(
            kind,
            "supplied during backup",
        )),
    }
}

fn restore_rules(
    own_active: bool,
    passive: bool,
    passive_inc: bool,
    s: &DriveState,
    kind: UnitKind,
) -> Result<(), SequenceViolation> {
    use UnitKind::*;
    let passive_started = s.touched(PassiveBase) || s.touched(PassiveIncrement);
    match kind {
        PassiveSnapshot if passive_started => {
            Err(out_of_order(kind, "snapshot after passive data"))
        }
        PassiveIncrement if !passive_inc => Err(SequenceViolation::NotSupported(kind)),
        PassiveIncrement if !s.done(PassiveBase) => {
            Err(out_of_order(kind, "increment before its base"))
        }
        ActiveSnapshot if s.touched(ActiveBase) => {
            Err(out_of_order(kind, "snapshot after active data"))
        }
        ActiveIncrement if !s.done(ActiveBase) => {
            Err(out_of_order(kind, "increment before its base"))
        }
        ActiveBase | ActiveIncrement if own_active && passive && !s.done(PassiveBase) => Err(
            out_of_order(kind, "a hybrid owner's passive data comes first on restore"),
        ),
        _ => Ok(()),
    }
}
