//! Host-given names: the one place a name from the host becomes a path component.
//!
//! A name is one path component of at most 255 bytes: never empty, `.` or `..`, never with
//! `/` or NUL, and never in the provider's own temporary-file pattern (such a file would be
//! hidden from listings).

use std::ffi::{OsStr, OsString};

/// Prefix of the provider's temporary upload files (hidden from listings).
const TEMP_PREFIX: &str = ".mtp-upload-";
/// Suffix of the provider's temporary upload files.
const TEMP_SUFFIX: &str = ".tmp";
/// Longest name most Linux filesystems accept, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// Returns the name as a path component, or `None` if the host may not use it.
pub(super) fn sanitise(name: &str) -> Option<OsString> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.len() > MAX_NAME_BYTES
        || name.contains(['/', '\0'])
        || is_temp(OsStr::new(name));
    if bad {
        tracing::warn!(name, "host gave an unusable object name");
        return None;
    }
    Some(OsString::from(name))
}

/// Returns true for the provider's temporary upload files.
pub(super) fn is_temp(name: &OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with(TEMP_PREFIX) && n.ends_with(TEMP_SUFFIX))
}

/// Returns the temporary file name number `n` of the provider instance `token`.
pub(super) fn temp_name(token: u64, n: u64) -> OsString {
    OsString::from(format!("{TEMP_PREFIX}{token:016x}-{n}{TEMP_SUFFIX}"))
}

/// Returns true for a temporary upload file that no upload of the provider instance
/// `token` writes: one left by an earlier run (a crash or a power cut during an upload).
pub(super) fn is_stale_temp(name: &OsStr, token: u64) -> bool {
    is_temp(name)
        && !name
            .to_str()
            .is_some_and(|n| n.starts_with(&format!("{TEMP_PREFIX}{token:016x}-")))
}

/// Returns the `n`-th alternative of `name` for a copy: `stem (n).ext`.
pub(super) fn numbered(name: &OsStr, n: u32) -> OsString {
    let text = name.to_string_lossy();
    let (stem, ext) = match text.rfind('.') {
        Some(dot) if dot > 0 => text.split_at(dot),
        _ => (text.as_ref(), ""),
    };
    OsString::from(format!("{stem} ({n}){ext}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sanitise_refuses_traversal_separators_nul_and_long_names() {
        for bad in ["", ".", "..", "../x", "/etc/passwd", "a/b", "a\0b"] {
            assert_eq!(sanitise(bad), None, "{bad:?}");
        }
        assert_eq!(sanitise(&"x".repeat(256)), None);
        assert!(sanitise(&"x".repeat(255)).is_some());
        assert_eq!(sanitise("a\\b.txt"), Some(OsString::from("a\\b.txt")));
    }

    #[test]
    fn sanitise_refuses_the_temporary_file_pattern() {
        assert_eq!(sanitise(".mtp-upload-1-2.tmp"), None);
        assert!(is_temp(&temp_name(7, 3)));
        assert!(!is_stale_temp(&temp_name(7, 3), 7));
        assert!(is_stale_temp(&temp_name(7, 3), 8));
        assert!(is_stale_temp(OsStr::new(".mtp-upload-1-1.tmp"), 7));
        assert!(!is_stale_temp(OsStr::new("file.tmp"), 7));
        assert!(!is_temp(OsStr::new(".mtp-upload-1.txt")));
    }

    #[test]
    fn numbered_inserts_the_number_before_the_extension() {
        assert_eq!(
            numbered(OsStr::new("a.txt"), 2),
            OsString::from("a (2).txt")
        );
        assert_eq!(numbered(OsStr::new("dir"), 1), OsString::from("dir (1)"));
        assert_eq!(
            numbered(OsStr::new(".bashrc"), 1),
            OsString::from(".bashrc (1)")
        );
    }
}
