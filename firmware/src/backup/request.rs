//! `backup.request` and `restore.request`: the TOML files a host sends to start a session.
//!
//! Each file is parsed once into a validated value ([`BackupSpec`], [`RestoreSpec`]); past
//! that point nothing re-checks. Every problem is a [`RequestError`] whose message names
//! the field and, where the file has one, the line, in plain words fit for `status.toml`.
//! Unknown keys are errors, so a misspelt field is never silently ignored.
//!
//! ```toml
//! # backup.request
//! scope = "partial"            # "full" | "partial"
//! type = "incremental"         # "base" | "incremental"
//! owners = ["0x0ab7e58c"]      # partial only, required there
//! drives = ["c"]               # default: every drive
//! compress = true              # default: true
//! label = "before-update"      # optional, [A-Za-z0-9._-], at most 32 characters
//! snapshots = "20261123T210000Z"   # incremental only, required there
//! ```
//!
//! ```toml
//! # restore.request
//! source = "20261123T210000Z"          # the base set (or the only set)
//! increments = ["20261124T210000Z"]    # optional, oldest first
//! scope = "full"                       # "full" | "partial"
//! owners = []                          # partial only, required there
//! ```
//!
//! # Mapping to the engine
//!
//! [`BackupSpec::to_engine`] and [`RestoreSpec::to_engine`] build the engine's
//! [`BackupRequest`] and [`RestoreRequest`]. The caller supplies what a request file does
//! not hold: the session name and creation time (see [`super::naming`]) and where a folder
//! of the Backup storage lives on disk. `drives` and `label` have no engine field: the
//! label goes into the session name, and `drives` is kept in [`BackupSpec::drives`] for
//! the provider (the engine's session API captures every configured drive today).
#![warn(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;

use engine::manifest::BackupType;
use engine::registration::Sid;
use engine::runner::{BackupRequest, RestoreRequest};
use serde::Deserialize;
use toml::Spanned;

/// The largest request file accepted, in bytes.
pub const MAX_REQUEST_LEN: usize = 64 * 1024;

/// The longest label accepted, in characters.
pub const MAX_LABEL_LEN: usize = 32;

/// The longest folder name a request may name, in bytes.
pub const MAX_FOLDER_LEN: usize = 255;

/// Why a request file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The file is larger than [`MAX_REQUEST_LEN`].
    #[error("the request is {len} bytes long, more than the {MAX_REQUEST_LEN} allowed")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// The file is not UTF-8 text.
    #[error("the request is not UTF-8 text")]
    NotUtf8,
    /// The file is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("{}{message}", line_prefix(*.line))]
    Toml {
        /// The line of the problem, if toml could place it.
        line: Option<usize>,
        /// toml's explanation.
        message: String,
    },
    /// A required field is absent.
    #[error("field `{field}` is missing: {reason}")]
    Missing {
        /// The field.
        field: &'static str,
        /// Why it is needed.
        reason: &'static str,
    },
    /// A field has a value that is not allowed.
    #[error("line {line}: field `{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The line of the value.
        line: usize,
        /// What is wrong with it, in words.
        reason: String,
    },
}

fn line_prefix(line: Option<usize>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

/// Full or partial: every registered owner, or the listed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// Every registered owner.
    Full,
    /// Only these owners (never empty).
    Partial(BTreeSet<Sid>),
}

impl Scope {
    /// Returns the engine's form: `None` for full, the SID list for partial.
    pub fn partial_sids(&self) -> Option<BTreeSet<Sid>> {
        match self {
            Self::Full => None,
            Self::Partial(sids) => Some(sids.clone()),
        }
    }
}

/// A session label: 1 to [`MAX_LABEL_LEN`] characters of `[A-Za-z0-9._-]`, not starting
/// with a dot (other characters of the request are replaced by `_`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label(String);

impl Label {
    /// Sanitises a label: characters outside `[A-Za-z0-9._-]` (and a leading dot) become
    /// `_`. Returns `None` if it is empty or longer than [`MAX_LABEL_LEN`] characters.
    pub fn sanitise(text: &str) -> Option<Self> {
        let count = text.chars().count();
        if count == 0 || count > MAX_LABEL_LEN {
            return None;
        }
        let clean = text
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let ok = c.is_ascii_alphanumeric() || matches!(c, '_' | '-') || (c == '.' && i > 0);
                if ok { c } else { '_' }
            })
            .collect();
        Some(Self(clean))
    }

    /// Returns the label text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated `backup.request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSpec {
    /// Which owners.
    pub scope: Scope,
    /// Base or incremental.
    pub backup_type: BackupType,
    /// Drive letters (lower case); `None` means every drive.
    pub drives: Option<BTreeSet<char>>,
    /// Compress the units (default true).
    pub compress: bool,
    /// The label for the session folder name.
    pub label: Option<Label>,
    /// For an incremental backup: the folder holding the earlier set (one folder name).
    pub snapshots: Option<String>,
}

impl BackupSpec {
    /// Returns the engine request for this backup.
    ///
    /// `session` is the folder name (see [`super::naming`]), `created` the RFC 3339 time
    /// for the manifest, and `folder_path` maps a Backup storage folder name to its
    /// directory (used for `snapshots`).
    pub fn to_engine(
        &self,
        session: String,
        created: String,
        folder_path: impl Fn(&str) -> PathBuf,
    ) -> BackupRequest {
        BackupRequest {
            session,
            created,
            partial: self.scope.partial_sids(),
            backup_type: self.backup_type,
            previous: self.snapshots.as_deref().map(folder_path),
            compress: self.compress,
            drives: self.drives.clone(),
        }
    }
}

/// A validated `restore.request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSpec {
    /// The base set's folder (or the only set's).
    pub source: String,
    /// Increment folders, oldest first.
    pub increments: Vec<String>,
    /// Which owners.
    pub scope: Scope,
    /// The backup password, for encrypted sets.
    pub password: Option<Password>,
}

/// A password from a request: never printed, never stored ([`redact_secrets`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// What an `encryption.request` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncryptionSpec {
    /// Turn encryption on with this new password.
    On(Password),
    /// Turn it off; the current password.
    Off(Password),
    /// Change the password: the current one, then the new one.
    Change(Password, Password),
}

/// The fields whose values [`redact_secrets`] hides.
const SECRET_FIELDS: [&str; 2] = ["password", "new_password"];

/// The request as it may be stored: every `password` and `new_password` value replaced
/// by `*` of the same length (so the stored file has the size the host announced). Where
/// that cannot be done line by line (a multi-line string, a value the blanking missed),
/// the whole file is blanked instead: only its line breaks stay.
pub fn redact_secrets(bytes: &[u8]) -> Vec<u8> {
    let out = blank_values(bytes);
    let text = String::from_utf8_lossy(&out);
    let still_secret = match toml::from_str::<toml::Table>(&text) {
        Ok(table) => SECRET_FIELDS.iter().any(|f| {
            table
                .get(*f)
                .is_some_and(|v| !v.as_str().is_some_and(|s| s.chars().all(|c| c == '*')))
        }),
        Err(_) => bytes
            .windows(8)
            .any(|w| w.eq_ignore_ascii_case(b"password")),
    };
    if still_secret {
        return bytes
            .iter()
            .map(|&b| if b == b'\n' { b } else { b'#' })
            .collect();
    }
    out
}

/// Blanks the value of every line that sets a secret field.
fn blank_values(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut start = 0;
    while start < out.len() {
        let end = out[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(out.len(), |i| start + i);
        let line = &out[start..end];
        let key_end = line.iter().position(|&b| b == b'=').unwrap_or(line.len());
        let key = String::from_utf8_lossy(&line[..key_end]);
        if SECRET_FIELDS.contains(&key.trim().trim_matches('"')) {
            // Everything between the first and the last quote of the value.
            let value = (start + key_end + 1).min(end);
            let quote = |b: &u8| matches!(*b, b'"' | b'\'');
            if let (Some(first), Some(last)) = (
                out[value..end].iter().position(quote),
                out[value..end].iter().rposition(quote),
            ) && first < last
            {
                for b in &mut out[value + first + 1..value + last] {
                    *b = b'*';
                }
            }
        }
        start = end + 1;
    }
    out
}

impl RestoreSpec {
    /// Returns the engine request: the chain `source`, then `increments`, mapped to
    /// directories by `folder_path`.
    pub fn to_engine(&self, folder_path: impl Fn(&str) -> PathBuf) -> RestoreRequest {
        let sets = std::iter::once(&self.source)
            .chain(&self.increments)
            .map(|f| folder_path(f))
            .collect();
        RestoreRequest {
            sets,
            partial: self.scope.partial_sids(),
        }
    }

    /// Returns every folder of the chain, `source` first.
    pub fn folders(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.source.as_str()).chain(self.increments.iter().map(String::as_str))
    }
}

type Field<T> = Option<Spanned<T>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackup {
    scope: Field<String>,
    #[serde(rename = "type")]
    backup_type: Field<String>,
    owners: Field<Vec<Spanned<String>>>,
    drives: Field<Vec<Spanned<String>>>,
    compress: Field<bool>,
    label: Field<String>,
    snapshots: Field<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestore {
    source: Field<String>,
    increments: Field<Vec<Spanned<String>>>,
    scope: Field<String>,
    owners: Field<Vec<Spanned<String>>>,
    password: Field<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEncryption {
    action: Field<String>,
    password: Field<String>,
    new_password: Field<String>,
}

/// Parses and validates an `encryption.request`.
///
/// # Errors
/// A [`RequestError`] naming the first problem found.
pub fn parse_encryption_request(bytes: &[u8]) -> Result<EncryptionSpec, RequestError> {
    let text = request_text(bytes)?;
    let raw: RawEncryption = parse_toml(text)?;
    let Some(action) = raw.action else {
        return Err(RequestError::Missing {
            field: "action",
            reason: "say action = \"on\", \"off\" or \"change\"",
        });
    };
    let password = |f: Field<String>, field: &'static str, reason: &'static str| {
        let p = f.ok_or(RequestError::Missing { field, reason })?;
        if p.get_ref().is_empty() {
            return Err(invalid(
                field,
                line_of(text, p.span().start),
                "must not be empty".into(),
            ));
        }
        Ok(Password(p.into_inner()))
    };
    let action_line = line_of(text, action.span().start);
    match action.get_ref().as_str() {
        "on" => {
            if let Some(n) = raw.new_password {
                return Err(invalid(
                    "new_password",
                    line_of(text, n.span().start),
                    "only a change takes a new password".into(),
                ));
            }
            Ok(EncryptionSpec::On(password(
                raw.password,
                "password",
                "the new backup password",
            )?))
        }
        "off" => {
            if let Some(n) = raw.new_password {
                return Err(invalid(
                    "new_password",
                    line_of(text, n.span().start),
                    "only a change takes a new password".into(),
                ));
            }
            Ok(EncryptionSpec::Off(password(
                raw.password,
                "password",
                "the current backup password",
            )?))
        }
        "change" => Ok(EncryptionSpec::Change(
            password(raw.password, "password", "the current backup password")?,
            password(raw.new_password, "new_password", "the new backup password")?,
        )),
        other => Err(invalid(
            "action",
            action_line,
            format!("must be \"on\", \"off\" or \"change\", not \"{other}\""),
        )),
    }
}

/// Parses and validates a `backup.request`.
///
/// # Errors
/// A [`RequestError`] naming the first problem found.
pub fn parse_backup_request(bytes: &[u8]) -> Result<BackupSpec, RequestError> {
    let text = request_text(bytes)?;
    let raw: RawBackup = parse_toml(text)?;
    let at = |span: std::ops::Range<usize>| line_of(text, span.start);
    let scope = parse_scope(text, raw.scope, raw.owners, "backup")?;
    let Some(kind) = raw.backup_type else {
        return Err(RequestError::Missing {
            field: "type",
            reason: "say type = \"base\" or type = \"incremental\"",
        });
    };
    let backup_type = match kind.get_ref().as_str() {
        "base" => BackupType::Base,
        "incremental" => BackupType::Incremental,
        other => {
            return Err(invalid(
                "type",
                at(kind.span()),
                format!("must be \"base\" or \"incremental\", not \"{other}\""),
            ));
        }
    };
    let snapshots = match (backup_type, raw.snapshots) {
        (BackupType::Incremental, None) => {
            return Err(RequestError::Missing {
                field: "snapshots",
                reason: "an incremental backup needs the folder holding the earlier set",
            });
        }
        (BackupType::Base, Some(s)) => {
            return Err(invalid(
                "snapshots",
                at(s.span()),
                "only an incremental backup takes an earlier set".into(),
            ));
        }
        (_, s) => s.map(|s| folder_name(text, "snapshots", &s)).transpose()?,
    };
    let drives = raw.drives.map(|d| parse_drives(text, &d)).transpose()?;
    let label = match raw.label {
        None => None,
        Some(l) => Some(Label::sanitise(l.get_ref()).ok_or_else(|| {
            invalid(
                "label",
                at(l.span()),
                format!("must be 1 to {MAX_LABEL_LEN} characters long"),
            )
        })?),
    };
    Ok(BackupSpec {
        scope,
        backup_type,
        drives,
        compress: raw.compress.is_none_or(Spanned::into_inner),
        label,
        snapshots,
    })
}

/// Parses and validates a `restore.request`.
///
/// # Errors
/// A [`RequestError`] naming the first problem found.
pub fn parse_restore_request(bytes: &[u8]) -> Result<RestoreSpec, RequestError> {
    let text = request_text(bytes)?;
    let raw: RawRestore = parse_toml(text)?;
    let Some(source) = raw.source else {
        return Err(RequestError::Missing {
            field: "source",
            reason: "name the folder holding the backup set to restore",
        });
    };
    let source = folder_name(text, "source", &source)?;
    let mut increments = Vec::new();
    for inc in raw.increments.map(Spanned::into_inner).unwrap_or_default() {
        let name = folder_name(text, "increments", &inc)?;
        if name == source || increments.contains(&name) {
            return Err(invalid(
                "increments",
                line_of(text, inc.span().start),
                format!("folder \"{name}\" appears twice in the chain"),
            ));
        }
        increments.push(name);
    }
    let scope = parse_scope(text, raw.scope, raw.owners, "restore")?;
    Ok(RestoreSpec {
        source,
        increments,
        scope,
        password: raw.password.map(|p| Password(p.into_inner())),
    })
}

fn request_text(bytes: &[u8]) -> Result<&str, RequestError> {
    if bytes.len() > MAX_REQUEST_LEN {
        return Err(RequestError::TooLong { len: bytes.len() });
    }
    std::str::from_utf8(bytes).map_err(|_| RequestError::NotUtf8)
}

fn parse_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, RequestError> {
    toml::from_str(text).map_err(|e| RequestError::Toml {
        line: e.span().map(|s| line_of(text, s.start)),
        message: e.message().trim_end().to_owned(),
    })
}

/// Returns the 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn invalid(field: &'static str, line: usize, reason: String) -> RequestError {
    RequestError::Invalid {
        field,
        line,
        reason,
    }
}

fn parse_scope(
    text: &str,
    scope: Field<String>,
    owners: Field<Vec<Spanned<String>>>,
    what: &str,
) -> Result<Scope, RequestError> {
    let Some(scope) = scope else {
        return Err(RequestError::Missing {
            field: "scope",
            reason: "say scope = \"full\" or scope = \"partial\"",
        });
    };
    match (scope.get_ref().as_str(), owners) {
        ("full", None) => Ok(Scope::Full),
        ("full", Some(o)) => Err(invalid(
            "owners",
            line_of(text, o.span().start),
            format!("only a partial {what} takes a list of owners"),
        )),
        ("partial", None) => Err(RequestError::Missing {
            field: "owners",
            reason: "a partial scope needs the list of owner SIDs",
        }),
        ("partial", Some(o)) => parse_owners(text, &o).map(Scope::Partial),
        (other, _) => Err(invalid(
            "scope",
            line_of(text, scope.span().start),
            format!("must be \"full\" or \"partial\", not \"{other}\""),
        )),
    }
}

fn parse_owners(
    text: &str,
    owners: &Spanned<Vec<Spanned<String>>>,
) -> Result<BTreeSet<Sid>, RequestError> {
    if owners.get_ref().is_empty() {
        return Err(invalid(
            "owners",
            line_of(text, owners.span().start),
            "a partial scope needs at least one owner SID".into(),
        ));
    }
    owners
        .get_ref()
        .iter()
        .map(|o| {
            Sid::parse_hex(o.get_ref()).ok_or_else(|| {
                invalid(
                    "owners",
                    line_of(text, o.span().start),
                    format!(
                        "\"{}\" is not a SID (up to 8 hex digits, like \"0x0ab7e58c\")",
                        o.get_ref()
                    ),
                )
            })
        })
        .collect()
}

fn parse_drives(
    text: &str,
    drives: &Spanned<Vec<Spanned<String>>>,
) -> Result<BTreeSet<char>, RequestError> {
    if drives.get_ref().is_empty() {
        return Err(invalid(
            "drives",
            line_of(text, drives.span().start),
            "leave the field out for every drive, or list at least one".into(),
        ));
    }
    drives
        .get_ref()
        .iter()
        .map(|d| {
            let mut chars = d.get_ref().chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_alphabetic() => Ok(c.to_ascii_lowercase()),
                _ => Err(invalid(
                    "drives",
                    line_of(text, d.span().start),
                    format!("\"{}\" is not a drive letter (a to z)", d.get_ref()),
                )),
            }
        })
        .collect()
}

/// Checks that a request names one folder of the Backup storage (a leading `/` is
/// allowed): no separators, not `.` or `..`, no control characters.
fn folder_name(
    text: &str,
    field: &'static str,
    value: &Spanned<String>,
) -> Result<String, RequestError> {
    let raw = value.get_ref();
    let name = raw.strip_prefix('/').unwrap_or(raw);
    let name = name.strip_suffix('/').unwrap_or(name);
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.len() > MAX_FOLDER_LEN
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(invalid(
            field,
            line_of(text, value.span().start),
            format!("\"{raw}\" is not the name of a folder in the Backup storage"),
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests;
