//! The pure gadget description derived from a profile: what the host will see, before any
//! configfs or FunctionFS call.
//!
//! # Spec
//! MTP 1.1 appendix D: interface class 6 (Still Image), subclass 1, protocol 1, endpoints
//! bulk IN, bulk OUT and interrupt IN; the interface string contains "MTP" (libmtp
//! recognises the device by it); the Microsoft OS extended compatible id "MTP" lets Windows
//! bind its MTP driver.

use crate::profile::Profile;

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
    /// Derives the spec from a profile.
    pub fn from_profile(p: &Profile) -> Self {
        Self {
            name: p.usb.gadget_name.clone(),
            id: (p.usb.vendor_id, p.usb.product_id),
            device_release: p.usb.device_release,
            strings: (
                p.usb.manufacturer.clone(),
                p.usb.product.clone(),
                p.usb.serial.clone(),
            ),
            max_power_ma: p.usb.max_power_ma,
            udc: p.usb.udc.clone(),
            buffer_size: p.transport.buffer_kib * 1024,
            queue_depth: p.transport.queue_depth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn dummy_hcd_profile_gives_the_expected_gadget() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/dummy_hcd.toml");
        let s = GadgetSpec::from_profile(&Profile::load(&path).unwrap());
        assert_eq!(s.id, (0x1d6b, 0x0100));
        assert_ne!(
            s.id,
            (0x1d6b, 0x0101),
            "libmtp lists 1d6b:0101 with Android quirks"
        );
        assert_eq!(s.udc.as_deref(), Some("dummy_udc.0"));
        assert_eq!(s.buffer_size % 1024, 0, "whole packets at every speed");
        assert!(MTP_INTERFACE_NAME.contains("MTP"));
    }
}
