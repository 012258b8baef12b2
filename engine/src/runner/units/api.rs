//! The unit API's methods on [`Engine`].
#![allow(
    clippy::disallowed_methods,
    reason = "scratch units live in the engine's own root-only spool"
)]
#![allow(clippy::wildcard_imports)]

use super::*;
use crate::runner::backup::UnitInputs;
use crate::runner::engine::Engine;
use crate::runner::kinds::{restore_passive, restore_public};
use crate::runner::owner_calls::{drive_letter, push_unit, read_unit, watchdog};
use crate::spool::UnitFile;

impl Engine {
    /// Sets the SID list for partial operations (Symbian `SetSIDListForPartialBURL`). It
    /// applies to the next [`Engine::set_bur_mode`] into a partial mode and is kept until
    /// replaced.
    ///
    /// # Errors
    /// [`UnitError::WrongMode`] outside Normal.
    pub fn set_sid_list_for_partial(&self, sids: BTreeSet<Sid>) -> Result<(), UnitError> {
        let mode = self.bus.current();
        if !mode.is_normal() {
            return Err(UnitError::WrongMode {
                call: "set_sid_list_for_partial",
                mode,
            });
        }
        self.units.lock().partial = sids;
        Ok(())
    }

    /// Changes the BUR mode for a unit-by-unit operation (Symbian `SetBURModeL`):
    /// `drives` (empty: every configured drive) and, for a partial mode, the list of
    /// [`Engine::set_sid_list_for_partial`] are published with it. Entering a backup
    /// mode starts every selected active owner (and its proxies). Going back to Normal
    /// after a restore first sends RestoreComplete to every owner and drive that
    /// received active data; units still being supplied are discarded.
    ///
    /// # Errors
    /// [`UnitError::UnknownDrive`] for a drive that is not configured, or the
    /// [`BusError`] of a change the rules refuse (nothing changes then).
    pub async fn set_bur_mode(&self, mode: BurMode, drives: &[char]) -> Result<(), UnitError> {
        if mode.is_normal() {
            let completed = self
                .units
                .lock()
                .op()
                .map(|op| std::mem::take(&mut op.completed))
                .unwrap_or_default();
            self.restore_complete(completed).await;
            let mut st = self.units.lock();
            self.bus.set(mode)?;
            st.rx.borrow_and_update();
            st.op = None;
            return Ok(());
        }
        let mut letters: Vec<char> = if drives.is_empty() {
            self.config.drives.iter().map(|d| d.letter).collect()
        } else {
            drives.to_vec()
        };
        letters.sort_unstable();
        letters.dedup();
        if let Some(bad) = letters.iter().find(|l| self.drive(**l).is_none()) {
            return Err(UnitError::UnknownDrive(*bad));
        }
        let selected = {
            let mut st = self.units.lock();
            let selected = mode.part().is_partial().then(|| st.partial.clone());
            self.bus
                .set_operation(mode, letters.clone(), selected.clone().unwrap_or_default())?;
            st.rx.borrow_and_update();
            st.op = Some(Operation::new(mode, letters, selected.clone()));
            selected
        };
        if mode.part().is_backup() {
            self.prestart(&self.selected_owners(selected.as_ref()));
        }
        Ok(())
    }

    /// Tells every selected active owner that all snapshots are supplied (Symbian
    /// `AllSnapshotsSuppliedL`; here to every selected owner with its own active data,
    /// not only in partial backups). Owner failures are logged, not returned, and such
    /// an owner is told again before its data is requested. Afterwards snapshots are
    /// refused ([`UnitError::SnapshotsClosed`]).
    ///
    /// # Errors
    /// [`UnitError::WrongMode`] outside a backup mode entered with `set_bur_mode`.
    pub async fn all_snapshots_supplied(&self) -> Result<(), UnitError> {
        let targets: Vec<Sid> = {
            let mut st = self.units.lock();
            let mode = self.bus.current();
            let op = st
                .op()
                .filter(|op| op.is_backup())
                .ok_or(UnitError::WrongMode {
                    call: "all_snapshots_supplied",
                    mode,
                })?;
            op.snapshots_closed = true;
            let selected = op.selected.clone();
            let targets: Vec<Sid> = self
                .selected_owners(selected.as_ref())
                .into_iter()
                .filter(|sid| {
                    self.registrations
                        .get(sid)
                        .is_some_and(|r| registered_for(r, UnitKind::ActiveBase))
                })
                .filter(|sid| !op.announced.contains(sid))
                .collect();
            op.announced.extend(targets.iter().copied());
            targets
        };
        let mut failed = Vec::new();
        for sid in targets {
            let Some(reg) = self.registrations.get(&sid) else {
                continue;
            };
            let told = match self.ipc.ensure_ready(sid, self.ready_timeout(sid)).await {
                Ok(h) => h
                    .call_done(Callback::AllSnapshotsSupplied, watchdog(reg))
                    .await
                    .map_err(Failure::from),
                Err(e) => Err(Failure::from(e)),
            };
            if let Err(f) = told {
                tracing::warn!(%sid, reason = %f.reason, "all snapshots supplied not delivered");
                failed.push(sid);
            }
        }
        if let Some(op) = self.units.lock().op() {
            for sid in failed {
                op.announced.remove(&sid);
            }
        }
        Ok(())
    }

    /// Declares the system (package) data restored (Symbian `AllSystemFilesRestored`):
    /// rescans the registrations (the packages may have brought owners back), starts the
    /// selected active owners, and opens the operation to owner data. Before it only
    /// system units may be supplied, after it none.
    ///
    /// # Errors
    /// [`UnitError::WrongMode`] outside a restore mode entered with `set_bur_mode`.
    /// Otherwise the registration files that were left out.
    pub fn all_system_files_restored(&mut self) -> Result<Vec<RegistrationError>, UnitError> {
        let selected = {
            let mut st = self.units.lock();
            let mode = self.bus.current();
            let op = st
                .op()
                .filter(|op| !op.is_backup())
                .ok_or(UnitError::WrongMode {
                    call: "all_system_files_restored",
                    mode,
                })?;
            op.system_done = true;
            // New registrations: the rules start again from them.
            op.sequencers.clear();
            op.selected.clone()
        };
        let errors = self.rescan();
        for e in &errors {
            tracing::warn!(error = %e, "registration left out after system restore");
        }
        self.prestart(&self.selected_owners(selected.as_ref()));
        Ok(errors)
    }

    /// Produces one unit of the current backup operation and hands it out in chunks.
    /// The unit is captured whole (by the session code, into a scratch file under the
    /// spool) before the first chunk; `compress` selects LZ4 blocks.
    ///
    /// # Errors
    /// A refusal ([`UnitError::WrongMode`] outside a backup mode, unknown owner or
    /// drive, an owner not in the partial list, a kind the owner did not register, a
    /// sequencing violation) changes nothing. [`UnitError::Failed`] if capturing failed
    /// (the unit may then be requested again).
    pub async fn request_data(
        &self,
        unit: UnitId,
        compress: bool,
    ) -> Result<UnitStream, UnitError> {
        let (reg, inputs) = {
            let mut st = self.units.lock();
            let op = self.current_op(&mut st, "request_data")?;
            let reg = self
                .admit(op, unit, false)?
                .ok_or(UnitError::UnknownOwner(unit.sid))?;
            op.step(reg, unit, |s| {
                s.handle_request(unit.drive, unit.kind, false)
            })?;
            let key = (unit.sid, unit.drive);
            let inputs = UnitInputs {
                active_snapshot: None,
                announce: matches!(unit.kind, UnitKind::ActiveBase | UnitKind::ActiveIncrement)
                    && op.announced.insert(unit.sid),
                passive_previous: (unit.kind == UnitKind::PassiveIncrement)
                    .then(|| op.supplied.get(&key).cloned())
                    .flatten(),
                passive_taken: (unit.kind == UnitKind::PassiveSnapshot)
                    .then(|| op.taken.remove(&key))
                    .flatten(),
            };
            (reg, inputs)
        };
        let produced = self.produce(reg, unit, inputs, compress).await;
        let mut st = self.units.lock();
        let Some(op) = st.op() else {
            // The mode changed meanwhile: the unit belongs to no operation any more.
            if let Ok((_, path, _)) = &produced {
                let _ = std::fs::remove_file(path);
            }
            return Err(UnitError::WrongMode {
                call: "request_data",
                mode: self.bus.current(),
            });
        };
        match produced {
            Ok((record, path, snapshot)) => {
                op.step(reg, unit, |s| s.handle_request(unit.drive, unit.kind, true))?;
                if let Some(snapshot) = snapshot {
                    op.taken.insert((unit.sid, unit.drive), snapshot);
                }
                stream(unit, record, &path)
            }
            Err(f) => {
                op.abandon(unit);
                Err(UnitError::failed(unit, f))
            }
        }
    }

    /// Receives one chunk of a unit for the current operation (Symbian `SupplyDataL`):
    /// data during a restore mode, snapshots during a backup mode. Chunks may split the
    /// framed unit anywhere; every block is checked (length, CRC-32, LZ4) as it
    /// completes. With `finished` the end record is checked and the unit is applied as a
    /// session applies it: system files; passive data through a staging copy committed
    /// atomically; DBMS databases in one transaction; public files; active, proxy and
    /// snapshot data through the owner's callbacks; a passive snapshot during a backup
    /// is kept for the next passive increment request (during a restore it is checked
    /// and not needed: increments carry deletions).
    ///
    /// # Errors
    /// A refusal (wrong mode, unknown owner or drive, not selected, not registered,
    /// sequencing, snapshots closed, system files pending or done) changes nothing.
    /// [`UnitError::Corrupt`] discards the unit (nothing applied), [`UnitError::Failed`]
    /// abandons it; both let the server supply it again from the start.
    pub async fn supply_data(
        &self,
        unit: UnitId,
        chunk: &[u8],
        finished: bool,
    ) -> Result<Supplied, UnitError> {
        let Some(Complete {
            incoming,
            reg,
            fresh,
            backup,
        }) = self.receive_chunk(unit, chunk, finished)?
        else {
            return Ok(Supplied::Pending);
        };
        let file = UnitFile::plain(incoming.path.clone());
        let applied = self.apply(unit, reg, &file, fresh, backup).await;
        drop(incoming);
        self.record_applied(unit, reg, applied)
    }

    /// Checks and keeps one chunk of a supplied unit; returns the unit once `finished`
    /// (marked as being applied), `None` while more is to come.
    fn receive_chunk(
        &self,
        unit: UnitId,
        chunk: &[u8],
        finished: bool,
    ) -> Result<Option<Complete<'_>>, UnitError> {
        let mut st = self.units.lock();
        let op = self.current_op(&mut st, "supply_data")?;
        let reg = self.admit(op, unit, true)?;
        if op.applying.contains(&unit) {
            return Err(UnitError::Sequence {
                unit,
                violation: SequenceViolation::InProgress(unit.kind),
            });
        }
        let mut incoming = match op.incoming.remove(&unit) {
            Some(incoming) => incoming,
            None => self.start_incoming(op, unit, reg)?,
        };
        let fed = incoming
            .feed(chunk)
            .and_then(|()| if finished { incoming.finish() } else { Ok(()) });
        if let Err(e) = fed {
            drop(incoming);
            op.abandon(unit);
            return Err(e.into_unit_error(unit));
        }
        if !finished {
            op.incoming.insert(unit, incoming);
            return Ok(None);
        }
        let fresh = !op.passive_restored.contains(&(unit.sid, unit.drive));
        op.applying.insert(unit);
        Ok(Some(Complete {
            incoming,
            reg,
            fresh,
            backup: op.is_backup(),
        }))
    }

    /// Starts receiving `unit`: the owner's sequencer first, then a scratch file.
    fn start_incoming(
        &self,
        op: &mut Operation,
        unit: UnitId,
        reg: Option<&BackupRegistration>,
    ) -> Result<Incoming, UnitError> {
        if let Some(reg) = reg {
            op.step(reg, unit, |s| s.handle_supply(unit.drive, unit.kind, false))?;
        }
        let created = self.scratch().and_then(|s| {
            Incoming::create(s.unit_path(unit).with_extension("unit.in"))
                .map_err(|e| Failure::new(-2, e.to_string()))
        });
        created.map_err(|f| {
            op.abandon(unit);
            UnitError::failed(unit, f)
        })
    }

    /// Records what applying `unit` did in the operation (sequencer, snapshot, passive
    /// data restored, owners to tell RestoreComplete).
    fn record_applied(
        &self,
        unit: UnitId,
        reg: Option<&BackupRegistration>,
        applied: Result<Applied, UnitError>,
    ) -> Result<Supplied, UnitError> {
        let mut st = self.units.lock();
        let Some(op) = st.op() else {
            return Err(UnitError::WrongMode {
                call: "supply_data",
                mode: self.bus.current(),
            });
        };
        op.applying.remove(&unit);
        let applied = applied.inspect_err(|_| op.abandon(unit))?;
        if let Some(reg) = reg {
            op.step(reg, unit, |s| s.handle_supply(unit.drive, unit.kind, true))?;
        }
        let key = (unit.sid, unit.drive);
        if let Some(snapshot) = applied.snapshot {
            op.supplied.insert(key, snapshot);
        }
        if matches!(
            unit.kind,
            UnitKind::PassiveBase | UnitKind::PassiveIncrement
        ) {
            op.passive_restored.insert(key);
        }
        if let Some(h) = applied.handle {
            if !op.completed.iter().any(|(_, sid, d)| (*sid, *d) == key) {
                op.completed.push((h, unit.sid, unit.drive));
            }
        }
        Ok(Supplied::Applied {
            skipped: applied.skipped,
        })
    }

    /// Returns the current unit operation or the wrong-mode refusal.
    fn current_op<'s>(
        &self,
        st: &'s mut OpsState,
        call: &'static str,
    ) -> Result<&'s mut Operation, UnitError> {
        let mode = self.bus.current();
        st.op().ok_or(UnitError::WrongMode { call, mode })
    }

    /// The checks before a unit call touches anything; returns the owner's registration
    /// (`None` only for system data of an owner a restore may bring back).
    fn admit(
        &self,
        op: &Operation,
        unit: UnitId,
        supply: bool,
    ) -> Result<Option<&BackupRegistration>, UnitError> {
        let (call, allowed) = if supply {
            ("supply_data", !op.is_backup() || is_snapshot(unit.kind))
        } else {
            ("request_data", op.is_backup())
        };
        if !allowed {
            return Err(UnitError::WrongMode {
                call,
                mode: op.mode,
            });
        }
        if !op.drives.contains(&unit.drive) {
            return Err(UnitError::UnknownDrive(unit.drive));
        }
        if op.selected.as_ref().is_some_and(|s| !s.contains(&unit.sid)) {
            return Err(UnitError::NotSelected(unit.sid));
        }
        if !op.is_backup() {
            match (unit.kind == UnitKind::System, op.system_done) {
                (true, true) => return Err(UnitError::SystemFilesDone(unit)),
                (true, false) => return Ok(self.registrations.get(&unit.sid)),
                (false, false) => return Err(UnitError::SystemFilesPending(unit)),
                (false, true) => {}
            }
        }
        let reg = self
            .registrations
            .get(&unit.sid)
            .ok_or(UnitError::UnknownOwner(unit.sid))?;
        if !registered_for(reg, unit.kind) {
            return Err(UnitError::NotRegistered(unit));
        }
        if !supply
            && cage_bound(unit.kind)
            && !self
                .owner_drives(unit.sid)
                .iter()
                .any(|d| d.letter == unit.drive)
        {
            return Err(UnitError::NotOnDrive(unit));
        }
        if supply && op.is_backup() && op.snapshots_closed {
            return Err(UnitError::SnapshotsClosed(unit));
        }
        Ok(Some(reg))
    }

    /// Captures `unit` into a scratch unit file; returns its record, its path and the
    /// passive snapshot a passive base or increment took.
    async fn produce(
        &self,
        reg: &BackupRegistration,
        unit: UnitId,
        inputs: UnitInputs,
        compress: bool,
    ) -> Result<(UnitRecord, PathBuf, Option<Snapshot>), Failure> {
        let scratch = self.scratch()?;
        let drive = self
            .drive(unit.drive)
            .ok_or_else(|| Failure::new(-1, format!("drive {} is not configured", unit.drive)))?;
        let mut writer = scratch.unit_writer(unit, compress)?;
        let path = scratch.unit_path(unit);
        let captured = match unit.kind {
            UnitKind::System => {
                let list = self.system_file_list(reg.sid)?;
                crate::system::capture_system(drive, &list, &mut writer)
                    .map(|_| None)
                    .map_err(|e| Failure::new(-2, e.to_string()))
            }
            UnitKind::Public => match &reg.public {
                Some(public) => {
                    let owner = self.owner_identity(reg.sid)?;
                    crate::public::capture_public(drive, public, owner, &mut writer)
                        .map(|_| None)
                        .map_err(|e| Failure::new(-2, e.to_string()))
                }
                None => Err(Failure::new(-5, "no public registration")),
            },
            kind => {
                let mut handle = None;
                self.capture_unit(reg, drive, kind, inputs, &mut handle, &mut writer)
                    .await
            }
        };
        let snapshot = match captured {
            Ok(s) => s,
            Err(f) => {
                drop(writer);
                let _ = std::fs::remove_file(path.with_extension("unit.part"));
                return Err(f);
            }
        };
        Ok((writer.finish()?, path, snapshot))
    }

    /// Hands a supplied active snapshot to its owner.
    async fn supply_active_snapshot(
        &self,
        reg: &BackupRegistration,
        drive: &Drive,
        unit: UnitId,
        path: &UnitFile,
    ) -> Result<(), Failure> {
        let h = self
            .ipc
            .ensure_ready(unit.sid, self.ready_timeout(unit.sid))
            .await?;
        let d = drive_letter(drive)?;
        push_unit(&h, watchdog(reg), path, |data, last| {
            Callback::ReceiveSnapshotData {
                drive: d,
                last,
                data,
            }
        })
        .await
    }

    /// Applies a complete, checked supplied unit.
    async fn apply(
        &self,
        unit: UnitId,
        reg: Option<&BackupRegistration>,
        path: &UnitFile,
        fresh: bool,
        backup: bool,
    ) -> Result<Applied, UnitError> {
        let failed = |f: Failure| UnitError::failed(unit, f);
        let drive = self
            .drive(unit.drive)
            .ok_or(UnitError::UnknownDrive(unit.drive))?;
        if unit.kind == UnitKind::System {
            self.restore_system_unit(unit, path).map_err(failed)?;
            return Ok(Applied::default());
        }
        let reg = reg.ok_or(UnitError::UnknownOwner(unit.sid))?;
        let mut applied = Applied::default();
        match unit.kind {
            UnitKind::PassiveSnapshot => {
                let snapshot =
                    Snapshot::decode(&read_unit(path).map_err(failed)?).map_err(|e| {
                        UnitError::Corrupt {
                            unit,
                            reason: e.to_string(),
                        }
                    })?;
                applied.snapshot = backup.then_some(snapshot);
            }
            UnitKind::ActiveSnapshot => {
                self.supply_active_snapshot(reg, drive, unit, path)
                    .await
                    .map_err(failed)?;
            }
            UnitKind::PassiveBase | UnitKind::PassiveIncrement | UnitKind::Dbms => {
                applied.skipped =
                    restore_passive(&self.config, reg, drive, &[(unit, path.clone())], fresh)
                        .map_err(failed)?;
            }
            UnitKind::Public => {
                restore_public(&self.config, reg, drive, path).map_err(failed)?;
            }
            _ => {
                self.restore_active_unit(reg, drive, unit, path, &mut applied.handle)
                    .await
                    .map_err(failed)?;
            }
        }
        Ok(applied)
    }

    /// Returns the owners an operation concerns: the partial list, or every registered
    /// owner.
    fn selected_owners(&self, selected: Option<&BTreeSet<Sid>>) -> Vec<Sid> {
        match selected {
            Some(list) => list.iter().copied().collect(),
            None => self.registrations.keys().copied().collect(),
        }
    }

    fn drive(&self, letter: char) -> Option<&Drive> {
        self.config.drives.iter().find(|d| d.letter == letter)
    }

    /// The scratch set for units in transit (`<spool>/.unit-transfer`, mode 0700).
    fn scratch(&self) -> Result<SpoolSet, Failure> {
        let dir = self.config.spool.join(SCRATCH);
        let mut builder = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(builder.recursive(true), 0o700)
            .create(&dir)
            .map_err(|e| Failure::new(-2, format!("{}: {e}", dir.display())))?;
        Ok(SpoolSet::open(dir))
    }
}

/// A supplied unit received whole, to be applied.
struct Complete<'e> {
    incoming: Incoming,
    reg: Option<&'e BackupRegistration>,
    fresh: bool,
    backup: bool,
}

/// Opens a produced unit as the stream handed out; its name goes at once (the open file
/// is the stream).
fn stream(
    unit: UnitId,
    record: UnitRecord,
    path: &std::path::Path,
) -> Result<UnitStream, UnitError> {
    let opened = File::open(path).and_then(|f| {
        std::fs::remove_file(path)?;
        Ok(f)
    });
    let file = opened.map_err(|e| UnitError::failed(unit, Failure::new(-2, e.to_string())))?;
    Ok(UnitStream {
        left: record.size,
        record,
        file,
    })
}
