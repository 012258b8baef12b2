//! `backup.request` and `restore.request` from the host:
//! `firmware::backup::request::{parse_backup_request, parse_restore_request}`.
//!
//! Every parser sees every input. Oracle: no panic; every folder a request names is a
//! single plain folder name, labels and session names stay in their alphabet; the stored
//! (redacted) form keeps the length and never holds a password a request carried.
#![no_main]

use firmware::backup::naming::session_name;
use firmware::backup::request::{
    EncryptionSpec, MAX_FOLDER_LEN, MAX_LABEL_LEN, Password, parse_backup_request,
    parse_encryption_request, parse_restore_request, redact_secrets,
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
    let stored = redact_secrets(data);
    assert_eq!(stored.len(), data.len());
    let hidden = |p: &Password| p.0.chars().all(|c| c == '*');
    if let Ok(spec) = parse_restore_request(data) {
        spec.folders().for_each(check_folder);
        if let Ok(again) = parse_restore_request(&stored) {
            assert!(
                again.password.as_ref().is_none_or(hidden),
                "stored: {stored:?}"
            );
        }
    }
    if parse_encryption_request(data).is_ok()
        && let Ok(again) = parse_encryption_request(&stored)
    {
        let (a, b) = match again {
            EncryptionSpec::On(a) | EncryptionSpec::Off(a) => (a, None),
            EncryptionSpec::Change(a, b) => (a, Some(b)),
        };
        assert!(
            hidden(&a) && b.as_ref().is_none_or(hidden),
            "stored: {stored:?}"
        );
    }
});
