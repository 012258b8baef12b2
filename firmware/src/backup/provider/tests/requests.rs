//! Requests: what the root shows, what may be changed, backups, refusals, busy times.

use super::*;

#[test]
fn the_root_shows_generated_files_and_the_requests_folder() {
    let mut fx = fixture();
    let root =
        fx.p.object_handles(STORAGE, None, ParentFilter::Root)
            .unwrap();
    let mut names: Vec<String> = root.iter().map(|h| fx.p.object(*h).unwrap().name).collect();
    names.sort();
    assert_eq!(
        names,
        ["README.txt", "owners.toml", "requests", "status.toml"]
    );
    let readme = fx.find(ParentFilter::Root, "README.txt").unwrap();
    assert!(
        String::from_utf8(fx.read(readme))
            .unwrap()
            .contains("mtp-sendfile")
    );
    let owners = fx.find(ParentFilter::Root, "owners.toml").unwrap();
    let text = String::from_utf8(fx.read(owners)).unwrap();
    assert!(text.contains("sid = \"0x0a000001\""), "{text}");
    assert_eq!(fx.status().state, State::Idle);
    assert_eq!(fx.p.storage_info(STORAGE).unwrap().description, "Backup");
}
#[test]
fn generated_files_and_requests_cannot_be_changed() {
    let mut fx = fixture();
    let status = fx.find(ParentFilter::Root, "status.toml").unwrap();
    let requests = fx.find(ParentFilter::Root, "requests").unwrap();
    assert_eq!(
        fx.p.delete_object(status),
        Err(ResponseCode::ObjectWriteProtected)
    );
    assert_eq!(
        fx.p.delete_object(requests),
        Err(ResponseCode::ObjectWriteProtected)
    );
    assert_eq!(
        fx.upload(None, "status.toml", b"state = \"done\"\n"),
        Err(ResponseCode::AccessDenied)
    );
    let rename = mtp::codec::value::PropValue::Str("other".into());
    assert_eq!(
        fx.p.set_object_prop(
            requests,
            mtp::codec::ObjectPropCode::ObjectFileName,
            &rename
        ),
        Err(ResponseCode::AccessDenied)
    );
    assert!(fx.spool.join("requests").is_dir());
}
#[test]
fn a_backup_request_captures_a_set_and_announces_every_file() {
    let mut fx = fixture();
    fx.drain_events();
    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    let done = fx.wait_done();
    assert_eq!(done.state, State::Done, "{done:?}");
    assert_eq!((done.owners_done, done.owners_total), (1, 1));
    let set = fx.only_set();
    assert_eq!(done.session.as_deref(), Some(set.as_str()));
    // Every file of the set is listed with its exact size and was announced.
    let folder = fx.find(ParentFilter::Root, &set).unwrap();
    let added: Vec<u32> = fx
        .events
        .iter()
        .filter(|e| e.0 == EventCode::ObjectAdded)
        .map(|e| e.1)
        .collect();
    assert!(added.contains(&folder.0), "set folder announced");
    let mut once = added.clone();
    once.sort_unstable();
    once.dedup();
    assert_eq!(
        once.len(),
        added.len(),
        "each object announced once: {added:?}"
    );
    let all =
        fx.p.object_handles(STORAGE, None, ParentFilter::All)
            .unwrap();
    let mut unit_bytes = 0;
    let mut objects_in_set = 0;
    for h in all {
        let Some(path) = fx.p.path_of(h) else {
            continue;
        };
        if !path.starts_with(&set) {
            continue;
        }
        objects_in_set += 1;
        assert!(added.contains(&h.0), "{} announced", path.display());
        let rec = fx.p.object(h).unwrap();
        if !rec.is_folder() {
            let on_disk = std::fs::metadata(fx.spool.join(&path)).unwrap().len();
            assert_eq!(rec.size, on_disk, "{}", path.display());
            assert_eq!(fx.read(h).len() as u64, on_disk);
            if path.extension().is_some_and(|e| e == "unit") {
                unit_bytes += on_disk;
            }
        }
    }
    assert!(fx.spool.join(&set).join("manifest.toml").is_file());
    // ObjectAdded follows the engine's reports: the set, the owner's folder, its drive
    // folder, its two units and the manifest, each once.
    assert_eq!(
        objects_in_set, 6,
        "set, owner, drive, base, snapshot, manifest"
    );
    let added_in_set = added
        .iter()
        .filter(|h| {
            fx.p.path_of(ObjectHandle(**h))
                .is_some_and(|p| p.starts_with(&set))
        })
        .count();
    assert_eq!(added_in_set, objects_in_set, "{added:?}");
    assert_eq!(done.bytes_done, unit_bytes);
    let status = fx.find(ParentFilter::Root, "status.toml").unwrap();
    assert!(
        fx.events
            .contains(&(EventCode::ObjectInfoChanged, status.0)),
        "status changes announced"
    );
    // The accepted request stays in requests/.
    assert!(fx.spool.join("requests/backup.request").is_file());
}
#[test]
fn bad_requests_are_refused_with_the_reason_in_status_and_leave_no_file() {
    let mut fx = fixture();
    let garbage = fx.request("backup.request", "scope = \"full\"\ntype = \"sideways\"\n");
    assert_eq!(garbage, Err(ResponseCode::InvalidParameter));
    let s = fx.status();
    assert_eq!(s.state, State::Failed);
    let reason = s.last_error.unwrap();
    assert!(
        reason.contains("line 2") && reason.contains("type"),
        "{reason}"
    );
    assert!(!fx.spool.join("requests/backup.request").exists());

    let unknown = fx.request(
        "backup.request",
        "scope = \"partial\"\ntype = \"base\"\nowners = [\"0x0badf00d\"]\n",
    );
    assert_eq!(unknown, Err(ResponseCode::InvalidParameter));
    let reason = fx.status().last_error.unwrap();
    assert!(
        reason.contains("0x0badf00d") && reason.contains("not registered"),
        "{reason}"
    );

    let missing = fx.request(
        "restore.request",
        "source = \"20200101T000000Z\"\nscope = \"full\"\n",
    );
    assert_eq!(missing, Err(ResponseCode::InvalidParameter));
    let reason = fx.status().last_error.unwrap();
    assert!(reason.contains("20200101T000000Z"), "{reason}");
    assert_eq!(fx.only_set(), "", "no set was created");
}
#[test]
fn an_oversized_request_is_refused_whole() {
    let mut fx = fixture();
    let mut text = String::from("scope = \"full\"\ntype = \"base\"\n");
    while text.len() <= crate::backup::request::MAX_REQUEST_LEN {
        text.push_str("# padding padding padding padding padding padding padding\n");
    }
    assert_eq!(
        fx.request("backup.request", &text),
        Err(ResponseCode::InvalidParameter)
    );
    let reason = fx.status().last_error.unwrap();
    assert!(reason.contains("bytes long"), "{reason}");
    assert!(!fx.spool.join("requests/backup.request").exists());
    assert_eq!(fx.only_set(), "");
}
#[test]
fn an_empty_request_is_stored_and_does_nothing() {
    let mut fx = fixture();
    fx.request("backup.request", "").unwrap();
    assert!(fx.spool.join("requests/backup.request").is_file());
    assert_eq!(fx.status().state, State::Idle);
}
#[test]
fn a_request_while_a_session_runs_gets_device_busy_and_its_folders_are_locked() {
    let mut fx = fixture();
    fx.request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap();
    fx.wait_done();
    let set = fx.only_set();
    // Pretend a restore of that set runs (the engine is idle, so nothing else changes).
    fx.service.tell(News::Accepted(Claim {
        folder: set.clone(),
        in_use: [set.clone()].into(),
        restoring: true,
    }));
    let busy = fx.request(
        "restore.request",
        &format!("source = \"{set}\"\nscope = \"full\"\n"),
    );
    assert_eq!(busy, Err(ResponseCode::DeviceBusy));
    let folder = fx.find(ParentFilter::Root, &set).unwrap();
    assert_eq!(fx.p.delete_object(folder), Err(ResponseCode::DeviceBusy));
    assert_eq!(
        fx.upload(Some(folder), "extra.unit", b"x"),
        Err(ResponseCode::DeviceBusy)
    );
    fx.service.tell(News::Ended(Outcome {
        ok: true,
        error: None,
    }));
    fx.p.delete_object(folder).unwrap();
    assert!(!fx.spool.join(&set).exists());
}
#[test]
fn a_backup_with_no_owner_registered_is_refused_with_the_reason() {
    let mut fx = fixture_with(Duration::from_secs(2), |dir| {
        std::fs::remove_file(
            dir.join("c/private")
                .join(SID)
                .join("backup_registration.xml"),
        )
        .unwrap();
    });
    let err = fx
        .request("backup.request", "scope = \"full\"\ntype = \"base\"\n")
        .unwrap_err();
    assert_eq!(err, ResponseCode::InvalidParameter);
    let s = fx.status();
    assert!(
        s.last_error
            .as_deref()
            .unwrap_or("")
            .contains("no data owner is registered"),
        "{s:?}"
    );
    assert!(fx.only_sets().is_empty(), "no empty set was made");
}
