//! The Backup storage from the profile's `[backup]` table: engine configuration, the
//! engine thread and the provider.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::profile::{Profile, SystemRestoreSetting};
use engine::registration::{CENTRAL_REPOSITORY_SID, Drive};
use engine::runner::EngineConfig;
use engine::system::{SystemPolicy, SystemRestore};
use firmware::backup::access::Policy;
use firmware::backup::intake::Intake;
use firmware::backup::provider::BackupProvider;
use firmware::backup::service::BackupService;
use mtp::StorageId;
use tracing::{info, warn};

use crate::error::Error;

/// The owner socket when the profile names none.
const DEFAULT_SOCKET: &str = "/run/mtpbur/engine.sock";
/// Where owner executables are looked up when the profile names no directory.
const DEFAULT_OWNERS_DIR: &str = "/usr/lib/mtpbur/owners";
/// The control socket when the profile names none.
pub(crate) const DEFAULT_CONTROL_SOCKET: &str = "/run/mtpbur/control.sock";
/// How long an active owner may take to connect and confirm it is ready, unless the
/// profile says (`[backup] ready_timeout`).
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Returns what system data a restore may write, from `system_restore` and
/// `system_roots`.
fn system_policy(b: &crate::profile::BackupProfile) -> SystemPolicy {
    let restore = match b.system_restore {
        Some(SystemRestoreSetting::Off) => SystemRestore::Off,
        Some(SystemRestoreSetting::Any) => SystemRestore::Any,
        Some(SystemRestoreSetting::Installed) | None => SystemRestore::Installed,
    };
    let mut policy = SystemPolicy {
        restore,
        ..SystemPolicy::default()
    };
    if let Some(roots) = &b.system_roots {
        policy.roots.clone_from(roots);
    }
    policy
}

/// Returns the engine configuration, or `None` when the profile has no Backup storage
/// (no `spool` or no drives).
///
/// # Errors
/// [`Error::OwnerGroup`] if `owner_group` names no group.
pub(crate) fn engine_config(p: &Profile) -> Result<Option<EngineConfig>, Error> {
    let b = &p.backup;
    let Some(spool) = b.spool.clone() else {
        return Ok(None);
    };
    if b.drives.is_empty() {
        return Ok(None);
    }
    let owner_group = b
        .owner_group
        .as_ref()
        .map(crate::groups::resolve)
        .transpose()
        .map_err(Error::OwnerGroup)?;
    let drives = b
        .drives
        .iter()
        .filter_map(|(letter, dir)| {
            let d = Drive::new(letter.chars().next()?, dir.clone());
            Some(if b.removable_drives.contains(letter) {
                d.on_removable_media()
            } else {
                d
            })
        })
        .collect();
    Ok(Some(EngineConfig {
        drives,
        spool,
        socket: b.socket.clone().unwrap_or_else(|| DEFAULT_SOCKET.into()),
        owner_dir: b
            .owners_dir
            .clone()
            .unwrap_or_else(|| DEFAULT_OWNERS_DIR.into()),
        state_file: p.state_dir.as_ref().map(|d| d.join("bur-state")),
        ready_timeout: b.ready_timeout.map_or(READY_TIMEOUT, Duration::from_secs),
        cenrep: b
            .settings_store
            .as_deref()
            .and_then(crate::profile::settings_store_sid)
            .unwrap_or(CENTRAL_REPOSITORY_SID),
        system: system_policy(b),
        owner_group,
        key_file: p.state_dir.as_ref().map(|d| d.join(BACKUP_KEY_FILE)),
    }))
}

/// The backup key's file in the state directory (`engine::crypto::Keys`).
pub(crate) const BACKUP_KEY_FILE: &str = "backup-key.toml";

/// Starts the engine thread and builds the Backup storage provider; returns it with the
/// service, which the daemon stops on SIGTERM.
///
/// # Errors
/// The spool, drive or socket directories cannot be created, or the engine does not
/// start.
pub(crate) fn backup_provider(
    config: EngineConfig,
    storage: StorageId,
    policy: Policy,
) -> Result<(BackupProvider, BackupService), Error> {
    // A removable drive's directory is where its medium is mounted: never made here.
    let mut dirs: Vec<PathBuf> = config
        .drives
        .iter()
        .filter(|d| !d.removable)
        .map(|d| d.root.clone())
        .collect();
    dirs.push(config.spool.clone());
    dirs.extend(config.socket.parent().map(ToOwned::to_owned));
    dirs.extend(
        config
            .state_file
            .as_ref()
            .and_then(|f| f.parent())
            .map(ToOwned::to_owned),
    );
    for dir in dirs {
        std::fs::create_dir_all(&dir).map_err(|source| Error::Storage {
            name: "Backup".into(),
            path: dir.clone(),
            source,
        })?;
    }
    let letters: BTreeSet<char> = config.drives.iter().map(|d| d.letter).collect();
    let spool = config.spool.clone();
    let key_file = config.key_file.clone();
    // The session's news: from the engine thread and the intake to the provider.
    let (news, news_rx) = std::sync::mpsc::channel();
    let (service, left_out) = BackupService::start(config, news)?;
    for e in left_out {
        warn!(error = %e, "registration left out");
    }
    let intake = Intake::new(spool.clone(), letters, service.clone()).with_key_file(key_file);
    service.tell(firmware::backup::session::News::Encryption(
        intake.encrypted(),
    ));
    let provider =
        BackupProvider::new(storage, &spool, intake, news_rx, policy).map_err(|source| {
            Error::Storage {
                name: "Backup".into(),
                path: spool.clone(),
                source,
            }
        })?;
    info!(spool = %spool.display(), storage = format!("0x{:08x}", storage.0), "Backup storage ready");
    Ok((provider, service))
}
