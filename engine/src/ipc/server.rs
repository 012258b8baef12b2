//! I/O shell: the Unix-socket server data owners connect to, and the owner launcher.
#![allow(
    clippy::disallowed_methods,
    reason = "the socket path comes from the profile (root's), not from an owner"
)]

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use data_owners::transport::{FrameReader, send};
use data_owners::wire::{EngineMsg, OwnerMsg, PROTOCOL_VERSION};
use tokio::net::{UnixListener, UnixStream};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::conn::{OwnerError, OwnerHandle, spawn_connection};
use super::peer::{CageInfo, Refusal, check_claim};
use crate::mode::BurState;
use crate::registration::{BackupRegistration, Drive, Sid};

/// How the IPC server is set up.
#[derive(Debug, Clone)]
pub struct IpcConfig {
    /// The socket path owners connect to.
    pub socket: PathBuf,
    /// The drives (to find cages and their owners).
    pub drives: Vec<Drive>,
    /// The directory `process_name` executables are started from.
    pub owner_dir: PathBuf,
    /// How long a new connection may take to say hello.
    pub hello_timeout: Duration,
    /// The group that may connect (socket `0660 root:<group>`, given to the owners the
    /// server starts), or `None` for a socket any local user may connect to (`0666`).
    pub owner_group: Option<u32>,
}

#[derive(Debug, Default)]
struct Registry {
    registrations: BTreeMap<Sid, BackupRegistration>,
    owners: HashMap<Sid, OwnerHandle>,
    children: HashMap<Sid, Child>,
}

/// The data-owner IPC server.
///
/// Owners connect to the socket and claim a SID; the peer's uid (SO_PEERCRED) must own
/// every cage of that SID, else the connection is refused and logged. The server keeps
/// one [`OwnerHandle`] per connected owner and starts owner processes on demand.
#[derive(Debug, Clone)]
pub struct IpcServer {
    config: Arc<IpcConfig>,
    registry: Arc<Mutex<Registry>>,
    state: watch::Receiver<BurState>,
    handshakes: Arc<tokio::sync::Semaphore>,
}

/// Connections that have not said hello yet, at most. A flood of connections that never
/// speak is closed at once past this, so it cannot exhaust the daemon's descriptors (each
/// waits at most the hello timeout); admitted connections are one per registered owner.
pub(crate) const MAX_PENDING_HANDSHAKES: usize = 16;

impl IpcServer {
    /// Binds the socket (replacing a stale one) and starts accepting owners.
    ///
    /// # Errors
    /// The I/O error of binding.
    pub fn bind(config: IpcConfig, state: watch::Receiver<BurState>) -> std::io::Result<Self> {
        // Replace a stale socket, never any other kind of file.
        if std::fs::symlink_metadata(&config.socket).is_ok_and(|m| m.file_type().is_socket()) {
            std::fs::remove_file(&config.socket)?;
        }
        let listener = UnixListener::bind(&config.socket)?;
        // Who may connect; the peer check then decides who may speak for a SID.
        let mode = if let Some(gid) = config.owner_group {
            std::os::unix::fs::chown(&config.socket, None, Some(gid))?;
            0o660
        } else {
            tracing::warn!(
                socket = %config.socket.display(),
                "no owner_group in the profile: any local user may connect to the owner socket"
            );
            0o666
        };
        std::fs::set_permissions(&config.socket, std::fs::Permissions::from_mode(mode))?;
        let server = Self {
            config: Arc::new(config),
            registry: Arc::default(),
            state,
            handshakes: Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES)),
        };
        tokio::spawn(server.clone().accept_loop(listener));
        Ok(server)
    }

    /// Replaces the registrations the peer check and the launcher use.
    pub fn set_registrations(&self, registrations: BTreeMap<Sid, BackupRegistration>) {
        self.lock().registrations = registrations;
    }

    /// Returns the handle of a connected owner.
    pub fn owner(&self, sid: Sid) -> Option<OwnerHandle> {
        self.lock()
            .owners
            .get(&sid)
            .filter(|h| h.is_connected())
            .cloned()
    }

    /// Returns the status of the last connection of `sid`, if it ever connected.
    pub fn owner_status(&self, sid: Sid) -> Option<super::conn::OwnerStatus> {
        self.lock().owners.get(&sid).map(OwnerHandle::status)
    }

    /// Makes sure `sid` is connected and confirmed ready: starts its `process_name` if
    /// it is not connected, then waits (at most `timeout` in all) for ConfirmReadyForBUR.
    ///
    /// # Errors
    /// [`OwnerError::Launch`] if it cannot be started, [`OwnerError::Exited`] if it exits
    /// first, [`OwnerError::NeverReady`] on timeout, or the owner's readiness error.
    pub async fn ensure_ready(
        &self,
        sid: Sid,
        timeout: Duration,
    ) -> Result<OwnerHandle, OwnerError> {
        let deadline = tokio::time::Instant::now() + timeout;
        if self.owner(sid).is_none() {
            self.launch_if_needed(sid)?;
        }
        let handle = loop {
            if let Some(h) = self.owner(sid) {
                break h;
            }
            if let Some(why) = self.child_exited(sid) {
                return Err(OwnerError::Exited(why));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(OwnerError::NeverReady);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        handle.wait_ready(left).await?;
        Ok(handle)
    }

    /// Starts `sid`'s process if it is a registered active owner that is not connected,
    /// without waiting (owners then prepare in parallel; [`IpcServer::ensure_ready`]
    /// waits later). Failures are logged and surface again in `ensure_ready`.
    pub fn prestart(&self, sid: Sid) {
        if self.owner(sid).is_some() {
            return;
        }
        if let Err(e) = self.launch_if_needed(sid) {
            tracing::debug!(%sid, error = %e, "owner not started ahead");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn launch_if_needed(&self, sid: Sid) -> Result<(), OwnerError> {
        let mut reg = self.lock();
        if let Some(child) = reg.children.get_mut(&sid) {
            if matches!(child.try_wait(), Ok(None)) {
                return Ok(());
            }
        }
        let process = reg
            .registrations
            .get(&sid)
            .and_then(|r| r.active.as_ref())
            .map(|a| a.process_name.clone())
            .ok_or(OwnerError::NotConnected)?;
        let cage = cages_of(&self.config.drives, sid)
            .into_iter()
            .next()
            .ok_or_else(|| OwnerError::Launch("no cage".into()))?;
        let (uid, gid) = std::fs::metadata(&cage.path)
            .map(|m| (m.uid(), m.gid()))
            .map_err(|e| OwnerError::Launch(format!("{}: {e}", cage.path.display())))?;
        if uid == 0 {
            // An owner runs with the rights of its cage, and root's are everyone's.
            return Err(OwnerError::Launch(format!(
                "{} is owned by root: data owners are never started as root",
                cage.path.display()
            )));
        }
        let mut cmd = Command::new(self.config.owner_dir.join(&process));
        // A clean environment: the owner learns only what it needs from the engine.
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("SBE_SOCKET", &self.config.socket)
            .env("SBE_SID", sid.to_string())
            .env("SBE_CAGE", &cage.path)
            // Not the cage: a restore replaces the cage directory, which would leave the
            // owner in a deleted one. Owners use SBE_CAGE.
            .current_dir("/")
            .kill_on_drop(true);
        if rustix::process::geteuid().as_raw() != uid {
            // Only possible as root; otherwise the spawn fails and is reported.
            become_owner(&mut cmd, uid, gid, self.config.owner_group);
        }
        let child = cmd
            .spawn()
            .map_err(|e| OwnerError::Launch(format!("{process}: {e}")))?;
        tracing::info!(%sid, %process, uid, "started data owner");
        reg.children.insert(sid, child);
        Ok(())
    }

    fn child_exited(&self, sid: Sid) -> Option<String> {
        let mut reg = self.lock();
        let child = reg.children.get_mut(&sid)?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    async fn accept_loop(self, listener: UnixListener) {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let Ok(permit) = self.handshakes.clone().try_acquire_owned() else {
                        tracing::warn!("too many connections waiting for hello; one closed");
                        continue;
                    };
                    let server = self.clone();
                    tokio::spawn(async move {
                        server.handshake(stream).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    async fn handshake(&self, stream: UnixStream) {
        let peer_uid = match stream.peer_cred() {
            Ok(cred) => cred.uid(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read peer credentials; refusing");
                return;
            }
        };
        let (read, mut write) = stream.into_split();
        let mut reader = FrameReader::new(read);
        let hello =
            tokio::time::timeout(self.config.hello_timeout, reader.recv::<OwnerMsg>()).await;
        let claim = match hello {
            Ok(Ok(Some(OwnerMsg::Hello { version, sid }))) if version == PROTOCOL_VERSION => {
                Ok(Sid(sid))
            }
            Ok(Ok(Some(OwnerMsg::Hello { version, .. }))) => Err(Refusal::Version(version)),
            _ => Err(Refusal::BadHello),
        };
        // Check and register under one lock, so two peers can never both speak for a SID.
        // The connection task sends the Welcome itself, with the mode it starts from.
        let refusal = match claim {
            Err(refusal) => refusal,
            Ok(sid) => {
                let mut reg = self.lock();
                match Self::admit(&reg, &self.config.drives, sid, peer_uid) {
                    Ok(()) => {
                        let handle = spawn_connection(sid, reader, write, self.state.clone());
                        reg.owners.insert(sid, handle);
                        tracing::info!(%sid, peer_uid, "data owner connected");
                        return;
                    }
                    Err(refusal) => refusal,
                }
            }
        };
        tracing::warn!(peer_uid, %refusal, "data owner refused");
        let reason = refusal.to_string();
        let _ = send(&mut write, &EngineMsg::Refused { reason }).await;
    }

    fn admit(reg: &Registry, drives: &[Drive], sid: Sid, peer_uid: u32) -> Result<(), Refusal> {
        let active = reg
            .registrations
            .get(&sid)
            .is_some_and(|r| r.active.is_some());
        check_claim(sid, peer_uid, active, &cages_of(drives, sid))?;
        if reg.owners.get(&sid).is_some_and(OwnerHandle::is_connected) {
            return Err(Refusal::AlreadyConnected(sid));
        }
        Ok(())
    }
}

/// Makes `cmd` run as `uid`:`gid` with the owner group as its only supplementary group
/// (so that it may connect to a `0660` socket) and none of root's.
#[allow(
    unsafe_code,
    reason = "std has no stable way to set supplementary groups"
)]
fn become_owner(cmd: &mut Command, uid: u32, gid: u32, owner_group: Option<u32>) {
    use rustix::process::{Gid, Uid};
    use rustix::thread as t;
    let groups: Vec<Gid> = owner_group.map(Gid::from_raw).into_iter().collect();
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    let drop_to_owner = move || -> std::io::Result<()> {
        // In the forked child, which has one thread: per-thread calls are per-process.
        t::set_thread_groups(&groups)?;
        t::set_thread_res_gid(Some(gid), Some(gid), Some(gid))?;
        t::set_thread_res_uid(Some(uid), Some(uid), Some(uid))?;
        Ok(())
    };
    // SAFETY: the closure runs in the child between fork and exec. It only makes raw
    // system calls on values prepared before the fork: no allocation, no lock, nothing
    // that is not async-signal-safe.
    unsafe {
        cmd.pre_exec(drop_to_owner);
    }
}

/// Returns the existing cages of `sid` with their owner uids (symlinks are not cages).
fn cages_of(drives: &[Drive], sid: Sid) -> Vec<CageInfo> {
    drives
        .iter()
        .map(|d| d.cage(sid))
        .filter_map(|path| {
            let meta = std::fs::symlink_metadata(&path)
                .ok()
                .filter(std::fs::Metadata::is_dir)?;
            Some(CageInfo {
                uid: meta.uid(),
                path,
            })
        })
        .collect()
}
