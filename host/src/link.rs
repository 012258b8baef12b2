//! The byte pipes of one MTP device as the host sees them: bulk OUT, bulk IN (read
//! transfer by transfer), the interrupt pipe for events, and the class requests on the
//! control pipe. `usb.rs` implements it over `nusb`; tests implement it over the
//! firmware's in-memory loopback.

use std::io::{self, Write};
use std::time::Duration;

/// The pipes of one claimed MTP interface.
pub trait Link {
    /// The bulk endpoints' max packet size (a transfer of a multiple of it ends with a
    /// zero-length packet).
    fn max_packet_size(&self) -> usize;

    /// Writes bytes into the current OUT transfer.
    ///
    /// # Errors
    /// The device went away or the write timed out.
    fn write(&mut self, data: &[u8]) -> io::Result<()>;

    /// Ends the current OUT transfer (with a zero-length packet when needed) and waits
    /// until every byte of it was taken by the device.
    ///
    /// # Errors
    /// As [`Link::write`].
    fn end_transfer(&mut self) -> io::Result<()>;

    /// Reads from the current IN transfer; `Ok(0)` once it ended (a short packet), until
    /// [`Link::next_transfer`] is called.
    ///
    /// # Errors
    /// The device went away or nothing arrived in time.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Hands the next bytes of the current IN transfer to `sink` straight from the
    /// link's own buffer, with no copy into one of the caller's first; returns how many,
    /// `Ok(0)` once the transfer ended (as [`Link::read`]). A data phase of any size
    /// passes through this way.
    ///
    /// # Errors
    /// As [`Link::read`], or `sink` failed.
    fn read_to(&mut self, sink: &mut dyn Write) -> io::Result<usize>;

    /// After [`Link::read`] or [`Link::read_to`] returned 0: starts reading the next IN
    /// transfer.
    ///
    /// # Errors
    /// The current transfer has not ended.
    fn next_transfer(&mut self) -> io::Result<()>;

    /// Waits up to `wait` for one event container from the interrupt pipe.
    ///
    /// # Errors
    /// The device went away.
    fn event(&mut self, wait: Duration) -> io::Result<Option<Vec<u8>>>;

    /// Sends the class request Device Reset (0x66): the device ends its session and
    /// forgets any half-done transaction, as after a new connection.
    ///
    /// # Errors
    /// The request failed.
    fn device_reset(&mut self) -> io::Result<()>;
}
