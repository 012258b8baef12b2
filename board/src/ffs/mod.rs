//! The FunctionFS transport: the `mtp` transport traits over usb-gadget's endpoint files,
//! and the ep0 task that turns FunctionFS events and class requests into
//! [`ControlEvent`]s.
//!
//! Facts this relies on (see `shared/docs/USB-GADGET.md`): endpoint I/O before `Enable`
//! blocks in the kernel, so nothing touches an endpoint until the driver saw `Enabled`;
//! Bind, Unbind and Disable all mean "endpoints gone"; a read buffer shorter than its
//! capacity ended with a short packet; the FunctionFS never adds zero-length packets (the
//! responder decides them); `cancel()` on an endpoint blocks until every request is back.

mod aio;
mod ep0;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use mtp::transport::{
    BulkIn, BulkOut, ControlEvent, ControlIn, Endpoints, InterruptIn, StatusCell, TransportError,
};
use tokio::sync::mpsc;
use usb_gadget::function::custom::{EndpointControl, EndpointReceiver, EndpointSender};

use aio::{Buf, Queue};

pub use ep0::{Ep0, run_ep0};

use crate::gadget::Function;

/// Link state shared by the ep0 task and the endpoints.
#[derive(Debug, Default)]
pub struct Link {
    /// Incremented at every Enable: endpoint queues from an older generation are stale.
    generation: AtomicU64,
    /// False between Disable/Unbind and the next Enable.
    enabled: AtomicBool,
}

impl Link {
    fn enable(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.enabled.store(true, Ordering::SeqCst);
    }

    fn disable(&self) {
        self.enabled.store(false, Ordering::SeqCst);
    }

    fn check(&self) -> Result<u64, TransportError> {
        if self.enabled.load(Ordering::SeqCst) {
            Ok(self.generation.load(Ordering::SeqCst))
        } else {
            Err(TransportError::Disconnected)
        }
    }
}

fn io_err(e: std::io::Error) -> TransportError {
    // ESHUTDOWN: the endpoint was disabled under the request.
    if e.raw_os_error() == Some(108) || e.kind() == std::io::ErrorKind::BrokenPipe {
        TransportError::Disconnected
    } else if e.raw_os_error() == Some(14) {
        // EFAULT: the request's data was a mapped file cut under it (`mtp::mapped`).
        TransportError::Unreadable
    } else {
        TransportError::Io(e)
    }
}

/// Runs a blocking endpoint call without stalling the runtime's other tasks.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// `slot`'s request queue on the endpoint file usb-gadget opened (`control`'s): made at
/// first use, and made anew if the file is another one.
fn queue_on<'a>(
    slot: &'a mut Option<Queue>,
    control: std::io::Result<EndpointControl<'_>>,
    depth: usize,
) -> Result<&'a mut Queue, TransportError> {
    let fd = control.and_then(|mut c| c.fd()).map_err(io_err)?;
    if slot.as_ref().is_some_and(|q| q.fd() != fd) {
        *slot = None;
    }
    match slot {
        Some(q) => Ok(q),
        None => Ok(slot.insert(Queue::new(fd, depth).map_err(io_err)?)),
    }
}

/// Bulk IN over FunctionFS. Requests go through [`aio::Queue`]; usb-gadget's endpoint
/// is used for its descriptor and file only.
#[derive(Debug)]
pub struct FfsBulkIn {
    ep: EndpointSender,
    link: Arc<Link>,
    generation: u64,
    depth: usize,
    queue: Option<Queue>,
}

impl FfsBulkIn {
    fn queue(&mut self) -> Result<&mut Queue, TransportError> {
        match self.queue {
            Some(ref mut q) => Ok(q),
            None => queue_on(&mut self.queue, self.ep.control(), self.depth),
        }
    }
}

impl BulkIn for FfsBulkIn {
    fn max_packet_size(&mut self) -> Result<usize, TransportError> {
        let g = self.link.check()?;
        if g != self.generation {
            // Requests of an earlier connection: throw them away.
            let q = queue_on(&mut self.queue, self.ep.control(), self.depth)?;
            blocking(|| q.cancel());
            self.generation = g;
        }
        self.ep.max_packet_size().map_err(io_err)
    }

    async fn ready(&mut self) -> Result<(), TransportError> {
        let q = self.queue()?;
        while q.is_full() {
            if let Some(Err(e)) = q.next().await {
                return Err(io_err(e));
            }
        }
        Ok(())
    }

    fn submit(&mut self, data: Bytes) -> Result<(), TransportError> {
        self.link.check()?;
        let q = self.queue()?;
        // Errors of requests sent earlier first (a cut mapped file: EFAULT).
        while let Some(done) = q.try_next() {
            done.map_err(io_err)?;
        }
        q.submit(Buf::In(data)).map_err(io_err)
    }

    async fn abort(&mut self) {
        if let Some(q) = &mut self.queue {
            blocking(|| q.cancel());
        }
    }
}

/// The size of a read request queued while the host is between transfers: one page
/// holds any command container and the small datasets that follow some.
const BETWEEN_TRANSFERS: usize = 4096;

/// Bulk OUT over FunctionFS: keeps a queue of read requests, refilled before each wait.
#[derive(Debug)]
pub struct FfsBulkOut {
    ep: EndpointReceiver,
    link: Arc<Link>,
    buffer: usize,
    depth: usize,
    queue: Option<Queue>,
    primed: Option<u64>,
    /// The last piece ended a transfer: the host's next bytes are most likely a command.
    between: bool,
}

impl FfsBulkOut {
    /// Fills the queue of read requests: after a new link (the old queue cancelled
    /// first) and, before each wait, for the request the last wait took. Refilling here,
    /// not when a request completes, keeps a new request's kernel work off the path
    /// between a command and its answer: FunctionFS allocates a buffer of the request's
    /// size, which a kernel with `init_on_alloc` (Debian's default) zeroes
    /// (docs/BENCHMARKS.md, "Where the time goes").
    ///
    /// The size: after a piece that ended a transfer, one page (a command comes next in
    /// most cases: a listing's 2000 commands would otherwise cost 2000 buffers of 128
    /// KiB allocated and zeroed); after a full piece, the profile's buffer size (the
    /// transfer goes on). A large transfer that starts while page-sized requests are
    /// queued fills those first, and every refill from then on is full-sized.
    fn fill(&mut self) -> Result<(), TransportError> {
        let g = self.link.check()?;
        if self.primed != Some(g) || self.queue.is_none() {
            let q = queue_on(&mut self.queue, self.ep.control(), self.depth)?;
            blocking(|| q.cancel());
            self.primed = Some(g);
            self.between = true;
        }
        let Some(q) = self.queue.as_mut() else {
            return Err(TransportError::Disconnected);
        };
        let size = if self.between {
            BETWEEN_TRANSFERS.min(self.buffer)
        } else {
            self.buffer
        };
        while !q.is_full() {
            q.submit(Buf::Out(BytesMut::with_capacity(size)))
                .map_err(io_err)?;
        }
        Ok(())
    }
}

impl BulkOut for FfsBulkOut {
    async fn recv(&mut self) -> Result<(Bytes, bool), TransportError> {
        if let Err(e) = self.fill() {
            self.primed = None;
            return Err(e);
        }
        let Some(q) = self.queue.as_mut() else {
            self.primed = None;
            return Err(TransportError::Disconnected);
        };
        let got = match q.next().await {
            Some(Ok(Buf::Out(b))) => b,
            Some(Ok(Buf::In(_))) | None => {
                self.primed = None;
                return Err(TransportError::Disconnected);
            }
            Some(Err(e)) => {
                self.primed = None;
                return Err(io_err(e));
            }
        };
        // The request asked for its whole capacity (`aio::Queue::submit`): fewer bytes
        // mean a short packet ended the transfer.
        let end = got.len() < got.capacity();
        self.between = end;
        // A queue of one would leave nothing to take the host's next packet while this
        // piece is handled: refill it now. An error here is reported by the next wait.
        if q.is_empty() {
            let _ = self.fill();
        }
        Ok((got.freeze(), end))
    }
}

/// Interrupt IN over FunctionFS; never waits.
#[derive(Debug)]
pub struct FfsInterrupt {
    ep: EndpointSender,
    link: Arc<Link>,
}

impl InterruptIn for FfsInterrupt {
    fn try_send(&mut self, event: Bytes) -> bool {
        self.link.check().is_ok() && self.ep.try_send(event).is_ok()
    }
}

/// Control events from the ep0 task.
#[derive(Debug)]
pub struct FfsControl(mpsc::UnboundedReceiver<ControlEvent>);

impl ControlIn for FfsControl {
    async fn recv(&mut self) -> Option<ControlEvent> {
        self.0.recv().await
    }
}

/// The transport's endpoints.
pub type FfsEndpoints = Endpoints<FfsBulkIn, FfsBulkOut, FfsInterrupt, FfsControl>;

/// Splits a gadget function into the driver's endpoints and the ep0 task's parts.
pub fn split(f: Function, buffer: usize, depth: usize) -> (FfsEndpoints, ep0::Ep0) {
    let link = Arc::new(Link::default());
    let status = StatusCell::default();
    let (tx, rx) = mpsc::unbounded_channel();
    let endpoints = Endpoints {
        bulk_in: FfsBulkIn {
            ep: f.bulk_in,
            link: link.clone(),
            generation: 0,
            depth,
            queue: None,
        },
        bulk_out: FfsBulkOut {
            ep: f.bulk_out,
            link: link.clone(),
            buffer,
            depth,
            queue: None,
            primed: None,
            between: true,
        },
        interrupt: FfsInterrupt {
            ep: f.interrupt,
            link: link.clone(),
        },
        control: FfsControl(rx),
        status: status.clone(),
    };
    (
        endpoints,
        ep0::Ep0 {
            custom: f.custom,
            events: tx,
            status,
            link,
        },
    )
}
