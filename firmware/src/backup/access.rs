//! Who may use the Backup storage: every host (`access = "open"`, for development and the
//! VM), or a host only while the device's user allows it (`access = "consent"`, the
//! default): a local, authenticated action on the device, `mtpbur ctl allow --for 10m`
//! over the root-only control socket, which a device maker wires to a button, a GPIO or
//! its own UI (docs/security.md, "Consent").
//!
//! Sans-IO: the time is passed in (Unix seconds), and the control socket's one-line
//! commands are parsed here.
#![warn(clippy::disallowed_methods)]

use serde::Deserialize;

/// The profile's `access` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Every host may use the storage.
    Open,
    /// A host may use it only while allowed on the device.
    #[default]
    Consent,
}

/// The longest one `allow` may last.
pub const MAX_ALLOW_SECS: u64 = 24 * 3600;

/// Whether the Backup storage may be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    policy: Policy,
    /// Consent: allowed until this Unix time (exclusive).
    until: Option<i64>,
}

impl Access {
    /// Access under `policy`, nothing allowed yet.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            until: None,
        }
    }

    /// True if a host may use the storage at `now`.
    pub fn allowed(&self, now: i64) -> bool {
        match self.policy {
            Policy::Open => true,
            Policy::Consent => self.until.is_some_and(|until| now < until),
        }
    }

    /// The end of the current consent, if one runs at `now`.
    pub fn until(&self, now: i64) -> Option<i64> {
        self.until.filter(|until| now < *until)
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Allows hosts until `until` (Unix seconds); replaces an earlier consent.
    pub fn allow_until(&mut self, until: i64) {
        self.until = Some(until);
    }

    /// Ends the consent at once.
    pub fn revoke(&mut self) {
        self.until = None;
    }

    /// What `status.toml` says about access at `now`.
    pub fn describe(&self, now: i64) -> &'static str {
        match (self.policy, self.allowed(now)) {
            (Policy::Open, _) => "open",
            (Policy::Consent, true) => "allowed",
            (Policy::Consent, false) => "consent required",
        }
    }
}

/// A command on the control socket (one line; the reply is one line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `allow SECONDS`: hosts may use the storage for that long.
    Allow {
        /// How long.
        secs: u64,
    },
    /// `revoke`: end the consent now.
    Revoke,
    /// `status`: say whether hosts may use the storage, and until when.
    Status,
}

impl Control {
    /// Parses one command line.
    ///
    /// # Errors
    /// What is wrong, in words.
    pub fn parse(line: &str) -> Result<Self, String> {
        let mut words = line.split_whitespace();
        let command = words.next().unwrap_or_default();
        let control = match command {
            "allow" => Self::Allow {
                secs: parse_duration(words.next().ok_or("allow: how long? (e.g. 10m)")?)?,
            },
            "revoke" => Self::Revoke,
            "status" => Self::Status,
            "" => return Err("empty command".into()),
            other => return Err(format!("unknown command {other:?} (allow, revoke, status)")),
        };
        match words.next() {
            Some(extra) => Err(format!("{command}: unexpected {extra:?}")),
            None => Ok(control),
        }
    }

    /// The command's line.
    pub fn to_line(self) -> String {
        match self {
            Self::Allow { secs } => format!("allow {secs}"),
            Self::Revoke => "revoke".into(),
            Self::Status => "status".into(),
        }
    }
}

/// Parses a duration: seconds, or a number with `s`, `m` or `h` (`90s`, `10m`, `1h`),
/// between 1 s and [`MAX_ALLOW_SECS`].
///
/// # Errors
/// What is wrong, in words.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("{text:?}: a duration is like 90s, 10m or 1h")),
    };
    let secs = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("{text:?}: a duration is like 90s, 10m or 1h"))?;
    if secs == 0 || secs > MAX_ALLOW_SECS {
        return Err(format!("{text:?}: between 1 s and 24 h"));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_access_is_always_allowed() {
        let a = Access::new(Policy::Open);
        assert!(a.allowed(0) && a.allowed(i64::MAX));
        assert_eq!(a.describe(0), "open");
    }

    #[test]
    fn consent_allows_until_it_expires_or_is_revoked() {
        let mut a = Access::new(Policy::Consent);
        assert!(!a.allowed(100));
        assert_eq!(a.describe(100), "consent required");
        a.allow_until(160);
        assert!(a.allowed(100) && a.allowed(159));
        assert_eq!(a.until(100), Some(160));
        assert!(!a.allowed(160), "expired");
        assert_eq!(a.until(160), None);
        a.allow_until(500);
        a.revoke();
        assert!(!a.allowed(101));
    }

    #[test]
    fn control_lines_parse_and_round_trip() {
        assert_eq!(
            Control::parse("allow 10m"),
            Ok(Control::Allow { secs: 600 })
        );
        assert_eq!(Control::parse("allow 90"), Ok(Control::Allow { secs: 90 }));
        assert_eq!(Control::parse(" revoke\n"), Ok(Control::Revoke));
        assert_eq!(Control::parse("status"), Ok(Control::Status));
        for c in [
            Control::Allow { secs: 3600 },
            Control::Revoke,
            Control::Status,
        ] {
            assert_eq!(Control::parse(&c.to_line()), Ok(c));
        }
    }

    #[test]
    fn bad_control_lines_are_refused_in_words() {
        for (line, word) in [
            ("", "empty"),
            ("allow", "how long"),
            ("allow 0s", "between"),
            ("allow 25h", "between"),
            ("allow 10x", "like 90s"),
            ("allow -5", "like 90s"),
            ("allow 99999999999999999999h", "like 90s"),
            ("allow 10m now", "unexpected"),
            ("open sesame", "unknown command"),
        ] {
            let e = Control::parse(line).expect_err(line);
            assert!(e.contains(word), "{line:?}: {e}");
        }
    }
}
