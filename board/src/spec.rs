//! The pure gadget description derived from a profile: what the host will see, before any
//! configfs or FunctionFS call.
//!
//! # Spec
//! MTP 1.1 appendix D: interface class 6 (Still Image), subclass 1, protocol 1, endpoints
//! bulk IN, bulk OUT and interrupt IN; the interface string contains "MTP" (libmtp
//! recognises the device by it); the Microsoft OS extended compatible id "MTP" lets Windows
//! bind its MTP driver.

use crate::profile::{TransportProfile, UsbProfile};

/// Interface class, subclass, protocol of an MTP function.
pub const MTP_CLASS: (u8, u8, u8) = (6, 1, 1);
/// The interface string.
pub const MTP_INTERFACE_NAME: &str = "MTP";
/// The MS OS extended compatible id.
pub const MS_OS_COMPATIBLE_ID: [u8; 8] = *b"MTP\0\0\0\0\0";
/// Interrupt endpoint max packet size (an event container is at most 24 bytes + header).
pub const INTERRUPT_MAX_PACKET: u16 = 28;
/// Interrupt endpoint interval exponent: 2^(6-1) microframes = 4 ms at high speed.
pub const INTERRUPT_INTERVAL: u8 = 6;

/// Everything needed to create the gadget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GadgetSpec {
    /// configfs directory name.
    pub name: String,
    /// idVendor, idProduct.
    pub id: (u16, u16),
    /// bcdDevice.
    pub device_release: u16,
    /// Manufacturer, product, serial strings.
    pub strings: (String, String, String),
    /// bMaxPower in mA.
    pub max_power_ma: u16,
    /// UDC name, or `None` for the first found.
    pub udc: Option<String>,
    /// Bulk request size in bytes.
    pub buffer_size: usize,
    /// Requests in flight per bulk endpoint.
    pub queue_depth: u32,
}

impl GadgetSpec {
    /// Derives the spec from a profile's `[usb]` and `[transport]`.
    pub fn new(usb: &UsbProfile, transport: &TransportProfile) -> Self {
        Self {
            name: usb.gadget_name.clone(),
            id: (usb.vendor_id, usb.product_id),
            device_release: usb.device_release,
            strings: (
                usb.manufacturer.clone(),
                usb.product.clone(),
                usb.serial.clone(),
            ),
            max_power_ma: usb.max_power_ma,
            udc: usb.udc.clone(),
            buffer_size: transport.buffer_kib * 1024,
            queue_depth: transport.queue_depth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usb_and_transport_give_the_gadget() {
        let usb = UsbProfile {
            vendor_id: 0x1d6b,
            product_id: 0x0100,
            device_release: 0x0100,
            manufacturer: "M".into(),
            product: "P".into(),
            serial: "S".into(),
            max_power_ma: 500,
            udc: Some("dummy_udc.0".into()),
            gadget_name: "mtpbur".into(),
            existing_functionfs: None,
        };
        let s = GadgetSpec::new(&usb, &TransportProfile::default());
        assert_eq!(s.id, (0x1d6b, 0x0100));
        assert_eq!(s.udc.as_deref(), Some("dummy_udc.0"));
        assert_eq!((s.buffer_size, s.queue_depth), (128 * 1024, 8));
        assert_eq!(s.buffer_size % 1024, 0, "whole packets at every speed");
        assert!(MTP_INTERFACE_NAME.contains("MTP"));
    }
}
