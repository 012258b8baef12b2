//! The FunctionFS transport: the `mtp` transport traits over usb-gadget's endpoint files,
//! and the ep0 task that turns FunctionFS events and class requests into
//! [`ControlEvent`]s.
//!
//! Facts this relies on (see `shared/docs/USB-GADGET.md`): endpoint I/O before `Enable`
//! blocks in the kernel, so nothing touches an endpoint until the driver saw `Enabled`;
//! Bind, Unbind and Disable all mean "endpoints gone"; a read buffer shorter than its
//! capacity ended with a short packet; the FunctionFS never adds zero-length packets (the
//! responder decides them); `cancel()` on an endpoint blocks until every request is back.

mod ep0;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use mtp::transport::{
    BulkIn, BulkOut, ControlEvent, ControlIn, Endpoints, InterruptIn, StatusCell, TransportError,
};
use tokio::sync::mpsc;
use usb_gadget::function::custom::{EndpointReceiver, EndpointSender};

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

/// Bulk IN over FunctionFS.
#[derive(Debug)]
pub struct FfsBulkIn {
    ep: EndpointSender,
    link: Arc<Link>,
    generation: u64,
}

impl BulkIn for FfsBulkIn {
    fn max_packet_size(&mut self) -> Result<usize, TransportError> {
        let g = self.link.check()?;
        if g != self.generation {
            // Requests of an earlier connection: throw them away.
            let _ = blocking(|| self.ep.cancel());
            self.generation = g;
        }
        self.ep.max_packet_size().map_err(io_err)
    }

    async fn ready(&mut self) -> Result<(), TransportError> {
        self.ep.wait_ready().await.map_err(io_err)
    }

    fn submit(&mut self, data: Bytes) -> Result<(), TransportError> {
        self.link.check()?;
        self.ep.try_send(data).map_err(io_err)
    }

    async fn abort(&mut self) {
        if let Err(e) = blocking(|| self.ep.cancel()) {
            tracing::debug!(error = %e, "bulk IN cancel");
        }
    }
}

/// Bulk OUT over FunctionFS: keeps a queue of read requests, refilled before each wait.
#[derive(Debug)]
pub struct FfsBulkOut {
    ep: EndpointReceiver,
    link: Arc<Link>,
    buffer: usize,
    primed: Option<u64>,
}

impl FfsBulkOut {
    /// Fills the queue of read requests: after a new link (the old queue cancelled
    /// first) and, before each wait, for the request the last wait took. Refilling here,
    /// not when a request completes, keeps a new request's kernel work off the path
    /// between a command and its answer: FunctionFS allocates a buffer of the request's
    /// size (the profile's, 128 KiB by default), which a kernel with `init_on_alloc`
    /// (Debian's default) zeroes (docs/BENCHMARKS.md, "Where the time goes").
    fn fill(&mut self) -> Result<(), TransportError> {
        let g = self.link.check()?;
        if self.primed != Some(g) {
            let _ = blocking(|| self.ep.cancel());
            self.primed = Some(g);
        }
        while self.ep.is_ready() {
            self.ep
                .try_recv(BytesMut::with_capacity(self.buffer))
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
        let got = match self.ep.fetch_async().await {
            Ok(Some(b)) => b,
            Ok(None) => {
                self.primed = None;
                return Err(TransportError::Disconnected);
            }
            Err(e) => {
                self.primed = None;
                return Err(io_err(e));
            }
        };
        // A queue of one would leave nothing to take the host's next packet while this
        // piece is handled: refill it now. An error here is reported by the next wait.
        if self.ep.is_empty() {
            let _ = self.fill();
        }
        let end = got.len() < self.buffer;
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
pub fn split(f: Function, buffer: usize) -> (FfsEndpoints, ep0::Ep0) {
    let link = Arc::new(Link::default());
    let status = StatusCell::default();
    let (tx, rx) = mpsc::unbounded_channel();
    let endpoints = Endpoints {
        bulk_in: FfsBulkIn {
            ep: f.bulk_in,
            link: link.clone(),
            generation: 0,
        },
        bulk_out: FfsBulkOut {
            ep: f.bulk_out,
            link: link.clone(),
            buffer,
            primed: None,
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
