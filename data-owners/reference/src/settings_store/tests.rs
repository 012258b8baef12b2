use super::*;

fn c() -> DriveLetter {
    DriveLetter::new('c').expect("c")
}

fn setting(value: &str, backup: bool) -> Setting {
    Setting {
        value: value.into(),
        backup,
    }
}

#[test]
fn keys_round_trip_and_malformed_lines_are_corrupt() {
    let mut keys = Keys::new();
    keys.insert("a".into(), setting("1 2", true));
    keys.insert("b".into(), setting("", false));
    assert_eq!(decode(&encode(&keys, false)).expect("decode"), keys);
    assert_eq!(decode(&encode(&keys, true)).expect("decode").len(), 1);
    assert_eq!(decode(b"a\tx\t1\n").expect_err("flag").code, ERR_CORRUPT);
    assert_eq!(decode(b"a only\n").expect_err("line").code, ERR_CORRUPT);
    assert_eq!(decode(b"\xff").expect_err("utf8").code, ERR_CORRUPT);
}

#[test]
fn proxy_backup_sends_backed_up_keys_and_restore_merges_on_the_last_section() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cage = dir.path();
    let mut keys = Keys::new();
    keys.insert("theme".into(), setting("dark", true));
    keys.insert("serial".into(), setting("A1", false));
    save(cage, 0x42, &keys).expect("save");
    let mut owner = SettingsStoreOwner::open(cage.to_owned()).expect("open");
    owner.bur_mode_changed(&ModeInfo {
        mode: data_owners::mode::BurMode::from_bits(0x102).expect("mode"),
        drives: Vec::new(),
        affects_me: true,
    });
    owner
        .initialise_get_proxy_backup_data(0x42, c())
        .expect("init");
    let (data, last) = owner.get_backup_data_section(1 << 16).expect("section");
    assert!(last);
    assert_eq!(data, b"theme\tb\tdark\n");

    let mut now = Keys::new();
    now.insert("theme".into(), setting("light", true));
    now.insert("extra".into(), setting("1", true));
    now.insert("serial".into(), setting("B2", false));
    save(cage, 0x42, &now).expect("save");
    owner
        .initialise_restore_proxy_base_data(0x42, c())
        .expect("init");
    let (a, b) = data.split_at(4);
    owner.restore_base_data_section(a, false).expect("first");
    assert_eq!(
        load(cage, 0x42).expect("load"),
        now,
        "nothing until the last"
    );
    owner.restore_base_data_section(b, true).expect("last");
    let mut expected = Keys::new();
    expected.insert("theme".into(), setting("dark", true));
    expected.insert("serial".into(), setting("B2", false));
    assert_eq!(load(cage, 0x42).expect("load"), expected);
}
