use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use super::*;

fn setup() -> (tempfile::TempDir, Dir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::create_dir_all(tmp.path().join("root/sub")).expect("mkdir");
    fs::create_dir_all(tmp.path().join("outside")).expect("mkdir");
    fs::write(tmp.path().join("root/sub/file"), b"inside").expect("write");
    fs::write(tmp.path().join("outside/victim"), b"victim").expect("write");
    let dir = Dir::open_root(&tmp.path().join("root")).expect("open root");
    (tmp, dir)
}

fn victim(tmp: &tempfile::TempDir) -> (Vec<u8>, u32) {
    let p = tmp.path().join("outside/victim");
    let mode = fs::symlink_metadata(&p)
        .expect("victim")
        .permissions()
        .mode();
    (fs::read(&p).expect("victim"), mode)
}

#[test]
fn regular_files_open_beneath_the_directory() {
    let (_tmp, dir) = setup();
    let (mut file, meta) = dir.open_file("sub/file").expect("open");
    let mut s = String::new();
    file.read_to_string(&mut s).expect("read");
    assert_eq!(
        (s.as_str(), meta.size, meta.kind),
        ("inside", 6, Kind::File)
    );
}

#[test]
fn a_symlink_at_any_component_is_never_followed() {
    let (tmp, dir) = setup();
    symlink(tmp.path().join("outside"), tmp.path().join("root/link")).expect("symlink");
    symlink(
        tmp.path().join("outside/victim"),
        tmp.path().join("root/sub/flink"),
    )
    .expect("symlink");
    for rel in ["link/victim", "sub/flink"] {
        let err = dir.open_file(rel).expect_err(rel);
        assert!(err.to_string().contains("symbolic link"), "{rel}: {err}");
    }
    assert!(dir.open_dir("link").is_err());
    assert!(dir.stat("link/victim").is_err(), "stat through a link");
    assert_eq!(
        dir.stat("link").expect("stat").map(|m| m.kind),
        Some(Kind::Symlink)
    );
    assert!(dir.create_dir_all("link/new", 0o700, None).is_err());
    assert!(!tmp.path().join("outside/new").exists());
}

#[test]
fn paths_that_leave_the_directory_are_refused() {
    let (_tmp, dir) = setup();
    for rel in [
        "../outside/victim",
        "/etc/passwd",
        "sub/../../outside/victim",
        "sub//file",
    ] {
        assert!(dir.open_file(rel).is_err(), "{rel}");
    }
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let (tmp, dir) = setup();
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        tmp.path().join("root/fifo"),
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("mkfifo");
    let err = dir.open_file("fifo").expect_err("fifo");
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert!(dir.open_file("sub").is_err(), "a directory");
}

#[test]
fn entries_report_links_as_links_sorted() {
    let (tmp, dir) = setup();
    symlink(tmp.path().join("outside"), tmp.path().join("root/a-link")).expect("symlink");
    let names: Vec<(String, Kind)> = dir
        .entries()
        .expect("entries")
        .into_iter()
        .map(|e| (e.name, e.kind))
        .collect();
    assert_eq!(
        names,
        vec![("a-link".into(), Kind::Symlink), ("sub".into(), Kind::Dir)]
    );
}

#[test]
fn a_temp_file_replaces_a_symlink_at_its_target_without_writing_through_it() {
    let (tmp, dir) = setup();
    let before = victim(&tmp);
    symlink(
        tmp.path().join("outside/victim"),
        tmp.path().join("root/sub/target"),
    )
    .expect("symlink");
    let sub = dir.open_dir("sub").expect("sub");
    let mut t = sub.create_temp(0o600).expect("temp");
    t.file().write_all(b"new").expect("write");
    t.commit("target", 0o640, None).expect("commit");
    assert_eq!(victim(&tmp), before);
    let m = fs::symlink_metadata(tmp.path().join("root/sub/target")).expect("target");
    assert!(m.is_file());
    assert_eq!(m.permissions().mode() & 0o777, 0o640);
    assert_eq!(
        fs::read(tmp.path().join("root/sub/target")).expect("read"),
        b"new"
    );
    let left: Vec<_> = sub
        .entries()
        .expect("entries")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(left, vec!["file", "target"], "no temporary name left");
}

#[test]
fn temp_names_are_unpredictable_and_removed_when_dropped() {
    let (_tmp, dir) = setup();
    let a = dir.create_temp(0o600).expect("a");
    let b = dir.create_temp(0o600).expect("b");
    let names: Vec<String> = dir
        .entries()
        .expect("entries")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names.len(), 3);
    assert_ne!(names[0], names[1]);
    assert!(names[0].len() > 30, "{names:?}");
    drop((a, b));
    assert_eq!(dir.entries().expect("entries").len(), 1);
}

#[test]
fn remove_tree_removes_links_and_never_what_they_point_to() {
    let (tmp, dir) = setup();
    let before = victim(&tmp);
    symlink(
        tmp.path().join("outside"),
        tmp.path().join("root/sub/dlink"),
    )
    .expect("symlink");
    symlink(
        tmp.path().join("outside/victim"),
        tmp.path().join("root/sub/flink"),
    )
    .expect("symlink");
    dir.remove_tree("sub").expect("remove");
    assert!(!tmp.path().join("root/sub").exists());
    assert_eq!(victim(&tmp), before);
    dir.remove_tree("sub").expect("missing is fine");
}

#[test]
fn as_user_acts_with_the_owners_rights_and_comes_back() {
    let (tmp, dir) = setup();
    if !rustix::process::geteuid().is_root() {
        eprintln!("NOT ROOT: as_user cannot switch identity; the switch is tested as root in CI");
        return;
    }
    fs::set_permissions(
        tmp.path().join("outside/victim"),
        fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    fs::set_permissions(tmp.path().join("root"), fs::Permissions::from_mode(0o777)).expect("chmod");
    let victim_path = tmp.path().join("outside/victim");
    let (read, created) = identity::as_user(identity::Identity::new(4242, 4243), || {
        let read = fs::read(&victim_path).map(|_| ());
        let created = dir.create_new("mine", 0o600);
        (read, created)
    })
    .expect("switch");
    assert_eq!(
        read.expect_err("the owner cannot read root's 0600 file")
            .kind(),
        std::io::ErrorKind::PermissionDenied
    );
    drop(created.expect("create"));
    let m = fs::metadata(tmp.path().join("root/mine")).expect("mine");
    assert_eq!((m.uid(), m.gid()), (4242, 4243));
    assert!(rustix::process::geteuid().is_root(), "identity restored");
    assert!(fs::read(&victim_path).is_ok(), "root's rights back");
}

#[test]
fn a_mount_point_beneath_is_never_crossed() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("NOT ROOT: mounting needs root; the mount-point refusal did NOT run here");
        return;
    }
    let (tmp, dir) = setup();
    let at = tmp.path().join("root/sub/mnt");
    fs::create_dir(&at).expect("mount point");
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&at)
        .status()
        .expect("mount");
    assert!(ok.success());
    fs::write(at.join("f"), b"elsewhere").expect("write");
    let results = [
        dir.stat("sub/mnt").map(|_| ()),
        dir.stat("sub/mnt/f").map(|_| ()),
        dir.open_dir("sub/mnt").map(|_| ()),
        dir.open_file("sub/mnt/f").map(|_| ()),
        dir.open_dir("sub")
            .and_then(|d| d.open_file("mnt/f"))
            .map(|_| ()),
    ];
    let _ = std::process::Command::new("umount").arg(&at).status();
    for r in results {
        let e = r.expect_err("a mount point is refused");
        assert!(e.to_string().contains("mount point"), "{e}");
    }
}

#[test]
fn stat_and_an_open_file_report_the_same_object_with_its_birth_time() {
    let (tmp, dir) = setup();
    fs::write(tmp.path().join("root/sub/born"), b"x").expect("write");
    let by_name = dir.stat("sub/born").expect("stat").expect("exists");
    let (_, opened) = dir.open_file("sub/born").expect("open");
    let std_meta = fs::symlink_metadata(tmp.path().join("root/sub/born")).expect("std");
    assert_eq!(by_name.dev_ino, (std_meta.dev(), std_meta.ino()));
    assert_eq!(by_name.dev_ino, opened.dev_ino);
    assert_eq!(by_name.btime_ns, opened.btime_ns);
    match std_meta.created() {
        Ok(t) => {
            let ns = t
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_nanos();
            assert_eq!(by_name.btime_ns, Some(ns as i64));
        }
        Err(_) => assert_eq!(by_name.btime_ns, None),
    }
}
