//! The engine object the backup server drives: configuration, registrations, mode bus
//! and IPC server. Sessions (`backup`, `restore`), sizes and the per-unit API add their
//! methods in their own modules.
#![allow(
    clippy::disallowed_methods,
    reason = "looks at a cage itself (under root's private folder) without following it"
)]

use std::collections::BTreeMap;
use std::time::Duration;

use super::request::{EngineConfig, Failure, SessionError};
use super::units::state::UnitOps;
use crate::ipc::{IpcConfig, IpcServer};
use crate::mode::ModeBus;
use crate::progress::{Progress, ProgressEvent};
use crate::recovery::{Recovered, SessionKind};
use crate::registration::{BackupRegistration, Drive, RegistrationError, Sid, discover};

/// How many times the usual readiness timeout an owner that declares
/// `requires_delay_to_prepare_data="yes"` gets (Symbian let such owners prepare longer).
pub const DELAYED_READY_FACTOR: u32 = 6;

/// The backup engine.
#[derive(Debug)]
pub struct Engine {
    pub(crate) config: EngineConfig,
    pub(crate) bus: ModeBus,
    pub(crate) ipc: IpcServer,
    pub(crate) registrations: BTreeMap<Sid, BackupRegistration>,
    pub(crate) units: UnitOps,
    pub(crate) progress: Option<Progress>,
    pub(crate) recovered: Recovered,
}

impl Engine {
    /// Starts the engine: mode bus in Normal, owner socket bound, registrations scanned.
    /// Must run inside a tokio runtime.
    ///
    /// # Errors
    /// [`SessionError::Mode`] if the state file cannot be written, [`SessionError::Bind`]
    /// if the socket cannot be bound.
    pub fn start(config: EngineConfig) -> Result<(Self, Vec<RegistrationError>), SessionError> {
        // Before anything else: finish or undo what an interrupted session left.
        let recovered = crate::recovery::recover(&config.spool, &config.drives);
        let bus = ModeBus::new(config.state_file.clone())?;
        let ipc_config = IpcConfig {
            socket: config.socket.clone(),
            drives: config.drives.clone(),
            owner_dir: config.owner_dir.clone(),
            hello_timeout: Duration::from_secs(5),
            owner_group: config.owner_group,
        };
        let ipc = IpcServer::bind(ipc_config, bus.subscribe()).map_err(SessionError::Bind)?;
        let units = UnitOps::new(bus.subscribe());
        let mut engine = Self {
            config,
            bus,
            ipc,
            registrations: BTreeMap::new(),
            units,
            progress: None,
            recovered,
        };
        let errors = engine.rescan();
        Ok((engine, errors))
    }

    /// Rescans the registration files (Symbian `ListOfDataOwnersL`); returns the files
    /// that were left out.
    pub fn rescan(&mut self) -> Vec<RegistrationError> {
        let found = discover(&self.config.drives, self.config.cenrep);
        self.registrations = found
            .owners
            .into_iter()
            .map(|(sid, o)| (sid, o.registration))
            .collect();
        self.ipc.set_registrations(self.registrations.clone());
        found.errors
    }

    /// How long `sid` may take to connect and confirm it is ready: the configured
    /// `ready_timeout`, [`DELAYED_READY_FACTOR`] times that for an owner whose
    /// registration says `requires_delay_to_prepare_data="yes"`.
    pub(crate) fn ready_timeout(&self, sid: Sid) -> Duration {
        let delayed = self
            .registrations
            .get(&sid)
            .and_then(|r| r.active.as_ref())
            .is_some_and(|a| a.requires_delay_to_prepare_data);
        if delayed {
            self.config.ready_timeout * DELAYED_READY_FACTOR
        } else {
            self.config.ready_timeout
        }
    }

    /// Makes sure the proxy data manager `proxy` is registered, connected and ready;
    /// returns its handle and the watchdog of its calls.
    pub(crate) async fn ready_proxy(
        &self,
        proxy: Sid,
    ) -> Result<(crate::ipc::OwnerHandle, Duration), Failure> {
        let reg = self
            .registrations
            .get(&proxy)
            .ok_or_else(|| Failure::new(-1, format!("proxy {proxy} is not registered")))?;
        let h = self
            .ipc
            .ensure_ready(proxy, self.ready_timeout(proxy))
            .await?;
        Ok((h, super::owner_calls::watchdog(reg)))
    }

    /// Returns what the start recovered from an interrupted session (see
    /// [`crate::recovery`]).
    pub fn recovered(&self) -> &Recovered {
        &self.recovered
    }

    /// Records durably that a session starts (`crate::recovery`).
    pub(crate) fn journal_begin(
        &self,
        kind: SessionKind,
        folder: &str,
    ) -> Result<(), SessionError> {
        crate::recovery::begin(&self.config.spool, kind, folder).map_err(SessionError::Journal)
    }

    /// Records that the session ended; a failure is logged (the next start cleans up).
    pub(crate) fn journal_end(&self) {
        if let Err(e) = crate::recovery::end(&self.config.spool) {
            tracing::warn!(error = %e, "cannot remove the session journal");
        }
    }

    /// Sets (or clears) the callback that receives the progress of sessions.
    pub fn set_progress(&mut self, progress: Option<Progress>) {
        self.progress = progress;
    }

    /// Reports a step of the running session, if anybody listens.
    pub(crate) fn report(&self, event: ProgressEvent) {
        if let Some(p) = &self.progress {
            p.report(event);
        }
    }

    /// Returns the registered owners.
    pub fn registrations(&self) -> &BTreeMap<Sid, BackupRegistration> {
        &self.registrations
    }

    /// Returns the mode bus (to watch the mode).
    pub fn bus(&self) -> &ModeBus {
        &self.bus
    }

    /// Lists the registered owners with their capability flags and current status
    /// (Symbian `ListOfDataOwnersL` + `SIDStatusL`).
    pub fn list_data_owners(
        &self,
    ) -> Vec<(
        Sid,
        crate::owners::Capabilities,
        crate::owners::DataOwnerStatus,
    )> {
        self.registrations
            .iter()
            .map(|(sid, reg)| {
                (
                    *sid,
                    crate::owners::capabilities(reg),
                    self.sid_status(*sid),
                )
            })
            .collect()
    }

    /// Returns the status of one owner (`EDataOwnerNotFound` if it is not registered).
    pub fn sid_status(&self, sid: Sid) -> crate::owners::DataOwnerStatus {
        let connection = |s: Sid| self.ipc.owner_status(s);
        crate::owners::status(self.registrations.get(&sid), connection(sid), |proxy| {
            crate::owners::status(self.registrations.get(&proxy), connection(proxy), |_| {
                crate::owners::DataOwnerStatus::NotFound
            })
        })
    }

    /// Lists an owner's public files on a drive (Symbian `PublicFileListL`; the server may
    /// copy them itself, sessions store them as `public` units).
    ///
    /// # Errors
    /// `None` if the owner is not registered, has no public files or the drive is not
    /// configured; the I/O error of walking the drive otherwise.
    pub fn public_file_list(
        &self,
        sid: Sid,
        drive: char,
    ) -> Option<Result<Vec<crate::public::PublicEntry>, crate::public::PublicError>> {
        let public = self.registrations.get(&sid)?.public.as_ref()?;
        let drive = self.config.drives.iter().find(|d| d.letter == drive)?;
        let owner = crate::registration::owner_identity(&self.config.drives, sid);
        Some(
            owner
                .map_err(|source| crate::public::PublicError::Io {
                    path: drive.cage(sid),
                    source,
                })
                .and_then(|owner| crate::public::public_file_list(drive, public, owner)),
        )
    }

    /// Returns the identity the engine acts with on `sid`'s public files and databases:
    /// the owner of its cages.
    pub(crate) fn owner_identity(
        &self,
        sid: Sid,
    ) -> Result<crate::confined::identity::Identity, Failure> {
        crate::registration::owner_identity(&self.config.drives, sid)
            .map_err(|e| Failure::new(-2, e.to_string()))
    }

    /// Returns the drives an owner has a cage on.
    pub(crate) fn owner_drives(&self, sid: Sid) -> Vec<&Drive> {
        self.config
            .drives
            .iter()
            .filter(|d| std::fs::symlink_metadata(d.cage(sid)).is_ok_and(|m| m.is_dir()))
            .collect()
    }
}
