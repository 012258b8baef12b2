//! The hostile-owner suite: a data owner running as an unprivileged uid (4242) attacks the
//! engine (running as root) through everything it controls — its cage, its public folder,
//! the names the engine uses next to them — and another owner (uid 4300) must not notice.
//!
//! Every test asserts that a victim file outside every owner's data (root's, 0600) is
//! byte-for-byte and mode-for-mode unchanged, that the attacker gets nothing that is not
//! its own, and that the innocent owner of the same session succeeds.
//!
//! These tests need root (to own files as other uids and to let the engine switch to the
//! owners' identities). Not as root they print `NOT ROOT` loudly and return; CI and the
//! VM run them as root.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use engine::manifest::{BackupType, Manifest, OwnerOutcome};
use engine::registration::{CENTRAL_REPOSITORY_SID, Drive, Sid};
use engine::runner::{BackupRequest, Engine, EngineConfig, RestoreRequest};

const ATTACKER: Sid = Sid(0xBAD0_0001);
const INNOCENT: Sid = Sid(0x1111_1111);
const ATTACKER_UID: u32 = 4242;
const INNOCENT_UID: u32 = 4300;
const SECRET: &[u8] = b"the innocent owner's secret";
const VICTIM: &[u8] = b"root:$6$victim-hash:19000:0:99999:7:::\n";

struct Rig {
    dir: tempfile::TempDir,
    engine: Engine,
}

impl Rig {
    fn c(&self) -> Drive {
        Drive::new('c', self.dir.path().join("c"))
    }
    fn cage(&self, sid: Sid) -> PathBuf {
        self.c().cage(sid)
    }
    fn victim(&self) -> PathBuf {
        self.dir.path().join("outside/victim")
    }
    fn victim_state(&self) -> (Vec<u8>, u32, u32) {
        let m = fs::symlink_metadata(self.victim()).expect("victim");
        (
            fs::read(self.victim()).expect("victim"),
            m.permissions().mode() & 0o7777,
            m.uid(),
        )
    }
    /// Plants `link -> target` as the attacker (the link belongs to uid 4242).
    fn plant_symlink(&self, target: &Path, link: &Path) {
        fs::create_dir_all(link.parent().expect("parent")).expect("mkdir");
        let _ = fs::remove_file(link);
        symlink(target, link).expect("symlink");
        std::os::unix::fs::lchown(link, Some(ATTACKER_UID), Some(ATTACKER_UID)).expect("lchown");
    }
    fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }
    async fn backup(&self, session: &str) -> Manifest {
        self.engine
            .backup(BackupRequest {
                session: session.into(),
                created: "2026-12-03T09:00:00Z".into(),
                partial: None,
                backup_type: BackupType::Base,
                previous: None,
                compress: false,
                drives: None,
            })
            .await
            .expect("backup runs")
    }
    async fn restore(&mut self, session: &str) -> Vec<(Sid, OwnerOutcome)> {
        let report = self
            .engine
            .restore(RestoreRequest {
                sets: vec![self.spool().join(session)],
                partial: None,
            })
            .await
            .expect("restore runs");
        report
            .owners
            .into_iter()
            .map(|r| (r.sid, r.outcome))
            .collect()
    }
}

fn is_root() -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    eprintln!("NOT ROOT: the hostile-owner suite needs root and did NOT run; CI runs it as root");
    false
}

fn write_as(path: &Path, data: &[u8], uid: u32, mode: u32) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, data).expect("write");
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).expect("chown");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn mkdir_as(path: &Path, uid: u32, mode: u32) {
    fs::create_dir_all(path).expect("mkdir");
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).expect("chown");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn db_path(cage: &Path) -> PathBuf {
    cage.join("dbms/aabbccdd/main.db")
}

fn rig(attacker_registration: &str) -> Rig {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let c = Drive::new('c', dir.path().join("c"));
    mkdir_as(&c.root.join("private"), 0, 0o755);
    write_as(&dir.path().join("outside/victim"), VICTIM, 0, 0o600);
    // The innocent owner: passive data and a public file of its own.
    let cage = c.cage(INNOCENT);
    mkdir_as(&cage, INNOCENT_UID, 0o700);
    write_as(
        &cage.join("backup_registration.xml"),
        br#"<backup_registration><passive_backup><include_directory name="\"/></passive_backup>
            <public_backup><include_directory name="c:\public\11111111\"/></public_backup></backup_registration>"#,
        0,
        0o644,
    );
    write_as(&cage.join("secret.txt"), SECRET, INNOCENT_UID, 0o600);
    mkdir_as(&c.root.join("public"), 0, 0o755);
    mkdir_as(&c.root.join("public/11111111"), INNOCENT_UID, 0o755);
    write_as(
        &c.root.join("public/11111111/shared.txt"),
        b"innocent public",
        INNOCENT_UID,
        0o644,
    );
    // The attacker: every kind of data the engine writes for it.
    let cage = c.cage(ATTACKER);
    mkdir_as(&cage, ATTACKER_UID, 0o700);
    write_as(
        &cage.join("backup_registration.xml"),
        format!("<backup_registration>{attacker_registration}</backup_registration>").as_bytes(),
        0,
        0o644,
    );
    write_as(
        &cage.join("mine.txt"),
        b"attacker data",
        ATTACKER_UID,
        0o600,
    );
    mkdir_as(&c.root.join("public/bad00001"), ATTACKER_UID, 0o755);
    write_as(
        &c.root.join("public/bad00001/shared.txt"),
        b"attacker public",
        ATTACKER_UID,
        0o666,
    );
    // System data in its own cage: a read-only package file, listed by the package.
    write_as(&cage.join("app.bin"), b"package file", 0, 0o444);
    let packages = c.cage(Sid(0x1020_2D56)).join("import/packages");
    write_as(
        &packages.join("bad00001/files.txt"),
        b"c:\\private\\bad00001\\app.bin\n",
        0,
        0o644,
    );
    mkdir_as(&cage.join("dbms"), ATTACKER_UID, 0o700);
    mkdir_as(&cage.join("dbms/aabbccdd"), ATTACKER_UID, 0o700);
    let db = rusqlite::Connection::open(db_path(&cage)).expect("db");
    db.execute_batch("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('attacker row');")
        .expect("schema");
    drop(db);
    std::os::unix::fs::chown(db_path(&cage), Some(ATTACKER_UID), Some(ATTACKER_UID))
        .expect("chown db");
    let config = EngineConfig {
        drives: vec![c],
        spool: dir.path().join("spool"),
        socket: dir.path().join("engine.sock"),
        owner_dir: dir.path().join("no-owner-binaries"),
        state_file: None,
        ready_timeout: Duration::from_secs(5),
        cenrep: CENTRAL_REPOSITORY_SID,
        system: engine::system::SystemPolicy::default(),
        owner_group: None,
        key_file: None,
    };
    let (engine, errors) = Engine::start(config).expect("engine");
    assert!(errors.is_empty(), "{errors:?}");
    Rig { dir, engine }
}

const EVERYTHING: &str = r#"<passive_backup><include_directory name="\"/></passive_backup>
    <public_backup><include_directory name="c:\public\bad00001\"/></public_backup>
    <dbms_backup policy="AABBCCDD"/><system_backup/>"#;

fn outcome_of(outcomes: &[(Sid, OwnerOutcome)], sid: Sid) -> OwnerOutcome {
    outcomes
        .iter()
        .find(|(s, _)| *s == sid)
        .map(|(_, o)| o.clone())
        .unwrap_or_else(|| panic!("{sid} in the outcome: {outcomes:?}"))
}

fn failed_reason(outcome: &OwnerOutcome) -> String {
    match outcome {
        OwnerOutcome::Failed { reason, .. } => reason.clone(),
        OwnerOutcome::Ok => panic!("the attacker should have failed"),
    }
}

/// Returns true if any unit file of the set contains `needle`.
fn set_contains(set: &Path, needle: &[u8]) -> bool {
    fs::read_dir(set).expect("set").flatten().any(|e| {
        fs::read(e.path()).is_ok_and(|data| data.windows(needle.len()).any(|w| w == needle))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_at_every_temporary_name_never_redirect_a_restore() {
    if !is_root() {
        return;
    }
    let mut rig = rig(EVERYTHING);
    let before = rig.victim_state();
    let m = rig.backup("base").await;
    for sid in [ATTACKER, INNOCENT] {
        assert_eq!(
            m.owner(sid).expect("owner").outcome,
            OwnerOutcome::Ok,
            "{sid}"
        );
    }
    let victim = rig.victim();
    let cage = rig.cage(ATTACKER);
    let public = rig.c().root.join("public/bad00001");
    // The names the engine used to write through, and SQLite's own.
    for link in [
        public.join(".shared.txt.restore-tmp"),
        cage.join("app.system-tmp"),
        cage.join("dbms/aabbccdd/main.restore-tmp"),
        cage.join("dbms/aabbccdd/main.db-journal"),
        cage.join("dbms/aabbccdd/main.db-wal"),
    ] {
        rig.plant_symlink(&victim, &link);
    }
    let outcomes = rig.restore("base").await;
    assert_eq!(rig.victim_state(), before, "the victim is untouched");
    assert_eq!(outcome_of(&outcomes, INNOCENT), OwnerOutcome::Ok);
    // SQLite, acting as the owner, cannot use the planted journal; the planted names
    // outside SQLite are simply never used.
    assert_eq!(outcome_of(&outcomes, ATTACKER), OwnerOutcome::Ok);
    let db = rusqlite::Connection::open(db_path(&cage)).expect("db");
    let row: String = db
        .query_row("SELECT v FROM t", [], |r| r.get(0))
        .expect("row");
    assert_eq!(row, "attacker row");
    assert_eq!(
        fs::read(rig.cage(INNOCENT).join("secret.txt")).expect("innocent data"),
        SECRET
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_and_system_restores_replace_planted_links_without_following_them() {
    if !is_root() {
        return;
    }
    let mut rig = rig(
        r#"<public_backup><include_directory name="c:\public\bad00001\"/></public_backup><system_backup/>"#,
    );
    let before = rig.victim_state();
    rig.backup("base").await;
    let victim = rig.victim();
    let cage = rig.cage(ATTACKER);
    // The targets themselves are links to the victim now.
    rig.plant_symlink(&victim, &rig.c().root.join("public/bad00001/shared.txt"));
    fs::remove_file(cage.join("app.bin")).expect("rm");
    rig.plant_symlink(&victim, &cage.join("app.bin"));
    let outcomes = rig.restore("base").await;
    assert_eq!(rig.victim_state(), before);
    assert_eq!(outcome_of(&outcomes, ATTACKER), OwnerOutcome::Ok);
    assert_eq!(outcome_of(&outcomes, INNOCENT), OwnerOutcome::Ok);
    let public = rig.c().root.join("public/bad00001/shared.txt");
    let m = fs::symlink_metadata(&public).expect("public file");
    assert!(m.is_file(), "the link was replaced by the file");
    assert_eq!(
        m.uid(),
        ATTACKER_UID,
        "public files are restored as their owner"
    );
    assert_eq!(fs::read(&public).expect("read"), b"attacker public");
    let m = fs::symlink_metadata(cage.join("app.bin")).expect("system file");
    assert!(m.is_file());
    assert_eq!(m.permissions().mode() & 0o777, 0o444);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_never_follows_a_link_out_of_the_cage() {
    if !is_root() {
        return;
    }
    // A link as an intermediate component of an include.
    let rig = rig(
        r#"<passive_backup><include_directory name="\"/><include_file name="steal\secret.txt"/></passive_backup>"#,
    );
    rig.plant_symlink(&rig.cage(INNOCENT), &rig.cage(ATTACKER).join("steal"));
    let m = rig.backup("b1").await;
    let reason = failed_reason(&m.owner(ATTACKER).expect("attacker").outcome);
    assert!(reason.contains("symbolic link"), "{reason}");
    assert_eq!(
        m.owner(INNOCENT).expect("innocent").outcome,
        OwnerOutcome::Ok
    );
    // Links found while walking are skipped, in the cage and in public folders.
    let rig = rig_links_in_walk();
    let m = rig.backup("b2").await;
    assert_eq!(
        m.owner(ATTACKER).expect("attacker").outcome,
        OwnerOutcome::Ok
    );
    let units: Vec<_> = m.units.iter().filter(|u| u.id.sid == ATTACKER).collect();
    assert!(!units.is_empty());
    assert!(!set_contains(
        &rig.spool().join("b2").join("bad00001"),
        SECRET
    ));
    assert!(!set_contains(&rig.spool().join("b2"), VICTIM));
    let attacker_units_hold_secret = fs::read_dir(rig.spool().join("b2"))
        .expect("set")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("bad00001"))
        .any(|e| fs::read(e.path()).is_ok_and(|d| d.windows(SECRET.len()).any(|w| w == SECRET)));
    assert!(
        !attacker_units_hold_secret,
        "no innocent data in the attacker's units"
    );
}

fn rig_links_in_walk() -> Rig {
    let rig = rig(
        r#"<passive_backup><include_directory name="\"/></passive_backup>
           <public_backup><include_directory name="c:\public\bad00001\"/></public_backup>"#,
    );
    rig.plant_symlink(&rig.cage(INNOCENT), &rig.cage(ATTACKER).join("dir-link"));
    rig.plant_symlink(
        &rig.cage(INNOCENT).join("secret.txt"),
        &rig.cage(ATTACKER).join("file-link"),
    );
    rig.plant_symlink(
        &rig.victim(),
        &rig.c().root.join("public/bad00001/victim-link"),
    );
    rig.plant_symlink(
        &rig.c().root.join("private"),
        &rig.c().root.join("public/bad00001/private-link"),
    );
    rig
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_link_to_a_foreign_file_fails_its_owner() {
    if !is_root() {
        return;
    }
    let rig = rig(r#"<passive_backup><include_directory name="\"/></passive_backup>"#);
    fs::hard_link(
        rig.cage(INNOCENT).join("secret.txt"),
        rig.cage(ATTACKER).join("hard"),
    )
    .expect("hard link");
    let m = rig.backup("b").await;
    let reason = failed_reason(&m.owner(ATTACKER).expect("attacker").outcome);
    assert!(reason.contains("hard link"), "{reason}");
    assert_eq!(
        m.owner(INNOCENT).expect("innocent").outcome,
        OwnerOutcome::Ok
    );
    let leaked = fs::read_dir(rig.spool().join("b"))
        .expect("set")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("bad00001"))
        .any(|e| fs::read(e.path()).is_ok_and(|d| d.windows(SECRET.len()).any(|w| w == SECRET)));
    assert!(!leaked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_in_the_cage_never_blocks_the_engine() {
    if !is_root() {
        return;
    }
    let rig = rig(
        r#"<passive_backup><include_directory name="\"/><include_file name="pipe"/></passive_backup>
           <public_backup><include_directory name="c:\public\bad00001\"/></public_backup>"#,
    );
    for fifo in [
        rig.cage(ATTACKER).join("pipe"),
        rig.c().root.join("public/bad00001/pipe"),
    ] {
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o666),
        )
        .expect("mkfifo");
    }
    let m = tokio::time::timeout(Duration::from_secs(60), rig.backup("b"))
        .await
        .expect("the backup does not block on a FIFO");
    assert_eq!(
        m.owner(ATTACKER).expect("attacker").outcome,
        OwnerOutcome::Ok
    );
    assert_eq!(
        m.owner(INNOCENT).expect("innocent").outcome,
        OwnerOutcome::Ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_cannot_reach_into_the_staging_folder_during_a_restore() {
    if !is_root() {
        return;
    }
    let mut rig = rig(r#"<passive_backup><include_directory name="\"/></passive_backup>"#);
    // Enough data that the restore takes a while.
    for i in 0..1000 {
        write_as(
            &rig.cage(ATTACKER).join(format!("sub/file-{i}")),
            &vec![b'x'; 16 * 1024],
            ATTACKER_UID,
            0o600,
        );
    }
    let before = rig.victim_state();
    rig.backup("base").await;
    // A stale staging folder left by a crash, with a link inside (as the old engine,
    // which handed its staging folder to the owner, let an owner plant).
    let staging = rig.c().root.join("private/.bad00001.staging");
    mkdir_as(&staging, 0, 0o700);
    rig.plant_symlink(&rig.dir.path().join("outside"), &staging.join("sub"));
    // The attacker, with its own rights, keeps trying to plant links into the staging
    // folder while the restore runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let outside = rig.dir.path().join("outside");
    let ready = std::sync::Arc::new(std::sync::Barrier::new(2));
    let attacker = {
        let ready = ready.clone();
        let stop = stop.clone();
        let staging = staging.clone();
        std::thread::spawn(move || {
            let who = engine::confined::identity::Identity::new(ATTACKER_UID, ATTACKER_UID);
            let (mut entered, mut locked_out) = (0, 0);
            engine::confined::identity::as_user(who, || {
                ready.wait();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // The engine's staging folder: root's, the same one before and after
                    // the attempt (after the exchange the name holds the owner's old cage).
                    let ino = |m: fs::Metadata| (m.uid() == 0).then_some(m.ino());
                    let before = fs::symlink_metadata(&staging).ok().and_then(ino);
                    let planted = symlink(&outside, staging.join("sub/evil")).is_ok()
                        || symlink(&outside, staging.join("sub")).is_ok();
                    let listed = fs::read_dir(&staging).is_ok();
                    let after = fs::symlink_metadata(&staging).ok().and_then(ino);
                    let engines = before.is_some() && before == after;
                    if engines && (planted || listed) {
                        entered += 1;
                    } else if engines {
                        locked_out += 1;
                    }
                }
            })
            .expect("act as the attacker");
            (entered, locked_out)
        })
    };
    ready.wait();
    let outcomes = rig.restore("base").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (entered, locked_out) = attacker.join().expect("attacker thread");
    assert_eq!(
        entered, 0,
        "the attacker never got into the engine's staging folder"
    );
    assert!(
        locked_out > 0,
        "the attacker tried while the staging folder existed"
    );
    assert_eq!(rig.victim_state(), before);
    assert_eq!(
        fs::read_dir(rig.dir.path().join("outside"))
            .expect("outside")
            .count(),
        1,
        "nothing was written outside"
    );
    assert_eq!(outcome_of(&outcomes, ATTACKER), OwnerOutcome::Ok);
    assert_eq!(outcome_of(&outcomes, INNOCENT), OwnerOutcome::Ok);
    let m = fs::symlink_metadata(rig.cage(ATTACKER).join("sub/file-7")).expect("restored");
    assert_eq!((m.uid(), m.len()), (ATTACKER_UID, 16 * 1024));
    let cage = fs::symlink_metadata(rig.cage(ATTACKER)).expect("cage");
    assert_eq!(
        (cage.uid(), cage.permissions().mode() & 0o777),
        (ATTACKER_UID, 0o700)
    );
}

/// Unmounts a test mount when dropped, whatever the test's outcome.
struct Mounted(PathBuf);

impl Mounted {
    fn tmpfs(at: &Path) -> Self {
        fs::create_dir_all(at).expect("mount point");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(at)
            .status()
            .expect("mount");
        assert!(ok.success(), "mount a tmpfs at {}", at.display());
        Self(at.to_owned())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// An owner can mount a file system of its own (FUSE, through the setuid `fusermount`) on
/// a folder it owns; its server could then hold every read of the engine forever. Here a
/// tmpfs stands in for it: the engine never enters it, the owner fails with the reason,
/// and the other owner of the session is backed up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_system_mounted_in_the_cage_is_never_entered() {
    if !is_root() {
        return;
    }
    let rig = rig(
        r#"<passive_backup><include_directory name="\"/></passive_backup>
           <public_backup><include_directory name="c:\public\bad00001\"/></public_backup>"#,
    );
    let mounts = [
        Mounted::tmpfs(&rig.cage(ATTACKER).join("fuse")),
        Mounted::tmpfs(&rig.c().root.join("public/bad00001/fuse")),
    ];
    for m in &mounts {
        fs::write(m.0.join("bait"), b"served by the owner's file system").expect("bait");
    }
    let m = tokio::time::timeout(Duration::from_secs(60), rig.backup("b"))
        .await
        .expect("the backup ends");
    let reason = failed_reason(&m.owner(ATTACKER).expect("attacker").outcome);
    assert!(reason.contains("mount point"), "{reason}");
    assert_eq!(
        m.owner(INNOCENT).expect("innocent").outcome,
        OwnerOutcome::Ok
    );
    assert!(!set_contains(
        &rig.spool().join("b"),
        b"served by the owner's"
    ));
    drop(mounts);
}
