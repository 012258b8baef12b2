//! Shared rig for the engine's integration tests: a drive with every kind of owner
//! (the test owner binary as the active ones) and an engine over a temporary spool.
#![allow(dead_code, unreachable_pub)]
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use engine::manifest::{BackupType, Manifest, OwnerOutcome};
use engine::registration::{CENTRAL_REPOSITORY_SID, Drive, Sid};
use engine::runner::{BackupRequest, Engine, EngineConfig};
use engine::unit::UnitKind;

mod test_owner;
pub use test_owner::owner_dir;

pub const PASSIVE: Sid = Sid(0x1111_1111);
pub const ACTIVE: Sid = Sid(0x2222_2222);
pub const HYBRID: Sid = Sid(0x3333_3333);
pub const PROXIED: Sid = Sid(0x4444_4444);
pub const PROXY: Sid = Sid(0x5555_5555);
pub const CRASHER: Sid = Sid(0x6666_6666);
pub const DATABASE: Sid = Sid(0xAAAA_0001);

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
    pub config: EngineConfig,
}

impl Rig {
    pub fn c(&self) -> Drive {
        Drive::new('c', self.dir.path().join("c"))
    }
    pub fn cage(&self, sid: Sid) -> PathBuf {
        self.c().cage(sid)
    }
    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }
}

pub fn write(path: &Path, content: &[u8]) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, content).expect("write");
}

pub fn register(c: &Drive, sid: Sid, xml_body: &str) {
    write(
        &c.cage(sid).join("backup_registration.xml"),
        format!(r#"<backup_registration version="1.0">{xml_body}</backup_registration>"#)
            .as_bytes(),
    );
}

pub fn rig() -> Rig {
    rig_with(Duration::from_secs(10), &[])
}

pub fn rig_with(ready_timeout: Duration, extra: &[(Sid, &str)]) -> Rig {
    rig_full(
        ready_timeout,
        extra,
        engine::system::SystemPolicy::default(),
    )
}

/// A rig with the given system-data policy.
pub fn rig_with_system(policy: engine::system::SystemPolicy) -> Rig {
    rig_full(Duration::from_secs(10), &[], policy)
}

/// A rig whose profile lets a restore bring back owners that are not installed
/// (`system_restore = "any"`).
pub fn rig_reinstalling() -> Rig {
    let policy = engine::system::SystemPolicy {
        restore: engine::system::SystemRestore::Any,
        ..engine::system::SystemPolicy::default()
    };
    rig_full(Duration::from_secs(10), &[], policy)
}

fn rig_full(
    ready_timeout: Duration,
    extra: &[(Sid, &str)],
    system: engine::system::SystemPolicy,
) -> Rig {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = Drive::new('c', dir.path().join("c"));
    register(
        &c,
        PASSIVE,
        r#"<passive_backup><include_directory name="\"/><exclude name="cache"/></passive_backup>
           <public_backup><include_directory name="!:\public\11111111\"/></public_backup>
           <system_backup/><restore requires_reboot="yes"/>"#,
    );
    write(
        &c.root.join("public/11111111/shared.txt"),
        b"public original",
    );
    // System data: a read-only package file, listed in the package file list.
    write(&c.root.join("sys/bin/passive-app"), b"package binary");
    fs::set_permissions(
        c.root.join("sys/bin/passive-app"),
        std::os::unix::fs::PermissionsExt::from_mode(0o555),
    )
    .expect("chmod");
    write(
        &c.cage(Sid(0x1020_2D56))
            .join("import/packages/11111111/files.txt"),
        b"c:\\sys\\bin\\passive-app\n",
    );
    write(&c.cage(PASSIVE).join("notes.txt"), b"first notes");
    write(
        &c.cage(PASSIVE).join("db/records.bin"),
        &vec![42u8; 150_000],
    );
    write(&c.cage(PASSIVE).join("cache/tmp"), b"not backed up");
    register(
        &c,
        ACTIVE,
        r#"<active_backup process_name="sbe-test-owner" supports_incremental="yes"/>"#,
    );
    write(&c.cage(ACTIVE).join("active.dat"), b"active data v1");
    register(
        &c,
        HYBRID,
        r#"<active_backup process_name="sbe-test-owner" active_type="activeandpassive" supports_incremental="no"/>
           <passive_backup><include_directory name="files"/></passive_backup>"#,
    );
    write(&c.cage(HYBRID).join("active.dat"), b"hybrid active");
    write(
        &c.cage(HYBRID).join("files/prepared.txt"),
        b"hybrid passive",
    );
    register(&c, PROXIED, r#"<proxy_data_manager SID="0x55555555"/>"#);
    register(
        &c,
        PROXY,
        r#"<active_backup process_name="sbe-test-owner" active_type="proxyonly"/>"#,
    );
    register(
        &c,
        CRASHER,
        r#"<active_backup process_name="sbe-test-owner"/>"#,
    );
    write(&c.cage(CRASHER).join("behaviour"), b"crash");
    register(
        &c,
        DATABASE,
        r#"<dbms_backup policy="AABBCCDD"/><passive_backup><include_directory name="\"/></passive_backup>"#,
    );
    write(&c.cage(DATABASE).join("settings.ini"), b"theme=dark");
    let db = open_db(&c.cage(DATABASE));
    db.execute_batch("CREATE TABLE r (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO r VALUES (1, 'alpha'), (2, 'beta');")
        .expect("db");
    for (sid, behaviour) in extra {
        register(
            &c,
            *sid,
            r#"<active_backup process_name="sbe-test-owner"/>"#,
        );
        write(&c.cage(*sid).join("behaviour"), behaviour.as_bytes());
    }
    let owner_dir = owner_dir(dir.path());
    hand_cages_to_owners(&c);
    let config = EngineConfig {
        drives: vec![c],
        spool: dir.path().join("spool"),
        socket: dir.path().join("engine.sock"),
        owner_dir,
        state_file: Some(dir.path().join("bur-state")),
        ready_timeout,
        cenrep: CENTRAL_REPOSITORY_SID,
        system,
        owner_group: owner_group(),
        // Encryption is on while this file exists (tests/encryption.rs writes it).
        key_file: Some(dir.path().join("backup-key.toml")),
    };
    let (engine, errors) = Engine::start(config.clone()).expect("engine");
    assert!(errors.is_empty(), "{errors:?}");
    Rig {
        dir,
        engine,
        config,
    }
}

/// Stops the rig's engine (as a kill would: nothing is cleaned up) and starts a new one
/// on the same spool and drives, as the next boot does.
pub fn restart(rig: Rig) -> Rig {
    let Rig {
        dir,
        engine,
        config,
    } = rig;
    drop(engine);
    let (engine, _) = Engine::start(config.clone()).expect("engine restarts");
    Rig {
        dir,
        engine,
        config,
    }
}

/// The group of the owner socket when the tests run as root: the engine gives it to the
/// owners it starts, who could not connect otherwise (socket `0660 root:4999`).
pub const OWNER_GROUP: u32 = 4999;

fn owner_group() -> Option<u32> {
    rustix::process::geteuid().is_root().then_some(OWNER_GROUP)
}

/// The first uid given to a test owner when the tests run as root.
pub const FIRST_OWNER_UID: u32 = 5000;

/// As root, gives every cage on `drive` (and everything in it) to a uid of its own, as on
/// a device: the engine never starts an owner as root. Not as root, cages are already
/// the test's own.
pub fn hand_cages_to_owners(drive: &Drive) {
    if !rustix::process::geteuid().is_root() {
        return;
    }
    let private = drive.root.join("private");
    let mut cages: Vec<PathBuf> = fs::read_dir(&private)
        .expect("private")
        .flatten()
        .map(|e| e.path())
        .collect();
    cages.sort();
    for (i, cage) in cages.iter().enumerate() {
        use std::os::unix::fs::MetadataExt;
        if fs::symlink_metadata(cage).is_ok_and(|m| m.uid() != 0) {
            continue; // handed over already (the reference-data fixture does it)
        }
        let uid = FIRST_OWNER_UID + i as u32;
        chown_tree(cage, uid);
        let public = drive
            .root
            .join("public")
            .join(cage.file_name().expect("name"));
        if public.exists() {
            chown_tree(&public, uid);
        }
    }
}

/// Gives `path` and everything below it to `uid` (group `uid`), never following links.
pub fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("lchown");
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        for e in fs::read_dir(path).expect("dir").flatten() {
            chown_tree(&e.path(), uid);
        }
    }
}

pub fn open_db(cage: &Path) -> rusqlite::Connection {
    let path = cage.join("dbms/aabbccdd/records.db");
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    rusqlite::Connection::open(path).expect("open db")
}

pub fn db_rows(cage: &Path) -> Vec<(i64, String)> {
    let db = open_db(cage);
    let mut s = db
        .prepare("SELECT id, v FROM r ORDER BY id")
        .expect("prepare");
    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

pub fn base(session: &str) -> BackupRequest {
    BackupRequest {
        session: session.into(),
        created: "2026-11-24T21:00:00Z".into(),
        partial: None,
        backup_type: BackupType::Base,
        previous: None,
        compress: true,
        drives: None,
    }
}

pub fn kinds(m: &Manifest, sid: Sid) -> Vec<UnitKind> {
    m.units
        .iter()
        .filter(|u| u.id.sid == sid)
        .map(|u| u.id.kind)
        .collect()
}

pub fn outcome(m: &Manifest, sid: Sid) -> &OwnerOutcome {
    &m.owner(sid).expect("owner listed").outcome
}

pub fn calls(rig: &Rig, sid: Sid) -> String {
    fs::read_to_string(rig.cage(sid).join("calls.log")).unwrap_or_default()
}

pub fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(root).expect("prefix").display().to_string(),
                    fs::read(&p).expect("read"),
                );
            }
        }
    }
    out
}
