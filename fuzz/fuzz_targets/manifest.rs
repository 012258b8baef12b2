//! `manifest.toml` of a backup set: `engine::manifest::Manifest::from_toml`.
//!
//! Oracle: no panic; an accepted manifest writes TOML that reads back to the same value,
//! and every unit path it names stays a plain `sid/drive/kind.unit` path.
#![no_main]

use engine::manifest::{Manifest, is_session_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = Manifest::from_toml(text) else {
        return;
    };
    assert!(is_session_name(&m.session));
    assert!(m.previous.as_deref().is_none_or(is_session_name));
    for u in &m.units {
        let path = u.id.relative_path();
        assert!(
            path.split('/')
                .all(|c| !c.is_empty() && c != "." && c != ".."),
            "{path}"
        );
        assert_eq!(path.split('/').count(), 3, "{path}");
    }
    let again = m.to_toml();
    assert_eq!(Manifest::from_toml(&again), Ok(m), "written:\n{again}");
});
