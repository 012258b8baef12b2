//! `status.toml` (the live state of the Backup storage) and `owners.toml` (the registered
//! data owners and what they support): models and TOML renderers.
//!
//! ```toml
//! # status.toml
//! state = "capturing"          # idle, capturing, verifying, restoring, done, failed
//! session = "20261124T210000Z"
//! bytes_done = 1048576
//! bytes_total = 4194304
//! owners_done = 1
//! owners_total = 3
//! last_error = "line 2: field `type`: must be \"base\" or \"incremental\", not \"x\""
//! access = "allowed"           # open, allowed or "consent required" (then nothing else)
//! access_until = "2026-12-04T10:00:00Z"
//! ```
//!
//! ```toml
//! # owners.toml
//! [[owners]]
//! sid = "0x0ab7e58c"
//! name = "recordstore"
//! kinds = ["active", "passive", "dbms"]
//! incremental = true
//! requires_reboot = false
//! status = "ready"
//! warnings = ["/…/backup_registration.xml: line 5, column 5: element <include_file> needs attribute name: left out"]
//! ```
#![warn(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use engine::owners::{
    ACTIVE_BUR, ACTIVE_SUPPORTS_INC, Capabilities, DataOwnerStatus, HAS_PUBLIC_FILES,
    HAS_SYSTEM_FILES, PASSIVE_BUR, PASSIVE_SUPPORTS_INC, REQUIRES_REBOOT,
};
use engine::registration::{BackupRegistration, Sid};
use serde::{Deserialize, Serialize};

/// What the Backup storage is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum State {
    /// Nothing runs; a request may be sent.
    #[default]
    Idle,
    /// A backup is capturing owners' data into a session folder.
    Capturing,
    /// A restore is verifying the sets before touching anything.
    Verifying,
    /// A restore is writing owners' data back.
    Restoring,
    /// The last operation finished.
    Done,
    /// The last operation or request failed; see `last_error`.
    Failed,
}

/// The contents of `status.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    /// What the storage is doing.
    pub state: State,
    /// The session folder of the current or last operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Bytes written or restored so far.
    #[serde(default)]
    pub bytes_done: u64,
    /// Bytes expected in all (an estimate while capturing).
    #[serde(default)]
    pub bytes_total: u64,
    /// Owners finished so far.
    #[serde(default)]
    pub owners_done: u32,
    /// Owners in the operation.
    #[serde(default)]
    pub owners_total: u32,
    /// The last error, in words (a refused request or a failed operation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Whether a host may use the storage: `open`, `allowed` (with `access_until`) or
    /// `consent required` (then nothing else is shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    /// When the consent ends (UTC, RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_until: Option<String>,
    /// `on` while every new set is encrypted (a backup password is set), else `off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
}

impl Status {
    /// Returns `status.toml`'s text. Byte counts above `i64::MAX` (beyond TOML integers)
    /// are written as `i64::MAX`.
    pub fn to_toml(&self) -> String {
        let clamp = |n: u64| n.min(i64::MAX as u64);
        let doc = Self {
            bytes_done: clamp(self.bytes_done),
            bytes_total: clamp(self.bytes_total),
            ..self.clone()
        };
        // Strings, enums and integers within TOML's range cannot fail to serialise.
        toml::to_string(&doc).unwrap_or_default()
    }

    /// Parses `status.toml`'s text (tests and host-side tools).
    ///
    /// # Errors
    /// toml's error for text that is not a status.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// One line of `owners.toml`: a registered data owner and what it supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerEntry {
    /// The owner.
    pub sid: Sid,
    /// Its process name (active owners), if any.
    pub name: Option<String>,
    /// The engine's settings words.
    pub capabilities: Capabilities,
    /// Its data is served by proxy data managers.
    pub proxy: bool,
    /// It has DBMS (SQLite) databases.
    pub dbms: bool,
    /// Its status now.
    pub status: DataOwnerStatus,
    /// Elements of its registration files that were left out (file, line, reason).
    pub warnings: Vec<String>,
}

impl OwnerEntry {
    /// Builds the entry for one item of `Engine::list_data_owners`, with details (name,
    /// proxy, DBMS) from its registration if there is one.
    pub fn new(
        (sid, capabilities, status): (Sid, Capabilities, DataOwnerStatus),
        registration: Option<&BackupRegistration>,
    ) -> Self {
        Self {
            sid,
            name: registration
                .and_then(|r| r.active.as_ref())
                .map(|a| a.process_name.clone()),
            capabilities,
            proxy: registration.is_some_and(|r| !r.proxies.is_empty()),
            dbms: registration.is_some_and(|r| !r.dbms.is_empty()),
            status,
            warnings: registration.map(|r| r.warnings.clone()).unwrap_or_default(),
        }
    }

    /// Returns the kinds of data it has, in a fixed order: `active`, `passive`, `proxy`,
    /// `dbms`, `system`, `public`.
    pub fn kinds(&self) -> Vec<&'static str> {
        let c = &self.capabilities;
        [
            (c.common & ACTIVE_BUR != 0, "active"),
            (c.common & PASSIVE_BUR != 0, "passive"),
            (self.proxy, "proxy"),
            (self.dbms, "dbms"),
            (c.common & HAS_SYSTEM_FILES != 0, "system"),
            (c.passive & HAS_PUBLIC_FILES != 0, "public"),
        ]
        .into_iter()
        .filter_map(|(on, kind)| on.then_some(kind))
        .collect()
    }

    /// Returns true if an incremental backup takes only its changes (active or passive).
    pub fn incremental(&self) -> bool {
        self.capabilities.active & ACTIVE_SUPPORTS_INC != 0
            || self.capabilities.passive & PASSIVE_SUPPORTS_INC != 0
    }
}

/// Returns the entries for `Engine::list_data_owners`, with `Engine::registrations`.
pub fn owner_entries(
    listing: Vec<(Sid, Capabilities, DataOwnerStatus)>,
    registrations: &BTreeMap<Sid, BackupRegistration>,
) -> Vec<OwnerEntry> {
    listing
        .into_iter()
        .map(|item| {
            let reg = registrations.get(&item.0);
            OwnerEntry::new(item, reg)
        })
        .collect()
}

/// Returns a status in the words `owners.toml` uses.
pub fn status_word(status: DataOwnerStatus) -> &'static str {
    match status {
        DataOwnerStatus::Unset => "unset",
        DataOwnerStatus::NotFound => "not-found",
        DataOwnerStatus::Ready => "ready",
        DataOwnerStatus::NotReady => "not-ready",
        DataOwnerStatus::Failed => "failed",
        DataOwnerStatus::NotConnected => "not-connected",
        DataOwnerStatus::ReadyNoImpl => "ready-no-impl",
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnersDoc {
    /// Registration files left out whole (their owners are missing below), with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    left_out: Vec<String>,
    owners: Vec<OwnerDoc>,
}

/// One `[[owners]]` table as written (and read back by tests).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct OwnerDoc {
    sid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    kinds: Vec<String>,
    incremental: bool,
    requires_reboot: bool,
    status: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// Returns `owners.toml`'s text: a comment, then one `[[owners]]` table per entry with
/// `sid` (`0x` + 8 hex digits, as a request's `owners` takes it), `name` (if any),
/// `kinds`, `incremental`, `requires_reboot`, `status` and, if parts of its registration
/// were left out, `warnings` (file, line, column, reason); before them `left_out`, the
/// registration files that could not be used at all (file and reason), if any.
pub fn render_owners(entries: &[OwnerEntry], left_out: &[String]) -> String {
    let doc = OwnersDoc {
        left_out: left_out.to_vec(),
        owners: entries
            .iter()
            .map(|e| OwnerDoc {
                sid: format!("0x{}", e.sid),
                name: e.name.clone(),
                kinds: e.kinds().into_iter().map(str::to_owned).collect(),
                incremental: e.incremental(),
                requires_reboot: e.capabilities.common & REQUIRES_REBOOT != 0,
                status: status_word(e.status).to_owned(),
                warnings: e.warnings.clone(),
            })
            .collect(),
    };
    let mut out =
        String::from("# Registered data owners. Copy a sid into a request's owners list.\n");
    if entries.is_empty() && left_out.is_empty() {
        out.push_str("owners = []\n");
    } else {
        let _ = write!(out, "\n{}", toml::to_string(&doc).unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> OwnerEntry {
        OwnerEntry {
            sid: Sid(0x0ab7_e58c),
            name: Some("recordstore".into()),
            capabilities: Capabilities {
                common: ACTIVE_BUR | PASSIVE_BUR | REQUIRES_REBOOT,
                passive: HAS_PUBLIC_FILES,
                active: ACTIVE_SUPPORTS_INC,
            },
            proxy: false,
            dbms: true,
            status: DataOwnerStatus::Ready,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn idle_status_renders_only_what_it_has() {
        let text = Status::default().to_toml();
        assert!(text.contains("state = \"idle\""), "{text}");
        assert!(!text.contains("session"), "{text}");
        assert!(!text.contains("last_error"), "{text}");
        assert_eq!(Status::from_toml(&text).unwrap(), Status::default());
    }

    #[test]
    fn status_round_trips_every_state() {
        for state in [
            State::Idle,
            State::Capturing,
            State::Verifying,
            State::Restoring,
            State::Done,
            State::Failed,
        ] {
            let status = Status {
                state,
                session: Some("20261124T210000Z-x".into()),
                bytes_done: 1 << 20,
                bytes_total: 4 << 20,
                owners_done: 1,
                owners_total: 3,
                last_error: Some(
                    "line 2: field `type`: must be \"base\", not \"x\"\nsecond".into(),
                ),
                access: Some("allowed".into()),
                access_until: Some("2026-12-04T10:00:00Z".into()),
                encryption: Some("on".into()),
            };
            assert_eq!(Status::from_toml(&status.to_toml()).unwrap(), status);
        }
    }

    #[test]
    fn state_words_are_lowercase() {
        let status = Status {
            state: State::Verifying,
            ..Status::default()
        };
        assert!(status.to_toml().starts_with("state = \"verifying\"\n"));
    }

    #[test]
    fn huge_byte_counts_are_clamped() {
        let status = Status {
            bytes_done: u64::MAX,
            ..Status::default()
        };
        let back = Status::from_toml(&status.to_toml()).unwrap();
        assert_eq!(back.bytes_done, i64::MAX as u64);
    }

    #[test]
    fn owner_kinds_and_flags() {
        let e = entry();
        assert_eq!(e.kinds(), ["active", "passive", "dbms", "public"]);
        assert!(e.incremental());
        let plain = OwnerEntry::new(
            (
                Sid(1),
                Capabilities {
                    common: PASSIVE_BUR | HAS_SYSTEM_FILES,
                    ..Capabilities::default()
                },
                DataOwnerStatus::NotConnected,
            ),
            None,
        );
        assert_eq!(plain.kinds(), ["passive", "system"]);
        assert!(!plain.incremental());
        assert_eq!(plain.name, None);
    }

    #[test]
    fn owners_render_and_parse_back() {
        let mut proxied = entry();
        proxied.sid = Sid(0x1234_5678);
        proxied.name = None;
        proxied.proxy = true;
        proxied.dbms = false;
        proxied.capabilities = Capabilities {
            passive: PASSIVE_SUPPORTS_INC,
            ..Capabilities::default()
        };
        proxied.status = DataOwnerStatus::ReadyNoImpl;
        proxied.warnings = vec!["b.xml: line 3, column 9: bad path \"..\": left out".into()];
        let text = render_owners(&[entry(), proxied], &[]);
        let doc: OwnersDoc = toml::from_str(&text).unwrap();
        assert_eq!(
            doc.owners,
            [
                OwnerDoc {
                    sid: "0x0ab7e58c".into(),
                    name: Some("recordstore".into()),
                    kinds: vec![
                        "active".into(),
                        "passive".into(),
                        "dbms".into(),
                        "public".into()
                    ],
                    incremental: true,
                    requires_reboot: true,
                    status: "ready".into(),
                    warnings: Vec::new(),
                },
                OwnerDoc {
                    sid: "0x12345678".into(),
                    name: None,
                    kinds: vec!["proxy".into()],
                    incremental: true,
                    requires_reboot: false,
                    status: "ready-no-impl".into(),
                    warnings: vec!["b.xml: line 3, column 9: bad path \"..\": left out".into()],
                },
            ]
        );
        // The rendered SID is accepted by a request.
        let req = format!(
            "scope = \"partial\"\ntype = \"base\"\nowners = [\"{}\"]",
            doc.owners[0].sid
        );
        assert!(super::super::request::parse_backup_request(req.as_bytes()).is_ok());
    }

    #[test]
    fn entry_from_a_real_registration() {
        use engine::registration::{CENTRAL_REPOSITORY_SID, FileRole, merge, parse_registration};
        let sid = Sid(0x0ab7_e58c);
        let xml = r#"<backup_registration>
            <passive_backup><include_directory name="\"/></passive_backup>
            <active_backup process_name="recordstore" supports_incremental="yes"/>
            <cenrep_backup/><dbms_backup policy="AABBCCDD"/><system_backup/>
            <restore requires_reboot="yes"/></backup_registration>"#;
        let file = parse_registration(xml, sid, FileRole::Primary).unwrap();
        let reg = merge(sid, file, Vec::new(), CENTRAL_REPOSITORY_SID);
        let caps = engine::owners::capabilities(&reg);
        let registrations = BTreeMap::from([(sid, reg)]);
        let entries = owner_entries(
            vec![(sid, caps, DataOwnerStatus::NotConnected)],
            &registrations,
        );
        let text = render_owners(&entries, &[]);
        let doc: OwnersDoc = toml::from_str(&text).unwrap();
        assert_eq!(
            doc.owners,
            [OwnerDoc {
                sid: "0x0ab7e58c".into(),
                name: Some("recordstore".into()),
                kinds: ["active", "passive", "proxy", "dbms", "system"]
                    .map(String::from)
                    .to_vec(),
                incremental: true,
                requires_reboot: true,
                status: "not-connected".into(),
                warnings: Vec::new(),
            }]
        );
    }

    #[test]
    fn no_owners_is_an_empty_list() {
        let doc: OwnersDoc = toml::from_str(&render_owners(&[], &[])).unwrap();
        assert!(doc.owners.is_empty());
    }

    #[test]
    fn registration_files_left_out_are_listed_for_the_host() {
        let why = "/c/private/22222222/backup_registration.xml: line 2, column 1: not well-formed xml: <backup_registration> is not closed".to_owned();
        for entries in [vec![], vec![entry()]] {
            let text = render_owners(&entries, std::slice::from_ref(&why));
            let doc: OwnersDoc = toml::from_str(&text).unwrap();
            assert_eq!(doc.left_out, std::slice::from_ref(&why));
            assert_eq!(doc.owners.len(), entries.len());
        }
    }

    #[test]
    fn owner_entries_follow_the_listing() {
        let listing = vec![
            (Sid(2), Capabilities::default(), DataOwnerStatus::Unset),
            (Sid(1), Capabilities::default(), DataOwnerStatus::Failed),
        ];
        let entries = owner_entries(listing, &BTreeMap::new());
        assert_eq!(
            entries.iter().map(|e| e.sid).collect::<Vec<_>>(),
            [Sid(2), Sid(1)]
        );
        assert_eq!(status_word(entries[1].status), "failed");
    }
}
