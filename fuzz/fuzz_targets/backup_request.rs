//! `backup.request` and `restore.request` from the host:
//! `firmware::backup::request::{parse_backup_request, parse_restore_request}`.
//!
//! Both parsers see every input. Oracle: no panic; every folder a request names is a
//! single plain folder name, labels and session names stay in their alphabet.
#![no_main]

use firmware::backup::naming::session_name;
use firmware::backup::request::{
    MAX_FOLDER_LEN, MAX_LABEL_LEN, parse_backup_request, parse_restore_request,
};
use libfuzzer_sys::fuzz_target;

fn check_folder(name: &str) {
    assert!(!name.is_empty() && name.len() <= MAX_FOLDER_LEN, "{name:?}");
    assert!(name != "." && name != "..", "{name:?}");
    assert!(
        !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control()),
        "{name:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = parse_backup_request(data) {
        if let Some(s) = &spec.snapshots {
            check_folder(s);
        }
        if let Some(label) = &spec.label {
            let l = label.as_str();
            assert!(!l.is_empty() && l.chars().count() <= MAX_LABEL_LEN, "{l:?}");
        }
        if let Some(drives) = &spec.drives {
            assert!(!drives.is_empty() && drives.iter().all(char::is_ascii_lowercase));
        }
        let name = session_name(1_795_000_000, spec.label.as_ref());
        assert!(engine::manifest::is_session_name(&name), "{name:?}");
    }
    if let Ok(spec) = parse_restore_request(data) {
        spec.folders().for_each(check_folder);
    }
});
