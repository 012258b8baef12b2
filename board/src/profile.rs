//! Board profiles: a TOML file describing the USB identity, the UDC, the public storages,
//! the backup drives and the daemon's paths.
//!
//! See `docs/board-profiles.md` for every field; `profiles/*.toml` are examples.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A profile that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The profile path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or a field has the wrong type (the message names the line).
    #[error("{path}: {message}")]
    Parse {
        /// The profile path.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
    /// The values parse but make no sense together.
    #[error("{path}: {message}")]
    Invalid {
        /// The profile path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

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

/// One public file storage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageProfile {
    /// StorageDescription shown by hosts.
    pub name: String,
    /// The directory it exposes.
    pub path: PathBuf,
    /// Whether the host may change it.
    #[serde(default)]
    pub writable: bool,
}

/// Backup engine settings (used by the Backup storage).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BackupProfile {
    /// Drive letters to directories (`c = "/var/lib/mtpbur/c"`).
    #[serde(default)]
    pub drives: BTreeMap<String, PathBuf>,
    /// Where backup and restore sets are kept.
    pub spool: Option<PathBuf>,
    /// The engine's socket for data owners.
    pub socket: Option<PathBuf>,
    /// Where owner executables (`process_name`) are found.
    pub owners_dir: Option<PathBuf>,
    /// Whose system (package) data a restore may write: `"off"`, `"installed"` (default)
    /// or `"any"` (docs/security.md).
    pub system_restore: Option<SystemRestoreSetting>,
    /// The top-level folders of a drive that hold package files (default `["sys",
    /// "resource"]`).
    pub system_roots: Option<Vec<String>>,
    /// The group that may connect to the owner socket (a name from `/etc/group` or a
    /// number): the socket is then `0660 root:<group>` and owners the engine starts get
    /// the group. Without it the socket is open to every local user (docs/security.md).
    pub owner_group: Option<GroupSetting>,
}

/// A group, by name or by number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum GroupSetting {
    /// A numeric gid.
    Id(u32),
    /// A name to look up in `/etc/group`.
    Name(String),
}

/// The profile's `system_restore` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemRestoreSetting {
    /// A set with system data is refused.
    Off,
    /// Only owners installed now get their package files back.
    Installed,
    /// Also owners that are not installed (their registration comes back too).
    Any,
}

/// A whole board profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// USB identity and gadget placement.
    pub usb: UsbProfile,
    /// Endpoint queues.
    #[serde(default)]
    pub transport: TransportProfile,
    /// Public storages, in the order hosts list them.
    #[serde(default, rename = "storage")]
    pub storages: Vec<StorageProfile>,
    /// Backup engine settings.
    #[serde(default)]
    pub backup: BackupProfile,
    /// Where the friendly name chosen by the host is kept between runs.
    pub state_dir: Option<PathBuf>,
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

impl Profile {
    /// Reads and checks a profile file.
    ///
    /// # Errors
    /// Unreadable file, TOML errors (with line and column), or inconsistent values.
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks profile text; `path` is only used in messages.
    ///
    /// # Errors
    /// As [`Profile::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Self, ProfileError> {
        let p: Self = toml::from_str(text).map_err(|e| ProfileError::Parse {
            path: path.to_owned(),
            message: located(text, &e),
        })?;
        p.check().map_err(|message| ProfileError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(p)
    }

    fn check(&self) -> Result<(), String> {
        let t = &self.transport;
        if !(4..=1024).contains(&t.buffer_kib) {
            return Err(format!(
                "transport.buffer_kib = {} (allowed 4..=1024)",
                t.buffer_kib
            ));
        }
        if !(1..=64).contains(&t.queue_depth) {
            return Err(format!(
                "transport.queue_depth = {} (allowed 1..=64)",
                t.queue_depth
            ));
        }
        if self.storages.len() > 255 {
            return Err("more than 255 storages".into());
        }
        for (i, s) in self.storages.iter().enumerate() {
            if s.name.trim().is_empty() {
                return Err(format!("storage {} has an empty name", i + 1));
            }
            if !s.path.is_absolute() {
                return Err(format!(
                    "storage {:?}: path {:?} is not absolute",
                    s.name, s.path
                ));
            }
        }
        for (letter, dir) in &self.backup.drives {
            let ok = letter.len() == 1 && letter.chars().all(|c| c.is_ascii_lowercase());
            if !ok {
                return Err(format!(
                    "backup.drives: {letter:?} is not a drive letter a-z"
                ));
            }
            if !dir.is_absolute() {
                return Err(format!("backup.drives.{letter}: {dir:?} is not absolute"));
            }
        }
        if self.usb.gadget_name.is_empty() || self.usb.gadget_name.contains('/') {
            return Err(format!(
                "usb.gadget_name {:?} is not a directory name",
                self.usb.gadget_name
            ));
        }
        Ok(())
    }
}

/// Formats a TOML error with the line and column it points at.
fn located(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_owned();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, str::len) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[usb]
vendor_id = 0x1d6b
product_id = 0x0100
manufacturer = "M"
product = "P"
serial = "S"

[[storage]]
name = "Internal"
path = "/srv/mtp"
writable = true
"#;

    #[test]
    fn minimal_profile_gets_defaults() {
        let p = Profile::parse(MINIMAL, Path::new("p.toml")).unwrap();
        assert_eq!(p.usb.vendor_id, 0x1d6b);
        assert_eq!(p.usb.gadget_name, "mtpbur");
        assert_eq!(
            p.transport,
            TransportProfile {
                buffer_kib: 128,
                queue_depth: 8
            }
        );
        assert_eq!(p.storages.len(), 1);
        assert!(p.storages[0].writable);
    }

    #[test]
    fn shipped_profiles_parse() {
        for name in ["dummy_hcd.toml", "raspberry-pi-zero.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("profiles")
                .join(name);
            Profile::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let bad = MINIMAL.replace("product_id = 0x0100", "product_id = \"x\"");
        let e = Profile::parse(&bad, Path::new("board.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("board.toml: line 4"), "{e}");
        let unknown = format!("{MINIMAL}\nbogus = 1\n");
        let e = Profile::parse(&unknown, Path::new("b.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let rel = MINIMAL.replace("/srv/mtp", "srv");
        let e = Profile::parse(&rel, Path::new("b.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not absolute"), "{e}");
    }

    #[test]
    fn owner_group_is_a_name_or_a_number() {
        for (value, want) in [
            (
                "\"mtpbur-owners\"",
                GroupSetting::Name("mtpbur-owners".into()),
            ),
            ("10000", GroupSetting::Id(10000)),
        ] {
            let text = format!("{MINIMAL}\n[backup]\nowner_group = {value}\n");
            let p = Profile::parse(&text, Path::new("p.toml")).unwrap();
            assert_eq!(p.backup.owner_group, Some(want));
        }
    }
}
