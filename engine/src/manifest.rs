//! `manifest.toml` of a backup set: the codec and its validation (pure).
//!
//! A manifest is parsed once into typed values; past [`Manifest::from_toml`] SIDs, drives,
//! unit kinds, hashes, session names and the mode are known to be well-formed and unit
//! files are addressed only through [`UnitId::relative_path`].

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::mode::BurMode;
use crate::registration::Sid;
use crate::unit::{UnitId, UnitKind};

/// The manifest format this engine writes and reads.
pub const MANIFEST_FORMAT: u32 = 1;

/// The manifest's file name in a set.
pub const MANIFEST_FILE: &str = "manifest.toml";

/// Base or incremental backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupType {
    /// Full data of every unit.
    Base,
    /// Changes since the previous set's snapshots.
    Incremental,
}

/// What happened to an owner during the backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerOutcome {
    /// Every unit of the owner was captured.
    Ok,
    /// The owner failed; its units are incomplete or absent.
    Failed {
        /// The owner's or engine's error code (Symbian style, negative).
        code: i32,
        /// Why.
        reason: String,
    },
}

/// One owner's line in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRecord {
    /// The owner.
    pub sid: Sid,
    /// The outcome.
    pub outcome: OwnerOutcome,
    /// `restore requires_reboot` of its registration.
    pub requires_reboot: bool,
}

/// One unit file of the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRecord {
    /// Which unit.
    pub id: UnitId,
    /// Size of the unit file (encoded).
    pub size: u64,
    /// Size of the raw data inside.
    pub raw_size: u64,
    /// SHA-256 of the unit file.
    pub sha256: [u8; 32],
    /// Whether the unit's blocks are LZ4-compressed.
    pub compressed: bool,
}

/// A backup set's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The session (also the set's directory name).
    pub session: String,
    /// When the backup was taken (RFC 3339, supplied by the caller).
    pub created: String,
    /// The BUR mode of the backup.
    pub mode: BurMode,
    /// Base or incremental.
    pub backup_type: BackupType,
    /// The set whose snapshots this increment is relative to.
    pub previous: Option<String>,
    /// Every selected owner with its outcome.
    pub owners: Vec<OwnerRecord>,
    /// Every unit file.
    pub units: Vec<UnitRecord>,
}

/// A manifest that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not valid TOML or not the manifest's shape.
    #[error("manifest is not valid: {0}")]
    Toml(String),
    /// A format version this engine does not read.
    #[error("unsupported manifest format {0}")]
    Format(u32),
    /// A field with an unusable value.
    #[error("bad {field}: {value:?}")]
    BadField {
        /// The field.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// The same unit is listed twice.
    #[error("unit {0} listed twice")]
    DuplicateUnit(String),
    /// A unit belongs to an owner the manifest does not list.
    #[error("unit {0} belongs to an unlisted owner")]
    UnlistedOwner(String),
    /// The same owner is listed twice.
    #[error("owner {0} listed twice")]
    DuplicateOwner(String),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    format: u32,
    session: String,
    created: String,
    mode: u32,
    backup_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous: Option<String>,
    #[serde(default)]
    owners: Vec<OwnerDoc>,
    #[serde(default)]
    units: Vec<UnitDoc>,
    /// The MAC of an encrypted set's manifest (its first line; see `SpoolSet::seal`).
    #[serde(default, skip_serializing)]
    #[allow(dead_code, reason = "checked on the text, not the parsed value")]
    mac: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerDoc {
    sid: String,
    outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    requires_reboot: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitDoc {
    sid: String,
    drive: String,
    kind: String,
    size: u64,
    raw_size: u64,
    sha256: String,
    compressed: bool,
}

impl Manifest {
    /// Returns the manifest as TOML.
    pub fn to_toml(&self) -> String {
        let doc = Doc {
            format: MANIFEST_FORMAT,
            session: self.session.clone(),
            created: self.created.clone(),
            mode: self.mode.bits(),
            backup_type: match self.backup_type {
                BackupType::Base => "base".into(),
                BackupType::Incremental => "incremental".into(),
            },
            previous: self.previous.clone(),
            owners: self.owners.iter().map(owner_doc).collect(),
            units: self.units.iter().map(unit_doc).collect(),
            mac: None,
        };
        // Serialising plain strings and integers cannot fail.
        toml::to_string(&doc).unwrap_or_default()
    }

    /// Parses and validates a manifest.
    ///
    /// # Errors
    /// A [`ManifestError`] naming the first problem.
    pub fn from_toml(text: &str) -> Result<Self, ManifestError> {
        let doc: Doc =
            toml::from_str(text).map_err(|e| ManifestError::Toml(e.message().to_owned()))?;
        if doc.format != MANIFEST_FORMAT {
            return Err(ManifestError::Format(doc.format));
        }
        if !is_session_name(&doc.session) {
            return Err(bad("session", &doc.session));
        }
        if let Some(prev) = doc.previous.as_deref().filter(|p| !is_session_name(p)) {
            return Err(bad("previous", prev));
        }
        let mode = BurMode::from_bits(doc.mode)
            .ok()
            .filter(|m| m.part().is_backup())
            .ok_or_else(|| bad("mode", &format!("{:#x}", doc.mode)))?;
        let backup_type = match doc.backup_type.as_str() {
            "base" => BackupType::Base,
            "incremental" => BackupType::Incremental,
            other => return Err(bad("backup_type", other)),
        };
        let owners = doc
            .owners
            .into_iter()
            .map(parse_owner)
            .collect::<Result<Vec<_>, _>>()?;
        let mut owner_sids: BTreeSet<Sid> = BTreeSet::new();
        for o in &owners {
            if !owner_sids.insert(o.sid) {
                return Err(ManifestError::DuplicateOwner(o.sid.to_string()));
            }
        }
        let mut seen = BTreeSet::new();
        let mut units = Vec::with_capacity(doc.units.len());
        for u in doc.units {
            let unit = parse_unit(u)?;
            if !owner_sids.contains(&unit.id.sid) {
                return Err(ManifestError::UnlistedOwner(unit.id.to_string()));
            }
            if !seen.insert(unit.id) {
                return Err(ManifestError::DuplicateUnit(unit.id.to_string()));
            }
            units.push(unit);
        }
        Ok(Self {
            session: doc.session,
            created: doc.created,
            mode,
            backup_type,
            previous: doc.previous,
            owners,
            units,
        })
    }

    /// Returns the owner record of `sid`.
    pub fn owner(&self, sid: Sid) -> Option<&OwnerRecord> {
        self.owners.iter().find(|o| o.sid == sid)
    }
}

/// Returns true for a usable session or set name: 1–64 of `[A-Za-z0-9._-]`, not
/// starting with a dot.
pub fn is_session_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn bad(field: &'static str, value: &str) -> ManifestError {
    ManifestError::BadField {
        field,
        value: value.to_owned(),
    }
}

fn owner_doc(o: &OwnerRecord) -> OwnerDoc {
    let (outcome, error_code, error) = match &o.outcome {
        OwnerOutcome::Ok => ("ok", None, None),
        OwnerOutcome::Failed { code, reason } => ("failed", Some(*code), Some(reason.clone())),
    };
    OwnerDoc {
        sid: o.sid.to_string(),
        outcome: outcome.into(),
        error_code,
        error,
        requires_reboot: o.requires_reboot,
    }
}

fn unit_doc(u: &UnitRecord) -> UnitDoc {
    UnitDoc {
        sid: u.id.sid.to_string(),
        drive: u.id.drive.to_string(),
        kind: u.id.kind.to_string(),
        size: u.size,
        raw_size: u.raw_size,
        sha256: to_hex(&u.sha256),
        compressed: u.compressed,
    }
}

fn parse_sid(text: &str) -> Result<Sid, ManifestError> {
    Some(text)
        .filter(|t| t.len() == 8)
        .and_then(Sid::parse_hex)
        .ok_or_else(|| bad("sid", text))
}

fn parse_owner(o: OwnerDoc) -> Result<OwnerRecord, ManifestError> {
    let sid = parse_sid(&o.sid)?;
    let outcome = match o.outcome.as_str() {
        "ok" => OwnerOutcome::Ok,
        "failed" => OwnerOutcome::Failed {
            code: o.error_code.unwrap_or(-2),
            reason: o.error.unwrap_or_default(),
        },
        other => return Err(bad("outcome", other)),
    };
    Ok(OwnerRecord {
        sid,
        outcome,
        requires_reboot: o.requires_reboot,
    })
}

fn parse_unit(u: UnitDoc) -> Result<UnitRecord, ManifestError> {
    let sid = parse_sid(&u.sid)?;
    let mut chars = u.drive.chars();
    let drive = match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_lowercase() => c,
        _ => return Err(bad("drive", &u.drive)),
    };
    let kind: UnitKind = u.kind.parse().map_err(|_| bad("kind", &u.kind))?;
    let sha256 = from_hex(&u.sha256).ok_or_else(|| bad("sha256", &u.sha256))?;
    Ok(UnitRecord {
        id: UnitId { sid, drive, kind },
        size: u.size,
        raw_size: u.raw_size,
        sha256,
        compressed: u.compressed,
    })
}

/// Returns lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
