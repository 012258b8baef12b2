//! The board's part of a profile: the USB identity of the gadget and the endpoint
//! queues. The configuration file that holds them (with the storages and the backup
//! settings) is the daemon's: its schema is `firmware`'s (`firmware/src/profile.rs`).

use std::path::PathBuf;

use serde::Deserialize;

/// USB identity of the gadget.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsbProfile {
    /// idVendor.
    pub vendor_id: u16,
    /// idProduct.
    pub product_id: u16,
    /// bcdDevice.
    #[serde(default = "default_bcd")]
    pub device_release: u16,
    /// iManufacturer string (also DeviceInfo Manufacturer).
    pub manufacturer: String,
    /// iProduct string (also DeviceInfo Model).
    pub product: String,
    /// iSerialNumber string (also DeviceInfo SerialNumber).
    pub serial: String,
    /// bMaxPower in mA.
    #[serde(default = "default_power")]
    pub max_power_ma: u16,
    /// The UDC to bind (`dummy_udc.0`, `fe980000.usb`); the first one found when absent.
    pub udc: Option<String>,
    /// Name of the configfs gadget directory.
    #[serde(default = "default_gadget_name")]
    pub gadget_name: String,
    /// Use a FunctionFS the board's init already mounted (only write descriptors there).
    pub existing_functionfs: Option<PathBuf>,
}

/// Endpoint queue tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransportProfile {
    /// Size of each bulk request in KiB (a multiple of 1 KiB: whole packets at every speed).
    #[serde(default = "default_buffer_kib")]
    pub buffer_kib: usize,
    /// Requests queued per bulk endpoint.
    #[serde(default = "default_queue_depth")]
    pub queue_depth: u32,
}

impl Default for TransportProfile {
    fn default() -> Self {
        Self {
            buffer_kib: default_buffer_kib(),
            queue_depth: default_queue_depth(),
        }
    }
}

fn default_bcd() -> u16 {
    0x0100
}
fn default_power() -> u16 {
    500
}
fn default_gadget_name() -> String {
    "mtpbur".into()
}
fn default_buffer_kib() -> usize {
    128
}
fn default_queue_depth() -> u32 {
    8
}

impl TransportProfile {
    /// Checks the values.
    ///
    /// # Errors
    /// What is out of range, in words.
    pub fn check(&self) -> Result<(), String> {
        if !(4..=1024).contains(&self.buffer_kib) {
            return Err(format!(
                "transport.buffer_kib = {} (allowed 4..=1024)",
                self.buffer_kib
            ));
        }
        if !(1..=64).contains(&self.queue_depth) {
            return Err(format!(
                "transport.queue_depth = {} (allowed 1..=64)",
                self.queue_depth
            ));
        }
        Ok(())
    }
}

impl UsbProfile {
    /// Checks the values.
    ///
    /// # Errors
    /// What is wrong, in words.
    pub fn check(&self) -> Result<(), String> {
        if self.gadget_name.is_empty() || self.gadget_name.contains('/') {
            return Err(format!(
                "usb.gadget_name {:?} is not a directory name",
                self.gadget_name
            ));
        }
        Ok(())
    }
}
