//! I/O shell: a restore session (verify everything, then restore owner by owner).

use std::collections::{BTreeMap, BTreeSet};

use data_owners::wire::{Callback, DriveLetter};
use tracing::Instrument;

use super::engine::Engine;
use super::kinds::{self, open_unit, restore_public};
use super::owner_calls::{drive_letter, push_unit, terminate, watchdog};
use super::request::{Failure, OwnerRestoreResult, RestoreReport, RestoreRequest, SessionError};
use crate::commit::OwnerCommit;
use crate::ipc::OwnerHandle;
use crate::manifest::{Manifest, OwnerOutcome};
use crate::mode::{BackupIncType, BurMode, BurPartType};
use crate::progress::ProgressEvent;
use crate::recovery::SessionKind;
use crate::registration::{BackupRegistration, Drive, Sid};
use crate::session::plan::{RestoreStep, check_chain, restore_steps};
use crate::spool::{SpoolSet, UnitFile};
use crate::unit::{UnitId, UnitKind};

/// The restore result's file name, written into the last set of the chain.
pub const RESTORE_RESULT_FILE: &str = "restore-result.toml";

/// Why an owner of the set was not restored: it is not installed on this device.
fn not_installed() -> Failure {
    Failure::new(
        -1,
        "not installed on this device: its data stays in the set (install it and restore again)",
    )
}

/// The bytes of `sid`'s units in the chain.
fn owner_bytes(manifests: &[Manifest], sid: Sid) -> u64 {
    manifests
        .iter()
        .flat_map(|m| &m.units)
        .filter(|u| u.id.sid == sid)
        .map(|u| u.size)
        .sum()
}

/// Writes the result next to the last set (DESIGN: `<folder>/restore-result.toml`) and
/// returns its path, or `None` if it could not be written.
fn write_result(sets: &[SpoolSet], report: &RestoreReport) -> Option<std::path::PathBuf> {
    let path = sets.last()?.dir().join(RESTORE_RESULT_FILE);
    match crate::mode::write_atomically(&path, report.to_toml().as_bytes(), 0o600) {
        Ok(()) => Some(path),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the restore result");
            None
        }
    }
}

impl Engine {
    /// Runs a restore session over a chain of sets (a base, then its increments).
    ///
    /// Every set is verified first (manifest, every size, SHA-256 and block checksum, no
    /// unlisted files, every owner registered unless the chain brings its system data)
    /// and the chain is checked; on any problem nothing is touched. Then, as Symbian's
    /// `AllSystemFilesRestored`: system (package) data of every owner first, a rescan of
    /// the registrations (the package may have brought them), and then owners in SID
    /// order: per drive passive data (base then increments) into staging, committed
    /// atomically, DBMS and public data, then active and proxy data through the owners.
    /// Back in Normal, owners get RestoreComplete.
    ///
    /// # Errors
    /// [`SessionError::Verify`]/[`SessionError::Chain`] before anything is touched, or a
    /// mode error. Owner failures are in the report.
    pub async fn restore(&mut self, req: RestoreRequest) -> Result<RestoreReport, SessionError> {
        self.restore_with_password(req, None).await
    }

    /// [`Engine::restore`] of a chain that may be encrypted: every encrypted set's
    /// `key.age` must open with `password` and its manifest must authenticate with the
    /// key inside, before anything is verified further or touched. While encryption is
    /// on (the key file exists), plain sets are refused.
    ///
    /// # Errors
    /// As [`Engine::restore`]; [`SessionError::Encryption`] for a missing or wrong
    /// password, or a set that does not authenticate.
    pub async fn restore_with_password(
        &mut self,
        req: RestoreRequest,
        password: Option<age::secrecy::SecretString>,
    ) -> Result<RestoreReport, SessionError> {
        self.report(ProgressEvent::Verifying);
        let opened = self.open_chain(&req.sets, password.as_ref())?;
        let wanted = |sid: Sid| req.partial.as_ref().is_none_or(|list| list.contains(&sid));
        let chain_owners = |manifests: &[Manifest]| -> BTreeSet<Sid> {
            manifests
                .iter()
                .flat_map(|m| m.units.iter().map(|u| u.id.sid))
                .filter(|s| wanted(*s))
                .collect()
        };
        let mut absent = BTreeSet::new();
        let (sets, manifests) = {
            // The manifests are read twice: once to know which owners are left out, once
            // verified; a set that changed in between fails the verification.
            let peek: Vec<Manifest> = req
                .sets
                .iter()
                .map(|d| SpoolSet::open(d).read_manifest())
                .collect::<Result<_, _>>()?;
            absent.extend(self.absent_owners(&peek, &chain_owners(&peek)));
            self.verify_chain(opened, &|sid| wanted(sid) && !absent.contains(&sid))?
        };
        let owners = chain_owners(&manifests);
        self.enter_restore_mode(req.partial.as_ref())?;
        let folder = sets
            .last()
            .and_then(|s| s.dir().file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Err(e) = self.journal_begin(SessionKind::Restore, &folder) {
            self.bus.set(BurMode::NORMAL)?;
            return Err(e);
        }
        self.report(ProgressEvent::Started {
            owners: u32::try_from(owners.len()).unwrap_or(u32::MAX),
            bytes: owners.iter().map(|s| owner_bytes(&manifests, *s)).sum(),
        });
        let present: BTreeSet<Sid> = owners.difference(&absent).copied().collect();
        let mut failed = self.restore_all_system_data(&sets, &manifests, &present);
        for sid in &absent {
            tracing::warn!(%sid, "owner not installed: its data stays in the set");
            failed.insert(*sid, not_installed());
        }
        let (report, completed) = self.restore_owners(&sets, &manifests, owners, failed).await;
        self.restore_complete(completed).await;
        self.bus.set(BurMode::NORMAL)?;
        if let Some(path) = write_result(&sets, &report) {
            self.report(ProgressEvent::FileWritten { path });
        }
        self.journal_end();
        Ok(report)
    }

    /// Puts the bus into a full or partial restore of every drive.
    fn enter_restore_mode(&self, partial: Option<&BTreeSet<Sid>>) -> Result<(), SessionError> {
        let part = if partial.is_some() {
            BurPartType::RestorePartial
        } else {
            BurPartType::RestoreFull
        };
        let mode =
            BurMode::new(part, BackupIncType::NoBackup).map_err(crate::mode::BusError::from)?;
        let drives = self.config.drives.iter().map(|d| d.letter).collect();
        self.bus
            .set_operation(mode, drives, partial.cloned().unwrap_or_default())?;
        Ok(())
    }

    /// Restores the system (package) data of every owner first, then reads the
    /// registrations again (a package may have brought them). Returns the owners whose
    /// system data failed.
    fn restore_all_system_data(
        &mut self,
        sets: &[SpoolSet],
        manifests: &[Manifest],
        owners: &BTreeSet<Sid>,
    ) -> BTreeMap<Sid, Failure> {
        let mut failed = BTreeMap::new();
        for sid in owners {
            if let Err(f) = self.restore_system(sets, manifests, *sid) {
                tracing::warn!(%sid, reason = %f.reason, "system data failed during restore");
                failed.insert(*sid, f);
            }
        }
        for e in self.rescan() {
            tracing::warn!(error = %e, "registration left out after system restore");
        }
        failed
    }

    /// Restores every owner in SID order; returns the report and the owners to tell
    /// RestoreComplete.
    async fn restore_owners(
        &self,
        sets: &[SpoolSet],
        manifests: &[Manifest],
        owners: BTreeSet<Sid>,
        mut failed: BTreeMap<Sid, Failure>,
    ) -> (RestoreReport, Vec<(OwnerHandle, Sid, char)>) {
        let ready: Vec<Sid> = owners
            .iter()
            .copied()
            .filter(|s| !failed.contains_key(s))
            .collect();
        self.prestart(&ready);
        let mut report = RestoreReport::default();
        let mut completed = Vec::new();
        for sid in owners {
            let reg = self.registrations.get(&sid);
            let mut skipped = Vec::new();
            let outcome = match (failed.remove(&sid), reg) {
                (Some(f), _) => f.outcome(),
                (None, None) => {
                    Failure::new(-1, "not registered after system data was restored").outcome()
                }
                (None, Some(reg)) => {
                    let span = tracing::info_span!("restore_owner", %sid);
                    let run =
                        self.restore_owner(sets, manifests, reg, &mut skipped, &mut completed);
                    match run.instrument(span).await {
                        Ok(()) => OwnerOutcome::Ok,
                        Err(f) => {
                            tracing::warn!(%sid, reason = %f.reason, "owner failed during restore");
                            f.outcome()
                        }
                    }
                }
            };
            self.report(ProgressEvent::OwnerDone {
                sid,
                ok: outcome == OwnerOutcome::Ok,
                bytes: owner_bytes(manifests, sid),
            });
            report.owners.push(OwnerRestoreResult {
                sid,
                outcome,
                requires_reboot: reg.is_some_and(|r| r.restore.requires_reboot),
                skipped,
            });
        }
        (report, completed)
    }

    /// Verifies every set of the chain (every unit, whoever it belongs to) and the chain
    /// itself, and holds the units of the owners `restored` accepts against the device's
    /// rules.
    fn verify_chain(
        &self,
        sets: Vec<SpoolSet>,
        restored: &dyn Fn(Sid) -> bool,
    ) -> Result<(Vec<SpoolSet>, Vec<Manifest>), SessionError> {
        let mut manifests = Vec::new();
        let mut problems = Vec::new();
        for set in &sets {
            // Owners not installed here are verified too; they are left out later.
            let (manifest, found) = set.verify(|_| true)?;
            problems.extend(
                found
                    .iter()
                    .map(|p| format!("{}: {p}", set.dir().display())),
            );
            manifests.push(manifest);
        }
        if problems.is_empty() {
            problems = self.preflight(&sets, &manifests, restored);
        }
        if !problems.is_empty() {
            return Err(SessionError::Verify(problems));
        }
        check_chain(&manifests)?;
        Ok((sets, manifests))
    }

    /// Opens the sets of a chain, each with the key that reads it: plain sets as they
    /// are (refused while encryption is on), encrypted ones with the key their `key.age`
    /// opens with `password`, after their manifest authenticated with it.
    fn open_chain(
        &self,
        dirs: &[std::path::PathBuf],
        password: Option<&age::secrecy::SecretString>,
    ) -> Result<Vec<SpoolSet>, SessionError> {
        let encryption_on = self.backup_keys()?.is_some();
        let mut unlocker = password.map(crate::crypto::Unlocker::new);
        let mut sets = Vec::new();
        for dir in dirs {
            let set = SpoolSet::open(dir);
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !set.is_encrypted() {
                if encryption_on {
                    return Err(SessionError::Encryption(format!(
                        "{name} is not encrypted, and while encryption is on only encrypted sets are restored"
                    )));
                }
                sets.push(set);
                continue;
            }
            let unlocker = unlocker.as_mut().ok_or_else(|| {
                SessionError::Encryption(format!(
                    "{name} is encrypted: the restore needs the backup password"
                ))
            })?;
            let wrapped = set
                .wrapped_key()
                .map_err(|e| SessionError::Encryption(format!("{name}: no key.age: {e}")))?;
            let key = unlocker
                .open(&wrapped)
                .map_err(|e| SessionError::Encryption(format!("{name}: {e}")))?;
            set.authenticate(&key)
                .map_err(|e| SessionError::Encryption(format!("{name}: {e}")))?;
            let session = set.read_manifest()?.session;
            if session != name {
                return Err(SessionError::Encryption(format!(
                    "{name}: the set was made as {session}, and the name of an encrypted set cannot change"
                )));
            }
            sets.push(set.unlocked_with(Some(key)));
        }
        Ok(sets)
    }

    /// Returns the owners of a chain that cannot be restored here: not installed, and
    /// not brought back by their package (only with `system_restore = "any"`).
    fn absent_owners(&self, manifests: &[Manifest], owners: &BTreeSet<Sid>) -> BTreeSet<Sid> {
        let with_system: BTreeSet<Sid> = manifests
            .iter()
            .flat_map(|m| &m.units)
            .filter(|u| u.id.kind == UnitKind::System)
            .map(|u| u.id.sid)
            .collect();
        owners
            .iter()
            .copied()
            .filter(|sid| {
                let installed = self.registrations.contains_key(sid);
                let reinstalled = with_system.contains(sid) && self.may_reinstall(*sid);
                !installed && !reinstalled
            })
            .collect()
    }

    /// Restores the system (package) units of `sid` on every drive.
    fn restore_system(
        &self,
        sets: &[SpoolSet],
        manifests: &[Manifest],
        sid: Sid,
    ) -> Result<(), Failure> {
        let steps = restore_steps(manifests, sid)?;
        for (set, id) in steps
            .into_iter()
            .filter(|(_, id)| id.kind == UnitKind::System)
        {
            self.restore_system_unit(id, &sets[set].unit_file(id))?;
        }
        Ok(())
    }

    /// Restores one system (package) unit from its file.
    pub(crate) fn restore_system_unit(&self, id: UnitId, path: &UnitFile) -> Result<(), Failure> {
        let drive = self
            .config
            .drives
            .iter()
            .find(|d| d.letter == id.drive)
            .ok_or_else(|| Failure::new(-1, format!("drive {} is not configured", id.drive)))?;
        let mut reader = open_unit(path)?;
        let mut next = || {
            reader
                .next_block()
                .map_err(|e| crate::system::SystemError::Io {
                    path: std::path::PathBuf::from(id.relative_path()),
                    source: std::io::Error::other(e.to_string()),
                })
                .transpose()
        };
        let installed = self.registrations.contains_key(&id.sid);
        let allowed =
            |p: &crate::registration::CagePath| self.config.system.check(p, id.sid, installed);
        let temps = crate::recovery::TempLog::new(&self.config.spool);
        crate::system::restore_system(drive, &allowed, Some(&temps), &mut next)
            .map_err(|e| Failure::new(-20, e.to_string()))?;
        Ok(())
    }

    /// Sends RestoreComplete to every owner/drive that received active data.
    pub(crate) async fn restore_complete(&self, completed: Vec<(OwnerHandle, Sid, char)>) {
        for (h, sid, drive) in completed {
            let Some(d) = data_owners::wire::DriveLetter::new(drive) else {
                continue;
            };
            let wd = self
                .registrations
                .get(&sid)
                .map_or(crate::registration::DEFAULT_CALLBACK_DELAY, watchdog);
            if let Err(e) = h
                .call_done(Callback::RestoreComplete { drive: d }, wd)
                .await
            {
                tracing::warn!(%sid, error = %e, "restore complete failed");
            }
        }
    }

    /// Restores one owner: first everything the engine itself holds for it (passive
    /// data and databases in its cages, public files, on every drive) staged and then
    /// committed together (`crate::commit`); then, only if that committed, its active and
    /// proxy data through the owner and its proxies. A failure after the commit says
    /// what was restored.
    async fn restore_owner(
        &self,
        sets: &[SpoolSet],
        manifests: &[Manifest],
        reg: &BackupRegistration,
        skipped: &mut Vec<String>,
        completed: &mut Vec<(OwnerHandle, Sid, char)>,
    ) -> Result<(), Failure> {
        let mut steps = restore_steps(manifests, reg.sid)?;
        if !reg.active_supports_incremental() {
            // An owner that no longer takes increments takes no snapshot either.
            steps.retain(|(_, id)| id.kind != UnitKind::ActiveSnapshot);
        }
        // The whole sequence must obey the rules before anything of this owner is touched.
        let mut seq = crate::session::sequence::UnitSequencer::new(
            reg,
            crate::session::sequence::Direction::Restore,
        );
        for (_, id) in &steps {
            seq.handle_supply(id.drive, id.kind, true)
                .map_err(|e| Failure::new(-20, e.to_string()))?;
        }
        let held = self.stage_owner(sets, &steps, reg, skipped)?;
        kinds::commit(held)?;
        let committed = engine_held_kinds(&steps);
        let drives: BTreeSet<char> = steps.iter().map(|(_, id)| id.drive).collect();
        for letter in drives {
            let drive = self.configured_drive(letter)?;
            let mut owner_handle = None;
            let rest = steps
                .iter()
                .filter(|(_, id)| id.drive == letter && !is_engine_held(id.kind));
            for (set, id) in rest {
                let path = sets[*set].unit_file(*id);
                self.restore_active_unit(reg, drive, *id, &path, &mut owner_handle)
                    .await
                    .map_err(|f| after_commit(f, &committed))?;
            }
            if let Some(h) = owner_handle {
                completed.push((h, reg.sid, letter));
            }
        }
        Ok(())
    }

    /// Stages the engine-held data of `reg` on every drive for one commit.
    fn stage_owner(
        &self,
        sets: &[SpoolSet],
        steps: &[RestoreStep],
        reg: &BackupRegistration,
        skipped: &mut Vec<String>,
    ) -> Result<OwnerCommit, Failure> {
        let mut staged = OwnerCommit::new(&self.config.spool, reg.sid);
        let drives: BTreeSet<char> = steps.iter().map(|(_, id)| id.drive).collect();
        for letter in drives {
            let drive = self.configured_drive(letter)?;
            let on_drive = || steps.iter().filter(move |(_, id)| id.drive == letter);
            let cage_units: Vec<(UnitId, UnitFile)> = on_drive()
                .filter(|(_, id)| id.kind.is_passive())
                .map(|(set, id)| (*id, sets[*set].unit_file(*id)))
                .collect();
            if !cage_units.is_empty() {
                let (cage, list) = kinds::stage_cage(&self.config, reg, drive, &cage_units, true)?;
                staged.add_cage(cage);
                skipped.extend(list);
            }
            for (set, id) in on_drive().filter(|(_, id)| id.kind == UnitKind::Public) {
                let path = sets[*set].unit_file(*id);
                staged.add_files(kinds::stage_public(&self.config, reg, drive, &path)?);
            }
        }
        Ok(staged)
    }

    /// Returns the configured drive `letter`.
    fn configured_drive(&self, letter: char) -> Result<&Drive, Failure> {
        self.config
            .drives
            .iter()
            .find(|d| d.letter == letter)
            .ok_or_else(|| Failure::new(-1, format!("drive {letter} is not configured")))
            .and_then(|d| {
                if d.is_present() {
                    Ok(d)
                } else {
                    Err(Failure::new(
                        -18,
                        format!("drive {letter} ({}) is not mounted", d.root.display()),
                    ))
                }
            })
    }

    /// Hands a proxy unit of `reg` to its proxy data manager.
    async fn push_proxy(
        &self,
        reg: &BackupRegistration,
        proxy: Sid,
        d: DriveLetter,
        path: &UnitFile,
    ) -> Result<(), Failure> {
        let (h, wd) = self.ready_proxy(proxy).await?;
        let init = Callback::InitialiseRestoreProxyBaseData {
            sid: reg.sid.0,
            drive: d,
        };
        h.call_done(init, wd).await?;
        push_unit(&h, wd, path, |data, last| {
            Callback::RestoreBaseDataSection { last, data }
        })
        .await
    }

    pub(crate) async fn restore_active_unit(
        &self,
        reg: &BackupRegistration,
        drive: &Drive,
        id: UnitId,
        path: &UnitFile,
        owner_handle: &mut Option<OwnerHandle>,
    ) -> Result<(), Failure> {
        let d = drive_letter(drive)?;
        match id.kind {
            UnitKind::ActiveSnapshot | UnitKind::ActiveBase | UnitKind::ActiveIncrement => {
                let h = match owner_handle {
                    Some(h) => h.clone(),
                    None => {
                        let h = self
                            .ipc
                            .ensure_ready(reg.sid, self.ready_timeout(reg.sid))
                            .await?;
                        *owner_handle = Some(h.clone());
                        h
                    }
                };
                push_active(&h, watchdog(reg), d, id.kind, path)
                    .await
                    .inspect_err(|_| terminate(&h))
            }
            UnitKind::Proxy(proxy) => self.push_proxy(reg, proxy, d, path).await,
            UnitKind::Public => restore_public(&self.config, reg, drive, path),
            _ => Ok(()),
        }
    }
}

/// Hands an active snapshot, base or increment unit to its owner.
async fn push_active(
    h: &OwnerHandle,
    wd: std::time::Duration,
    d: DriveLetter,
    kind: UnitKind,
    path: &UnitFile,
) -> Result<(), Failure> {
    if kind == UnitKind::ActiveSnapshot {
        return push_unit(h, wd, path, |data, last| Callback::ReceiveSnapshotData {
            drive: d,
            last,
            data,
        })
        .await;
    }
    if kind == UnitKind::ActiveBase {
        h.call_done(Callback::InitialiseRestoreBaseData { drive: d }, wd)
            .await?;
        push_unit(h, wd, path, |data, last| Callback::RestoreBaseDataSection {
            last,
            data,
        })
        .await
    } else {
        h.call_done(Callback::InitialiseRestoreIncrementData { drive: d }, wd)
            .await?;
        push_unit(h, wd, path, |data, last| {
            Callback::RestoreIncrementDataSection { last, data }
        })
        .await
    }
}

/// True for the kinds the engine writes itself and commits per owner (system data is
/// restored for every owner before the others; see `restore_all_system_data`).
fn is_engine_held(kind: UnitKind) -> bool {
    kind.is_passive() || matches!(kind, UnitKind::Public | UnitKind::System)
}

/// The engine-held kinds among an owner's steps, in words, as committed.
fn engine_held_kinds(steps: &[RestoreStep]) -> Vec<&'static str> {
    let mut kinds = BTreeSet::new();
    for (_, id) in steps {
        kinds.insert(match id.kind {
            UnitKind::PassiveBase | UnitKind::PassiveIncrement => "passive",
            UnitKind::Dbms => "database",
            UnitKind::Public => "public",
            UnitKind::System => "system",
            _ => continue,
        });
    }
    kinds.into_iter().collect()
}

/// An active or proxy failure after the owner's engine-held data was committed: the
/// reason says what was restored.
fn after_commit(f: Failure, committed: &[&str]) -> Failure {
    if committed.is_empty() {
        return f;
    }
    Failure::new(
        f.code,
        format!("{} data restored; then {}", committed.join(", "), f.reason),
    )
}
