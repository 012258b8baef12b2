//! I/O shell: a backup session (every selected owner's units into a new spool set).
#![allow(
    clippy::disallowed_methods,
    reason = "removes a half-written set in the engine's own root-only spool"
)]

use data_owners::wire::Callback;
use tracing::Instrument;

use super::engine::Engine;
use super::kinds::{DBMS_SCRATCH, effective_passive};
use super::owner_calls::{drive_letter, pull, push_unit, read_unit, terminate, watchdog};
use super::request::{BackupRequest, Failure, SessionError};
use crate::ipc::OwnerHandle;
use crate::manifest::{BackupType, Manifest, OwnerOutcome, OwnerRecord, UnitRecord};
use crate::mode::{BackupIncType, BurMode, BurPartType};
use crate::passive::{Snapshot, capture_base, capture_increment};
use crate::progress::ProgressEvent;
use crate::recovery::SessionKind;
use crate::registration::{BackupRegistration, Drive, Sid};
use crate::session::plan::backup_units;
use crate::spool::{SpoolSet, UnitWriter};
use crate::unit::{UnitId, UnitKind};

/// Largest section asked from an owner per callback.
const SECTION: u32 = 64 * 1024;

/// What capturing one unit needs besides the owner and drive.
#[derive(Debug, Default)]
pub(crate) struct UnitInputs {
    /// Active increment: the previous active snapshot to hand the owner first (sessions;
    /// the per-unit API supplies it through `supply_data` instead).
    pub(crate) active_snapshot: Option<crate::spool::UnitFile>,
    /// Send `AllSnapshotsSupplied` before asking for active data.
    pub(crate) announce: bool,
    /// Passive increment: the snapshot to compare with.
    pub(crate) passive_previous: Option<Snapshot>,
    /// Passive snapshot unit: the snapshot taken with this drive's passive data, if any.
    pub(crate) passive_taken: Option<Snapshot>,
}

impl Engine {
    /// Runs a backup session: enters the backup mode, captures every selected owner's
    /// units into `<spool>/<session>/`, writes `manifest.toml` last and returns the
    /// device to Normal (also when the session fails).
    ///
    /// An owner that fails (not ready, crashed, callback error, unreadable file) is
    /// recorded as failed; the units the engine copied itself stay when only the owner's
    /// own (active or proxy) part failed, otherwise it has none; the others continue.
    ///
    /// # Errors
    /// [`SessionError`] if the session cannot start or the set cannot be written.
    pub async fn backup(&self, req: BackupRequest) -> Result<Manifest, SessionError> {
        self.backup_inner(req).await
    }

    /// The device's backup key, if encryption is on.
    ///
    /// # Errors
    /// [`SessionError::Encryption`] for a damaged key file.
    pub fn backup_keys(&self) -> Result<Option<std::sync::Arc<crate::crypto::Keys>>, SessionError> {
        let Some(path) = &self.config.key_file else {
            return Ok(None);
        };
        crate::crypto::Keys::load(path)
            .map(|k| k.map(std::sync::Arc::new))
            .map_err(|e| SessionError::Encryption(e.to_string()))
    }

    /// Opens the earlier set of an increment: an encrypted one must be this device's
    /// (its manifest authenticates) and is read with the device's local key, which opens
    /// its snapshots; while encryption is on, a plain one is refused.
    fn open_previous(
        &self,
        dir: &std::path::Path,
        keys: Option<&crate::crypto::Keys>,
    ) -> Result<SpoolSet, SessionError> {
        let set = SpoolSet::open(dir);
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match (set.is_encrypted(), keys) {
            (false, None) => Ok(set),
            (false, Some(_)) => Err(SessionError::Encryption(format!(
                "{name} is not encrypted and encryption is on: take a full backup"
            ))),
            (true, None) => Err(SessionError::Encryption(format!(
                "{name} is encrypted and encryption is off: take a full backup"
            ))),
            (true, Some(keys)) => {
                let local = keys.local();
                set.authenticate(&local).map_err(|e| {
                    SessionError::Encryption(format!(
                        "{name}: {e} (or it was made with another backup key)"
                    ))
                })?;
                Ok(set.unlocked_with(Some(local)))
            }
        }
    }

    async fn backup_inner(&self, mut req: BackupRequest) -> Result<Manifest, SessionError> {
        // Removable media that is not mounted is left out, never backed up empty.
        let absent: Vec<char> = self
            .config
            .drives
            .iter()
            .filter(|d| req.wants_drive(d.letter) && !d.is_present())
            .map(|d| d.letter)
            .collect();
        if !absent.is_empty() {
            tracing::warn!(drives = ?absent, "removable drives not mounted: left out of the backup");
            req.drives = Some(
                self.config
                    .drives
                    .iter()
                    .map(|d| d.letter)
                    .filter(|l| req.wants_drive(*l) && !absent.contains(l))
                    .collect(),
            );
        }
        let keys = self.backup_keys()?;
        let previous = match &req.previous {
            Some(dir) if req.backup_type == BackupType::Incremental => {
                self.report(ProgressEvent::Verifying);
                // The snapshots an increment is computed against must be sound; the
                // earlier set's other units need not be on the device at all.
                let set = self.open_previous(dir, keys.as_deref())?;
                let (manifest, problems) = set.verify_snapshots()?;
                if !problems.is_empty() {
                    return Err(SessionError::Verify(
                        problems.iter().map(ToString::to_string).collect(),
                    ));
                }
                Some((set, manifest))
            }
            _ => None,
        };
        let part = if req.partial.is_some() {
            BurPartType::BackupPartial
        } else {
            BurPartType::BackupFull
        };
        let inc = match req.backup_type {
            BackupType::Base => BackupIncType::Base,
            BackupType::Incremental => BackupIncType::Increment,
        };
        let mode = BurMode::new(part, inc).map_err(crate::mode::BusError::from)?;
        let drives = self
            .config
            .drives
            .iter()
            .map(|d| d.letter)
            .filter(|l| req.wants_drive(*l))
            .collect();
        self.bus
            .set_operation(mode, drives, req.partial.clone().unwrap_or_default())?;
        // The set is created only once the mode is ours, so a refused session leaves
        // nothing; and only once the journal says so, so a power cut leaves nothing either.
        let started = self.journal_begin(SessionKind::Backup, &req.session);
        let result = match started.and_then(|()| {
            SpoolSet::create(&self.config.spool, &req.session)
                .map(|s| s.encrypted_with(keys.clone()))
                .map_err(SessionError::from)
        }) {
            Ok(set) => {
                self.report(ProgressEvent::SetCreated {
                    path: set.dir().to_owned(),
                });
                let set = set.observed_by(self.progress.clone());
                self.capture_all(&set, &req, mode, previous.as_ref()).await
            }
            Err(e) => Err(e),
        };
        let back = self.bus.set(BurMode::NORMAL);
        self.journal_end();
        let manifest = result?;
        back?;
        Ok(manifest)
    }

    async fn capture_all(
        &self,
        set: &SpoolSet,
        req: &BackupRequest,
        mode: BurMode,
        previous: Option<&(SpoolSet, Manifest)>,
    ) -> Result<Manifest, SessionError> {
        let selected: Vec<Sid> = match &req.partial {
            Some(list) => list.iter().copied().collect(),
            None => self.registrations.keys().copied().collect(),
        };
        self.prestart(&selected);
        self.report(ProgressEvent::Started {
            owners: u32::try_from(selected.len()).unwrap_or(u32::MAX),
            bytes: self.expected_backup_size(&selected, req),
        });
        let mut owners = Vec::new();
        let mut units = Vec::new();
        for sid in selected {
            let (record, mut done) = self.backup_owner(set, sid, req, previous).await?;
            owners.push(record);
            units.append(&mut done);
        }
        let manifest = Manifest {
            session: req.session.clone(),
            created: req.created.clone(),
            mode,
            backup_type: req.backup_type,
            previous: previous.map(|(_, m)| m.session.clone()),
            owners,
            units,
        };
        set.write_manifest(&manifest)?;
        Ok(manifest)
    }

    /// Backs up one selected owner: its record for the manifest and its units. An owner
    /// whose own part fails keeps the units the engine copied; one that fails otherwise
    /// leaves no unit behind; only a spool that cannot remove them fails the
    /// session.
    async fn backup_owner(
        &self,
        set: &SpoolSet,
        sid: Sid,
        req: &BackupRequest,
        previous: Option<&(SpoolSet, Manifest)>,
    ) -> Result<(OwnerRecord, Vec<UnitRecord>), SessionError> {
        let done = |ok, bytes| ProgressEvent::OwnerDone { sid, ok, bytes };
        let Some(reg) = self.registrations.get(&sid) else {
            self.report(done(false, 0));
            let failed = Failure::new(-1, "not a registered owner").outcome();
            return Ok((record(sid, failed, false), Vec::new()));
        };
        let reboot = reg.restore.requires_reboot;
        let span = tracing::info_span!("backup_owner", %sid);
        match self
            .capture_owner(set, reg, req, previous)
            .instrument(span)
            .await
        {
            Ok((units, None)) => {
                self.report(done(true, units.iter().map(|u| u.size).sum()));
                Ok((record(sid, OwnerOutcome::Ok, reboot), units))
            }
            Ok((units, Some(failure))) if !units.is_empty() => {
                // The owner's own part failed; what the engine copied itself is kept.
                tracing::warn!(%sid, reason = %failure.reason, "active part failed; the rest is kept");
                self.report(done(false, units.iter().map(|u| u.size).sum()));
                let outcome = Failure::new(
                    failure.code,
                    format!(
                        "active data not backed up ({}); its files, databases and public files were",
                        failure.reason
                    ),
                )
                .outcome();
                Ok((record(sid, outcome, reboot), units))
            }
            Ok((_, Some(failure))) | Err(failure) => {
                tracing::warn!(%sid, reason = %failure.reason, "owner failed during backup");
                let dir = set.dir().join(sid.to_string());
                if dir.exists() {
                    std::fs::remove_dir_all(&dir).map_err(|source| {
                        SessionError::Spool(crate::spool::SpoolError::Io { path: dir, source })
                    })?;
                }
                self.report(done(false, 0));
                Ok((record(sid, failure.outcome(), reboot), Vec::new()))
            }
        }
    }

    /// Captures every unit of one owner. A failure of what the owner (or its proxy)
    /// hands over itself does not stop the rest: its active and proxy units are dropped
    /// and returned as the failure beside the units the engine copied itself.
    async fn capture_owner(
        &self,
        set: &SpoolSet,
        reg: &BackupRegistration,
        req: &BackupRequest,
        previous: Option<&(SpoolSet, Manifest)>,
    ) -> Result<(Vec<UnitRecord>, Option<Failure>), Failure> {
        let mut records = Vec::new();
        let mut handle: Option<OwnerHandle> = None;
        let mut owner_failed = None;
        let chosen = |d: &&Drive| req.wants_drive(d.letter);
        for drive in self.owner_drives(reg.sid).into_iter().filter(chosen) {
            records.extend(
                self.capture_drive(
                    set,
                    reg,
                    req,
                    previous,
                    drive,
                    &mut handle,
                    &mut owner_failed,
                )
                .await?,
            );
        }
        if owner_failed.is_some() {
            // Nothing of the owner's own part stays: no base without its snapshot.
            for unit in records.iter().filter(|u| is_owner_held(u.id.kind)) {
                let path = set.unit_path(unit.id);
                std::fs::remove_file(&path)
                    .map_err(|e| Failure::new(-2, format!("{}: {e}", path.display())))?;
            }
            records.retain(|u| !is_owner_held(u.id.kind));
        }
        if reg.system_backup {
            records.extend(self.capture_system(set, reg, req)?);
        }
        if let Some(public) = &reg.public {
            records.extend(self.capture_public_units(set, reg, public, req)?);
        }
        Ok((records, owner_failed))
    }

    /// Captures the cage-bound units of one owner on one drive, in plan order. Once the
    /// owner's own part failed (`owner_failed`), its remaining active and proxy units are
    /// skipped and the engine's continue.
    #[allow(clippy::too_many_arguments)] // the session's context, passed down as it is
    async fn capture_drive(
        &self,
        set: &SpoolSet,
        reg: &BackupRegistration,
        req: &BackupRequest,
        previous: Option<&(SpoolSet, Manifest)>,
        drive: &Drive,
        handle: &mut Option<OwnerHandle>,
        owner_failed: &mut Option<Failure>,
    ) -> Result<Vec<UnitRecord>, Failure> {
        let unit = |kind| UnitId {
            sid: reg.sid,
            drive: drive.letter,
            kind,
        };
        let prev_path = |kind| {
            previous
                .filter(|(_, m)| m.units.iter().any(|u| u.id == unit(kind)))
                .map(|(s, _)| s.unit_file(unit(kind)))
        };
        let kinds = backup_units(
            reg,
            req.backup_type,
            prev_path(UnitKind::ActiveSnapshot).is_some(),
            prev_path(UnitKind::PassiveSnapshot).is_some(),
        );
        check_backup_order(reg, drive.letter, &kinds)?;
        let mut records = Vec::new();
        let mut passive_snapshot = None;
        for kind in kinds {
            if owner_failed.is_some() && is_owner_held(kind) {
                continue;
            }
            let passive_previous = match (kind, prev_path(UnitKind::PassiveSnapshot)) {
                (UnitKind::PassiveIncrement, Some(path)) => Some(
                    Snapshot::decode(&read_unit(&path)?)
                        .map_err(|e| Failure::new(-20, e.to_string()))?,
                ),
                _ => None,
            };
            let inputs = UnitInputs {
                active_snapshot: prev_path(UnitKind::ActiveSnapshot),
                announce: true,
                passive_previous,
                passive_taken: passive_snapshot.take(),
            };
            let mut writer = set.unit_writer(unit(kind), req.compress)?;
            match self
                .capture_unit(reg, drive, kind, inputs, handle, &mut writer)
                .await
            {
                Ok(snapshot) => {
                    passive_snapshot = snapshot;
                    records.push(writer.finish()?);
                }
                // The abandoned writer removes its unit.
                Err(f) if is_owner_held(kind) => *owner_failed = Some(f),
                Err(f) => return Err(f),
            }
        }
        Ok(records)
    }

    /// Captures one cage-bound unit (active, proxy, passive, passive snapshot, DBMS) of
    /// `reg` on `drive` into `writer`: the one implementation sessions and the per-unit
    /// API share. Returns the passive snapshot a passive base or increment produced.
    pub(crate) async fn capture_unit(
        &self,
        reg: &BackupRegistration,
        drive: &Drive,
        kind: UnitKind,
        inputs: UnitInputs,
        handle: &mut Option<OwnerHandle>,
        writer: &mut UnitWriter,
    ) -> Result<Option<Snapshot>, Failure> {
        match kind {
            UnitKind::ActiveBase | UnitKind::ActiveIncrement | UnitKind::ActiveSnapshot => {
                let h = self.connected(reg.sid, handle).await?;
                self.capture_active(&h, reg, drive, kind, &inputs, writer)
                    .await
                    .inspect_err(|_| terminate(&h))?;
            }
            UnitKind::Proxy(proxy) => self.capture_proxy(reg.sid, proxy, drive, writer).await?,
            UnitKind::PassiveBase | UnitKind::PassiveIncrement => {
                return self
                    .capture_passive(reg, drive, kind, inputs.passive_previous.as_ref(), writer)
                    .map(Some);
            }
            UnitKind::PassiveSnapshot => {
                let snapshot = match inputs.passive_taken {
                    Some(s) => s,
                    // Asked for on its own: a fresh scan of the selection (as Symbian).
                    None => self.capture_passive(
                        reg,
                        drive,
                        UnitKind::PassiveBase,
                        None,
                        &mut std::io::sink(),
                    )?,
                };
                // Encoded a piece at a time, straight into the unit.
                snapshot.encode_each(|piece| writer.write_bytes(piece))?;
            }
            UnitKind::Dbms => {
                let scratch = self.config.spool.join(DBMS_SCRATCH);
                crate::dbms::capture_dbms(&drive.cage(reg.sid), &reg.dbms, &scratch, writer)
                    .map_err(|e| Failure::new(-2, e.to_string()))?;
            }
            other => {
                return Err(Failure::new(
                    -5,
                    format!("{other} is not captured per cage"),
                ));
            }
        }
        Ok(None)
    }

    /// Returns the owner's connection, starting it and waiting for readiness once.
    async fn connected(
        &self,
        sid: Sid,
        handle: &mut Option<OwnerHandle>,
    ) -> Result<OwnerHandle, Failure> {
        if let Some(h) = handle {
            return Ok(h.clone());
        }
        let h = self.ipc.ensure_ready(sid, self.ready_timeout(sid)).await?;
        *handle = Some(h.clone());
        Ok(h)
    }

    /// Captures a public unit on every drive where the owner has public files.
    fn capture_public_units(
        &self,
        set: &SpoolSet,
        reg: &BackupRegistration,
        public: &crate::registration::PublicBackup,
        req: &BackupRequest,
    ) -> Result<Vec<UnitRecord>, Failure> {
        let fail = |e: crate::public::PublicError| Failure::new(-2, e.to_string());
        let mut records = Vec::new();
        let owner = self.owner_identity(reg.sid)?;
        for drive in self
            .config
            .drives
            .iter()
            .filter(|d| req.wants_drive(d.letter))
        {
            if crate::public::public_file_list(drive, public, owner)
                .map_err(fail)?
                .is_empty()
            {
                continue;
            }
            let id = UnitId {
                sid: reg.sid,
                drive: drive.letter,
                kind: UnitKind::Public,
            };
            let mut writer = set.unit_writer(id, req.compress)?;
            crate::public::capture_public(drive, public, owner, &mut writer).map_err(fail)?;
            records.push(writer.finish()?);
        }
        Ok(records)
    }

    async fn capture_active(
        &self,
        h: &OwnerHandle,
        reg: &BackupRegistration,
        drive: &Drive,
        kind: UnitKind,
        inputs: &UnitInputs,
        writer: &mut UnitWriter,
    ) -> Result<(), Failure> {
        let wd = watchdog(reg);
        let d = drive_letter(drive)?;
        if kind == UnitKind::ActiveSnapshot {
            return pull(h, wd, writer, |_| Callback::GetSnapshotData {
                drive: d,
                max_len: SECTION,
            })
            .await;
        }
        if kind == UnitKind::ActiveIncrement {
            if let Some(path) = &inputs.active_snapshot {
                push_unit(h, wd, path, |data, last| Callback::ReceiveSnapshotData {
                    drive: d,
                    last,
                    data,
                })
                .await?;
            }
        }
        if inputs.announce {
            h.call_done(Callback::AllSnapshotsSupplied, wd).await?;
        }
        h.call_done(Callback::InitialiseGetBackupData { drive: d }, wd)
            .await?;
        pull(h, wd, writer, |_| Callback::GetBackupDataSection {
            max_len: SECTION,
        })
        .await
    }

    async fn capture_proxy(
        &self,
        owner: Sid,
        proxy: Sid,
        drive: &Drive,
        writer: &mut UnitWriter,
    ) -> Result<(), Failure> {
        let (h, wd) = self.ready_proxy(proxy).await?;
        let d = drive_letter(drive)?;
        h.call_done(
            Callback::InitialiseGetProxyBackupData {
                sid: owner.0,
                drive: d,
            },
            wd,
        )
        .await?;
        pull(&h, wd, writer, |_| Callback::GetBackupDataSection {
            max_len: SECTION,
        })
        .await
        .inspect_err(|_| terminate(&h))
    }

    fn capture_passive(
        &self,
        reg: &BackupRegistration,
        drive: &Drive,
        kind: UnitKind,
        old_snapshot: Option<&Snapshot>,
        writer: &mut impl crate::spool::SizedWrite,
    ) -> Result<Snapshot, Failure> {
        let passive =
            &effective_passive(reg).ok_or_else(|| Failure::new(-5, "no passive registration"))?;
        let cage = drive.cage(reg.sid);
        let captured = if kind == UnitKind::PassiveIncrement {
            let old = old_snapshot
                .ok_or_else(|| Failure::new(-20, "increment without previous snapshot"))?;
            capture_increment(&cage, passive, old, writer)?
        } else {
            capture_base(&cage, passive, writer)?
        };
        Ok(captured.snapshot)
    }
}

impl Engine {
    /// Captures the read-only files of the owner's package file list, one unit per drive
    /// the list names. An owner without a list has no system data (logged).
    fn capture_system(
        &self,
        set: &SpoolSet,
        reg: &BackupRegistration,
        req: &BackupRequest,
    ) -> Result<Vec<UnitRecord>, Failure> {
        let list = self.system_file_list(reg.sid)?;
        let mut records = Vec::new();
        for drive in self
            .config
            .drives
            .iter()
            .filter(|d| req.wants_drive(d.letter) && list.iter().any(|(l, _)| *l == d.letter))
        {
            let id = UnitId {
                sid: reg.sid,
                drive: drive.letter,
                kind: UnitKind::System,
            };
            let mut writer = set.unit_writer(id, req.compress)?;
            crate::system::capture_system(drive, &list, &mut writer)
                .map_err(|e| Failure::new(-2, e.to_string()))?;
            records.push(writer.finish()?);
        }
        Ok(records)
    }

    /// Returns the owner's package file list (empty, logged, if it has none).
    pub(crate) fn system_file_list(
        &self,
        sid: Sid,
    ) -> Result<Vec<(char, crate::registration::CagePath)>, Failure> {
        let Some(c) = self.config.drives.iter().find(|d| d.letter == 'c') else {
            return Ok(Vec::new());
        };
        let list_path = crate::system::package_dir(c, sid).join(crate::system::FILE_LIST);
        let text = match crate::confined::read_text(&list_path, crate::confined::SMALL_FILE_LIMIT) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(%sid, "system_backup without a package file list");
                return Ok(Vec::new());
            }
            Err(e) => return Err(Failure::new(-2, format!("{}: {e}", list_path.display()))),
        };
        crate::system::parse_file_list(&text).map_err(|e| Failure::new(-20, e.to_string()))
    }
}

impl Engine {
    /// Starts every selected active owner and their proxies at once, as Symbian does on
    /// entry to a backup mode, so they prepare in parallel.
    pub(crate) fn prestart(&self, selected: &[Sid]) {
        for sid in selected {
            if let Some(reg) = self.registrations.get(sid) {
                if reg.needs_process() {
                    self.ipc.prestart(*sid);
                }
                for proxy in &reg.proxies {
                    self.ipc.prestart(*proxy);
                }
            }
        }
    }
}

/// Runs the plan through the reference's sequencing rules before any owner is called.
fn check_backup_order(
    reg: &BackupRegistration,
    drive: char,
    kinds: &[UnitKind],
) -> Result<(), Failure> {
    use crate::session::sequence::{Direction, UnitSequencer};
    let mut seq = UnitSequencer::new(reg, Direction::Backup);
    let violation =
        |e: crate::session::sequence::SequenceViolation| Failure::new(-20, e.to_string());
    for (inc, snapshot) in [
        (UnitKind::ActiveIncrement, UnitKind::ActiveSnapshot),
        (UnitKind::PassiveIncrement, UnitKind::PassiveSnapshot),
    ] {
        if kinds.contains(&inc) {
            seq.handle_supply(drive, snapshot, true)
                .map_err(violation)?;
        }
    }
    for kind in kinds {
        seq.handle_request(drive, *kind, true).map_err(violation)?;
    }
    Ok(())
}

fn record(sid: Sid, outcome: OwnerOutcome, requires_reboot: bool) -> OwnerRecord {
    OwnerRecord {
        sid,
        outcome,
        requires_reboot,
    }
}

/// True for the units an owner (or its proxy) hands over itself; the others the engine
/// copies from the cage.
fn is_owner_held(kind: UnitKind) -> bool {
    matches!(
        kind,
        UnitKind::ActiveBase
            | UnitKind::ActiveIncrement
            | UnitKind::ActiveSnapshot
            | UnitKind::Proxy(_)
    )
}
