use super::*;

fn c() -> DriveLetter {
    DriveLetter::new('c').expect("c")
}

fn mode(bits: u32) -> ModeInfo {
    ModeInfo {
        mode: data_owners::mode::BurMode::from_bits(bits).expect("mode"),
        drives: Vec::new(),
        affects_me: true,
    }
}

#[test]
fn backup_exports_the_journal_and_restore_installs_a_matching_export_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cage = dir.path();
    append_line(cage, "one").expect("append");
    let mut owner = HybridOwner::open(cage.to_owned()).expect("open");
    owner.bur_mode_changed(&mode(0x102));
    assert!(owner.append("x").is_err(), "no writes during backup");
    owner.initialise_get_backup_data(c()).expect("init");
    let (manifest, last) = owner.get_backup_data_section(1024).expect("section");
    assert!(last);
    assert_eq!(fs::read(cage.join(EXPORT)).expect("export"), b"one\n");

    owner.bur_mode_changed(&mode(0x01));
    owner.append("two").expect("normal write");
    owner.bur_mode_changed(&mode(0x08));
    owner.initialise_restore_base_data(c()).expect("init");
    owner
        .restore_base_data_section(&manifest, true)
        .expect("manifest");
    owner.restore_complete(c()).expect("complete");
    assert_eq!(fs::read(cage.join(JOURNAL)).expect("journal"), b"one\n");

    // A tampered export is refused and the journal kept.
    fs::write(cage.join(EXPORT), b"evil\n").expect("tamper");
    owner.initialise_restore_base_data(c()).expect("init");
    owner
        .restore_base_data_section(&manifest, true)
        .expect("manifest");
    assert_eq!(
        owner.restore_complete(c()).expect_err("mismatch").code,
        ERR_CORRUPT
    );
    assert_eq!(fs::read(cage.join(JOURNAL)).expect("journal"), b"one\n");
}
