//! The endpoints the async driver needs, as traits, and an in-memory loopback that
//! behaves like USB (short packets end transfers, zero-length packets exist, queues are
//! bounded) for tests and the initiator.
//!
//! A real transport (FunctionFS, in the `board` crate) implements the same four traits.
//! Every async method must be cancel-safe: the driver selects over all of them at once.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::ResponseCode;
use crate::responder::{ControlRequest, DeviceStatus};

/// A transport failure; the driver treats every one as "endpoints gone".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The endpoint was shut down (host reset, cable pulled, UDC unbound).
    #[error("endpoint shut down")]
    Disconnected,
    /// The kernel could not read the data of a request (EFAULT): a mapped file was cut
    /// under it ([`crate::mapped`]). Only that request failed; the endpoint works.
    #[error("the data of a request could not be read (file cut while sent)")]
    Unreadable,
    /// Another I/O error.
    #[error("endpoint i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Something that happened on the control endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlEvent {
    /// The host configured the device; bulk endpoints may be used now.
    Enabled,
    /// The endpoints are gone until the next `Enabled` (Disable, Unbind, Bind, reset).
    Disabled,
    /// A class request for the responder.
    Request(ControlRequest),
}

/// The bulk IN endpoint (device to host).
pub trait BulkIn: Send {
    /// Returns the negotiated max packet size; called after `Enabled`.
    ///
    /// # Errors
    /// The endpoint is gone.
    fn max_packet_size(&mut self) -> Result<usize, TransportError>;
    /// Waits until one more write can be queued.
    fn ready(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send;
    /// Queues one write; an empty buffer is a zero-length packet. Call after `ready`.
    ///
    /// # Errors
    /// The endpoint is gone.
    fn submit(&mut self, data: Bytes) -> Result<(), TransportError>;
    /// Throws away every queued write (after a cancel).
    fn abort(&mut self) -> impl Future<Output = ()> + Send;
}

/// The bulk OUT endpoint (host to device).
pub trait BulkOut: Send {
    /// Returns the next piece read and whether it ended the USB transfer (short packet).
    fn recv(&mut self) -> impl Future<Output = Result<(Bytes, bool), TransportError>> + Send;
}

/// The interrupt IN endpoint, for events.
pub trait InterruptIn: Send {
    /// Sends an event without waiting; returns false if it was dropped (endpoint busy).
    fn try_send(&mut self, event: Bytes) -> bool;
}

/// The control endpoint's events.
pub trait ControlIn: Send {
    /// Returns the next control event, or `None` when the transport is gone for good.
    fn recv(&mut self) -> impl Future<Output = Option<ControlEvent>> + Send;
}

/// The device status the control side answers Get Device Status with; the driver keeps it
/// current, so the control side answers at once even during a long transfer.
#[derive(Debug, Clone)]
pub struct StatusCell(Arc<Mutex<DeviceStatus>>);

impl Default for StatusCell {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(DeviceStatus(ResponseCode::Ok))))
    }
}

impl StatusCell {
    /// Returns the current status.
    pub fn get(&self) -> DeviceStatus {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the status.
    pub fn set(&self, s: DeviceStatus) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = s;
    }
}

/// The four endpoints plus the shared status.
#[derive(Debug)]
pub struct Endpoints<I, O, E, C> {
    /// Bulk IN.
    pub bulk_in: I,
    /// Bulk OUT.
    pub bulk_out: O,
    /// Interrupt IN.
    pub interrupt: E,
    /// Control events.
    pub control: C,
    /// Device status for Get Device Status.
    pub status: StatusCell,
}

// ---------------------------------------------------------------------------------------
// Loopback

#[derive(Debug)]
struct PipeState<T> {
    queue: VecDeque<T>,
    capacity: usize,
    closed: bool,
}

/// A bounded queue with async push-readiness and pop, which either side can clear.
#[derive(Debug)]
pub struct Pipe<T> {
    state: Arc<Mutex<PipeState<T>>>,
    notify: Arc<Notify>,
}

impl<T> Clone for Pipe<T> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            notify: self.notify.clone(),
        }
    }
}

impl<T: Send> Pipe<T> {
    /// Creates a pipe holding at most `capacity` items.
    pub fn new(capacity: usize) -> Self {
        let state = PipeState {
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            closed: false,
        };
        Self {
            state: Arc::new(Mutex::new(state)),
            notify: Arc::new(Notify::new()),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut PipeState<T>) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Waits until there is room; returns false if the pipe is closed.
    pub async fn ready(&self) -> bool {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.with(|s| (s.closed, s.queue.len() < s.capacity)) {
                (true, _) => return false,
                (false, true) => return true,
                _ => notified.await,
            }
        }
    }

    /// Adds an item (past the capacity if the caller did not wait for `ready`).
    pub fn push(&self, item: T) -> bool {
        let ok = self.with(|s| {
            if !s.closed {
                s.queue.push_back(item);
            }
            !s.closed
        });
        self.notify.notify_waiters();
        ok
    }

    /// Waits for room, then adds an item; returns false if the pipe is closed.
    pub async fn send(&self, item: T) -> bool {
        self.ready().await && self.push(item)
    }

    /// Waits for the next item; `None` once closed and empty.
    pub async fn pop(&self) -> Option<T> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (item, closed) = self.with(|s| (s.queue.pop_front(), s.closed));
            if let Some(item) = item {
                self.notify.notify_waiters();
                return Some(item);
            }
            if closed {
                return None;
            }
            notified.await;
        }
    }

    /// Takes the next item without waiting.
    pub fn try_pop(&self) -> Option<T> {
        let item = self.with(|s| s.queue.pop_front());
        if item.is_some() {
            self.notify.notify_waiters();
        }
        item
    }

    /// Drops every queued item.
    pub fn clear(&self) {
        self.with(|s| s.queue.clear());
        self.notify.notify_waiters();
    }

    /// Closes the pipe: pushes fail, pops drain then end.
    pub fn close(&self) {
        self.with(|s| s.closed = true);
        self.notify.notify_waiters();
    }

    /// Returns the number of queued items.
    pub fn len(&self) -> usize {
        self.with(|s| s.queue.len())
    }

    /// Returns true if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The loopback's cable: unplugging bumps the generation, so writes the device queued for
/// the old connection are refused (as FunctionFS refuses I/O on a disabled endpoint).
#[derive(Debug, Default)]
struct Cable {
    plugged: AtomicBool,
    generation: AtomicU64,
}

/// Loopback bulk IN: device writes, queued for the host.
#[derive(Debug)]
pub struct LoopbackIn {
    pipe: Pipe<Bytes>,
    max_packet_size: usize,
    cable: Arc<Cable>,
    generation: u64,
}
/// Loopback bulk OUT: host pieces (with their end-of-transfer flag) for the device.
#[derive(Debug)]
pub struct LoopbackOut(Pipe<(Bytes, bool)>);
/// Loopback interrupt IN.
#[derive(Debug)]
pub struct LoopbackInterrupt(Pipe<Bytes>);
/// Loopback control events.
#[derive(Debug)]
pub struct LoopbackControl(Pipe<ControlEvent>);

impl BulkIn for LoopbackIn {
    fn max_packet_size(&mut self) -> Result<usize, TransportError> {
        self.generation = self.cable.generation.load(Ordering::SeqCst);
        Ok(self.max_packet_size)
    }

    async fn ready(&mut self) -> Result<(), TransportError> {
        if self.pipe.ready().await {
            Ok(())
        } else {
            Err(TransportError::Disconnected)
        }
    }

    fn submit(&mut self, data: Bytes) -> Result<(), TransportError> {
        let live = self.cable.plugged.load(Ordering::SeqCst)
            && self.cable.generation.load(Ordering::SeqCst) == self.generation;
        if live && self.pipe.push(data) {
            Ok(())
        } else {
            Err(TransportError::Disconnected)
        }
    }

    async fn abort(&mut self) {
        self.pipe.clear();
    }
}

impl BulkOut for LoopbackOut {
    async fn recv(&mut self) -> Result<(Bytes, bool), TransportError> {
        self.0.pop().await.ok_or(TransportError::Disconnected)
    }
}

impl InterruptIn for LoopbackInterrupt {
    fn try_send(&mut self, event: Bytes) -> bool {
        self.0.len() < 16 && self.0.push(event)
    }
}

impl ControlIn for LoopbackControl {
    async fn recv(&mut self) -> Option<ControlEvent> {
        self.0.pop().await
    }
}

/// The host's end of a loopback: what a USB host controller would give an initiator.
#[derive(Debug, Clone)]
pub struct HostPort {
    /// Device-to-host writes.
    pub bulk_in: Pipe<Bytes>,
    /// Host-to-device pieces and their end-of-transfer flag.
    pub bulk_out: Pipe<(Bytes, bool)>,
    /// Events.
    pub interrupt: Pipe<Bytes>,
    /// Control events to the device.
    pub control: Pipe<ControlEvent>,
    /// The device status (what Get Device Status returns).
    pub status: StatusCell,
    /// The bulk max packet size.
    pub max_packet_size: usize,
    cable: Arc<Cable>,
}

impl HostPort {
    /// Pulls the cable: whatever was in flight is lost and the device sees Disabled.
    pub fn unplug(&self) {
        self.cable.plugged.store(false, Ordering::SeqCst);
        self.cable.generation.fetch_add(1, Ordering::SeqCst);
        self.bulk_in.clear();
        self.bulk_out.clear();
        self.control.push(ControlEvent::Disabled);
    }

    /// Plugs the cable back in: the device sees Enabled.
    pub fn replug(&self) {
        self.cable.plugged.store(true, Ordering::SeqCst);
        self.control.push(ControlEvent::Enabled);
    }
}

/// The loopback's device-side endpoints.
pub type LoopbackEndpoints = Endpoints<LoopbackIn, LoopbackOut, LoopbackInterrupt, LoopbackControl>;

/// Creates a connected loopback with `depth` queued transfers per direction; the device
/// side starts enabled with `max_packet_size`.
pub fn loopback(max_packet_size: usize, depth: usize) -> (LoopbackEndpoints, HostPort) {
    let host = HostPort {
        bulk_in: Pipe::new(depth),
        bulk_out: Pipe::new(depth),
        interrupt: Pipe::new(64),
        control: Pipe::new(64),
        status: StatusCell::default(),
        max_packet_size,
        cable: Arc::new(Cable::default()),
    };
    host.replug();
    let device = Endpoints {
        bulk_in: LoopbackIn {
            pipe: host.bulk_in.clone(),
            max_packet_size,
            cable: host.cable.clone(),
            generation: 0,
        },
        bulk_out: LoopbackOut(host.bulk_out.clone()),
        interrupt: LoopbackInterrupt(host.interrupt.clone()),
        control: LoopbackControl(host.control.clone()),
        status: host.status.clone(),
    };
    (device, host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pipe_is_bounded_and_clearable() {
        let p = Pipe::new(2);
        assert!(p.send(1).await);
        assert!(p.send(2).await);
        let ready = tokio::time::timeout(std::time::Duration::from_millis(20), p.ready()).await;
        assert!(ready.is_err(), "a full pipe is not ready");
        p.clear();
        assert!(p.ready().await);
        p.push(3);
        p.close();
        assert_eq!(p.pop().await, Some(3));
        assert_eq!(p.pop().await, None);
    }
}
