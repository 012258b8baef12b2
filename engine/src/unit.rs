//! Transfer units: (owner, drive, kind), and where each lives in a spool set.

use std::fmt;
use std::str::FromStr;

use crate::registration::Sid;

/// The kind of data a unit carries (Symbian `TTransferDataType` plus the other kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum UnitKind {
    /// The owner's registration files.
    Registration,
    /// The active owner's snapshot (for the next increment).
    ActiveSnapshot,
    /// The active owner's full data.
    ActiveBase,
    /// The active owner's changes since a snapshot.
    ActiveIncrement,
    /// Passive snapshot: path, size, mtime and hash of every selected file.
    PassiveSnapshot,
    /// Every selected passive file.
    PassiveBase,
    /// New, changed and deleted passive files since a snapshot.
    PassiveIncrement,
    /// Data a proxy data manager serves for this owner (base only).
    Proxy(Sid),
    /// The owner's SQLite databases (DBMS policies).
    Dbms,
    /// Package (system) files.
    System,
    /// Public files.
    Public,
}

impl UnitKind {
    /// Returns true for the kinds that carry an increment.
    pub fn is_increment(self) -> bool {
        matches!(self, Self::ActiveIncrement | Self::PassiveIncrement)
    }

    /// Returns true for the snapshot kinds (what an increment is computed against).
    pub fn is_snapshot(self) -> bool {
        matches!(self, Self::ActiveSnapshot | Self::PassiveSnapshot)
    }

    /// Returns true for the passive kinds (restored before active ones).
    pub fn is_passive(self) -> bool {
        matches!(
            self,
            Self::PassiveSnapshot | Self::PassiveBase | Self::PassiveIncrement | Self::Dbms
        )
    }
}

impl fmt::Display for UnitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Registration => f.write_str("registration"),
            Self::ActiveSnapshot => f.write_str("active-snapshot"),
            Self::ActiveBase => f.write_str("active-base"),
            Self::ActiveIncrement => f.write_str("active-increment"),
            Self::PassiveSnapshot => f.write_str("passive-snapshot"),
            Self::PassiveBase => f.write_str("passive-base"),
            Self::PassiveIncrement => f.write_str("passive-increment"),
            Self::Proxy(sid) => write!(f, "proxy-{sid}"),
            Self::Dbms => f.write_str("dbms"),
            Self::System => f.write_str("system"),
            Self::Public => f.write_str("public"),
        }
    }
}

/// A unit kind name that is not defined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown unit kind {0:?}")]
pub struct UnknownUnitKind(pub String);

impl FromStr for UnitKind {
    type Err = UnknownUnitKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "registration" => Self::Registration,
            "active-snapshot" => Self::ActiveSnapshot,
            "active-base" => Self::ActiveBase,
            "active-increment" => Self::ActiveIncrement,
            "passive-snapshot" => Self::PassiveSnapshot,
            "passive-base" => Self::PassiveBase,
            "passive-increment" => Self::PassiveIncrement,
            "dbms" => Self::Dbms,
            "system" => Self::System,
            "public" => Self::Public,
            other => {
                let sid = other
                    .strip_prefix("proxy-")
                    .filter(|h| h.len() == 8)
                    .and_then(Sid::parse_hex)
                    .ok_or_else(|| UnknownUnitKind(s.to_owned()))?;
                Self::Proxy(sid)
            }
        })
    }
}

/// One transfer unit: whose data, on which drive, of which kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitId {
    /// The owner.
    pub sid: Sid,
    /// The drive letter (lower case).
    pub drive: char,
    /// The kind of data.
    pub kind: UnitKind,
}

impl UnitId {
    /// Returns the unit's file inside a spool set: `<sid>/<drive>/<kind>.unit`.
    ///
    /// The path is derived, never read from a manifest, so it cannot leave the set.
    pub fn relative_path(&self) -> String {
        format!("{}/{}/{}.unit", self.sid, self.drive, self.kind)
    }
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.sid, self.drive, self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        let kinds = [
            UnitKind::Registration,
            UnitKind::ActiveSnapshot,
            UnitKind::ActiveBase,
            UnitKind::ActiveIncrement,
            UnitKind::PassiveSnapshot,
            UnitKind::PassiveBase,
            UnitKind::PassiveIncrement,
            UnitKind::Proxy(Sid(0x1020_2BE9)),
            UnitKind::Dbms,
            UnitKind::System,
            UnitKind::Public,
        ];
        for kind in kinds {
            assert_eq!(kind.to_string().parse::<UnitKind>(), Ok(kind));
        }
        for bad in [
            "",
            "proxy-",
            "proxy-xyz",
            "proxy-123",
            "../etc",
            "Passive-Base",
        ] {
            assert!(bad.parse::<UnitKind>().is_err(), "{bad}");
        }
    }

    #[test]
    fn unit_paths_follow_the_spool_layout() {
        let id = UnitId {
            sid: Sid(0x0AB7_E58C),
            drive: 'c',
            kind: UnitKind::PassiveBase,
        };
        assert_eq!(id.relative_path(), "0ab7e58c/c/passive-base.unit");
    }
}
