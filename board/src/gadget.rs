//! Applies a [`GadgetSpec`] with usb-gadget: the configfs gadget with one FunctionFS
//! function, or only the descriptors into a FunctionFS the board's init mounted.

use std::io;
use std::path::Path;

use tracing::{info, warn};
use usb_gadget::function::custom::{
    Custom, Endpoint, EndpointDirection, EndpointReceiver, EndpointSender, Interface, OsExtCompat,
    TransferType,
};
use usb_gadget::{Class, Config, Gadget, Id, OsDescriptor, RegGadget, Strings};

use crate::spec::{
    GadgetSpec, INTERRUPT_INTERVAL, INTERRUPT_MAX_PACKET, MS_OS_COMPATIBLE_ID, MTP_CLASS,
    MTP_INTERFACE_NAME,
};

/// The function's endpoints and control file, ready for the transport.
#[derive(Debug)]
pub struct Function {
    /// ep0: events and control requests.
    pub custom: Custom,
    /// Bulk IN.
    pub bulk_in: EndpointSender,
    /// Bulk OUT.
    pub bulk_out: EndpointReceiver,
    /// Interrupt IN.
    pub interrupt: EndpointSender,
}

/// A gadget this process created; dropping it unbinds and removes it.
#[derive(Debug)]
pub struct Registration(Option<RegGadget>);

impl Registration {
    /// Unbinds from the UDC and removes the configfs tree (nothing for an existing
    /// FunctionFS).
    ///
    /// # Errors
    /// configfs refused the removal.
    pub fn remove(mut self) -> io::Result<()> {
        match self.0.take() {
            Some(g) => g.remove(),
            None => Ok(()),
        }
    }

    /// Unbinds from the UDC (the host sees an unplug) and binds again.
    ///
    /// # Errors
    /// The UDC could not be found or written.
    pub fn rebind(&self, udc: Option<&str>) -> io::Result<()> {
        let Some(g) = &self.0 else { return Ok(()) };
        g.bind(None)?;
        g.bind(Some(&find_udc(udc)?))
    }
}

fn builder(
    spec: &GadgetSpec,
) -> (
    usb_gadget::function::custom::CustomBuilder,
    EndpointSender,
    EndpointReceiver,
    EndpointSender,
) {
    let (bulk_in, in_dir) = EndpointDirection::device_to_host();
    let (bulk_out, out_dir) = EndpointDirection::host_to_device();
    let (interrupt, int_dir) = EndpointDirection::device_to_host();
    let mut int_ep = Endpoint::custom(int_dir.with_queue_len(4), TransferType::Interrupt);
    int_ep.max_packet_size_hs = INTERRUPT_MAX_PACKET;
    int_ep.max_packet_size_ss = INTERRUPT_MAX_PACKET;
    int_ep.interval = INTERRUPT_INTERVAL;
    let (c, s, p) = MTP_CLASS;
    let b = Custom::builder().with_interface(
        Interface::new(Class::new(c, s, p), MTP_INTERFACE_NAME)
            .with_endpoint(Endpoint::bulk(in_dir.with_queue_len(spec.queue_depth)))
            .with_endpoint(Endpoint::bulk(out_dir.with_queue_len(spec.queue_depth)))
            .with_endpoint(int_ep)
            .with_os_ext_compat(OsExtCompat::new(MS_OS_COMPATIBLE_ID, [0; 8])),
    );
    (b, bulk_in, bulk_out, interrupt)
}

fn find_udc(name: Option<&str>) -> io::Result<usb_gadget::Udc> {
    match name {
        None => usb_gadget::default_udc(),
        Some(n) => usb_gadget::udcs()?
            .into_iter()
            .find(|u| u.name() == n)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("UDC {n:?} not found in /sys/class/udc"),
                )
            }),
    }
}

/// Creates the configfs gadget (removing a stale one of the same name first) and binds it.
///
/// # Errors
/// configfs is not mounted, libcomposite is missing, the UDC does not exist or is busy.
pub fn create(spec: &GadgetSpec) -> io::Result<(Function, Registration)> {
    for g in usb_gadget::registered()? {
        if g.name() == std::ffi::OsStr::new(&spec.name) {
            warn!(gadget = %spec.name, "removing a stale gadget left by an earlier run");
            g.remove()?;
        }
    }
    let (b, bulk_in, bulk_out, interrupt) = builder(spec);
    let (custom, handle) = b.build();
    let udc = find_udc(spec.udc.as_deref())?;
    let (m, p, s) = &spec.strings;
    let mut config = Config::new("MTP");
    config.max_power = spec.max_power_ma;
    let mut gadget = Gadget::new(
        Class::INTERFACE_SPECIFIC,
        Id::new(spec.id.0, spec.id.1),
        Strings::new(m, p, s),
    )
    .with_config(config.with_function(handle))
    .with_os_descriptor(OsDescriptor::microsoft());
    gadget.name = Some(spec.name.clone());
    gadget.device_release = spec.device_release;
    let reg = gadget.bind(&udc)?;
    info!(gadget = %spec.name, udc = ?udc.name(), path = %reg.path().display(), "gadget bound");
    Ok((
        Function {
            custom,
            bulk_in,
            bulk_out,
            interrupt,
        },
        Registration(Some(reg)),
    ))
}

/// Writes the descriptors into a FunctionFS mounted by someone else; that party owns the
/// gadget and binds the UDC once `ep1` appears.
///
/// # Errors
/// The directory is not a FunctionFS or its descriptors were already written.
pub fn existing(spec: &GadgetSpec, ffs_dir: &Path) -> io::Result<(Function, Registration)> {
    let (b, bulk_in, bulk_out, interrupt) = builder(spec);
    let custom = b.existing(ffs_dir)?;
    info!(dir = %ffs_dir.display(), "descriptors written into the existing FunctionFS; bind the UDC now");
    Ok((
        Function {
            custom,
            bulk_in,
            bulk_out,
            interrupt,
        },
        Registration(None),
    ))
}
