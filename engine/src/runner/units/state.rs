//! The state of one unit-by-unit operation: mode, selection, sequencers, and units being
//! supplied.
#![allow(
    clippy::disallowed_methods,
    reason = "scratch units live in the engine's own root-only spool"
)]
#![allow(clippy::wildcard_imports)]

use super::*;

/// The per-unit operation state inside the engine.
#[derive(Debug)]
pub(crate) struct UnitOps {
    pub(super) state: std::sync::Mutex<OpsState>,
}

impl UnitOps {
    pub(crate) fn new(rx: watch::Receiver<BurState>) -> Self {
        Self {
            state: std::sync::Mutex::new(OpsState {
                rx,
                partial: BTreeSet::new(),
                op: None,
            }),
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, OpsState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug)]
pub(super) struct OpsState {
    /// Sees every mode change: one not made by `set_bur_mode` ends the operation.
    pub(super) rx: watch::Receiver<BurState>,
    /// `SetSIDListForPartialBURL`: kept until replaced.
    pub(super) partial: BTreeSet<Sid>,
    pub(super) op: Option<Operation>,
}

impl OpsState {
    /// Returns the operation entered through `set_bur_mode`, if the mode is still its.
    pub(super) fn op(&mut self) -> Option<&mut Operation> {
        if self.rx.has_changed().unwrap_or(true) {
            self.rx.borrow_and_update();
            self.op = None;
        }
        self.op.as_mut()
    }
}

/// One backup or restore operation driven unit by unit.
#[derive(Debug)]
pub(super) struct Operation {
    pub(super) mode: BurMode,
    pub(super) drives: Vec<char>,
    /// The partial SID list (None: every owner).
    pub(super) selected: Option<BTreeSet<Sid>>,
    pub(super) sequencers: BTreeMap<Sid, UnitSequencer>,
    /// Passive snapshots taken with a passive base or increment, for the snapshot unit.
    pub(super) taken: BTreeMap<(Sid, char), Snapshot>,
    /// Passive snapshots the server supplied (for increments).
    pub(super) supplied: BTreeMap<(Sid, char), Snapshot>,
    /// Active owners already told `AllSnapshotsSupplied`.
    pub(super) announced: BTreeSet<Sid>,
    /// `all_snapshots_supplied` was called: no more snapshots.
    pub(super) snapshots_closed: bool,
    /// `all_system_files_restored` was called.
    pub(super) system_done: bool,
    /// Drives of owners that received passive data (later units build on it).
    pub(super) passive_restored: BTreeSet<(Sid, char)>,
    /// Owners and drives that received active data: RestoreComplete at Normal.
    pub(super) completed: Vec<(OwnerHandle, Sid, char)>,
    /// Supplies in progress.
    pub(super) incoming: BTreeMap<UnitId, Incoming>,
    /// Complete supplies being applied.
    pub(super) applying: BTreeSet<UnitId>,
}

impl Operation {
    pub(super) fn new(mode: BurMode, drives: Vec<char>, selected: Option<BTreeSet<Sid>>) -> Self {
        Self {
            mode,
            drives,
            selected,
            sequencers: BTreeMap::new(),
            taken: BTreeMap::new(),
            supplied: BTreeMap::new(),
            announced: BTreeSet::new(),
            snapshots_closed: false,
            system_done: false,
            passive_restored: BTreeSet::new(),
            completed: Vec::new(),
            incoming: BTreeMap::new(),
            applying: BTreeSet::new(),
        }
    }

    pub(super) fn is_backup(&self) -> bool {
        self.mode.part().is_backup()
    }

    /// Runs one step of `reg`'s sequencing rules.
    pub(super) fn step(
        &mut self,
        reg: &BackupRegistration,
        unit: UnitId,
        step: impl FnOnce(&mut UnitSequencer) -> Result<(), SequenceViolation>,
    ) -> Result<(), UnitError> {
        let direction = if self.is_backup() {
            Direction::Backup
        } else {
            Direction::Restore
        };
        let seq = self
            .sequencers
            .entry(reg.sid)
            .or_insert_with(|| UnitSequencer::new(reg, direction));
        step(seq).map_err(|violation| UnitError::Sequence { unit, violation })
    }

    /// The unit in progress failed: it goes back to where it was before.
    pub(super) fn abandon(&mut self, unit: UnitId) {
        self.incoming.remove(&unit);
        if let Some(seq) = self.sequencers.get_mut(&unit.sid) {
            seq.handle_abandon(unit.drive);
        }
    }
}

/// A supplied unit being received into a scratch file, checked as it arrives.
#[derive(Debug)]
pub(super) struct Incoming {
    pub(super) path: PathBuf,
    pub(super) file: File,
    pub(super) decoder: UnitDecoder,
}

impl Incoming {
    pub(super) fn create(path: PathBuf) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::os::unix::fs::DirBuilderExt::mode(
                std::fs::DirBuilder::new().recursive(true),
                0o700,
            )
            .create(parent)?;
        }
        let file = crate::spool::create_private_file(&path)?;
        Ok(Self {
            path,
            file,
            decoder: UnitDecoder::new(),
        })
    }

    /// Keeps a chunk and checks every block it completes.
    pub(super) fn feed(&mut self, data: &[u8]) -> Result<(), FeedError> {
        self.decoder.handle_input(data);
        while self.decoder.poll_block()?.is_some() {}
        self.file.write_all(data)?;
        Ok(())
    }

    /// Checks the end of the unit and makes the copy durable.
    pub(super) fn finish(&mut self) -> Result<(), FeedError> {
        self.decoder.finish()?;
        self.file.sync_all()?;
        Ok(())
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[derive(Debug, thiserror::Error)]
pub(super) enum FeedError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl FeedError {
    pub(super) fn into_unit_error(self, unit: UnitId) -> UnitError {
        match self {
            Self::Frame(e) => UnitError::Corrupt {
                unit,
                reason: e.to_string(),
            },
            Self::Io(e) => UnitError::failed(unit, Failure::new(-2, e.to_string())),
        }
    }
}

/// What applying a supplied unit produced.
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub(super) skipped: Vec<String>,
    pub(super) snapshot: Option<Snapshot>,
    pub(super) handle: Option<OwnerHandle>,
}

/// Returns true if `reg` declares data of `kind`.
pub(super) fn registered_for(reg: &BackupRegistration, kind: UnitKind) -> bool {
    match kind {
        UnitKind::ActiveBase | UnitKind::ActiveIncrement | UnitKind::ActiveSnapshot => reg
            .active
            .as_ref()
            .is_some_and(|a| a.active_type.has_own_active_data()),
        UnitKind::PassiveBase | UnitKind::PassiveIncrement | UnitKind::PassiveSnapshot => {
            reg.passive.is_some()
        }
        UnitKind::Proxy(proxy) => reg.proxies.contains(&proxy),
        UnitKind::Dbms => !reg.dbms.is_empty(),
        UnitKind::System => reg.system_backup,
        UnitKind::Public => reg.public.is_some(),
        // Registration data is deprecated (Symbian KErrNotSupported).
        _ => false,
    }
}

/// Returns true for the kinds that live in the owner's cage on the unit's drive.
pub(super) fn cage_bound(kind: UnitKind) -> bool {
    !matches!(kind, UnitKind::System | UnitKind::Public)
}

pub(super) fn is_snapshot(kind: UnitKind) -> bool {
    matches!(kind, UnitKind::ActiveSnapshot | UnitKind::PassiveSnapshot)
}
