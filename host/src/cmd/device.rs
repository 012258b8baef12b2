//! `devices` and `info`.

use crate::device::{Owners, Status};
use crate::link::Link;
use crate::output::{Outcome, size};
use crate::remote::{Remote, link_failure};
use crate::storage::ROOT;
use crate::usb::Found;

/// `devices` in words.
pub fn devices_text(found: &[Found]) -> String {
    if found.is_empty() {
        return "no MTP devices found\n".into();
    }
    let mut t = String::new();
    for f in found {
        t.push_str(&format!(
            "{:04x}:{:04x}  serial {}  {} {}  ({})\n",
            f.vendor_id,
            f.product_id,
            f.serial.as_deref().unwrap_or("-"),
            f.manufacturer.as_deref().unwrap_or(""),
            f.product.as_deref().unwrap_or(""),
            f.location
        ));
    }
    t
}

/// What `info` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Info {
    /// Manufacturer (DeviceInfo).
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Firmware version.
    pub version: String,
    /// Serial number.
    pub serial: String,
    /// Every storage.
    pub storages: Vec<StorageLine>,
    /// The Backup storage's status.
    pub status: Status,
    /// Its owners (empty while access needs consent).
    pub owners: Owners,
}

/// One storage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StorageLine {
    /// ID.
    pub id: u32,
    /// Description.
    pub description: String,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Free bytes.
    pub free: u64,
}

/// Reads everything `info` shows.
///
/// # Errors
/// The device fails.
pub fn info<L: Link>(remote: &mut Remote<L>) -> Outcome<Info> {
    let di = remote.st.client.device_info().map_err(link_failure)?;
    let mut storages = Vec::new();
    for id in remote.st.client.storage_ids().map_err(link_failure)? {
        let s = remote.st.client.storage_info(id).map_err(link_failure)?;
        storages.push(StorageLine {
            id,
            description: s.description,
            capacity: s.max_capacity,
            free: s.free_space_bytes,
        });
    }
    let status = remote.status()?;
    let owners = match remote
        .st
        .lookup(ROOT, "owners.toml")
        .map_err(link_failure)?
    {
        Some(e) => {
            let data = remote.st.read(e.handle).map_err(link_failure)?;
            Owners::parse(&data).map_err(crate::output::fail(crate::output::Exit::Failed))?
        }
        None => Owners::default(),
    };
    Ok(Info {
        manufacturer: di.manufacturer,
        model: di.model,
        version: di.device_version,
        serial: di.serial_number,
        storages,
        status,
        owners,
    })
}

/// `info` in words.
pub fn info_text(i: &Info) -> String {
    let mut t = format!(
        "{} {} (firmware {}), serial {}\n",
        i.manufacturer, i.model, i.version, i.serial
    );
    for s in &i.storages {
        t.push_str(&format!(
            "  storage 0x{:08x} {:?}: {} free of {}\n",
            s.id,
            s.description,
            size(s.free),
            size(s.capacity)
        ));
    }
    let st = &i.status;
    t.push_str(&format!("status: {}", st.state));
    if let Some(s) = &st.session {
        t.push_str(&format!(" {s}"));
    }
    if let Some(e) = &st.encryption {
        t.push_str(&format!(", encryption {e}"));
    }
    if let Some(a) = &st.access {
        t.push_str(&format!(", access {a}"));
        if let Some(u) = &st.access_until {
            t.push_str(&format!(" until {u}"));
        }
    }
    t.push('\n');
    if let Some(e) = &st.last_error {
        t.push_str(&format!("last error: {e}\n"));
    }
    if st.needs_consent() {
        t.push_str(&format!("{}\n", crate::device::CONSENT_HINT));
    }
    for o in &i.owners.owners {
        t.push_str(&format!(
            "  owner {} {:20} {:30} {}{}\n",
            o.sid,
            o.name.as_deref().unwrap_or("-"),
            o.kinds.join(","),
            o.status,
            if o.incremental { ", incremental" } else { "" }
        ));
        for w in &o.warnings {
            t.push_str(&format!("    warning: {w}\n"));
        }
    }
    for l in &i.owners.left_out {
        t.push_str(&format!("  left out: {l}\n"));
    }
    t
}
