//! The sans-IO responder: bytes and control events in, USB writes and events out.
//!
//! # Call protocol
//! A shell (see [`crate::driver`]) owns the endpoints and loops:
//! - every piece read from bulk OUT goes to [`Responder::handle_bulk_out`], with `end` set
//!   when the piece ended with a short packet (or is a zero-length packet);
//! - class requests go to [`Responder::handle_control`]; endpoint loss (FunctionFS
//!   Disable/Unbind) to [`Responder::handle_disconnect`];
//! - while [`Responder::has_bulk_in`] is true and the IN endpoint has room, the shell writes
//!   what [`Responder::poll_bulk_in`] returns (an empty `Bytes` is a zero-length packet);
//!   `None` with [`Responder::wants_retry`] means a source is not ready: ask again shortly;
//! - [`Responder::poll_event`] yields interrupt-endpoint containers; the shell sends them
//!   without waiting and may drop them when the endpoint is busy;
//! - when [`Responder::poll_abort`] returns true the shell throws away every queued bulk
//!   transfer, then calls [`Responder::handle_abort_done`];
//! - [`Responder::device_status`] answers Get Device Status at any time.
//!
//! The responder never blocks and never panics on host input: every malformed container
//! becomes a response code.

mod ops;
mod references;
mod router;
mod session;
mod transaction;

use std::collections::VecDeque;

use bytes::Bytes;
use tracing::{debug, warn};

use crate::codec::container::{
    Container, ContainerKind, HEADER_LEN, parse_container, parse_header,
};
use crate::codec::dataset::DeviceInfo;
use crate::codec::{OperationCode, ResponseCode};
use crate::provider::{DataProvider, ObjectHandle};
use crate::providers::DeviceProvider;
use references::ReferenceTable;
use router::Router;
use session::Session;
use transaction::{
    DataIn, DataOut, Feed, OutTarget, Produce, Source, Step, looks_like_command, push_transfer,
};

/// Tuning of the responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponderConfig {
    /// Size of each bulk IN write and of each read from a source (rounded down to a
    /// multiple of the max packet size).
    pub chunk_size: usize,
    /// Largest dataset accepted in a data phase (SendObjectInfo, SetObjectPropValue, ...).
    pub max_dataset: usize,
}

impl Default for ResponderConfig {
    fn default() -> Self {
        Self {
            chunk_size: 128 * 1024,
            max_dataset: 1024 * 1024,
        }
    }
}

/// A class request on the control endpoint, as far as the responder cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlRequest {
    /// Cancel Request (0x64) with the transaction id from its data stage.
    Cancel {
        /// The transaction to cancel.
        tx_id: u32,
    },
    /// Device Reset Request (0x66).
    DeviceReset,
}

/// The answer to Get Device Status (0x67).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceStatus(pub ResponseCode);

impl DeviceStatus {
    /// Encodes the status data stage: wLength (4) and the code.
    pub fn encode(self) -> [u8; 4] {
        let c = self.0.to_u16().to_le_bytes();
        [4, 0, c[0], c[1]]
    }
}

/// A pending SendObjectInfo waiting for its SendObject.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingUpload {
    pub(crate) handle: ObjectHandle,
    pub(crate) size: Option<u64>,
}

/// State shared by all operation handlers.
pub(crate) struct Context {
    pub(crate) device: DeviceProvider,
    pub(crate) router: Router,
    pub(crate) session: Session,
    pub(crate) upload: Option<PendingUpload>,
    pub(crate) references: ReferenceTable,
    pub(crate) max_dataset: usize,
}

impl Context {
    /// Ends the session (CloseSession, ResetDevice, Device Reset, unplug): forgets the
    /// pending upload and the reference table, then tells the providers.
    pub(crate) fn end_session(&mut self) {
        self.session.close();
        self.upload = None;
        self.references.clear();
        for p in self.router.all() {
            p.on_session_close();
        }
    }
}

/// What an operation handler decided.
pub(crate) enum Reply {
    /// A response with no data phase.
    Response(ResponseCode, Vec<u32>),
    /// An in-memory data phase, then OK.
    Data(Bytes),
    /// A streamed data phase, then OK with these parameters.
    Stream(Box<dyn crate::provider::ObjectSource>, Vec<u32>),
    /// A dataset produced from the providers while it is sent, then OK.
    Produced(Box<dyn Produce<Context>>),
    /// The host sends data first; `size_hint` overrides the container length (uploads).
    Receive(OutTarget, Option<Option<u64>>),
}

enum Phase {
    Idle,
    Receiving(DataOut),
    Sending(DataIn<Context>),
}

/// The MTP responder state machine.
pub struct Responder {
    ctx: Context,
    phase: Phase,
    out: VecDeque<Bytes>,
    mps: usize,
    chunk: usize,
    status: ResponseCode,
    abort_requested: bool,
    draining: bool,
    retry: bool,
    /// Highest transaction id seen in a command (0 after OpenSession).
    last_tx: u32,
    /// A cancel that arrived before its command (still queued on bulk OUT).
    early_cancel: Option<u32>,
}

impl Responder {
    /// Creates a responder for a device and its providers (ids are given in order).
    pub fn new(
        device: DeviceProvider,
        providers: Vec<Box<dyn DataProvider>>,
        config: ResponderConfig,
    ) -> Self {
        let mut r = Self {
            ctx: Context {
                device,
                router: Router::new(providers),
                session: Session::default(),
                upload: None,
                references: ReferenceTable::default(),
                max_dataset: config.max_dataset,
            },
            phase: Phase::Idle,
            out: VecDeque::new(),
            mps: 512,
            chunk: config.chunk_size,
            status: ResponseCode::Ok,
            abort_requested: false,
            draining: false,
            retry: false,
            last_tx: 0,
            early_cancel: None,
        };
        r.set_max_packet_size(512);
        r
    }

    /// Sets the negotiated max packet size of the bulk IN endpoint (decides ZLPs).
    pub fn set_max_packet_size(&mut self, mps: usize) {
        self.mps = mps.max(8);
        self.chunk = (self.chunk.max(1024) / self.mps).max(1) * self.mps;
    }

    /// Returns the DeviceInfo this responder advertises.
    pub fn device_info(&mut self) -> DeviceInfo {
        ops::device::device_info(&mut self.ctx)
    }

    /// Returns the answer to Get Device Status.
    pub fn device_status(&self) -> DeviceStatus {
        DeviceStatus(self.status)
    }

    /// Returns true while a session is open.
    pub fn in_session(&self) -> bool {
        self.ctx.session.is_open()
    }

    /// Feeds one piece read from the bulk OUT endpoint.
    pub fn handle_bulk_out(&mut self, data: Bytes, end: bool) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Receiving(mut d) => match d.feed(data, end) {
                Feed::More => self.phase = Phase::Receiving(d),
                Feed::Done => self.finish_receive(d, None),
                Feed::Failed(code) => self.finish_receive(d, Some(code)),
                Feed::NotData(cmd) => {
                    self.finish_receive(d, Some(ResponseCode::IncompleteTransfer));
                    self.handle_command_bytes(cmd);
                }
                Feed::Abandoned(cmd) => {
                    warn!(
                        tx_id = d.cmd.tx_id,
                        "host abandoned the data phase; starting over"
                    );
                    if let OutTarget::Sink { sink, .. } = d.target {
                        sink.abort();
                    }
                    self.handle_command_bytes(cmd);
                }
            },
            Phase::Sending(s) => {
                if looks_like_command(&data, end) {
                    warn!("host sent a command during a data-in phase; abandoning it");
                    drop(s);
                    self.out.clear();
                    // Writes already queued on the endpoint belong to the old host.
                    self.abort_requested = true;
                    self.handle_command_bytes(data);
                } else {
                    self.phase = Phase::Sending(s);
                }
            }
            Phase::Idle => self.handle_idle_bytes(data, end),
        }
    }

    fn handle_idle_bytes(&mut self, data: Bytes, end: bool) {
        if data.is_empty() {
            return;
        }
        if self.draining {
            if !looks_like_command(&data, end) {
                match transaction::command_at_tail(&data).filter(|_| end) {
                    Some(cmd) => {
                        self.draining = false;
                        self.handle_command_bytes(cmd);
                    }
                    None => debug!(len = data.len(), "discarding data of a cancelled transfer"),
                }
                return;
            }
            self.draining = false;
        }
        if let Ok((_, h)) = parse_header(&data) {
            if h.kind == ContainerKind::Data {
                warn!(
                    code = h.code,
                    tx = h.tx_id,
                    "unexpected data container ignored"
                );
                return;
            }
        }
        self.handle_command_bytes(data);
    }

    fn handle_command_bytes(&mut self, data: Bytes) {
        let cmd = match parse_container(&data) {
            Ok(c) if c.kind == ContainerKind::Command => c,
            Ok(c) => {
                warn!(kind = ?c.kind, "container of wrong type where a command was expected");
                return self.respond(c.tx_id, ResponseCode::InvalidParameter, &[]);
            }
            Err(e) => {
                warn!(error = %e, len = data.len(), "malformed command container");
                let tx = parse_header(&data).map_or(0, |(_, h)| h.tx_id);
                let rc = if data.len() < HEADER_LEN {
                    ResponseCode::GeneralError
                } else {
                    ResponseCode::InvalidParameter
                };
                return self.respond(tx, rc, &[]);
            }
        };
        if self.early_cancel == Some(cmd.tx_id) {
            warn!(
                tx_id = cmd.tx_id,
                "command cancelled before it arrived; dropped with its data"
            );
            self.early_cancel = None;
            self.draining = true;
            return;
        }
        self.last_tx = if cmd.code == OperationCode::OpenSession.to_u16() {
            0
        } else {
            cmd.tx_id.max(self.last_tx)
        };
        self.status = ResponseCode::Ok;
        let op = OperationCode::from_u16(cmd.code);
        let _span = tracing::debug_span!("tx", id = cmd.tx_id, op = %op).entered();
        debug!(params = ?cmd.params, "command");
        if !self.ctx.router.advertises(op) {
            debug!("operation not supported");
            return self.respond(cmd.tx_id, ResponseCode::OperationNotSupported, &[]);
        }
        if let Err(rc) = self.ctx.session.admit(op, cmd.tx_id) {
            return self.reply_rejected(&cmd, op, rc);
        }
        let reply = ops::dispatch(&mut self.ctx, &cmd, op);
        self.apply(cmd, reply);
    }

    /// A rejected data-out operation still has its data phase coming: drain it first.
    fn reply_rejected(&mut self, cmd: &Container, op: OperationCode, rc: ResponseCode) {
        if ops::has_data_out(op) {
            self.phase = Phase::Receiving(DataOut::new(
                cmd.clone(),
                OutTarget::Discard(rc),
                Some(None),
            ));
        } else {
            self.respond(cmd.tx_id, rc, &[]);
        }
    }

    fn apply(&mut self, cmd: Container, reply: Reply) {
        match reply {
            Reply::Response(rc, params) => self.respond(cmd.tx_id, rc, &params),
            Reply::Data(payload) => {
                let bytes = transaction::data_container(&cmd, &payload);
                push_transfer(&mut self.out, bytes, self.chunk, self.mps);
                self.respond(cmd.tx_id, ResponseCode::Ok, &[]);
            }
            Reply::Stream(source, params) => {
                self.phase = Phase::Sending(DataIn::new(&cmd, Source::Object(source), params))
            }
            Reply::Produced(source) => {
                self.phase = Phase::Sending(DataIn::new(&cmd, Source::Produced(source), vec![]))
            }
            Reply::Receive(target, hint) => {
                self.phase = Phase::Receiving(DataOut::new(cmd, target, hint))
            }
        }
    }

    fn finish_receive(&mut self, d: DataOut, failure: Option<ResponseCode>) {
        let cmd = d.cmd.clone();
        let received = d.received;
        let reply = match (d.target, failure) {
            (OutTarget::Sink { sink, .. }, Some(rc))
            | (
                OutTarget::Sink {
                    sink,
                    failed: Some(rc),
                },
                None,
            ) => {
                sink.abort();
                Reply::Response(rc, vec![])
            }
            (OutTarget::Sink { sink, failed: None }, None) => {
                ops::complete_sink(&mut self.ctx, &cmd, sink, received)
            }
            (OutTarget::Discard(rc), _) | (_, Some(rc)) => Reply::Response(rc, vec![]),
            (OutTarget::Buffer { buf, .. }, None) => {
                ops::complete_dataset(&mut self.ctx, &cmd, buf.freeze())
            }
        };
        self.apply(cmd, reply);
    }

    fn respond(&mut self, tx_id: u32, rc: ResponseCode, params: &[u32]) {
        if !rc.is_ok() {
            debug!(response = %rc, "transaction failed");
        }
        let c = Container::new(ContainerKind::Response, rc.to_u16(), tx_id, params);
        push_transfer(&mut self.out, c.encode(), self.chunk, self.mps);
    }

    /// Handles a class request.
    pub fn handle_control(&mut self, req: ControlRequest) {
        match req {
            ControlRequest::Cancel { tx_id } => {
                if matches!(self.phase, Phase::Idle) && self.out.is_empty() {
                    if tx_id > self.last_tx {
                        debug!(
                            tx_id,
                            "cancel ahead of its command; the command will be dropped"
                        );
                        self.early_cancel = Some(tx_id);
                    } else {
                        debug!(tx_id, "cancel with no transaction in progress");
                    }
                    return;
                }
                warn!(tx_id, "transaction cancelled by the host");
                self.abort_transaction();
                self.status = ResponseCode::DeviceBusy;
            }
            ControlRequest::DeviceReset => {
                warn!("device reset by the host");
                self.abort_transaction();
                self.close_session();
                self.status = ResponseCode::DeviceBusy;
            }
        }
    }

    /// Handles the loss of the endpoints (cable pulled, host reset, UDC unbound).
    pub fn handle_disconnect(&mut self) {
        self.early_cancel = None;
        self.abort_transaction();
        self.abort_requested = false;
        self.draining = false;
        self.close_session();
        self.status = ResponseCode::Ok;
    }

    fn abort_transaction(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Receiving(d) => {
                if let OutTarget::Sink { sink, .. } = d.target {
                    sink.abort();
                }
                self.draining = true;
            }
            Phase::Sending(_) | Phase::Idle => {}
        }
        self.out.clear();
        self.retry = false;
        self.abort_requested = true;
    }

    fn close_session(&mut self) {
        self.ctx.end_session();
    }

    /// Returns true once after a cancel or reset: the shell must drop queued transfers.
    pub fn poll_abort(&mut self) -> bool {
        std::mem::take(&mut self.abort_requested)
    }

    /// Tells the responder the shell has dropped queued transfers; status returns to OK.
    pub fn handle_abort_done(&mut self) {
        if self.status == ResponseCode::DeviceBusy {
            self.status = ResponseCode::Ok;
        }
    }

    /// Returns true when there is, or soon will be, something to write to bulk IN.
    pub fn has_bulk_in(&self) -> bool {
        !self.out.is_empty() || (matches!(self.phase, Phase::Sending(_)) && !self.retry)
    }

    /// Returns true if a source was not ready: call [`Responder::poll_bulk_in`] again after
    /// a short pause (which clears this flag).
    pub fn wants_retry(&self) -> bool {
        self.retry
    }

    /// Clears the not-ready flag so that [`Responder::has_bulk_in`] reports the stream again.
    pub fn handle_retry(&mut self) {
        self.retry = false;
    }

    /// Returns the next write for the bulk IN endpoint.
    pub fn poll_bulk_in(&mut self) -> Option<Bytes> {
        if let Some(b) = self.out.pop_front() {
            return Some(b);
        }
        let Phase::Sending(s) = &mut self.phase else {
            return None;
        };
        match s.next(self.chunk, &mut self.ctx) {
            Step::Write { bytes, last } => {
                if last {
                    self.finish_send();
                }
                Some(bytes)
            }
            Step::NotReady => {
                self.retry = true;
                None
            }
            Step::Failed(rc) => {
                warn!(response = %rc, "object source failed mid-transfer");
                // End the USB transfer short so the host sees an incomplete data phase.
                self.out.push_back(Bytes::new());
                self.finish_send_with(rc);
                self.out.pop_front()
            }
        }
    }

    /// Tells the responder that a write it produced never reached the host (the kernel
    /// could not read its data, [`crate::transport::TransportError::Unreadable`]). A data
    /// phase still being sent ends short with IncompleteTransfer. One already complete
    /// has its response queued: the host then counts fewer bytes than the container
    /// announced and sees an incomplete transfer itself.
    pub fn handle_send_fault(&mut self) {
        if matches!(self.phase, Phase::Sending(_)) {
            self.out.push_back(Bytes::new());
            self.finish_send_with(ResponseCode::IncompleteTransfer);
        }
    }

    fn finish_send(&mut self) {
        let total = match &self.phase {
            Phase::Sending(s) => s.total,
            _ => return,
        };
        if total % self.mps as u64 == 0 {
            self.out.push_back(Bytes::new());
        }
        self.finish_send_with(ResponseCode::Ok);
    }

    fn finish_send_with(&mut self, rc: ResponseCode) {
        if let Phase::Sending(s) = std::mem::replace(&mut self.phase, Phase::Idle) {
            let params = if rc.is_ok() { s.params.clone() } else { vec![] };
            let tx = s.tx_id();
            self.respond(tx, rc, &params);
        }
    }

    /// Returns the next event container for the interrupt endpoint (only in a session).
    pub fn poll_event(&mut self) -> Option<Bytes> {
        let open = self.ctx.session.is_open();
        for p in self.ctx.router.all() {
            while let Some(ev) = p.poll_event() {
                if !open {
                    continue;
                }
                let params: Vec<u32> = ev.params.iter().flatten().copied().collect();
                let c = Container::new(
                    ContainerKind::Event,
                    ev.code.to_u16(),
                    0,
                    &params[..params.len().min(3)],
                );
                return Some(c.encode());
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
