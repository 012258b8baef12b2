//! Passive snapshots: `engine::passive::Snapshot::decode`.
//!
//! Oracle: no panic; every path is a valid, non-root cage path (file-system names); an accepted snapshot
//! encodes to bytes that decode to the same snapshot.
#![no_main]

use engine::passive::Snapshot;
use engine::registration::CagePath;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = Snapshot::decode(data) else {
        return;
    };
    for p in s.files.keys() {
        assert!(!p.is_root());
        assert_eq!(
            CagePath::parse_native(p.as_str()).as_ref(),
            Some(p),
            "{p:?}"
        );
    }
    let again = s.encode();
    assert_eq!(Snapshot::decode(&again), Ok(s));
});
