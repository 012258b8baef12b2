//! The spool is the daemon's alone, hidden names, consent and the backup password.

use super::*;

#[test]
fn everything_in_the_backup_storage_is_the_daemons_alone() {
    use std::os::unix::fs::PermissionsExt;
    let mut fx = fixture();
    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    assert_eq!(fx.wait_done().state, State::Done);
    // An uploaded folder and file, as a host copying a set back.
    let folder_info = ObjectInfo {
        format: ObjectFormat::Association.to_u16(),
        association_type: 1,
        filename: "uploaded".into(),
        ..ObjectInfo::default()
    };
    let at = Placement {
        storage: STORAGE,
        parent: None,
    };
    let folder = fx.p.send_object_info(at, &folder_info, Some(0)).unwrap();
    fx.upload(Some(folder), "manifest.toml", b"format = 1\n")
        .unwrap();
    let mut stack = vec![fx.spool.clone()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                seen += 1;
                let mode = meta.permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", e.path().display());
            }
        }
    }
    assert!(
        seen >= 4,
        "the set, the request and the upload were looked at ({seen})"
    );
}
/// Hidden names in the spool are the engine's: its session journal, its commit journals
/// (which recovery acts on at the next start), its scratch folders and temporary files. A
/// host that could upload one could forge what recovery does, so it cannot, in the root
/// or below, nor rename a file to one. (Before, such uploads were accepted and hidden.)
#[test]
fn the_host_cannot_place_a_hidden_name_in_the_spool() {
    let mut fx = fixture();
    for name in [
        ".session.toml",
        ".session-temps",
        ".commit-0a000001.toml",
        ".dbms-scratch",
        "x.unit.part",
    ] {
        assert_eq!(
            fx.upload(None, name, b"kind = \"restore\"\n"),
            Err(ResponseCode::AccessDenied),
            "{name}"
        );
        assert!(!fx.spool.join(name).exists(), "{name}");
    }
    let requests = fx.find(ParentFilter::Root, "requests");
    assert_eq!(
        fx.upload(requests, ".hidden", b"x"),
        Err(ResponseCode::AccessDenied)
    );
    let h = fx.upload(None, "notes.txt", b"x").unwrap();
    let rename = mtp::codec::value::PropValue::Str(".session-temps".into());
    assert_eq!(
        fx.p.set_object_prop(h, mtp::codec::ObjectPropCode::ObjectFileName, &rename),
        Err(ResponseCode::InvalidObjectPropValue)
    );
    assert!(fx.spool.join("notes.txt").is_file());
    assert!(!fx.spool.join(".session-temps").exists());
}

/// The test clock for consent: Unix seconds the provider reads through `now`.
static CLOCK: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1_000_000);
fn clock() -> i64 {
    CLOCK.load(std::sync::atomic::Ordering::SeqCst)
}
/// Under `access = "consent"` a host sees only README.txt and status.toml (which says
/// consent is required) and can neither read nor start anything, until the device's user
/// allows it over the control socket; when the consent ends, the storage closes again
/// and the host hears StorageInfoChanged each time.
#[test]
fn with_consent_required_a_host_sees_nothing_private_until_allowed() {
    let mut fx = fixture_consent();
    fx.p.now = clock;
    let names = |fx: &mut Fx| -> Vec<String> {
        let hs =
            fx.p.object_handles(STORAGE, None, ParentFilter::All)
                .unwrap();
        let mut n: Vec<String> = hs.iter().map(|h| fx.p.object(*h).unwrap().name).collect();
        n.sort();
        n
    };
    std::fs::create_dir_all(fx.spool.join("20261125T000000Z")).unwrap();
    assert_eq!(names(&mut fx), ["README.txt", "status.toml"]);
    let status = fx.status();
    assert_eq!(status.access.as_deref(), Some("consent required"));
    assert_eq!(status.session, None);
    assert_eq!(
        fx.upload(
            None,
            "backup.request",
            b"scope = \"full\"\ntype = \"base\"\n"
        ),
        Err(ResponseCode::AccessDenied)
    );
    let owners = super::super::virtual_files::Generated::Owners.handle(ProviderId(2));
    assert_eq!(fx.p.object(owners).err(), Some(ResponseCode::AccessDenied));
    assert_eq!(
        fx.p.open_read(owners, 0, 10).err(),
        Some(ResponseCode::AccessDenied)
    );

    // The device's user allows it through the control socket.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let socket = fx.spool.parent().unwrap().join("control.sock");
    let listener = rt
        .block_on(async { crate::backup::control::bind(&socket) })
        .unwrap();
    let server = rt.spawn(crate::backup::control::serve(
        listener,
        Policy::Consent,
        fx.service.clone(),
        clock,
    ));
    let ask = |control| {
        let socket = socket.clone();
        rt.block_on(rt.spawn_blocking(move || crate::backup::control::request(&socket, control)))
            .unwrap()
    };
    let said = ask(Control::Allow { secs: 600 }).unwrap();
    assert!(said.contains("allowed until"), "{said}");
    fx.drain_events();
    assert!(
        fx.events
            .contains(&(EventCode::StorageInfoChanged, STORAGE.0)),
        "the host hears the storage opened"
    );
    assert!(names(&mut fx).contains(&"20261125T000000Z".to_owned()));
    assert!(names(&mut fx).contains(&"owners.toml".to_owned()));
    assert_eq!(fx.status().access.as_deref(), Some("allowed"));
    assert!(ask(Control::Status).unwrap().contains("600 s left"));

    // Ten minutes later the consent has ended.
    CLOCK.fetch_add(600, std::sync::atomic::Ordering::SeqCst);
    fx.events.clear();
    assert_eq!(names(&mut fx), ["README.txt", "status.toml"]);
    fx.drain_events();
    assert!(
        fx.events
            .contains(&(EventCode::StorageInfoChanged, STORAGE.0)),
        "the host hears the storage closed"
    );
    assert!(ask(Control::Status).unwrap().contains("consent required"));
    // Revoked early, likewise.
    ask(Control::Allow { secs: 60 }).unwrap();
    fx.drain_events();
    assert!(names(&mut fx).len() > 2);
    ask(Control::Revoke).unwrap();
    fx.drain_events();
    assert_eq!(names(&mut fx), ["README.txt", "status.toml"]);
    let e = ask(Control::Allow { secs: 0 });
    assert!(e.is_err(), "{e:?}");
    server.abort();
}
/// The control socket is the daemon user's alone: its mode keeps every other user out,
/// and a connection from another user would be refused by its peer check as well.
#[test]
fn the_control_socket_is_the_daemon_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let fx = fixture_consent();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let socket = fx.spool.parent().unwrap().join("run/control.sock");
    let listener = rt
        .block_on(async { crate::backup::control::bind(&socket) })
        .unwrap();
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let server = rt.spawn(crate::backup::control::serve(
        listener,
        Policy::Consent,
        fx.service.clone(),
        clock,
    ));
    if !rustix::process::geteuid().is_root() {
        eprintln!("NOT ROOT: another user's attempt cannot be made (CI runs this as root)");
        server.abort();
        return;
    }
    for p in [
        fx.spool.parent().unwrap(),
        &fx.spool.parent().unwrap().join("run"),
    ] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let other = engine::confined::identity::Identity::new(4242, 4242);
    let socket2 = socket.clone();
    let tried = rt
        .block_on(rt.spawn_blocking(move || {
            engine::confined::identity::as_user(other, || {
                crate::backup::control::request(&socket2, Control::Allow { secs: 600 })
            })
        }))
        .unwrap()
        .unwrap();
    let e = tried.expect_err("another user may not allow");
    assert!(e.contains("ermission denied"), "{e}");
    server.abort();
}
/// Every file below `dir`, as text where it is text.
fn all_text(dir: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.push_str(&all_text(&e.path()));
        } else {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()));
        }
    }
    out
}
#[test]
fn a_backup_password_encrypts_sets_and_is_never_stored() {
    let mut fx = fixture();
    assert_eq!(fx.status().encryption.as_deref(), Some("off"));
    let on = "action = \"on\"\npassword = \"pw-one\"\n";
    fx.request("encryption.request", on).expect("encryption on");
    let s = fx.status();
    assert_eq!(
        (s.state, s.encryption.as_deref()),
        (State::Done, Some("on")),
        "{s:?}"
    );
    assert_eq!(
        fx.request("encryption.request", on).unwrap_err(),
        ResponseCode::InvalidParameter,
        "on twice"
    );
    assert!(fx.status().last_error.unwrap().contains("on already"));

    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    assert_eq!(fx.wait_done().state, State::Done);
    let set = fx.only_set();
    assert!(fx.spool.join(&set).join("key.age").is_file());
    assert!(
        !all_text(&fx.spool.join(&set)).contains("the first notes"),
        "units are ciphertext"
    );

    std::fs::write(fx.cage.join("notes.txt"), b"changed").unwrap();
    for (password, want) in [
        ("", "needs the backup password"),
        ("password = \"nope\"\n", "wrong backup password"),
    ] {
        let req = format!("source = \"{set}\"\nscope = \"full\"\n{password}");
        fx.request("restore.request", &req).unwrap();
        let s = fx.wait_done();
        assert_eq!(s.state, State::Failed);
        assert!(
            s.last_error.as_deref().unwrap_or("").contains(want),
            "{s:?}"
        );
        assert_eq!(
            std::fs::read(fx.cage.join("notes.txt")).unwrap(),
            b"changed"
        );
    }
    let req = format!("source = \"{set}\"\nscope = \"full\"\npassword = \"pw-one\"\n");
    fx.request("restore.request", &req).unwrap();
    assert_eq!(fx.wait_done().state, State::Done);
    assert_eq!(
        std::fs::read(fx.cage.join("notes.txt")).unwrap(),
        b"the first notes"
    );

    let wrong = "action = \"change\"\npassword = \"nope\"\nnew_password = \"pw-two\"\n";
    assert_eq!(
        fx.request("encryption.request", wrong).unwrap_err(),
        ResponseCode::InvalidParameter
    );
    assert!(
        fx.status()
            .last_error
            .unwrap()
            .contains("wrong backup password")
    );
    let change = "action = \"change\"\npassword = \"pw-one\"\nnew_password = \"pw-two\"\n";
    fx.request("encryption.request", change).unwrap();
    fx.request(
        "encryption.request",
        "action = \"off\"\npassword = \"pw-two\"\n",
    )
    .unwrap();
    assert_eq!(fx.status().encryption.as_deref(), Some("off"));

    // No password ever reached the spool: the stored requests hold stars.
    let stored = all_text(&fx.spool.join("requests"));
    for pw in ["pw-one", "pw-two", "nope"] {
        assert!(!stored.contains(pw), "{pw} stored: {stored}");
    }
    assert!(stored.contains("password = \"******\""), "{stored}");
}
