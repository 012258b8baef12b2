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
/// The permanent folder requests go into.
pub const REQUESTS_DIR: &str = "requests";

/// Which request a file is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `backup.request`.
    Backup,
    /// `restore.request`.
    Restore,
}

impl RequestKind {
    /// Returns the kind of a file named `name`, if it is a request.
    pub fn of(name: &str) -> Option<Self> {
        match name {
            BACKUP_REQUEST => Some(Self::Backup),
            RESTORE_REQUEST => Some(Self::Restore),
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

/// Checks requests and starts sessions.
#[derive(Debug, Clone)]
pub struct Intake {
    spool: PathBuf,
    drives: BTreeSet<char>,
    service: BackupService,
}

impl Intake {
    /// Creates the intake for sets in `spool` and the configured drive letters.
    pub fn new(spool: PathBuf, drives: BTreeSet<char>, service: BackupService) -> Self {
        Self {
            spool,
            drives,
            service,
        }
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
    ) -> Result<Plan, Refusal> {
        match kind {
            RequestKind::Backup => {
                let spec = request::parse_backup_request(bytes)
                    .map_err(|e| Refusal::invalid(format!("{BACKUP_REQUEST}: {e}")))?;
                self.check_backup(&spec, registered, now)
            }
            RequestKind::Restore => {
                let spec = request::parse_restore_request(bytes)
                    .map_err(|e| Refusal::invalid(format!("{RESTORE_REQUEST}: {e}")))?;
                self.check_restore(&spec)
            }
        }
    }

    fn check_backup(
        &self,
        spec: &BackupSpec,
        registered: &BTreeSet<engine::registration::Sid>,
        now: i64,
    ) -> Result<Plan, Refusal> {
        let what = BACKUP_REQUEST;
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
        let folder = naming::unique_name(&name, |n| self.spool.join(n).exists())
            .ok_or_else(|| Refusal::invalid("no free folder name for the backup"))?;
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
            job: Job::Restore(spec.to_engine(|f| self.spool.join(f))),
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
