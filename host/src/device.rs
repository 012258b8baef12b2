//! The files the firmware serves in the Backup storage, as the host reads and writes
//! them: `status.toml`, `owners.toml`, the request files and `restore-result.toml`.
//! Unknown fields are ignored, so a newer firmware still reads.

use serde::{Deserialize, Serialize};

/// `status.toml`: what the device is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Status {
    /// `idle`, `capturing`, `verifying`, `restoring`, `done` or `failed`.
    pub state: String,
    /// The set of the current or last operation.
    #[serde(default)]
    pub session: Option<String>,
    /// Bytes written or restored so far.
    #[serde(default)]
    pub bytes_done: u64,
    /// Bytes expected.
    #[serde(default)]
    pub bytes_total: u64,
    /// Owners finished.
    #[serde(default)]
    pub owners_done: u32,
    /// Owners in the operation.
    #[serde(default)]
    pub owners_total: u32,
    /// Why the last request or operation failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// `open`, `allowed` or `consent required`.
    #[serde(default)]
    pub access: Option<String>,
    /// Until when access is allowed.
    #[serde(default)]
    pub access_until: Option<String>,
    /// `on` while the device encrypts its sets.
    #[serde(default)]
    pub encryption: Option<String>,
}

impl Status {
    /// Parses `status.toml`.
    ///
    /// # Errors
    /// Not the firmware's status file.
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(data).map_err(|_| "status.toml is not UTF-8".to_owned())?;
        toml::from_str(text).map_err(|e| format!("status.toml: {e}"))
    }

    /// True while a backup or restore runs.
    pub fn is_busy(&self) -> bool {
        matches!(self.state.as_str(), "capturing" | "verifying" | "restoring")
    }

    /// True when the device's user has not allowed this host (consent mode).
    pub fn needs_consent(&self) -> bool {
        self.access.as_deref() == Some("consent required")
    }
}

/// The text shown when access needs consent.
pub const CONSENT_HINT: &str = "the device has not allowed access to its Backup storage: \
     allow it on the device (for example `mtpbur ctl allow --for 10m`), then try again";

/// One owner of `owners.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Owner {
    /// `0x` + 8 hex digits.
    pub sid: String,
    /// Process name of an active owner.
    #[serde(default)]
    pub name: Option<String>,
    /// Kinds of data.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Whether increments take only its changes.
    #[serde(default)]
    pub incremental: bool,
    /// Whether the device should reboot after restoring it.
    #[serde(default)]
    pub requires_reboot: bool,
    /// Its readiness.
    #[serde(default)]
    pub status: String,
    /// Parts of its registration left out.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// `owners.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Owners {
    /// The registered owners.
    #[serde(default)]
    pub owners: Vec<Owner>,
    /// Registration files that could not be used.
    #[serde(default)]
    pub left_out: Vec<String>,
}

impl Owners {
    /// Parses `owners.toml`.
    ///
    /// # Errors
    /// Not the firmware's owners file.
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(data).map_err(|_| "owners.toml is not UTF-8".to_owned())?;
        toml::from_str(text).map_err(|e| format!("owners.toml: {e}"))
    }
}

/// One owner's line of `restore-result.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RestoredOwner {
    /// 8 hex digits.
    pub sid: String,
    /// `ok` or `failed`.
    pub outcome: String,
    /// Error code when failed.
    #[serde(default)]
    pub error_code: Option<i64>,
    /// Reason when failed.
    #[serde(default)]
    pub error: Option<String>,
    /// Whether the device should be rebooted.
    #[serde(default)]
    pub requires_reboot: bool,
    /// Passive files not restored.
    #[serde(default)]
    pub skipped: Vec<String>,
}

/// `restore-result.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct RestoreResult {
    /// Every owner restored or tried.
    #[serde(default)]
    pub owners: Vec<RestoredOwner>,
}

impl RestoreResult {
    /// Parses `restore-result.toml`.
    ///
    /// # Errors
    /// Not the firmware's result file.
    pub fn parse(data: &[u8]) -> Result<Self, String> {
        let text =
            std::str::from_utf8(data).map_err(|_| "restore-result.toml is not UTF-8".to_owned())?;
        toml::from_str(text).map_err(|e| format!("restore-result.toml: {e}"))
    }
}

/// `backup.request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupRequest {
    /// `full` or `partial`.
    pub scope: &'static str,
    /// `base` or `incremental`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// SIDs of a partial backup.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// The earlier set's folder, for an increment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<String>,
    /// Appended to the set's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// `restore.request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreRequest {
    /// The base set's folder.
    pub source: String,
    /// Later sets, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub increments: Vec<String>,
    /// `full` or `partial`.
    pub scope: &'static str,
    /// SIDs of a partial restore.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
}

/// Renders a request as TOML.
pub fn to_toml(request: &impl Serialize) -> String {
    toml::to_string(request).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_of_the_firmware_parses() {
        let s = Status::parse(
            b"state = \"capturing\"\nsession = \"20261124T210000Z\"\nbytes_done = 5\n\
              bytes_total = 9\nowners_done = 1\nowners_total = 6\naccess = \"open\"\n",
        )
        .unwrap();
        assert!(s.is_busy());
        assert_eq!(s.session.as_deref(), Some("20261124T210000Z"));
        assert!(!s.needs_consent());
        let s = Status::parse(b"state = \"idle\"\naccess = \"consent required\"\n").unwrap();
        assert!(s.needs_consent() && !s.is_busy());
        assert!(Status::parse(b"not toml [").is_err());
    }

    #[test]
    fn requests_render_as_the_firmware_reads_them() {
        let r = BackupRequest {
            scope: "partial",
            kind: "incremental",
            owners: vec!["0x20000001".into()],
            snapshots: Some("20261124T210000Z".into()),
            label: None,
        };
        let text = to_toml(&r);
        assert!(text.contains("type = \"incremental\""), "{text}");
        assert!(text.contains("owners = [\"0x20000001\"]"), "{text}");
        assert!(!text.contains("label"), "{text}");
        let r = RestoreRequest {
            source: "a".into(),
            increments: vec![],
            scope: "full",
            owners: vec![],
        };
        assert_eq!(to_toml(&r), "source = \"a\"\nscope = \"full\"\n");
    }
}
