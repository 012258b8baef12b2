//! Task wiring: profile -> providers -> responder; gadget -> transport; signals.

use std::path::{Path, PathBuf};

use crate::profile::Profile;
use board::GadgetSpec;
use firmware::backup::access::Policy;
use firmware::backup::control;
use firmware::backup::service::BackupService;
use mtp::providers::{DeviceIdentity, DeviceProvider, FilesProvider, StorageConfig};
use mtp::{Responder, ResponderConfig, StorageId};
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::error::Error;

/// Storage id of the public storage at `index`: physical store index+1, logical 1.
pub(crate) fn storage_id(index: usize) -> StorageId {
    StorageId((((index as u32) + 1) << 16) | 1)
}

/// Builds the files provider for the profile's public storages, creating missing
/// directories.
///
/// # Errors
/// A storage directory cannot be created or is not a directory.
pub(crate) fn files_provider(p: &Profile) -> Result<FilesProvider, Error> {
    let mut configs = Vec::new();
    for (i, s) in p.storages.iter().enumerate() {
        std::fs::create_dir_all(&s.path).map_err(|source| Error::Storage {
            name: s.name.clone(),
            path: s.path.clone(),
            source,
        })?;
        configs.push(StorageConfig {
            id: storage_id(i),
            description: s.name.clone(),
            root: s.path.clone(),
            writable: s.writable,
            private: false,
        });
    }
    FilesProvider::new(configs).map_err(Error::Io)
}

/// Builds the device provider: identity from the USB strings, the friendly name kept in
/// the state directory, the battery level from the kernel's power-supply class if any.
pub(crate) fn device_provider(p: &Profile) -> DeviceProvider {
    let identity = DeviceIdentity {
        manufacturer: p.usb.manufacturer.clone(),
        model: p.usb.product.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        serial: p.usb.serial.clone(),
    };
    let mut d = DeviceProvider::new(identity);
    if let Some(dir) = &p.state_dir {
        let file = dir.join("friendly_name");
        if let Ok(name) = std::fs::read_to_string(&file) {
            let name = name.trim();
            if !name.is_empty() {
                d = d.with_friendly_name(name);
            }
        }
        let dir = dir.clone();
        d = d.on_friendly_name_change(move |name| {
            let write =
                std::fs::create_dir_all(&dir).and_then(|()| write_atomic(&file, name.as_bytes()));
            if let Err(e) = write {
                warn!(path = %file.display(), error = %e, "friendly name not saved");
            }
        });
    }
    if let Some(path) = battery_capacity_file(Path::new("/sys/class/power_supply")) {
        info!(path = %path.display(), "battery level from the power-supply class");
        d = d.with_battery(move || std::fs::read_to_string(&path).ok()?.trim().parse().ok());
    }
    d
}

fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(tmp, path)
}

/// Finds the `capacity` file of the first supply of type Battery.
fn battery_capacity_file(class: &Path) -> Option<PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(class)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    entries.into_iter().find_map(|dir| {
        let kind = std::fs::read_to_string(dir.join("type")).ok()?;
        let cap = dir.join("capacity");
        (kind.trim() == "Battery" && cap.exists()).then_some(cap)
    })
}

/// Prints what a profile describes (`--check`).
///
/// # Errors
/// The profile does not load.
pub(crate) fn check(path: &Path) -> Result<(), Error> {
    let p = Profile::load(path)?;
    let s = GadgetSpec::new(&p.usb, &p.transport);
    println!("profile {}: ok", path.display());
    println!(
        "gadget {:?}: {:04x}:{:04x} {:?} {:?} serial {:?}",
        s.name, s.id.0, s.id.1, s.strings.0, s.strings.1, s.strings.2
    );
    println!("udc: {}", s.udc.as_deref().unwrap_or("(first found)"));
    println!(
        "bulk requests: {} x {} KiB",
        s.queue_depth,
        s.buffer_size / 1024
    );
    for (i, st) in p.storages.iter().enumerate() {
        let mode = if st.writable { "rw" } else { "ro" };
        println!(
            "storage 0x{:08x} {:?} {} {}",
            storage_id(i).0,
            st.name,
            st.path.display(),
            mode
        );
    }
    match crate::backup_wiring::engine_config(&p)? {
        Some(e) => {
            println!(
                "storage 0x{:08x} \"Backup\" {} rw (backup sets)",
                storage_id(p.storages.len()).0,
                e.spool.display()
            );
            for d in &e.drives {
                let removable = if d.removable {
                    " (removable: used only while mounted)"
                } else {
                    ""
                };
                println!("backup drive {}: {}{removable}", d.letter, d.root.display());
            }
            match e.owner_group {
                Some(gid) => println!("owner socket {} (0660, group {gid})", e.socket.display()),
                None => println!("owner socket {} (0666: any local user)", e.socket.display()),
            }
            println!("owner executables {}", e.owner_dir.display());
            let control = p
                .backup
                .control_socket
                .clone()
                .unwrap_or_else(|| crate::backup_wiring::DEFAULT_CONTROL_SOCKET.into());
            match p.backup.access.unwrap_or_default() {
                Policy::Open => println!("access open: every host may use the Backup storage"),
                Policy::Consent => println!(
                    "access consent: hosts only after `mtpbur ctl allow` (control socket {})",
                    control.display()
                ),
            }
        }
        None => println!("no Backup storage (the profile has no [backup] spool and drives)"),
    }
    Ok(())
}

/// `mtpbur ctl`: sends one command to the daemon's control socket and prints the reply
/// (exit 0) or the refusal (exit 1).
pub(crate) fn ctl(
    control: firmware::backup::access::Control,
    socket: Option<PathBuf>,
    profile: Option<PathBuf>,
) -> std::process::ExitCode {
    let path = match (socket, profile) {
        (Some(s), _) => Ok(s),
        (None, Some(p)) => Profile::load(&p).map(|p| {
            p.backup
                .control_socket
                .unwrap_or_else(|| crate::backup_wiring::DEFAULT_CONTROL_SOCKET.into())
        }),
        (None, None) => Ok(crate::backup_wiring::DEFAULT_CONTROL_SOCKET.into()),
    };
    let reply = path
        .map_err(|e| e.to_string())
        .and_then(|path| control::request(&path, control));
    match reply {
        Ok(text) => {
            println!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mtpbur ctl: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// How long a stop waits for the backup engine to end its session.
const ENGINE_STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Adds the Backup storage to `providers` if the profile has one; returns its service.
/// Without the engine the public storages still serve: nothing of the user's is at stake
/// in them, and the log says why the Backup storage is missing.
///
/// # Errors
/// The profile's `owner_group` names no group.
fn backup_storage(
    profile: &Profile,
    providers: &mut Vec<Box<dyn mtp::DataProvider>>,
) -> Result<Option<BackupService>, Error> {
    let Some(engine) = crate::backup_wiring::engine_config(profile)? else {
        info!("no [backup] spool and drives in the profile: no Backup storage");
        return Ok(None);
    };
    let storage = storage_id(profile.storages.len());
    let policy = profile.backup.access.unwrap_or_default();
    match crate::backup_wiring::backup_provider(engine, storage, policy) {
        Ok((backup, service)) => {
            providers.push(Box::new(backup));
            start_control(profile, policy, &service);
            Ok(Some(service))
        }
        Err(e) => {
            error!(error = %e, "no Backup storage: the backup engine did not start");
            Ok(None)
        }
    }
}

/// Serves the control socket (`mtpbur ctl`). Without it a consent-only Backup storage
/// stays closed, which the log says.
fn start_control(profile: &Profile, policy: Policy, service: &BackupService) {
    let path = profile
        .backup
        .control_socket
        .clone()
        .unwrap_or_else(|| crate::backup_wiring::DEFAULT_CONTROL_SOCKET.into());
    match control::bind(&path) {
        Ok(listener) => {
            info!(socket = %path.display(), access = ?policy, "control socket ready");
            tokio::spawn(control::serve(
                listener,
                policy,
                service.clone(),
                firmware::backup::provider::unix_now,
            ));
        }
        Err(e) => {
            error!(socket = %path.display(), error = %e, "no control socket: consent cannot be given")
        }
    }
}

/// Stops the backup engine: a running session ends first (owners hear Normal,
/// `status.toml` says why).
async fn stop_engine(service: BackupService) {
    let ended = tokio::task::spawn_blocking(move || service.stop(ENGINE_STOP_WAIT)).await;
    if !matches!(ended, Ok(true)) {
        error!("the backup engine did not stop in time");
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
///
/// # Errors
/// Startup failures; once serving, failures are logged and the gadget is removed.
pub(crate) async fn run(path: &Path) -> Result<(), Error> {
    let profile = Profile::load(path)?;
    let spec = GadgetSpec::new(&profile.usb, &profile.transport);
    let files = files_provider(&profile)?;
    let device = device_provider(&profile);
    let config = ResponderConfig {
        chunk_size: spec.buffer_size,
        ..ResponderConfig::default()
    };
    let mut providers: Vec<Box<dyn mtp::DataProvider>> = vec![Box::new(files)];
    let backup_service = backup_storage(&profile, &mut providers)?;
    let responder = Responder::new(device, providers, config);

    let (function, registration) = match &profile.usb.existing_functionfs {
        Some(dir) => board::gadget::existing(&spec, dir),
        None => board::gadget::create(&spec),
    }
    .map_err(Error::Gadget)?;
    let (endpoints, ep0) = board::ffs::split(function, spec.buffer_size, spec.queue_depth as usize);
    let mut ep0_task = tokio::spawn(board::ffs::run_ep0(ep0));
    let mut serve_task = tokio::spawn(mtp::driver::serve(responder, endpoints));
    info!(profile = %path.display(), "serving MTP");

    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    // Ready only now: a stop request from here on removes the gadget cleanly.
    crate::notify::notify(crate::notify::READY);
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = int.recv() => info!("SIGINT: shutting down"),
        r = &mut ep0_task => error!(result = ?r, "ep0 task ended"),
        r = &mut serve_task => error!(ended = r.is_ok(), "responder ended"),
    }
    crate::notify::notify(crate::notify::STOPPING);
    if let Some(service) = backup_service {
        stop_engine(service).await;
    }
    ep0_task.abort();
    serve_task.abort();
    if let Err(e) = registration.remove() {
        error!(error = %e, "gadget removal failed");
    } else {
        info!("gadget unbound and removed");
    }
    Ok(())
}

/// Serves the raw USB ceiling benchmark ([`board::ceiling`]) on the profile's gadget,
/// with the responder's buffer size and queue, until SIGTERM or SIGINT.
///
/// # Errors
/// The profile or the gadget cannot be set up.
pub(crate) async fn ceiling(path: &Path) -> Result<(), Error> {
    let profile = Profile::load(path)?;
    let spec = GadgetSpec::new(&profile.usb, &profile.transport);
    let (function, registration) = match &profile.usb.existing_functionfs {
        Some(dir) => board::gadget::existing(&spec, dir),
        None => board::gadget::create(&spec),
    }
    .map_err(Error::Gadget)?;
    let (endpoints, ep0) = board::ffs::split(function, spec.buffer_size, spec.queue_depth as usize);
    let mut ep0_task = tokio::spawn(board::ffs::run_ep0(ep0));
    let mut serve_task = tokio::spawn(board::ceiling::serve(endpoints, spec.buffer_size));
    info!(profile = %path.display(), buffer = spec.buffer_size, "serving the raw ceiling benchmark");
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = int.recv() => info!("SIGINT: shutting down"),
        r = &mut ep0_task => error!(result = ?r, "ep0 task ended"),
        r = &mut serve_task => error!(ended = r.is_ok(), "ceiling ended"),
    }
    ep0_task.abort();
    serve_task.abort();
    if let Err(e) = registration.remove() {
        error!(error = %e, "gadget removal failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_ids_have_a_nonzero_logical_half() {
        assert_eq!(storage_id(0).0, 0x0001_0001);
        assert_eq!(storage_id(1).0, 0x0002_0001);
    }

    #[test]
    fn battery_is_found_only_for_battery_supplies() {
        let dir = tempfile::tempdir().unwrap();
        let ac = dir.path().join("AC");
        std::fs::create_dir(&ac).unwrap();
        std::fs::write(ac.join("type"), "Mains\n").unwrap();
        assert_eq!(battery_capacity_file(dir.path()), None);
        let bat = dir.path().join("BAT0");
        std::fs::create_dir(&bat).unwrap();
        std::fs::write(bat.join("type"), "Battery\n").unwrap();
        std::fs::write(bat.join("capacity"), "42\n").unwrap();
        assert_eq!(
            battery_capacity_file(dir.path()),
            Some(bat.join("capacity"))
        );
    }
}
