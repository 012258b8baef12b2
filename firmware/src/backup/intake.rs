//! Turning an uploaded `backup.request` / `restore.request` into a session: parse,
//! check against the device (owners registered, drives configured, folders present),
//! name the new folder, then claim the engine and hand it the job.
//!
//! Checking and starting are two steps so that the provider can commit the uploaded file
//! in between: a refused request leaves no file behind, an accepted one stays visible in
//! `requests/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use engine::manifest::MANIFEST_FILE;
use mtp::ResponseCode;

use super::naming;
use super::request::{self, BackupSpec, RestoreSpec, Scope};
use super::service::{BackupService, Job};
use super::session::{Claim, News, Outcome};

/// Name of the backup request file.
pub const BACKUP_REQUEST: &str = "backup.request";
/// Name of the restore request file.
pub const RESTORE_REQUEST: &str = "restore.request";
/// Name of the request that sets, changes or removes the backup password.
pub const ENCRYPTION_REQUEST: &str = "encryption.request";
/// The permanent folder requests go into.
pub const REQUESTS_DIR: &str = "requests";

/// Which request a file is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `backup.request`.
    Backup,
    /// `restore.request`.
    Restore,
    /// `encryption.request`.
    Encryption,
}

impl RequestKind {
    /// Returns the kind of a file named `name`, if it is a request.
    pub fn of(name: &str) -> Option<Self> {
        match name {
            BACKUP_REQUEST => Some(Self::Backup),
            RESTORE_REQUEST => Some(Self::Restore),
            ENCRYPTION_REQUEST => Some(Self::Encryption),
            _ => None,
        }
    }
}

/// A refusal: the response code for the host and the reason for `status.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The MTP response code.
    pub code: ResponseCode,
    /// The reason, in words.
    pub reason: String,
}

impl Refusal {
    fn invalid(reason: impl Into<String>) -> Self {
        Self {
            code: ResponseCode::InvalidParameter,
            reason: reason.into(),
        }
    }
}

/// A checked request, ready to start.
#[derive(Debug)]
pub struct Plan {
    job: Job,
    claim: Claim,
}

impl Plan {
    /// Returns the folder the session will write into.
    pub fn folder(&self) -> &str {
        &self.claim.folder
    }
}

/// What a checked request turned out to be.
#[derive(Debug)]
pub enum Checked {
    /// A session to start.
    Session(Plan),
    /// Done already (an `encryption.request`): what was done, in words.
    Done(String),
}

/// Checks requests and starts sessions.
#[derive(Debug, Clone)]
pub struct Intake {
    spool: PathBuf,
    drives: BTreeSet<char>,
    service: BackupService,
    key_file: Option<PathBuf>,
    /// Every folder name given to a backup since the start: a set the host copied and
    /// deleted must not have its name given again (the host keeps it under that name).
    issued: std::sync::Arc<std::sync::Mutex<BTreeSet<String>>>,
}

impl Intake {
    /// Creates the intake for sets in `spool` and the configured drive letters.
    pub fn new(spool: PathBuf, drives: BTreeSet<char>, service: BackupService) -> Self {
        Self {
            spool,
            drives,
            service,
            key_file: None,
            issued: std::sync::Arc::default(),
        }
    }

    /// Where the backup key is kept (`None`: `encryption.request` is refused).
    pub fn with_key_file(mut self, key_file: Option<PathBuf>) -> Self {
        self.key_file = key_file;
        self
    }

    /// Whether encryption is on now (the key file exists).
    pub fn encrypted(&self) -> bool {
        self.key_file.as_deref().is_some_and(Path::exists)
    }

    /// Checks a request file's content against the owners registered now; `now` (Unix
    /// seconds) names a backup's folder. The provider refuses a request while a session
    /// runs (DeviceBusy) before its upload starts.
    ///
    /// # Errors
    /// InvalidParameter with the reason.
    pub fn check(
        &self,
        kind: RequestKind,
        bytes: &[u8],
        now: i64,
        registered: &BTreeSet<engine::registration::Sid>,
    ) -> Result<Checked, Refusal> {
        match kind {
            RequestKind::Backup => {
                let spec = request::parse_backup_request(bytes)
                    .map_err(|e| Refusal::invalid(format!("{BACKUP_REQUEST}: {e}")))?;
                self.check_backup(&spec, registered, now)
                    .map(Checked::Session)
            }
            RequestKind::Restore => {
                let spec = request::parse_restore_request(bytes)
                    .map_err(|e| Refusal::invalid(format!("{RESTORE_REQUEST}: {e}")))?;
                self.check_restore(&spec).map(Checked::Session)
            }
            RequestKind::Encryption => {
                let spec = request::parse_encryption_request(bytes)
                    .map_err(|e| Refusal::invalid(format!("{ENCRYPTION_REQUEST}: {e}")))?;
                self.change_key(spec).map(Checked::Done)
            }
        }
    }

    /// Sets, changes or removes the backup password. The memory-hard key derivation runs
    /// here, on the caller's thread, for a fraction of a second (the host waits for the
    /// upload's answer anyway); no session runs meanwhile (the provider refuses requests
    /// then).
    fn change_key(&self, spec: request::EncryptionSpec) -> Result<String, Refusal> {
        use engine::crypto::{CryptoError, DEFAULT_WORK_FACTOR, Keys};
        use request::EncryptionSpec;
        let what = ENCRYPTION_REQUEST;
        let path = self.key_file.as_deref().ok_or_else(|| {
            Refusal::invalid(format!(
                "{what}: this device keeps no backup key (no state_dir in its profile)"
            ))
        })?;
        let secret = |p: request::Password| engine::crypto::SecretString::from(p.0);
        let fail = |e: CryptoError| Refusal::invalid(format!("{what}: {e}"));
        let current = Keys::load(path).map_err(fail)?;
        let (done, on) = match (spec, current) {
            (EncryptionSpec::On(new), None) => {
                let keys = Keys::create(&secret(new), DEFAULT_WORK_FACTOR).map_err(fail)?;
                keys.save(path).map_err(|e| fail(e.into()))?;
                ("encryption is on: every new set is encrypted", true)
            }
            (EncryptionSpec::On(_), Some(_)) => {
                return Err(Refusal::invalid(format!(
                    "{what}: encryption is on already (action = \"change\" changes the password)"
                )));
            }
            (EncryptionSpec::Off(_) | EncryptionSpec::Change(..), None) => {
                return Err(Refusal::invalid(format!("{what}: encryption is off")));
            }
            (EncryptionSpec::Off(old), Some(keys)) => {
                keys.unlock(&secret(old)).map_err(fail)?;
                #[allow(
                    clippy::disallowed_methods,
                    reason = "the key file is root's, in the profile"
                )]
                std::fs::remove_file(path).map_err(|e| fail(e.into()))?;
                ("encryption is off: new sets are not encrypted", false)
            }
            (EncryptionSpec::Change(old, new), Some(keys)) => {
                let keys = keys
                    .rewrap(&secret(old), &secret(new), DEFAULT_WORK_FACTOR)
                    .map_err(fail)?;
                keys.save(path).map_err(|e| fail(e.into()))?;
                ("the backup password was changed", true)
            }
        };
        self.service.tell(News::Encryption(on));
        self.service.tell(News::KeyChanged(done.to_owned()));
        Ok(done.to_owned())
    }

    fn check_backup(
        &self,
        spec: &BackupSpec,
        registered: &BTreeSet<engine::registration::Sid>,
        now: i64,
    ) -> Result<Plan, Refusal> {
        let what = BACKUP_REQUEST;
        if registered.is_empty() {
            return Err(Refusal::invalid(format!(
                "{what}: no data owner is registered on this device, so there is nothing to back up (see owners.toml)"
            )));
        }
        check_owners(what, &spec.scope, registered)?;
        if let Some(drives) = &spec.drives {
            if let Some(d) = drives.iter().find(|d| !self.drives.contains(d)) {
                return Err(Refusal::invalid(format!(
                    "{what}: drive {d:?} is not a drive of this device (drives: {})",
                    self.drives.iter().collect::<String>()
                )));
            }
        }
        if let Some(folder) = &spec.snapshots {
            self.check_set(what, "snapshots", folder)?;
        }
        let name = naming::session_name(now, spec.label.as_ref());
        let mut issued = self
            .issued
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let folder =
            naming::unique_name(&name, |n| self.spool.join(n).exists() || issued.contains(n))
                .ok_or_else(|| Refusal::invalid("no free folder name for the backup"))?;
        issued.insert(folder.clone());
        drop(issued);
        let req = spec.to_engine(folder.clone(), naming::rfc3339(now), |f| self.spool.join(f));
        let in_use = std::iter::once(folder.clone())
            .chain(spec.snapshots.clone())
            .collect();
        Ok(Plan {
            job: Job::Backup(req),
            claim: Claim {
                folder,
                in_use,
                restoring: false,
            },
        })
    }

    /// Owners that are not installed here are not refused: the engine restores the
    /// others and reports them as not installed.
    fn check_restore(&self, spec: &RestoreSpec) -> Result<Plan, Refusal> {
        let what = RESTORE_REQUEST;
        let mut seen = BTreeSet::new();
        for (i, folder) in spec.folders().enumerate() {
            let field = if i == 0 { "source" } else { "increments" };
            if !seen.insert(folder) {
                return Err(Refusal::invalid(format!(
                    "{what}: folder {folder:?} is named twice"
                )));
            }
            self.check_set(what, field, folder)?;
        }
        let last = spec.folders().last().unwrap_or(&spec.source).to_owned();
        Ok(Plan {
            job: Job::Restore(
                spec.to_engine(|f| self.spool.join(f)),
                spec.password
                    .clone()
                    .map(|p| engine::crypto::SecretString::from(p.0)),
            ),
            claim: Claim {
                folder: last,
                in_use: spec.folders().map(str::to_owned).collect(),
                restoring: true,
            },
        })
    }

    /// A folder a request names must be a set in the Backup storage's top level.
    fn check_set(&self, what: &str, field: &str, folder: &str) -> Result<(), Refusal> {
        let plain = Path::new(folder).components().count() == 1
            && !matches!(folder, "." | ".." | REQUESTS_DIR)
            && !folder.contains('/');
        let dir = self.spool.join(folder);
        if !plain || !dir.is_dir() {
            return Err(Refusal::invalid(format!(
                "{what}: {field}: there is no folder {folder:?} in the Backup storage"
            )));
        }
        if !dir.join(MANIFEST_FILE).is_file() {
            return Err(Refusal::invalid(format!(
                "{what}: {field}: folder {folder:?} has no {MANIFEST_FILE} (not a complete backup)"
            )));
        }
        Ok(())
    }

    /// Claims the Backup storage for a checked request and hands its job to the engine.
    /// The claim reaches the session before anything the engine reports about the job.
    ///
    /// # Errors
    /// GeneralError if the engine thread is gone.
    pub fn start(&self, plan: Plan) -> Result<String, Refusal> {
        let folder = plan.claim.folder.clone();
        self.service.tell(News::Accepted(plan.claim));
        if self.service.submit(plan.job).is_err() {
            let reason = "the backup engine is not running".to_owned();
            self.service
                .tell(News::Ended(Outcome::failed(reason.clone())));
            return Err(Refusal {
                code: ResponseCode::GeneralError,
                reason,
            });
        }
        Ok(folder)
    }

    /// Records a refused request in `status.toml`.
    pub fn refuse(&self, reason: String) {
        self.service.tell(News::Refused(reason));
    }
}

fn check_owners(
    what: &str,
    scope: &Scope,
    registered: &BTreeSet<engine::registration::Sid>,
) -> Result<(), Refusal> {
    if let Scope::Partial(list) = scope {
        let unknown: Vec<String> = list
            .iter()
            .filter(|s| !registered.contains(s))
            .map(|s| format!("0x{s}"))
            .collect();
        if !unknown.is_empty() {
            return Err(Refusal::invalid(format!(
                "{what}: owners: {} not registered on this device (see owners.toml)",
                unknown.join(", ")
            )));
        }
    }
    Ok(())
}
