use super::*;
use std::io::Cursor;

fn pw(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

/// Work factor 10 keeps the tests fast; the device default is tested once.
const WF: u8 = 10;

#[test]
fn the_password_opens_the_key_and_a_wrong_one_does_not() {
    let keys = Keys::create(&pw("correct horse"), WF).unwrap();
    keys.unlock(&pw("correct horse")).unwrap();
    assert!(matches!(
        keys.unlock(&pw("Correct horse")),
        Err(CryptoError::WrongPassword)
    ));
    assert!(matches!(
        keys.unlock(&pw("")),
        Err(CryptoError::WrongPassword)
    ));
    assert!(
        Keys::create(&pw(""), WF).is_err(),
        "an empty password is refused"
    );
}

#[test]
fn the_key_file_holds_no_secret_in_clear_but_the_local_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backup-key.toml");
    let keys = Keys::create(&pw("hunter2"), WF).unwrap();
    keys.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("hunter2"));
    let open = keys.unlock(&pw("hunter2")).unwrap();
    let secret = open.identity.to_string();
    assert!(
        !text.contains(secret.expose_secret()),
        "the backup key's secret half is only wrapped"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let back = Keys::load(&path).unwrap().unwrap();
    back.unlock(&pw("hunter2")).unwrap();
    assert!(Keys::load(&dir.path().join("none")).unwrap().is_none());
    std::fs::write(&path, "recipient = 1\n").unwrap();
    assert!(matches!(Keys::load(&path), Err(CryptoError::BadKey(_))));
}

#[test]
fn a_changed_password_keeps_the_key_and_needs_the_old_one() {
    let keys = Keys::create(&pw("old"), WF).unwrap();
    assert!(matches!(
        keys.rewrap(&pw("wrong"), &pw("new"), WF),
        Err(CryptoError::WrongPassword)
    ));
    let changed = keys.rewrap(&pw("old"), &pw("new"), WF).unwrap();
    assert!(matches!(
        changed.unlock(&pw("old")),
        Err(CryptoError::WrongPassword)
    ));
    let open = changed.unlock(&pw("new")).unwrap();
    // Units written before the change still decrypt.
    let mut out = Vec::new();
    let mut w = encrypt(&keys.recipients(UnitKind::PassiveBase), &mut out).unwrap();
    w.write_all(b"before the change").unwrap();
    w.finish().unwrap();
    let mut plain = String::new();
    open.decrypt(Cursor::new(out))
        .unwrap()
        .read_to_string(&mut plain)
        .unwrap();
    assert_eq!(plain, "before the change");
}

#[test]
fn units_stream_as_age_and_only_snapshots_open_with_the_local_key() {
    let keys = Keys::create(&pw("pw"), WF).unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    for kind in [UnitKind::PassiveBase, UnitKind::PassiveSnapshot] {
        let mut out = Vec::new();
        let mut w = encrypt(&keys.recipients(kind), &mut out).unwrap();
        for piece in data.chunks(7000) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap();
        assert!(is_age(&out));
        assert!(
            !out.windows(64).any(|w| data.windows(64).next() == Some(w)),
            "ciphertext"
        );
        let mut plain = Vec::new();
        keys.unlock(&pw("pw"))
            .unwrap()
            .decrypt(Cursor::new(&out))
            .unwrap()
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, data);
        let local = keys.local().decrypt(Cursor::new(&out));
        assert_eq!(local.is_ok(), kind.is_snapshot(), "{kind}");
    }
}

#[test]
fn the_wrapped_key_in_a_set_opens_with_the_password_and_carries_the_mac_key() {
    let keys = Keys::create(&pw("pw"), WF).unwrap();
    let open = Unlocked::from_wrapped(keys.wrapped(), &pw("pw")).unwrap();
    let m = keys.mac("session = \"a\"\n");
    open.check_mac("session = \"a\"\n", &m).unwrap();
    assert!(matches!(
        open.check_mac("session = \"b\"\n", &m),
        Err(CryptoError::BadMac)
    ));
    assert!(matches!(
        Unlocked::from_wrapped(keys.wrapped(), &pw("nope")),
        Err(CryptoError::WrongPassword)
    ));
    assert!(
        keys.wrapped()
            .starts_with("-----BEGIN AGE ENCRYPTED FILE-----")
    );
    // A key that another password holder made cannot pass for this one's sets.
    let other = Keys::create(&pw("pw"), WF).unwrap();
    assert!(
        Unlocked::from_wrapped(other.wrapped(), &pw("pw"))
            .unwrap()
            .check_mac("session = \"a\"\n", &m)
            .is_err()
    );
}

#[test]
fn the_device_default_work_factor_is_accepted() {
    let keys = Keys::create(&pw("pw"), DEFAULT_WORK_FACTOR).unwrap();
    keys.unlock(&pw("pw")).unwrap();
}

#[test]
fn the_length_of_an_age_file_follows_from_its_plaintext() {
    let keys = Keys::create(&pw("pw"), WF).unwrap();
    for kind in [UnitKind::PassiveBase, UnitKind::ActiveSnapshot] {
        for len in [0usize, 1, 65_535, 65_536, 65_537, 200_000, 3 * 65_536] {
            let gather = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            struct G(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
            impl Write for G {
                fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                    self.0.lock().unwrap().extend_from_slice(b);
                    Ok(b.len())
                }
                fn flush(&mut self) -> io::Result<()> {
                    Ok(())
                }
            }
            let mut w = encrypt(&keys.recipients(kind), G(gather.clone())).unwrap();
            let header = gather.lock().unwrap().len() as u64;
            w.write_all(&vec![5u8; len]).unwrap();
            w.finish().unwrap();
            let total = gather.lock().unwrap().len() as u64;
            assert_eq!(sealed_len(header, len as u64), total, "{kind} {len}");
        }
    }
}
