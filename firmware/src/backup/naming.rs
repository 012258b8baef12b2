//! Session folder names: `<UTC yyyymmddThhmmssZ>[-label]`, made unique with `-2`, `-3`, ….
//!
//! Every name is made of `[A-Za-z0-9._-]` and never starts with a dot, so it is also a
//! valid engine session (set directory) name.
#![warn(clippy::disallowed_methods)]

use mtp::codec::dataset::datetime;

use super::request::Label;

/// Returns the UTC timestamp `yyyymmddThhmmssZ` of Unix seconds (times before 1970 are
/// clamped to 1970-01-01T00:00:00Z).
pub fn timestamp(unix_secs: i64) -> String {
    format!("{}Z", datetime::format(unix_secs.max(0)))
}

/// Returns the RFC 3339 form `yyyy-mm-ddThh:mm:ssZ` of Unix seconds, for a manifest's
/// `created` field (clamped like [`timestamp`]).
pub fn rfc3339(unix_secs: i64) -> String {
    let t = datetime::format(unix_secs.max(0));
    // `yyyymmddThhmmss` is ASCII of a fixed shape; slicing by byte is exact.
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &t[..t.len() - 11],
        &t[t.len() - 11..t.len() - 9],
        &t[t.len() - 9..t.len() - 7],
        &t[t.len() - 6..t.len() - 4],
        &t[t.len() - 4..t.len() - 2],
        &t[t.len() - 2..]
    )
}

/// Returns the session folder name for a backup started at `unix_secs`: the UTC
/// timestamp, then `-label` if there is one.
pub fn session_name(unix_secs: i64, label: Option<&Label>) -> String {
    match label {
        Some(label) => format!("{}-{label}", timestamp(unix_secs)),
        None => timestamp(unix_secs),
    }
}

/// Returns `name` if `exists` says it is free, otherwise the first free of `name-2`,
/// `name-3`, …. Returns `None` only if every suffix is taken.
pub fn unique_name(name: &str, exists: impl Fn(&str) -> bool) -> Option<String> {
    if !exists(name) {
        return Some(name.to_owned());
    }
    (2..=u32::MAX)
        .map(|n| format!("{name}-{n}"))
        .find(|candidate| !exists(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-24 21:00:00 UTC.
    const T: i64 = 1_795_554_000;

    #[test]
    fn timestamp_is_utc_compact_with_z() {
        assert_eq!(timestamp(0), "19700101T000000Z");
        assert_eq!(timestamp(T), "20261124T210000Z");
        assert_eq!(timestamp(951_825_599), "20000229T115959Z");
        assert_eq!(timestamp(-5), "19700101T000000Z");
    }

    #[test]
    fn rfc3339_matches_the_timestamp() {
        assert_eq!(rfc3339(T), "2026-11-24T21:00:00Z");
        assert_eq!(rfc3339(951_825_599), "2000-02-29T11:59:59Z");
    }

    #[test]
    fn session_name_appends_the_label() {
        assert_eq!(session_name(T, None), "20261124T210000Z");
        let label = Label::sanitise("before update").unwrap();
        assert_eq!(
            session_name(T, Some(&label)),
            "20261124T210000Z-before_update"
        );
    }

    #[test]
    fn unique_name_adds_the_first_free_suffix() {
        assert_eq!(unique_name("a", |_| false).as_deref(), Some("a"));
        let taken = ["a", "a-2", "a-3"];
        assert_eq!(
            unique_name("a", |n| taken.contains(&n)).as_deref(),
            Some("a-4")
        );
        let taken = ["a", "a-3"];
        assert_eq!(
            unique_name("a", |n| taken.contains(&n)).as_deref(),
            Some("a-2")
        );
    }

    #[test]
    fn names_use_only_safe_characters() {
        let label = Label::sanitise(".x y").unwrap();
        let name = unique_name(&session_name(T, Some(&label)), |n| !n.ends_with("-2")).unwrap();
        assert_eq!(name, "20261124T210000Z-_x_y-2");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        );
        assert!(!name.starts_with('.'));
    }
}
