//! Sessions across power cuts, stops and owners installed meanwhile.

use super::*;

#[test]
fn a_session_interrupted_by_a_power_cut_is_reported_and_undone_at_start() {
    let mut fx = fixture_with(Duration::from_secs(2), |tmp| {
        // What a power cut during a backup leaves: the journal, a set without manifest.
        let set = tmp.join("spool/b-cut/0a000001/c");
        std::fs::create_dir_all(&set).unwrap();
        std::fs::write(set.join("passive-base.unit"), b"half").unwrap();
        engine::recovery::begin(
            &tmp.join("spool"),
            engine::recovery::SessionKind::Backup,
            "b-cut",
        )
        .unwrap();
    });
    let s = fx.status();
    assert_eq!(s.state, State::Failed);
    let reason = s.last_error.unwrap();
    assert!(
        reason.contains("interrupted") && reason.contains("b-cut"),
        "{reason}"
    );
    assert!(!fx.spool.join("b-cut").exists());
    assert!(fx.find(ParentFilter::Root, "b-cut").is_none());
}
/// SIGTERM while a session waits for an owner: the session ends at once with the
/// reason in `status.toml`, the engine thread ends, and the next start removes the
/// incomplete set.
#[test]
fn stopping_the_daemon_interrupts_a_running_session() {
    use std::os::unix::fs::PermissionsExt;
    const SLOW: &str = "0a000002";
    let mut fx = fixture_with(Duration::from_secs(60), |tmp| {
        // An active owner that never connects: the session waits for it.
        let owners = tmp.join("owners");
        std::fs::create_dir_all(&owners).unwrap();
        std::fs::write(owners.join("never-ready"), "#!/bin/sh\nexec sleep 120\n").unwrap();
        std::fs::set_permissions(
            owners.join("never-ready"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let cage = tmp.join("c/private").join(SLOW);
        std::fs::create_dir_all(&cage).unwrap();
        std::fs::write(
            cage.join("backup_registration.xml"),
            r#"<backup_registration version="1.0"><active_backup process_name="never-ready"/></backup_registration>"#,
        )
        .unwrap();
        if rustix::process::geteuid().is_root() {
            // Owners never run as root: the cage (and the way to the script) for uid 5000.
            std::os::unix::fs::chown(&cage, Some(5000), Some(5000)).unwrap();
            std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    });
    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    let start = Instant::now();
    while {
        fx.drain_events();
        fx.p.session.running().is_none() || fx.only_sets().is_empty()
    } {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the session never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let set = fx.only_set();
    assert!(
        fx.service.stop(Duration::from_secs(10)),
        "the engine thread ends"
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "not after the owner's timeout"
    );
    let s = fx.status();
    assert_eq!(s.state, State::Failed);
    assert!(s.last_error.unwrap().contains("interrupted"));
    assert!(fx.p.session.running().is_none());
    assert!(
        fx.spool.join(engine::recovery::JOURNAL).exists(),
        "the journal stays for the next start"
    );
    assert!(fx.spool.join(&set).is_dir());
}
/// An application installed after the daemon started takes part in the next backup
/// (the registrations are read again before every session).
#[test]
fn an_owner_installed_after_start_is_in_the_next_backup() {
    let mut fx = fixture();
    let late = fx.cage.parent().unwrap().join("0a000003");
    std::fs::create_dir_all(&late).unwrap();
    std::fs::write(late.join("backup_registration.xml"), REGISTRATION).unwrap();
    std::fs::write(late.join("late.txt"), b"installed after the start").unwrap();
    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    let done = fx.wait_done();
    assert_eq!(done.state, State::Done, "{done:?}");
    assert_eq!((done.owners_done, done.owners_total), (2, 2));
    let set = fx.only_set();
    assert!(fx.spool.join(&set).join("0a000003").is_dir());
}
