//! Linux AIO on one FunctionFS endpoint file, completed on the runtime's own thread.
//!
//! usb-gadget queues an endpoint's requests through a thread of its own: the thread
//! sleeps on the AIO eventfd, reaps each completion and hands it to the runtime through a
//! channel and a `Notify`, and every submission writes the eventfd to wake it. A
//! completion therefore reaches the driver after two thread wake-ups, and each request
//! costs a third. A host that waits for every transfer before it asks for the next one
//! (libmtp: three synchronous transfers per transaction) waits for all of them: usbmon
//! put mtpbur's data phase at 586 µs against umtprd's 316 µs in the same boot
//! (docs/BENCHMARKS.md, "One libmtp transaction on the wire"). Here the eventfd sits in
//! tokio's own reactor, the driver's thread submits and reaps, and nothing else runs.
//!
//! Completions of one endpoint come back in the order the requests were queued (the
//! UDC serves an endpoint's queue in order), and are handed out in that order.
#![allow(
    unsafe_code,
    reason = "the io_setup/io_submit/io_getevents/io_cancel system calls on buffers this \
              module keeps alive until the kernel gives them back"
)]

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// `IOCB_CMD_PREAD` and `IOCB_CMD_PWRITE` (linux/aio_abi.h).
const CMD_PREAD: u16 = 0;
const CMD_PWRITE: u16 = 1;
/// `IOCB_FLAG_RESFD`: signal the completion on `aio_resfd`.
const FLAG_RESFD: u32 = 1;
/// How long [`Queue::cancel`] waits for the kernel to give the requests back.
const CANCEL_WAIT: Duration = Duration::from_secs(5);
/// `AIO_RING_MAGIC` (fs/aio.c): the completion ring's layout is the one below.
const RING_MAGIC: u32 = 0xa10a_10a1;

/// The head of the completion ring the kernel maps at the context's address
/// (`struct aio_ring`, fs/aio.c); the `io_event`s follow it. The kernel writes an event,
/// then `tail`; user space may consume events itself and write `head` (the field's
/// comment: "written to by userland or under ring_lock"), as libaio-style fast paths do.
#[repr(C)]
struct Ring {
    id: u32,
    nr: u32,
    head: u32,
    tail: u32,
    magic: u32,
    compat_features: u32,
    incompat_features: u32,
    header_length: u32,
}

/// `struct iocb` (linux/aio_abi.h, little-endian layout).
#[repr(C)]
#[derive(Debug, Default)]
struct IoCb {
    data: u64,
    key: u32,
    rw_flags: i32,
    lio_opcode: u16,
    reqprio: i16,
    fildes: u32,
    buf: u64,
    nbytes: u64,
    offset: i64,
    reserved2: u64,
    flags: u32,
    resfd: u32,
}

/// `struct io_event`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct IoEvent {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}

/// A request's buffer: data for the host, or room for what the host sends.
#[derive(Debug)]
pub(crate) enum Buf {
    /// Bulk IN: the kernel copies from it when the request is submitted.
    In(Bytes),
    /// Bulk OUT: the kernel fills its spare capacity.
    Out(BytesMut),
}

/// A request in the kernel's hands: its control block (boxed, so its address holds)
/// and its buffer, both kept until the completion is reaped.
#[derive(Debug)]
struct Slot {
    iocb: Box<IoCb>,
    buf: Buf,
}

/// The request queue of one endpoint.
#[derive(Debug)]
pub(crate) struct Queue {
    fd: RawFd,
    ctx: libc::c_ulong,
    efd: AsyncFd<OwnedFd>,
    depth: usize,
    slots: Vec<Option<Slot>>,
    in_flight: usize,
    /// Completed requests not yet handed out, oldest first.
    done: VecDeque<(Buf, i64)>,
}

fn check(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Queue {
    /// A queue of up to `depth` requests on the endpoint file `fd`, which must stay open
    /// as long as the queue lives. Call from within the runtime (the eventfd registers
    /// with its reactor).
    pub(crate) fn new(fd: RawFd, depth: usize) -> io::Result<Self> {
        let depth = depth.max(1);
        // SAFETY: eventfd creates a new descriptor, owned from here on.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `efd` is a fresh descriptor nothing else owns; the OwnedFd keeps it
        // open, and the same, for as long as the AsyncFd lives.
        let efd = unsafe {
            AsyncFd::register_with_interest(OwnedFd::from_raw_fd(efd), Interest::READABLE)
        }
        .map_err(io::Error::from)?;
        let mut ctx: libc::c_ulong = 0;
        let nr = libc::c_long::try_from(depth).unwrap_or(libc::c_long::MAX);
        // SAFETY: io_setup writes the new context into `ctx`.
        check(unsafe { libc::syscall(libc::SYS_io_setup, nr, &mut ctx as *mut libc::c_ulong) })?;
        Ok(Self {
            fd,
            ctx,
            efd,
            depth,
            slots: (0..depth).map(|_| None).collect(),
            in_flight: 0,
            done: VecDeque::new(),
        })
    }

    /// The endpoint file this queue submits to.
    pub(crate) fn fd(&self) -> RawFd {
        self.fd
    }

    /// Requests submitted whose buffers have not been handed back yet.
    fn occupied(&self) -> usize {
        self.in_flight + self.done.len()
    }

    /// No room for another request until a completion is taken.
    pub(crate) fn is_full(&self) -> bool {
        self.occupied() >= self.depth
    }

    /// Nothing submitted and nothing to take.
    pub(crate) fn is_empty(&self) -> bool {
        self.occupied() == 0
    }

    /// Hands `buf` to the kernel.
    ///
    /// # Errors
    /// The queue is full (WouldBlock), or io_submit failed (the endpoint's errno).
    pub(crate) fn submit(&mut self, mut buf: Buf) -> io::Result<()> {
        let free = if self.is_full() {
            None
        } else {
            self.slots.iter().position(Option::is_none)
        };
        let Some(i) = free else {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the endpoint's queue is full",
            ));
        };
        let (opcode, ptr, len) = match &mut buf {
            Buf::In(b) => (CMD_PWRITE, b.as_ptr() as u64, b.len()),
            Buf::Out(b) => {
                let room = b.capacity() - b.len();
                let spare = b.spare_capacity_mut();
                (CMD_PREAD, spare.as_mut_ptr() as u64, room)
            }
        };
        // Who waits for this completion? A read, always: the driver waits for the host's
        // next bytes. A write only when the queue fills up: `ready` then waits for the
        // oldest to finish, and every write queued past half the depth signals (so one
        // in flight always does). A write into an emptier queue is reaped from the ring
        // at the next submission and wakes nobody: a transaction's data and response do
        // not wake the driver twice for nothing.
        let signal = matches!(buf, Buf::Out(_)) || self.occupied() + 1 > self.depth / 2;
        let mut iocb = Box::new(IoCb {
            data: i as u64,
            lio_opcode: opcode,
            fildes: self.fd as u32,
            buf: ptr,
            nbytes: len as u64,
            flags: if signal { FLAG_RESFD } else { 0 },
            resfd: if signal {
                self.efd.get_ref().as_raw_fd() as u32
            } else {
                0
            },
            ..IoCb::default()
        });
        let mut list = [&mut *iocb as *mut IoCb];
        // SAFETY: the control block and the buffer it points to are kept in `slots`
        // until the kernel hands the request back (reap, cancel, or io_destroy on drop).
        let n = check(unsafe {
            libc::syscall(
                libc::SYS_io_submit,
                self.ctx,
                1 as libc::c_long,
                list.as_mut_ptr(),
            )
        })?;
        if n != 1 {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "the kernel took no request",
            ));
        }
        self.slots[i] = Some(Slot { iocb, buf });
        self.in_flight += 1;
        Ok(())
    }

    /// Moves every completion the kernel has into `done`, first waiting up to `wait`
    /// until there are `min`.
    fn reap(&mut self, min: usize, wait: Duration) -> io::Result<()> {
        if min == 0 && self.reap_ring() {
            return Ok(());
        }
        let mut events = [IoEvent::default(); 16];
        let ts = libc::timespec {
            tv_sec: libc::time_t::try_from(wait.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: libc::c_long::from(wait.subsec_nanos()),
        };
        let mut min = min;
        loop {
            // SAFETY: `events` has room for the count passed.
            let n = check(unsafe {
                libc::syscall(
                    libc::SYS_io_getevents,
                    self.ctx,
                    min.min(events.len()) as libc::c_long,
                    events.len() as libc::c_long,
                    events.as_mut_ptr(),
                    &ts as *const libc::timespec,
                )
            })?;
            let n = usize::try_from(n).unwrap_or(0);
            for ev in &events[..n] {
                self.complete(ev);
            }
            min = min.saturating_sub(n);
            if n < events.len() {
                // All there was, or `wait` ran out.
                return Ok(());
            }
        }
    }

    /// Files one completion under its request.
    fn complete(&mut self, ev: &IoEvent) {
        let slot = usize::try_from(ev.data)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::take);
        if let Some(slot) = slot {
            self.in_flight -= 1;
            self.done.push_back((slot.buf, ev.res));
        }
    }

    /// Takes the completions from the ring in user space, without a system call; false
    /// if the ring is not laid out as this module knows it (then `io_getevents` does).
    fn reap_ring(&mut self) -> bool {
        let ring = self.ctx as usize as *mut Ring;
        // SAFETY: io_setup returned the address of the ring the kernel mapped into this
        // process for the context; it stays mapped until io_destroy (in Drop). `head`
        // and `tail` are read and written as atomics, as the kernel does under its lock:
        // `tail` is published after the event it covers (acquire here), `head` after the
        // events before it were read (release).
        unsafe {
            if (*ring).magic != RING_MAGIC
                || (*ring).incompat_features != 0
                || (*ring).header_length as usize != size_of::<Ring>()
                || (*ring).nr == 0
            {
                return false;
            }
            let nr = (*ring).nr;
            let head_at = AtomicU32::from_ptr(&raw mut (*ring).head);
            let tail = AtomicU32::from_ptr(&raw mut (*ring).tail).load(Ordering::Acquire);
            let events = ring.add(1).cast::<IoEvent>();
            let mut head = head_at.load(Ordering::Relaxed);
            while head != tail && head < nr {
                let ev = std::ptr::read_volatile(events.add(head as usize));
                self.complete(&ev);
                head = (head + 1) % nr;
            }
            head_at.store(head, Ordering::Release);
        }
        true
    }

    /// The oldest completion: its buffer (an OUT buffer holds what arrived) or the
    /// request's error. `None` when nothing is queued.
    pub(crate) async fn next(&mut self) -> Option<io::Result<Buf>> {
        loop {
            if let Err(e) = self.reap(0, Duration::ZERO) {
                return Some(Err(e));
            }
            if let Some(done) = self.take() {
                return Some(done);
            }
            if self.in_flight == 0 {
                return None;
            }
            // Edge-triggered: each completion that signals writes the eventfd and wakes
            // the reactor again, so the counter is never read (one system call less);
            // completions after the reap above are found by the next one.
            match self.efd.readable().await {
                Ok(mut guard) => guard.clear_ready(),
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The oldest completion already reaped, without waiting.
    pub(crate) fn try_next(&mut self) -> Option<io::Result<Buf>> {
        if let Err(e) = self.reap(0, Duration::ZERO) {
            return Some(Err(e));
        }
        self.take()
    }

    fn take(&mut self) -> Option<io::Result<Buf>> {
        let (buf, res) = self.done.pop_front()?;
        if res < 0 {
            let errno = i32::try_from(-res).unwrap_or(libc::EIO);
            return Some(Err(io::Error::from_raw_os_error(errno)));
        }
        Some(Ok(match buf {
            Buf::Out(mut b) => {
                let got = usize::try_from(res)
                    .unwrap_or(0)
                    .min(b.capacity() - b.len());
                // SAFETY: the kernel wrote `got` bytes into the spare capacity.
                unsafe { b.set_len(b.len() + got) };
                Buf::Out(b)
            }
            b @ Buf::In(_) => b,
        }))
    }

    /// Takes every request back from the kernel and forgets the completions not yet
    /// handed out, with their errors. Blocks until the kernel returned them all (it
    /// ends a cancelled request with an error), at most a few seconds.
    pub(crate) fn cancel(&mut self) {
        for slot in self.slots.iter_mut().flatten() {
            let mut ev = IoEvent::default();
            // SAFETY: the control block is one this context submitted and still holds.
            // FunctionFS dequeues the request; its completion arrives as an event.
            unsafe {
                libc::syscall(
                    libc::SYS_io_cancel,
                    self.ctx,
                    &mut *slot.iocb as *mut IoCb,
                    &mut ev as *mut IoEvent,
                );
            }
        }
        let deadline = Instant::now() + CANCEL_WAIT;
        while self.in_flight > 0 && Instant::now() < deadline {
            if self
                .reap(self.in_flight, Duration::from_millis(100))
                .is_err()
            {
                break;
            }
        }
        if self.in_flight > 0 {
            tracing::warn!(
                requests = self.in_flight,
                "endpoint requests not returned after cancel"
            );
        }
        self.done.clear();
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // io_destroy cancels what is left and waits until the kernel let go of every
        // buffer; only then may `slots` be freed.
        // SAFETY: the context is ours and not used after this.
        unsafe { libc::syscall(libc::SYS_io_destroy, self.ctx) };
    }
}

#[cfg(test)]
mod tests;
