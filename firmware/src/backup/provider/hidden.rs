//! The names the Backup storage never shows.
//!
//! The engine writes most unit files under temporary names and renames them when
//! complete; hiding the temporary names keeps half-written files out of every listing.

use std::ffi::OsStr;

/// True for names the Backup storage never shows: the engine's temporary files
/// (`*.part`, `.name.tmp-pid`) and other hidden files.
pub(crate) fn is_hidden(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with('.') || name.ends_with(".part")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_hidden() {
        assert!(is_hidden(OsStr::new("passive-base.unit.part")));
        assert!(is_hidden(OsStr::new(".manifest.toml.tmp-42")));
        assert!(!is_hidden(OsStr::new("manifest.toml")));
        assert!(!is_hidden(OsStr::new("0ab7e58c")));
    }
}
