//! I/O shell: one task per connected owner, and the handle the engine calls it through.

use std::sync::Arc;
use std::time::Duration;

use data_owners::transport::{FrameReader, TransportError, send};
use data_owners::wire::{Callback, DriveLetter, EngineMsg, ModeInfo, OwnerMsg, Reply};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::mode::BurState;
use crate::registration::Sid;

/// Where an owner connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OwnerStatus {
    /// Connected, not (yet) confirmed ready for the current mode.
    NotReady,
    /// Confirmed ready.
    Ready,
    /// Confirmed with an error code (the owner could not prepare).
    ReadyFailed(i32),
    /// The connection closed (the owner exited or crashed).
    Gone,
    /// The owner broke the protocol or a watchdog expired; it was disconnected.
    Misbehaved(String),
}

/// An owner-side failure as the engine reports it, by owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OwnerError {
    /// The owner is not connected.
    #[error("owner is not connected")]
    NotConnected,
    /// The owner did not confirm readiness in time.
    #[error("owner did not confirm ready in time")]
    NeverReady,
    /// The owner confirmed readiness with an error.
    #[error("owner reported error {0} when getting ready")]
    ReadyFailed(i32),
    /// The owner process exited before or during the operation.
    #[error("owner exited: {0}")]
    Exited(String),
    /// A callback did not answer within the watchdog time.
    #[error("callback timed out")]
    Timeout,
    /// The owner's callback failed.
    #[error("owner error {code}: {message}")]
    Callback {
        /// The owner's code.
        code: i32,
        /// The owner's message.
        message: String,
    },
    /// The owner sent something malformed or out of order.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// The owner process could not be started.
    #[error("cannot start owner: {0}")]
    Launch(String),
}

impl OwnerError {
    /// Returns a Symbian-style code for the manifest and the server.
    pub fn code(&self) -> i32 {
        match self {
            Self::NotConnected => -1,
            Self::NeverReady => -18,
            Self::ReadyFailed(c) | Self::Callback { code: c, .. } => *c,
            Self::Exited(_) => -3,
            Self::Timeout => -33,
            Self::Protocol(_) => -20,
            Self::Launch(_) => -1,
        }
    }
}

pub(crate) struct CallRequest {
    call: Callback,
    reply: oneshot::Sender<Result<Reply, OwnerError>>,
}

/// The engine's handle on a connected owner.
#[derive(Debug, Clone)]
pub struct OwnerHandle {
    sid: Sid,
    requests: mpsc::Sender<CallRequest>,
    status: watch::Receiver<OwnerStatus>,
    abort: Arc<Notify>,
}

impl std::fmt::Debug for CallRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRequest")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl OwnerHandle {
    /// Returns the owner's SID.
    pub fn sid(&self) -> Sid {
        self.sid
    }

    /// Returns the current status.
    pub fn status(&self) -> OwnerStatus {
        self.status.borrow().clone()
    }

    /// Returns true while the connection is up.
    pub fn is_connected(&self) -> bool {
        !matches!(
            self.status(),
            OwnerStatus::Gone | OwnerStatus::Misbehaved(_)
        )
    }

    /// Waits until the owner confirmed readiness for the current mode.
    ///
    /// # Errors
    /// [`OwnerError::NeverReady`] on timeout, [`OwnerError::ReadyFailed`] if the owner
    /// confirmed with an error, [`OwnerError::Exited`]/[`OwnerError::Protocol`] if the
    /// connection ended.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), OwnerError> {
        let mut rx = self.status.clone();
        let wait = rx.wait_for(|s| !matches!(s, OwnerStatus::NotReady));
        let status = match tokio::time::timeout(timeout, wait).await {
            Err(_) => return Err(OwnerError::NeverReady),
            Ok(Err(_)) => OwnerStatus::Gone,
            Ok(Ok(s)) => s.clone(),
        };
        match status {
            OwnerStatus::Ready => Ok(()),
            OwnerStatus::ReadyFailed(code) => Err(OwnerError::ReadyFailed(code)),
            OwnerStatus::Misbehaved(why) => Err(OwnerError::Protocol(why)),
            _ => Err(OwnerError::Exited("connection closed".into())),
        }
    }

    /// Runs one callback with a watchdog. On expiry the owner is disconnected and marked
    /// misbehaving (Symbian's `callback_delay_time` lock-out).
    ///
    /// # Errors
    /// An [`OwnerError`]; [`OwnerError::Callback`] carries the owner's own error.
    pub async fn call(&self, call: Callback, watchdog: Duration) -> Result<Reply, OwnerError> {
        let (tx, rx) = oneshot::channel();
        // The watchdog covers the whole exchange: queueing the call, sending it and the reply.
        let exchange = async {
            self.requests
                .send(CallRequest { call, reply: tx })
                .await
                .map_err(|_| OwnerError::NotConnected)?;
            rx.await
                .map_err(|_| OwnerError::Exited("connection closed during a callback".into()))?
        };
        match tokio::time::timeout(watchdog, exchange).await {
            Err(_) => {
                tracing::warn!(sid = %self.sid, "callback watchdog expired; disconnecting owner");
                self.abort.notify_one();
                Err(OwnerError::Timeout)
            }
            Ok(Ok(Reply::Error { code, message })) => Err(OwnerError::Callback { code, message }),
            Ok(result) => result,
        }
    }

    /// Runs a callback that must answer `Done`.
    ///
    /// # Errors
    /// As [`OwnerHandle::call`], plus [`OwnerError::Protocol`] for another answer.
    pub async fn call_done(&self, call: Callback, watchdog: Duration) -> Result<(), OwnerError> {
        match self.call(call, watchdog).await? {
            Reply::Done => Ok(()),
            other => Err(OwnerError::Protocol(format!(
                "expected done, got {other:?}"
            ))),
        }
    }

    /// Runs a callback that must answer with data.
    ///
    /// # Errors
    /// As [`OwnerHandle::call`], plus [`OwnerError::Protocol`] for another answer.
    pub async fn call_data(
        &self,
        call: Callback,
        watchdog: Duration,
    ) -> Result<(bytes::Bytes, bool), OwnerError> {
        match self.call(call, watchdog).await? {
            Reply::Data { finished, data } => Ok((data, finished)),
            other => Err(OwnerError::Protocol(format!(
                "expected data, got {other:?}"
            ))),
        }
    }
}

/// Returns the mode as an owner sees it.
pub(crate) fn mode_info(state: &BurState, sid: Sid) -> ModeInfo {
    ModeInfo {
        mode: state.mode,
        drives: state
            .drives
            .iter()
            .filter_map(|d| DriveLetter::new(*d))
            .collect(),
        affects_me: state.affects(sid),
    }
}

/// Starts the task serving an accepted owner connection; returns its handle.
pub(crate) fn spawn_connection(
    sid: Sid,
    reader: FrameReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    state: watch::Receiver<BurState>,
) -> OwnerHandle {
    let (req_tx, req_rx) = mpsc::channel(1);
    let (status_tx, status_rx) = watch::channel(OwnerStatus::NotReady);
    let abort = Arc::new(Notify::new());
    let conn = Connection {
        sid,
        reader,
        writer,
        state,
        requests: req_rx,
        status: status_tx,
        abort: abort.clone(),
    };
    tokio::spawn(conn.run());
    OwnerHandle {
        sid,
        requests: req_tx,
        status: status_rx,
        abort,
    }
}

struct Connection {
    sid: Sid,
    reader: FrameReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    state: watch::Receiver<BurState>,
    requests: mpsc::Receiver<CallRequest>,
    status: watch::Sender<OwnerStatus>,
    abort: Arc<Notify>,
}

struct Pending {
    id: u32,
    reply: oneshot::Sender<Result<Reply, OwnerError>>,
}

impl Connection {
    async fn run(mut self) {
        let end = self.serve().await;
        tracing::info!(sid = %self.sid, ?end, "owner connection ended");
        self.status.send_replace(end);
    }

    /// Serves the connection until it ends; returns the final status.
    async fn serve(&mut self) -> OwnerStatus {
        let mut pending: Option<Pending> = None;
        let mut next_id: u32 = 1;
        let welcome = mode_info(&self.state.borrow_and_update(), self.sid);
        if send(&mut self.writer, &EngineMsg::Welcome(welcome))
            .await
            .is_err()
        {
            return OwnerStatus::Gone;
        }
        loop {
            tokio::select! {
                msg = self.reader.recv::<OwnerMsg>() => {
                    match self.on_message(msg, &mut pending) {
                        Ok(()) => {}
                        Err(end) => return fail_pending(pending, end),
                    }
                }
                changed = self.state.changed() => {
                    if changed.is_err() {
                        return fail_pending(pending, OwnerStatus::Gone);
                    }
                    let info = mode_info(&self.state.borrow_and_update(), self.sid);
                    self.status.send_replace(OwnerStatus::NotReady);
                    if let Err(end) = self.send_or_abort(&EngineMsg::ModeChanged(info)).await {
                        return fail_pending(pending, end);
                    }
                }
                req = self.requests.recv(), if pending.is_none() => {
                    let Some(req) = req else { return OwnerStatus::Gone };
                    let id = next_id;
                    next_id = next_id.wrapping_add(1);
                    if let Err(end) = self.send_or_abort(&EngineMsg::Call { id, call: req.call }).await {
                        let _ = req.reply.send(Err(OwnerError::Exited("cannot send the call".into())));
                        return end;
                    }
                    pending = Some(Pending { id, reply: req.reply });
                }
                () = self.abort.notified() => {
                    return fail_pending(pending, OwnerStatus::Misbehaved("callback watchdog expired".into()));
                }
            }
        }
    }

    /// Sends a message unless the owner is aborted meanwhile (an owner that stops reading
    /// must not block its connection task forever).
    async fn send_or_abort(&mut self, msg: &EngineMsg) -> Result<(), OwnerStatus> {
        let abort = self.abort.clone();
        tokio::select! {
            sent = send(&mut self.writer, msg) => sent.map_err(|e| OwnerStatus::Misbehaved(e.to_string())),
            () = abort.notified() => Err(OwnerStatus::Misbehaved("callback watchdog expired".into())),
        }
    }

    fn on_message(
        &mut self,
        msg: Result<Option<OwnerMsg>, TransportError>,
        pending: &mut Option<Pending>,
    ) -> Result<(), OwnerStatus> {
        match msg {
            Ok(Some(OwnerMsg::ConfirmReady { error })) => {
                let s = if error == 0 {
                    OwnerStatus::Ready
                } else {
                    OwnerStatus::ReadyFailed(error)
                };
                self.status.send_replace(s);
                Ok(())
            }
            Ok(Some(OwnerMsg::Reply { id, reply })) => match pending.take() {
                Some(p) if p.id == id => {
                    let _ = p.reply.send(Ok(reply));
                    Ok(())
                }
                other => {
                    *pending = other;
                    Err(OwnerStatus::Misbehaved(format!("unexpected reply id {id}")))
                }
            },
            Ok(Some(OwnerMsg::Hello { .. })) => Err(OwnerStatus::Misbehaved("second hello".into())),
            Ok(Some(_)) => Err(OwnerStatus::Misbehaved("unknown message".into())),
            Ok(None) => Err(OwnerStatus::Gone),
            Err(TransportError::Wire(e)) => Err(OwnerStatus::Misbehaved(e.to_string())),
            Err(e) => Err(OwnerStatus::Misbehaved(e.to_string())),
        }
    }
}

fn fail_pending(pending: Option<Pending>, end: OwnerStatus) -> OwnerStatus {
    if let Some(p) = pending {
        let err = match &end {
            OwnerStatus::Misbehaved(why) => OwnerError::Protocol(why.clone()),
            _ => OwnerError::Exited("connection closed during a callback".into()),
        };
        let _ = p.reply.send(Err(err));
    }
    end
}
