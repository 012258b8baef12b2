use super::*;
use crate::mode::{BackupIncType, BurPartType};

fn sample() -> Manifest {
    Manifest {
        session: "20261124-210000".into(),
        created: "2026-11-24T21:00:00Z".into(),
        mode: BurMode::new(BurPartType::BackupPartial, BackupIncType::Increment).expect("mode"),
        backup_type: BackupType::Incremental,
        previous: Some("20261123-210000".into()),
        owners: vec![
            OwnerRecord {
                sid: Sid(0x0AB7_E58C),
                outcome: OwnerOutcome::Ok,
                requires_reboot: true,
            },
            OwnerRecord {
                sid: Sid(0x1234_5678),
                outcome: OwnerOutcome::Failed {
                    code: -33,
                    reason: "callback timed out".into(),
                },
                requires_reboot: false,
            },
        ],
        units: vec![UnitRecord {
            id: UnitId {
                sid: Sid(0x0AB7_E58C),
                drive: 'c',
                kind: UnitKind::PassiveIncrement,
            },
            size: 120,
            raw_size: 100,
            sha256: [0xAB; 32],
            compressed: true,
        }],
    }
}

#[test]
fn manifest_round_trips_through_toml() {
    let m = sample();
    let text = m.to_toml();
    assert!(text.contains("sid = \"0ab7e58c\""), "{text}");
    assert!(text.contains("kind = \"passive-increment\""), "{text}");
    assert_eq!(Manifest::from_toml(&text), Ok(m));
}

#[test]
fn base_manifest_without_previous_round_trips() {
    let mut m = sample();
    m.previous = None;
    m.backup_type = BackupType::Base;
    m.mode = BurMode::new(BurPartType::BackupFull, BackupIncType::Base).expect("mode");
    assert_eq!(Manifest::from_toml(&m.to_toml()), Ok(m));
}

fn edit(from: &str, to: &str) -> Result<Manifest, ManifestError> {
    let text = sample().to_toml();
    assert!(text.contains(from), "sample lacks {from:?}:\n{text}");
    Manifest::from_toml(&text.replacen(from, to, 1))
}

#[test]
fn every_bad_field_is_rejected() {
    assert_eq!(
        edit("format = 1", "format = 2"),
        Err(ManifestError::Format(2))
    );
    assert!(matches!(
        edit("session = \"20261124-210000\"", "session = \"../x\""),
        Err(ManifestError::BadField {
            field: "session",
            ..
        })
    ));
    assert!(matches!(
        edit("previous = \"20261123-210000\"", "previous = \".hidden\""),
        Err(ManifestError::BadField {
            field: "previous",
            ..
        })
    ));
    assert!(matches!(
        edit("mode = 516", "mode = 8"),
        Err(ManifestError::BadField { field: "mode", .. })
    ));
    assert!(matches!(
        edit("backup_type = \"incremental\"", "backup_type = \"full\""),
        Err(ManifestError::BadField {
            field: "backup_type",
            ..
        })
    ));
    assert!(matches!(
        edit("sid = \"0ab7e58c\"", "sid = \"../../x\""),
        Err(ManifestError::BadField { field: "sid", .. })
    ));
    assert!(matches!(
        edit("drive = \"c\"", "drive = \"C:\""),
        Err(ManifestError::BadField { field: "drive", .. })
    ));
    assert!(matches!(
        edit(
            "kind = \"passive-increment\"",
            "kind = \"../../etc/passwd\""
        ),
        Err(ManifestError::BadField { field: "kind", .. })
    ));
    assert!(matches!(
        edit("outcome = \"ok\"", "outcome = \"meh\""),
        Err(ManifestError::BadField {
            field: "outcome",
            ..
        })
    ));
    assert!(matches!(
        edit(&"ab".repeat(32), "zz"),
        Err(ManifestError::BadField {
            field: "sha256",
            ..
        })
    ));
    assert!(matches!(
        edit("compressed = true", "compressed = true\nextra = 1"),
        Err(ManifestError::Toml(_))
    ));
    assert!(matches!(
        Manifest::from_toml("not toml ["),
        Err(ManifestError::Toml(_))
    ));
}

#[test]
fn duplicate_units_and_units_of_unlisted_owners_are_rejected() {
    let mut m = sample();
    m.units.push(m.units[0].clone());
    assert!(matches!(
        Manifest::from_toml(&m.to_toml()),
        Err(ManifestError::DuplicateUnit(_))
    ));
    let mut m = sample();
    m.owners.remove(0);
    assert!(matches!(
        Manifest::from_toml(&m.to_toml()),
        Err(ManifestError::UnlistedOwner(_))
    ));
}

#[test]
fn session_names_are_restricted() {
    for good in ["a", "2026-11-24T21.00", "set_1"] {
        assert!(is_session_name(good), "{good}");
    }
    for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(65), "ü"] {
        assert!(!is_session_name(bad), "{bad}");
    }
}

#[test]
fn mutated_manifests_never_panic() {
    let text = sample().to_toml();
    let bytes = text.as_bytes();
    for at in 0..bytes.len() {
        for value in [b'"', b'=', b'[', b'\n', b'-', b'9', b'x'] {
            let mut m = bytes.to_vec();
            m[at] = value;
            let _ = Manifest::from_toml(&String::from_utf8_lossy(&m));
        }
    }
}
