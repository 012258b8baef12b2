//! Shared rig for the reference-owner tests: an engine over a temporary drive whose owner
//! directory is the target directory holding the `data-owners` binaries.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use engine::manifest::{BackupType, Manifest, OwnerOutcome};
use engine::registration::{CENTRAL_REPOSITORY_SID, Drive, Sid};
use engine::runner::{BackupRequest, Engine, EngineConfig, RestoreRequest};
use engine::unit::UnitKind;

pub struct Rig {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
}

impl Rig {
    pub fn c(&self) -> Drive {
        Drive::new('c', self.dir.path().join("c"))
    }
    pub fn cage(&self, sid: Sid) -> PathBuf {
        self.c().cage(sid)
    }
    pub fn set(&self, session: &str) -> PathBuf {
        self.dir.path().join("spool").join(session)
    }

    pub async fn backup(
        &self,
        session: &str,
        previous: Option<&str>,
        partial: Option<&[Sid]>,
    ) -> Manifest {
        let m = self
            .engine
            .backup(BackupRequest {
                session: session.into(),
                created: "2026-11-24T22:00:00Z".into(),
                partial: partial.map(|p| p.iter().copied().collect::<BTreeSet<_>>()),
                backup_type: if previous.is_some() {
                    BackupType::Incremental
                } else {
                    BackupType::Base
                },
                previous: previous.map(|p| self.set(p)),
                compress: true,
                drives: None,
            })
            .await
            .expect("backup");
        for o in &m.owners {
            assert_eq!(o.outcome, OwnerOutcome::Ok, "{}", o.sid);
        }
        m
    }

    pub async fn restore(&mut self, sets: &[&str], partial: Option<&[Sid]>) {
        let report = self
            .engine
            .restore(RestoreRequest {
                sets: sets.iter().map(|s| self.set(s)).collect(),
                partial: partial.map(|p| p.iter().copied().collect::<BTreeSet<_>>()),
            })
            .await
            .expect("restore");
        for o in &report.owners {
            assert_eq!(o.outcome, OwnerOutcome::Ok, "{}", o.sid);
        }
    }
}

/// Where the `data-owners` binaries are: the target directory of this test executable.
pub fn owner_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned();
    assert!(
        dir.join("ref-record-store").is_file(),
        "build the reference owners first: cargo test -p reference-owners -p system-tests \
         (or cargo build -p reference-owners --bins)"
    );
    dir
}

/// Installs an owner's shipped registration (`data-owners/owners/<name>/`) into its cage.
pub fn install(c: &Drive, sid: Sid, name: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data-owners/owners")
        .join(name)
        .join("backup_registration.xml");
    let cage = c.cage(sid);
    fs::create_dir_all(&cage).expect("cage");
    fs::copy(&src, cage.join("backup_registration.xml")).expect("registration");
}

/// Starts an engine over `dir/c` after `setup` has populated the drive.
pub fn rig(setup: impl FnOnce(&Drive)) -> Rig {
    rig_in(owner_dir(), setup)
}

/// Like [`rig`], starting owners from `owners`.
pub fn rig_in(owners: PathBuf, setup: impl FnOnce(&Drive)) -> Rig {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = Drive::new('c', dir.path().join("c"));
    setup(&c);
    let owners = as_on_a_device(dir.path(), &c, owners);
    let config = EngineConfig {
        drives: vec![c],
        spool: dir.path().join("spool"),
        socket: dir.path().join("engine.sock"),
        owner_dir: owners,
        state_file: Some(dir.path().join("bur-state")),
        ready_timeout: Duration::from_secs(20),
        cenrep: CENTRAL_REPOSITORY_SID,
        system: engine::system::SystemPolicy::default(),
        owner_group: None,
        key_file: None,
    };
    let (engine, errors) = Engine::start(config).expect("engine");
    assert!(errors.is_empty(), "{errors:?}");
    Rig { dir, engine }
}

/// As root, makes the rig look like a device: every cage (and its public folder) belongs
/// to a uid of its own, because the engine never starts an owner as root, and the owner
/// programs are linked into the (world-traversable) test directory, which those uids can
/// reach. Returns the owner directory to use. Not as root, nothing changes.
fn as_on_a_device(test_dir: &Path, c: &Drive, owners: PathBuf) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    if !rustix::process::geteuid().is_root() {
        return owners;
    }
    fs::set_permissions(test_dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    let linked = test_dir.join("owners");
    fs::create_dir_all(&linked).expect("owners dir");
    for e in fs::read_dir(&owners).expect("owner dir").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let executable = e
            .metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if executable && !name.contains('.') {
            let to = linked.join(&name);
            // A link, or a copy by a child process: a copy written here leaves a writable
            // descriptor that a concurrent test's fork inherits until its exec ("text
            // file busy" for an owner started from it meanwhile).
            if fs::hard_link(e.path(), &to).is_err() {
                let copied = std::process::Command::new("cp")
                    .arg(e.path())
                    .arg(&to)
                    .status()
                    .expect("cp");
                assert!(copied.success(), "copy owner {name}");
            }
        }
    }
    hand_cages_to_owners(c);
    linked
}

/// As root, gives every root-owned cage on `c` (and its public folder) to a uid of its own
/// (5000 and up, in SID order); cages that already belong to someone stay theirs.
pub fn hand_cages_to_owners(c: &Drive) {
    if !rustix::process::geteuid().is_root() {
        return;
    }
    let mut cages: Vec<PathBuf> = fs::read_dir(c.root.join("private"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    cages.sort();
    for (i, cage) in cages.iter().enumerate() {
        use std::os::unix::fs::MetadataExt;
        if fs::symlink_metadata(cage).is_ok_and(|m| m.uid() != 0) {
            continue; // handed over already (the reference-data fixture does it)
        }
        let uid = 5000 + i as u32;
        chown_tree(cage, uid);
        let public = c.root.join("public").join(cage.file_name().expect("name"));
        if public.exists() {
            chown_tree(&public, uid);
        }
    }
}

fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("lchown");
    if fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        for e in fs::read_dir(path).expect("dir").flatten() {
            chown_tree(&e.path(), uid);
        }
    }
}

pub fn kinds(m: &Manifest, sid: Sid) -> Vec<UnitKind> {
    m.units
        .iter()
        .filter(|u| u.id.sid == sid)
        .map(|u| u.id.kind)
        .collect()
}

/// Bytes of one unit file in a set.
pub fn unit_size(m: &Manifest, sid: Sid, kind: UnitKind) -> u64 {
    m.units
        .iter()
        .find(|u| u.id.sid == sid && u.id.kind == kind)
        .map(|u| u.size)
        .unwrap_or_else(|| panic!("{sid} has no {kind:?} unit"))
}

/// Bytes of every unit file of one owner in a set.
pub fn owner_size(m: &Manifest, sid: Sid) -> u64 {
    m.units
        .iter()
        .filter(|u| u.id.sid == sid)
        .map(|u| u.size)
        .sum()
}

/// Deterministic pseudo-random bytes (xorshift), incompressible like real user data.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}
