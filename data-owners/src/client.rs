//! The client side an active data owner links: connect, confirm ready, serve callbacks.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

use crate::mode::ModeWatcher;

use crate::transport::{FrameReader, TransportError, send};
use crate::wire::{Callback, DriveLetter, EngineMsg, ModeInfo, OwnerMsg, PROTOCOL_VERSION, Reply};

/// Symbian `KErrNotSupported`: the default answer of optional callbacks.
pub const ERR_NOT_SUPPORTED: i32 = -5;

/// An error a callback returns; it reaches the engine (and the server) as this owner's
/// error, the connection stays up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("owner error {code}: {message}")]
pub struct OwnerError {
    /// A negative Symbian-style code.
    pub code: i32,
    /// A human-readable reason.
    pub message: String,
}

impl OwnerError {
    /// Creates an error.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    fn not_supported(what: &str) -> Self {
        Self::new(ERR_NOT_SUPPORTED, format!("{what} not supported"))
    }
}

/// A section of data and whether it is the last one of the unit.
pub type Section = (Vec<u8>, bool);

/// The callbacks of Symbian's `MActiveBackupDataClient`.
///
/// Calls are synchronous and one at a time, in the order the engine sends them. Optional
/// callbacks default to "not supported" or a no-op.
pub trait ActiveBackupDataClient {
    /// The BUR mode changed (also called once with the mode at connect). Returns the
    /// readiness to confirm: `Some(0)` ready, `Some(err)` failed, `None` do not confirm
    /// now. The default confirms ready whenever a backup or restore runs.
    fn bur_mode_changed(&mut self, mode: &ModeInfo) -> Option<i32> {
        (!mode.mode.is_normal()).then_some(0)
    }
    /// All snapshots have been supplied.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn all_snapshots_supplied(&mut self) -> Result<(), OwnerError> {
        Ok(())
    }
    /// A section of the previous snapshot.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn receive_snapshot_data(
        &mut self,
        _drive: DriveLetter,
        _data: &[u8],
        _last: bool,
    ) -> Result<(), OwnerError> {
        Err(OwnerError::not_supported("snapshots"))
    }
    /// The expected size of the backup data for `drive`.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn get_expected_data_size(&mut self, _drive: DriveLetter) -> Result<u64, OwnerError> {
        Ok(0)
    }
    /// Up to `max_len` bytes of the new snapshot.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn get_snapshot_data(
        &mut self,
        _drive: DriveLetter,
        _max_len: usize,
    ) -> Result<Section, OwnerError> {
        Err(OwnerError::not_supported("snapshots"))
    }
    /// A backup unit for `drive` begins.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn initialise_get_backup_data(&mut self, drive: DriveLetter) -> Result<(), OwnerError>;
    /// Up to `max_len` bytes of backup data.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn get_backup_data_section(&mut self, max_len: usize) -> Result<Section, OwnerError>;
    /// A base restore unit for `drive` begins.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn initialise_restore_base_data(&mut self, drive: DriveLetter) -> Result<(), OwnerError>;
    /// A section of base data.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn restore_base_data_section(&mut self, data: &[u8], last: bool) -> Result<(), OwnerError>;
    /// An increment for `drive` begins (once per increment, oldest first).
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn initialise_restore_increment_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        Err(OwnerError::not_supported("increments"))
    }
    /// A section of increment data.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn restore_increment_data_section(
        &mut self,
        _data: &[u8],
        _last: bool,
    ) -> Result<(), OwnerError> {
        Err(OwnerError::not_supported("increments"))
    }
    /// The restore of `drive` is over: reload state.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn restore_complete(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        Ok(())
    }
    /// A proxy backup unit for owner `sid` begins.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn initialise_get_proxy_backup_data(
        &mut self,
        _sid: u32,
        _drive: DriveLetter,
    ) -> Result<(), OwnerError> {
        Err(OwnerError::not_supported("proxy data"))
    }
    /// A proxy base restore unit for owner `sid` begins.
    ///
    /// # Errors
    /// Any [`OwnerError`] is reported to the engine.
    fn initialise_restore_proxy_base_data(
        &mut self,
        _sid: u32,
        _drive: DriveLetter,
    ) -> Result<(), OwnerError> {
        Err(OwnerError::not_supported("proxy data"))
    }
    /// The current multi-stage operation is abandoned.
    fn terminate_multi_stage_operation(&mut self) {}
    /// A checksum of the owner's data (a test hook; an invariant value is acceptable).
    fn get_data_checksum(&mut self, _drive: DriveLetter) -> u64 {
        0
    }
}

/// Runs one callback and turns its outcome into a [`Reply`].
pub fn dispatch<D: ActiveBackupDataClient + ?Sized>(owner: &mut D, call: Callback) -> Reply {
    let done = |r: Result<(), OwnerError>| r.map(|()| Reply::Done);
    let data = |r: Result<Section, OwnerError>| {
        r.map(|(data, finished)| Reply::Data {
            finished,
            data: Bytes::from(data),
        })
    };
    let result = match call {
        Callback::AllSnapshotsSupplied => done(owner.all_snapshots_supplied()),
        Callback::ReceiveSnapshotData { drive, last, data } => {
            done(owner.receive_snapshot_data(drive, &data, last))
        }
        Callback::GetExpectedDataSize { drive } => {
            owner.get_expected_data_size(drive).map(Reply::Value)
        }
        Callback::GetSnapshotData { drive, max_len } => {
            data(owner.get_snapshot_data(drive, max_len as usize))
        }
        Callback::InitialiseGetBackupData { drive } => {
            done(owner.initialise_get_backup_data(drive))
        }
        Callback::GetBackupDataSection { max_len } => {
            data(owner.get_backup_data_section(max_len as usize))
        }
        Callback::InitialiseRestoreBaseData { drive } => {
            done(owner.initialise_restore_base_data(drive))
        }
        Callback::RestoreBaseDataSection { last, data } => {
            done(owner.restore_base_data_section(&data, last))
        }
        Callback::InitialiseRestoreIncrementData { drive } => {
            done(owner.initialise_restore_increment_data(drive))
        }
        Callback::RestoreIncrementDataSection { last, data } => {
            done(owner.restore_increment_data_section(&data, last))
        }
        Callback::RestoreComplete { drive } => done(owner.restore_complete(drive)),
        Callback::InitialiseGetProxyBackupData { sid, drive } => {
            done(owner.initialise_get_proxy_backup_data(sid, drive))
        }
        Callback::InitialiseRestoreProxyBaseData { sid, drive } => {
            done(owner.initialise_restore_proxy_base_data(sid, drive))
        }
        Callback::TerminateMultiStageOperation => {
            owner.terminate_multi_stage_operation();
            Ok(Reply::Done)
        }
        Callback::GetDataChecksum { drive } => Ok(Reply::Value(owner.get_data_checksum(drive))),
    };
    result.unwrap_or_else(|e| Reply::Error {
        code: e.code,
        message: e.message,
    })
}

/// Why the client stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The connection failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The engine refused the hello.
    #[error("engine refused the connection: {0}")]
    Refused(String),
    /// The engine sent something out of order.
    #[error("protocol violation by the engine: {0}")]
    Protocol(&'static str),
}

/// An owner's connection to the engine (Symbian `CActiveBackupClient`).
#[derive(Debug)]
pub struct ActiveBackupClient {
    reader: FrameReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    mode: watch::Sender<ModeInfo>,
    ready_tx: tokio::sync::mpsc::UnboundedSender<i32>,
    ready_rx: tokio::sync::mpsc::UnboundedReceiver<i32>,
}

/// Confirms readiness from another task while [`ActiveBackupClient::run`] serves the
/// connection (for an owner that needs time to prepare: `bur_mode_changed` returns
/// `None`, a task prepares, then calls [`ReadyHandle::confirm`]).
#[derive(Debug, Clone)]
pub struct ReadyHandle(tokio::sync::mpsc::UnboundedSender<i32>);

impl ReadyHandle {
    /// Sends `ConfirmReady { error }` (0 = ready) through the running client. Returns
    /// false if the client is gone.
    pub fn confirm(&self, error: i32) -> bool {
        self.0.send(error).is_ok()
    }
}

/// What the engine gives an owner process it starts: `SBE_SOCKET`, `SBE_SID` (8 hex
/// digits) and `SBE_CAGE` (the owner's private directory on the first drive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerEnv {
    /// The engine's socket.
    pub socket: PathBuf,
    /// The owner's SID.
    pub sid: u32,
    /// The owner's cage.
    pub cage: PathBuf,
}

impl OwnerEnv {
    /// Reads the environment the engine sets.
    ///
    /// # Errors
    /// A message naming the missing or malformed variable.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|name| std::env::var_os(name))
    }

    /// Reads the variables through `get` (the environment, or a map in tests).
    ///
    /// # Errors
    /// A message naming the missing or malformed variable.
    pub fn from_vars(get: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<Self, String> {
        let var = |name: &str| get(name).ok_or_else(|| format!("{name} is not set"));
        let sid = var("SBE_SID")?;
        let sid = sid
            .to_str()
            .and_then(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok())
            .ok_or_else(|| format!("SBE_SID {sid:?} is not a hex SID"))?;
        Ok(Self {
            socket: var("SBE_SOCKET")?.into(),
            sid,
            cage: var("SBE_CAGE")?.into(),
        })
    }
}

impl ActiveBackupClient {
    /// Connects to the engine's socket and says hello as `sid`.
    ///
    /// # Errors
    /// [`ClientError::Refused`] if the engine does not accept the owner (for example its
    /// uid does not own the SID's cage), or a transport error.
    pub async fn connect(socket: &Path, sid: u32) -> Result<Self, ClientError> {
        let (read, mut writer) = UnixStream::connect(socket)
            .await
            .map_err(TransportError::from)?
            .into_split();
        send(
            &mut writer,
            &OwnerMsg::Hello {
                version: PROTOCOL_VERSION,
                sid,
            },
        )
        .await?;
        let mut reader = FrameReader::new(read);
        match reader.recv::<EngineMsg>().await? {
            Some(EngineMsg::Welcome(mode)) => {
                let (ready_tx, ready_rx) = tokio::sync::mpsc::unbounded_channel();
                Ok(Self {
                    reader,
                    writer,
                    mode: watch::Sender::new(mode),
                    ready_tx,
                    ready_rx,
                })
            }
            Some(EngineMsg::Refused { reason }) => Err(ClientError::Refused(reason)),
            Some(_) => Err(ClientError::Protocol("expected welcome")),
            None => Err(TransportError::UnexpectedEof.into()),
        }
    }

    /// Connects with the socket and SID the engine put in the environment.
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub async fn connect_env(env: &OwnerEnv) -> Result<Self, ClientError> {
        Self::connect(&env.socket, env.sid).await
    }

    /// Returns the last mode the engine reported (`BURModeInfoL`: drives, part type via
    /// [`ModeInfo::part_type`], increment type via [`ModeInfo::inc_type`]).
    pub fn mode_info(&self) -> ModeInfo {
        self.mode.borrow().clone()
    }

    /// Returns true if the current operation concerns this owner (`DoesPartialBURAffectMeL`).
    pub fn does_partial_bur_affect_me(&self) -> bool {
        self.mode.borrow().affects_me
    }

    /// A handle to confirm readiness later, from another task, while
    /// [`run`](Self::run) serves the connection.
    pub fn ready_handle(&self) -> ReadyHandle {
        ReadyHandle(self.ready_tx.clone())
    }

    /// A watcher that reports the current mode at once and every change the engine
    /// sends while [`run`](Self::run) serves the connection (for application tasks that
    /// must stop writing during a backup or restore).
    pub fn mode_watcher(&self) -> ModeWatcher {
        ModeWatcher::new(self.mode.subscribe())
    }

    /// Confirms readiness for the current operation (`error` 0) or reports a failure.
    ///
    /// # Errors
    /// A transport error.
    pub async fn confirm_ready_for_bur(&mut self, error: i32) -> Result<(), ClientError> {
        send(&mut self.writer, &OwnerMsg::ConfirmReady { error }).await?;
        Ok(())
    }

    /// Serves callbacks until the engine closes the connection.
    ///
    /// Calls [`ActiveBackupDataClient::bur_mode_changed`] with the mode at connect and on
    /// every change and confirms readiness as it answers.
    ///
    /// # Errors
    /// A transport error or an engine protocol violation.
    pub async fn run<D: ActiveBackupDataClient + ?Sized>(
        &mut self,
        owner: &mut D,
    ) -> Result<(), ClientError> {
        let mode = self.mode_info();
        self.mode_changed(owner, mode).await?;
        loop {
            // `recv` is cancel-safe (bytes read stay buffered), so a confirmation from a
            // `ReadyHandle` may interleave between frames.
            let msg = tokio::select! {
                msg = self.reader.recv::<EngineMsg>() => msg?,
                Some(error) = self.ready_rx.recv() => {
                    self.confirm_ready_for_bur(error).await?;
                    continue;
                }
            };
            match msg {
                None => return Ok(()),
                Some(EngineMsg::Call { id, call }) => {
                    let reply = dispatch(owner, call);
                    send(&mut self.writer, &OwnerMsg::Reply { id, reply }).await?;
                }
                Some(EngineMsg::ModeChanged(mode)) => self.mode_changed(owner, mode).await?,
                Some(_) => return Err(ClientError::Protocol("unexpected message after welcome")),
            }
        }
    }

    async fn mode_changed<D: ActiveBackupDataClient + ?Sized>(
        &mut self,
        owner: &mut D,
        mode: ModeInfo,
    ) -> Result<(), ClientError> {
        let confirm = owner.bur_mode_changed(&mode);
        self.mode.send_replace(mode);
        if let Some(error) = confirm {
            self.confirm_ready_for_bur(error).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
