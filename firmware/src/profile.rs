//! The daemon's configuration file (a "board profile"): TOML describing the USB identity
//! and the UDC (`board`'s part), the public storages, the backup drives and the daemon's
//! paths. The schema is the daemon's; `board` owns only `[usb]` and `[transport]`.
//!
//! See `docs/board-profiles.md` for every field; `board/profiles/*.toml` are examples.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use board::profile::{TransportProfile, UsbProfile};
use serde::Deserialize;

/// A profile that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ProfileError {
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

/// One public file storage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StorageProfile {
    /// StorageDescription shown by hosts.
    pub(crate) name: String,
    /// The directory it exposes.
    pub(crate) path: PathBuf,
    /// Whether the host may change it.
    #[serde(default)]
    pub(crate) writable: bool,
}

/// Backup engine settings (used by the Backup storage).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackupProfile {
    /// Drive letters to directories (`c = "/var/lib/mtpbur/c"`).
    #[serde(default)]
    pub(crate) drives: BTreeMap<String, PathBuf>,
    /// Where backup and restore sets are kept.
    pub(crate) spool: Option<PathBuf>,
    /// The engine's socket for data owners.
    pub(crate) socket: Option<PathBuf>,
    /// Where owner executables (`process_name`) are found.
    pub(crate) owners_dir: Option<PathBuf>,
    /// Whose system (package) data a restore may write: `"off"`, `"installed"` (default)
    /// or `"any"` (docs/security.md).
    pub(crate) system_restore: Option<SystemRestoreSetting>,
    /// The top-level folders of a drive that hold package files (default `["sys",
    /// "resource"]`).
    pub(crate) system_roots: Option<Vec<String>>,
    /// The group that may connect to the owner socket (a name from `/etc/group` or a
    /// number): the socket is then `0660 root:<group>` and owners the engine starts get
    /// the group. Without it the socket is open to every local user (docs/security.md).
    pub(crate) owner_group: Option<GroupSetting>,
    /// Seconds an active owner may take to connect and confirm it is ready (default 10;
    /// six times that for owners with `requires_delay_to_prepare_data="yes"`).
    pub(crate) ready_timeout: Option<u64>,
    /// Who may use the Backup storage: `"consent"` (default: a host only while the
    /// device's user allows it, `mtpbur ctl allow`) or `"open"` (every host; development
    /// and the VM).
    pub(crate) access: Option<firmware::backup::access::Policy>,
    /// The root-only control socket (`mtpbur ctl`; default `/run/mtpbur/control.sock`).
    pub(crate) control_socket: Option<PathBuf>,
    /// Drives on removable media (`["e"]`): used only while something is mounted on
    /// their directory, which the daemon never creates (an unmounted card is neither
    /// backed up empty nor restored onto the root file system).
    #[serde(default)]
    pub(crate) removable_drives: Vec<String>,
    /// The SID of the settings store that serves owners' settings keys as proxy data
    /// (Symbian's central repository; default `0x10202be9`).
    pub(crate) settings_store: Option<String>,
}

/// A group, by name or by number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum GroupSetting {
    /// A numeric gid.
    Id(u32),
    /// A name to look up in `/etc/group`.
    Name(String),
}

/// The profile's `system_restore` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SystemRestoreSetting {
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
pub(crate) struct Profile {
    /// USB identity and gadget placement.
    pub(crate) usb: UsbProfile,
    /// Endpoint queues.
    #[serde(default)]
    pub(crate) transport: TransportProfile,
    /// Public storages, in the order hosts list them.
    #[serde(default, rename = "storage")]
    pub(crate) storages: Vec<StorageProfile>,
    /// Backup engine settings.
    #[serde(default)]
    pub(crate) backup: BackupProfile,
    /// Where the friendly name chosen by the host is kept between runs.
    pub(crate) state_dir: Option<PathBuf>,
}

impl Profile {
    /// Reads and checks a profile file.
    ///
    /// # Errors
    /// Unreadable file, TOML errors (with line and column), or inconsistent values.
    pub(crate) fn load(path: &Path) -> Result<Self, ProfileError> {
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
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Self, ProfileError> {
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
        self.transport.check()?;
        self.usb.check()?;
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
        if let Some(t) = self.backup.ready_timeout.filter(|t| !(1..=600).contains(t)) {
            return Err(format!(
                "backup.ready_timeout = {t} (allowed 1..=600 seconds)"
            ));
        }
        for letter in &self.backup.removable_drives {
            if !self.backup.drives.contains_key(letter) {
                return Err(format!(
                    "backup.removable_drives: {letter:?} is not one of backup.drives"
                ));
            }
        }
        if let Some(s) = &self.backup.settings_store
            && settings_store_sid(s).is_none()
        {
            return Err(format!(
                "backup.settings_store = {s:?} is not a SID (up to 8 hex digits, like \"0x10202be9\")"
            ));
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
        Ok(())
    }
}

/// The SID a `settings_store` value names.
pub(crate) fn settings_store_sid(s: &str) -> Option<engine::registration::Sid> {
    let hex = s.strip_prefix("0x").unwrap_or(s);
    (!hex.is_empty() && hex.len() <= 8)
        .then(|| engine::registration::Sid::parse_hex(hex))
        .flatten()
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
    fn removable_drives_and_the_settings_store_are_checked() {
        let with = |v: &str| {
            format!("{MINIMAL}\n[backup]\ndrives = {{ c = \"/c\", e = \"/media/card\" }}\n{v}\n")
        };
        let p = Profile::parse(
            &with("removable_drives = [\"e\"]\nsettings_store = \"0x10202BE9\""),
            Path::new("b.toml"),
        )
        .unwrap();
        assert_eq!(p.backup.removable_drives, ["e"]);
        assert_eq!(
            settings_store_sid("0x10202BE9"),
            Some(engine::registration::Sid(0x1020_2BE9))
        );
        for (bad, want) in [
            ("removable_drives = [\"d\"]", "not one of backup.drives"),
            ("settings_store = \"central\"", "not a SID"),
            ("settings_store = \"0x123456789\"", "not a SID"),
        ] {
            let e = Profile::parse(&with(bad), Path::new("b.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn shipped_profiles_parse() {
        for name in ["dummy_hcd.toml", "raspberry-pi-zero.toml"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../board/profiles")
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
    fn ready_timeout_is_seconds_within_bounds() {
        let with = |v: &str| format!("{MINIMAL}\n[backup]\nready_timeout = {v}\n");
        let p = Profile::parse(&with("30"), Path::new("p.toml")).unwrap();
        assert_eq!(p.backup.ready_timeout, Some(30));
        for bad in ["0", "601"] {
            let e = Profile::parse(&with(bad), Path::new("p.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("ready_timeout"), "{e}");
        }
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

    #[test]
    fn the_dummy_hcd_profile_gives_the_expected_gadget() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../board/profiles/dummy_hcd.toml");
        let p = Profile::load(&path).unwrap();
        let s = board::GadgetSpec::new(&p.usb, &p.transport);
        assert_eq!(s.id, (0x1d6b, 0x0100));
        assert_ne!(
            s.id,
            (0x1d6b, 0x0101),
            "libmtp lists 1d6b:0101 with Android quirks"
        );
        assert_eq!(s.udc.as_deref(), Some("dummy_udc.0"));
    }
}
