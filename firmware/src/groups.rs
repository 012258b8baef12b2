//! Group names from `/etc/group`, for the profile's `owner_group`.

use crate::profile::GroupSetting;

/// The group database.
const GROUP_FILE: &str = "/etc/group";

/// Returns the gid of `setting`: a number as it is, a name looked up in `/etc/group`.
///
/// # Errors
/// A message naming the group if it is not in `/etc/group` (or that file is unreadable).
pub(crate) fn resolve(setting: &GroupSetting) -> Result<u32, String> {
    match setting {
        GroupSetting::Id(gid) => Ok(*gid),
        GroupSetting::Name(name) => {
            let text = std::fs::read_to_string(GROUP_FILE)
                .map_err(|e| format!("owner_group {name:?}: cannot read {GROUP_FILE}: {e}"))?;
            gid_of(&text, name)
                .ok_or_else(|| format!("owner_group {name:?}: no such group in {GROUP_FILE}"))
        }
    }
}

/// Finds `name` in the text of a group file (`name:password:gid:members` lines).
fn gid_of(text: &str, name: &str) -> Option<u32> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split(':');
            (fields.next()? == name).then_some(())?;
            fields.nth(1)?.trim().parse().ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_by_their_whole_field() {
        let text = "root:x:0:\n# comment\nmtpbur:x:998:\nmtpbur-owners:x:10000:app1,app2\n";
        assert_eq!(gid_of(text, "mtpbur-owners"), Some(10000));
        assert_eq!(gid_of(text, "mtpbur"), Some(998));
        assert_eq!(gid_of(text, "mtp"), None);
        assert_eq!(gid_of("broken:x:notanumber:\n", "broken"), None);
    }

    #[test]
    fn numbers_need_no_lookup() {
        assert_eq!(resolve(&GroupSetting::Id(4500)), Ok(4500));
        let e = resolve(&GroupSetting::Name("no-such-group-here".into())).unwrap_err();
        assert!(e.contains("no-such-group-here"), "{e}");
    }
}
