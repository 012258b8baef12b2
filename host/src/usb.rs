//! MTP devices on the USB bus, through `nusb` (pure Rust: usbfs on Linux, IOKit on
//! macOS; no libusb to install). A device is an MTP device when one of its interfaces has
//! class 6, subclass 1, protocol 1 (Still Image, as MTP devices announce themselves).

use std::io::{self, BufRead, Read, Write};
use std::time::Duration;

use nusb::transfer::{Bulk, ControlIn, ControlOut, ControlType, In, Interrupt, Out, Recipient};
use nusb::{Endpoint, MaybeFuture};

use crate::link::Link;

/// The interface class, subclass and protocol of MTP.
const MTP_CLASS: (u8, u8, u8) = (6, 1, 1);
/// Bytes per bulk transfer the host queues.
const TRANSFER_SIZE: usize = 256 * 1024;
/// Transfers queued per direction.
const TRANSFERS: usize = 4;
/// libmtp's largest bulk transfer (`CONTEXT_BLOCK_SIZE` in its `libusb1-glue.c`).
const LIBMTP_TRANSFER_SIZE: usize = 16 * 1024;
/// How long one read or write may wait: a device copying a unit that is still being
/// written can be quiet for a while.
const PIPE_TIMEOUT: Duration = Duration::from_secs(120);
/// Device Reset Request (Still Image class).
const DEVICE_RESET: u8 = 0x66;
/// Get Device Status Request (Still Image class).
const GET_DEVICE_STATUS: u8 = 0x67;
/// The response code a device reports while it is still busy.
const DEVICE_BUSY: u16 = 0x2019;

/// An MTP device found on the bus.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    /// USB vendor id.
    pub vendor_id: u16,
    /// USB product id.
    pub product_id: u16,
    /// Manufacturer string, if the device has one.
    pub manufacturer: Option<String>,
    /// Product string.
    pub product: Option<String>,
    /// Serial number string.
    pub serial: Option<String>,
    /// Bus and address, as `lsusb` shows them.
    pub location: String,
    #[serde(skip)]
    info: nusb::DeviceInfo,
    #[serde(skip)]
    interface: u8,
}

/// Every MTP device on the bus.
///
/// # Errors
/// The bus cannot be listed.
pub fn find_all() -> io::Result<Vec<Found>> {
    let devices = nusb::list_devices().wait().map_err(io::Error::other)?;
    Ok(devices
        .filter_map(|info| {
            let iface = info
                .interfaces()
                .find(|i| (i.class(), i.subclass(), i.protocol()) == MTP_CLASS)?;
            Some(Found {
                vendor_id: info.vendor_id(),
                product_id: info.product_id(),
                manufacturer: info.manufacturer_string().map(str::to_owned),
                product: info.product_string().map(str::to_owned),
                serial: info.serial_number().map(str::to_owned),
                location: location(&info),
                interface: iface.interface_number(),
                info,
            })
        })
        .collect())
}

#[cfg(target_os = "linux")]
fn location(info: &nusb::DeviceInfo) -> String {
    format!(
        "bus {:03} device {:03}",
        info.busnum(),
        info.device_address()
    )
}

#[cfg(not(target_os = "linux"))]
fn location(info: &nusb::DeviceInfo) -> String {
    format!("device {:03}", info.device_address())
}

/// The one device to use: the one with `serial` if given, else the only one.
///
/// # Errors
/// None matches, or several do and no serial was given.
pub fn choose(found: Vec<Found>, serial: Option<&str>) -> Result<Found, String> {
    pick(found, |f| f.serial.as_deref(), serial)
}

/// [`choose`] over anything with a serial.
///
/// # Errors
/// As [`choose`].
pub fn pick<T>(
    found: Vec<T>,
    serial_of: impl Fn(&T) -> Option<&str>,
    serial: Option<&str>,
) -> Result<T, String> {
    let n = found.len();
    let mut matching: Vec<T> = found
        .into_iter()
        .filter(|f| serial.is_none_or(|s| serial_of(f) == Some(s)))
        .collect();
    match (matching.len(), serial) {
        (1, _) => Ok(matching.remove(0)),
        (0, Some(s)) => Err(format!(
            "no MTP device with serial {s:?} ({n} MTP device(s) found; see `mtpbur-host devices`)"
        )),
        (0, None) => Err("no MTP device found (is it plugged in, and may you open it?)".into()),
        (k, _) => Err(format!(
            "{k} MTP devices found: choose one with --serial (see `mtpbur-host devices`)"
        )),
    }
}

/// How the host keeps its bulk transfers in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Queue {
    /// Four 256 KiB transfers each way, the next already queued while one completes:
    /// this program's own way, so a data phase and its response arrive in one pass of
    /// the controller.
    #[default]
    Ahead,
    /// One 16 KiB transfer at a time, submitted only when the caller waits for it, as
    /// libmtp moves every phase (a synchronous `libusb_bulk_transfer` of at most
    /// `CONTEXT_BLOCK_SIZE` in its `libusb1-glue.c`). For `bench-raw --lockstep`: the
    /// limit of the path for a libmtp tool.
    Lockstep,
}

impl Queue {
    /// Bytes per transfer and transfers in flight, each way.
    #[must_use]
    pub fn transfers(self) -> (usize, usize) {
        match self {
            Self::Ahead => (TRANSFER_SIZE, TRANSFERS),
            Self::Lockstep => (LIBMTP_TRANSFER_SIZE, 1),
        }
    }
}

/// The claimed MTP interface of one device.
pub struct UsbLink {
    interface: nusb::Interface,
    number: u8,
    out: nusb::io::EndpointWrite<Bulk>,
    inp: nusb::io::EndpointRead<Bulk>,
    events: Endpoint<Interrupt, In>,
    mps: usize,
}

impl std::fmt::Debug for UsbLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsbLink")
            .field("interface", &self.number)
            .finish()
    }
}

impl UsbLink {
    /// Opens the device and claims its MTP interface (detaching a kernel driver that
    /// holds it, where the system has one), with transfers queued ahead.
    ///
    /// # Errors
    /// The device cannot be opened (permissions, gone) or lacks the MTP endpoints.
    pub fn open(found: &Found) -> io::Result<Self> {
        Self::open_queued(found, Queue::Ahead)
    }

    /// [`UsbLink::open`] with the bulk transfers kept in flight as `queue` says.
    ///
    /// # Errors
    /// As [`UsbLink::open`].
    pub fn open_queued(found: &Found, queue: Queue) -> io::Result<Self> {
        let (size, count) = queue.transfers();
        let device = found.info.open().wait().map_err(io::Error::other)?;
        let interface = device
            .detach_and_claim_interface(found.interface)
            .wait()
            .map_err(io::Error::other)?;
        let (mut bulk_in, mut bulk_out, mut int_in) = (None, None, None);
        let mut mps = 512;
        if let Some(desc) = interface.descriptor() {
            for ep in desc.endpoints() {
                let addr = ep.address();
                match (ep.transfer_type(), addr & 0x80 != 0) {
                    (nusb::descriptors::TransferType::Bulk, true) => {
                        mps = ep.max_packet_size();
                        bulk_in = Some(addr);
                    }
                    (nusb::descriptors::TransferType::Bulk, false) => bulk_out = Some(addr),
                    (nusb::descriptors::TransferType::Interrupt, true) => int_in = Some(addr),
                    _ => {}
                }
            }
        }
        let missing =
            || io::Error::other("the MTP interface lacks its bulk or interrupt endpoints");
        let out = interface
            .endpoint::<Bulk, Out>(bulk_out.ok_or_else(missing)?)
            .map_err(io::Error::other)?
            .writer(size)
            .with_num_transfers(count)
            .with_write_timeout(PIPE_TIMEOUT);
        let inp = interface
            .endpoint::<Bulk, In>(bulk_in.ok_or_else(missing)?)
            .map_err(io::Error::other)?
            .reader(size)
            .with_num_transfers(count)
            .with_read_timeout(PIPE_TIMEOUT);
        let mut events = interface
            .endpoint::<Interrupt, In>(int_in.ok_or_else(missing)?)
            .map_err(io::Error::other)?;
        for _ in 0..2 {
            let buf = events.allocate(events.max_packet_size().max(64));
            events.submit(buf);
        }
        Ok(Self {
            number: found.interface,
            interface,
            out,
            inp,
            events,
            mps,
        })
    }
}

impl Link for UsbLink {
    fn max_packet_size(&self) -> usize {
        self.mps
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.write_all(data)
    }

    fn end_transfer(&mut self) -> io::Result<()> {
        self.out.flush_end()
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inp.until_short_packet().read(buf)
    }

    fn read_to(&mut self, sink: &mut dyn Write) -> io::Result<usize> {
        let mut transfer = self.inp.until_short_packet();
        let data = transfer.fill_buf()?;
        let n = data.len();
        sink.write_all(data)?;
        // Consumed on the reader itself: the short-packet adapter keeps no state of its
        // own, and its `BufRead::consume` (nusb 0.2.9) asserts that nothing is consumed
        // while data remains, the opposite of its `Read::read`.
        BufRead::consume(&mut self.inp, n);
        Ok(n)
    }

    fn next_transfer(&mut self) -> io::Result<()> {
        self.inp
            .until_short_packet()
            .consume_end()
            .map_err(io::Error::other)
    }

    fn event(&mut self, wait: Duration) -> io::Result<Option<Vec<u8>>> {
        let Some(done) = self.events.wait_next_complete(wait) else {
            return Ok(None);
        };
        let status = done.status;
        let data = done.buffer.to_vec();
        let mut buf = done.buffer;
        buf.clear();
        self.events.submit(buf);
        status.map_err(io::Error::other)?;
        Ok(Some(data))
    }

    fn device_reset(&mut self) -> io::Result<()> {
        self.interface
            .control_out(
                ControlOut {
                    control_type: ControlType::Class,
                    recipient: Recipient::Interface,
                    request: DEVICE_RESET,
                    value: 0,
                    index: u16::from(self.number),
                    data: &[],
                },
                Duration::from_secs(5),
            )
            .wait()
            .map_err(io::Error::other)?;
        // The reset is carried out after the request's status stage: wait until Get
        // Device Status no longer says busy, or the next command races it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let status = self
                .interface
                .control_in(
                    ControlIn {
                        control_type: ControlType::Class,
                        recipient: Recipient::Interface,
                        request: GET_DEVICE_STATUS,
                        value: 0,
                        index: u16::from(self.number),
                        length: 4,
                    },
                    Duration::from_secs(5),
                )
                .wait()
                .map_err(io::Error::other)?;
            let code = status.get(2..4).map(|c| u16::from_le_bytes([c[0], c[1]]));
            if code.is_some_and(|c| c != DEVICE_BUSY) {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(io::Error::other(
                    "the device stayed busy after Device Reset",
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pick;

    type Dev = (u8, Option<String>);

    fn serial(f: &Dev) -> Option<&str> {
        f.1.as_deref()
    }

    fn dev(n: u8, s: Option<&str>) -> Dev {
        (n, s.map(str::to_owned))
    }

    #[test]
    fn a_device_is_chosen_by_serial_or_for_being_the_only_one() {
        let two = vec![dev(1, Some("A")), dev(2, Some("B"))];
        assert_eq!(pick(two.clone(), serial, Some("B")).unwrap().0, 2);
        let err = pick(two.clone(), serial, None).unwrap_err();
        assert!(err.contains("2 MTP devices found"), "{err}");
        let err = pick(two, serial, Some("C")).unwrap_err();
        assert!(err.contains("no MTP device with serial \"C\""), "{err}");
        assert_eq!(pick(vec![dev(3, None)], serial, None).unwrap().0, 3);
        assert!(pick(Vec::<Dev>::new(), serial, None).is_err());
    }
}
