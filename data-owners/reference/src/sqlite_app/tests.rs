use super::*;

fn mode(bits: u32) -> ModeInfo {
    ModeInfo {
        mode: data_owners::mode::BurMode::from_bits(bits).expect("mode"),
        drives: Vec::new(),
        affects_me: true,
    }
}

fn c() -> DriveLetter {
    DriveLetter::new('c').expect("c")
}

#[test]
fn database_is_closed_during_any_bur_and_reopened_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut owner = SqliteAppOwner::open(dir.path().to_owned()).expect("open");
    assert!(!owner.is_open(), "closed until the mode is known");
    assert_eq!(owner.bur_mode_changed(&mode(0x01)), None);
    owner.add_note("hello").expect("write in normal");

    let mut other = mode(0x104);
    other.affects_me = false;
    assert_eq!(owner.bur_mode_changed(&other), Some(0));
    assert!(
        !owner.is_open(),
        "closed even when the partial backup is not ours"
    );
    assert_eq!(
        owner.add_note("refused").expect_err("no writes").code,
        ERR_NOT_READY
    );

    owner.bur_mode_changed(&mode(0x08));
    owner.initialise_restore_base_data(c()).expect("init");
    owner
        .restore_base_data_section(SCHEMA, true)
        .expect("schema");
    owner.restore_complete(c()).expect("complete");
    assert!(!owner.is_open(), "still restoring");
    owner.bur_mode_changed(&mode(0x01));
    assert!(owner.is_open());
    assert_eq!(owner.add_note("again").expect("write"), 2);
}

#[test]
fn unknown_schema_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut owner = SqliteAppOwner::open(dir.path().to_owned()).expect("open");
    owner.initialise_restore_base_data(c()).expect("init");
    let err = owner
        .restore_base_data_section(b"other", true)
        .expect_err("refused");
    assert_eq!(err.code, ERR_CORRUPT);
}
