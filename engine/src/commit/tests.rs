//! One owner's commit, and power cuts at each step of it (simulated by forgetting the
//! staged data, so that no destructor runs, then running the start-up recovery).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use bytes::BytesMut;

use super::*;
use crate::confined::identity::Identity;
use crate::passive::{PassiveRestore, archive};
use crate::public::PublicRestore;
use crate::recovery::TempLog;
use crate::registration::{CagePath, FileRole, PassiveBackup, parse_registration};

const SID: Sid = Sid(0x0ab7_e58c);

struct Rig {
    dir: tempfile::TempDir,
    owner: Identity,
}

impl Rig {
    /// A drive `c` with the owner's cage (`data/old`, mode 0751) and a public file
    /// `public/app/song.txt`, both the owner's; an empty spool.
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let owner = if rustix::process::geteuid().is_root() {
            Identity::new(4242, 4243)
        } else {
            eprintln!(
                "NOT ROOT: cages and public files belong to the test's own user (CI runs this as root)"
            );
            Identity::new(
                rustix::process::geteuid().as_raw(),
                rustix::process::getegid().as_raw(),
            )
        };
        let rig = Self { dir, owner };
        fs::create_dir_all(rig.spool()).expect("spool");
        fs::create_dir_all(rig.cage().join("data")).expect("cage");
        fs::write(rig.cage().join("data/old"), b"old").expect("old");
        fs::create_dir_all(rig.c().join("public/app")).expect("public");
        fs::write(rig.song(), b"old song").expect("song");
        for p in [rig.dir.path(), &rig.c(), &rig.c().join("public")] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        if rustix::process::geteuid().is_root() {
            for p in [
                rig.cage(),
                rig.cage().join("data"),
                rig.cage().join("data/old"),
                rig.c().join("public/app"),
                rig.song(),
            ] {
                std::os::unix::fs::chown(&p, Some(owner.uid), Some(owner.gid)).expect("chown");
            }
        }
        fs::set_permissions(rig.cage(), fs::Permissions::from_mode(0o751)).expect("chmod");
        rig
    }
    fn c(&self) -> PathBuf {
        self.dir.path().join("c")
    }
    fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }
    fn cage(&self) -> PathBuf {
        self.c().join("private").join(SID.to_string())
    }
    fn song(&self) -> PathBuf {
        self.c().join("public/app/song.txt")
    }
    fn drives(&self) -> Vec<Drive> {
        vec![Drive::new('c', self.c())]
    }
    fn journal(&self) -> PathBuf {
        self.spool().join(journal_name(SID))
    }

    /// Stages new data for the owner: `data/new` in the cage (the copy keeps `data/old`)
    /// and a new `song.txt`.
    fn stage(&self) -> OwnerCommit {
        let mut cage =
            PassiveRestore::begin(&self.cage(), &PassiveBackup::default()).expect("begin");
        let mut new = tempfile::tempfile().expect("tempfile");
        std::io::Write::write_all(&mut new, b"new").expect("write");
        cage.place_file(
            &CagePath::parse_relative("data/new").expect("path"),
            &mut new,
            0o640,
            0,
        )
        .expect("place");
        let xml = r#"<backup_registration><public_backup><include_directory name="c:\public\app\"/></public_backup></backup_registration>"#;
        let public = parse_registration(xml, SID, FileRole::Primary)
            .expect("registration")
            .public
            .expect("public");
        let drive = Drive::new('c', self.c());
        let mut stream = BytesMut::new();
        archive::begin(&mut stream);
        let song = CagePath::parse_relative("public/app/song.txt").expect("path");
        archive::file_header(&mut stream, &song, 8, 0, 0o644);
        stream.extend_from_slice(b"new song");
        archive::end(&mut stream);
        let mut files = PublicRestore::new(&drive, &public, self.owner)
            .noting_temps(TempLog::new(&self.spool()));
        files.feed(&stream).expect("feed");
        let mut staged = OwnerCommit::new(&self.spool(), SID);
        staged.add_cage(cage.stage().expect("stage"));
        staged.add_files(files.finish().expect("finish").files);
        staged
    }

    /// True if the owner has entirely its new data, given to it as before.
    fn has_new(&self) -> bool {
        let m = fs::metadata(self.cage()).expect("cage");
        assert_eq!(
            (m.uid(), m.gid(), m.mode() & 0o7777),
            (self.owner.uid, self.owner.gid, 0o751),
            "the cage is handed over"
        );
        let new = fs::read(self.cage().join("data/new")).ok();
        let song = fs::read(self.song()).expect("song");
        match (new.as_deref(), song.as_slice()) {
            (Some(b"new"), b"new song") => true,
            (None, b"old song") => false,
            other => panic!("a mix of old and new data: {other:?}"),
        }
    }

    /// Nothing of the commit is left: no journal, staging folder or temporary file.
    fn assert_clean(&self) {
        assert!(!self.journal().exists(), "journal left");
        let staging = self.c().join("private").join(format!(".{SID}.staging"));
        assert!(!staging.exists(), "staging left");
        let temps: Vec<_> = fs::read_dir(self.c().join("public/app"))
            .expect("public")
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().starts_with('.'))
            .collect();
        assert!(temps.is_empty(), "temporary files left: {temps:?}");
    }
}

#[test]
fn a_commit_puts_every_part_in_place_and_removes_its_journal() {
    let rig = Rig::new();
    let staged = rig.stage();
    assert!(!rig.has_new(), "nothing changes before the commit");
    staged.commit().expect("commit");
    assert!(rig.has_new());
    assert_eq!(fs::read(rig.cage().join("data/old")).expect("kept"), b"old");
    rig.assert_clean();
}

#[test]
fn dropped_without_commit_nothing_changes() {
    let rig = Rig::new();
    drop(rig.stage());
    assert!(!rig.has_new());
    crate::recovery::recover(&rig.spool(), &rig.drives());
    rig.assert_clean();
}

#[test]
fn a_power_cut_before_the_journal_leaves_the_old_data() {
    let rig = Rig::new();
    std::mem::forget(rig.stage());
    let r = crate::recovery::recover(&rig.spool(), &rig.drives());
    assert!(!rig.has_new());
    assert!(r.handed_over.is_empty());
    rig.assert_clean();
}

#[test]
fn a_power_cut_after_the_journal_finishes_the_commit_at_start() {
    let rig = Rig::new();
    let staged = rig.stage();
    staged.prepare(&rig.journal()).expect("journal");
    std::mem::forget(staged);
    assert!(!rig.has_new(), "the journal alone changes nothing");
    let r = crate::recovery::recover(&rig.spool(), &rig.drives());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.handed_over, [rig.cage()]);
    assert!(rig.has_new());
    rig.assert_clean();
}

#[test]
fn a_power_cut_after_the_exchange_does_not_exchange_back() {
    let rig = Rig::new();
    let staged = rig.stage();
    staged.prepare(&rig.journal()).expect("journal");
    staged.cages[0].apply().expect("exchange");
    std::mem::forget(staged);
    let r = crate::recovery::recover(&rig.spool(), &rig.drives());
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert!(rig.has_new());
    rig.assert_clean();
    // A second start finds nothing to do.
    let again = crate::recovery::recover(&rig.spool(), &rig.drives());
    assert!(again.handed_over.is_empty() && again.problems.is_empty());
    assert!(rig.has_new());
}

/// A journal in the spool is trusted only as far as the device's configuration goes: it
/// cannot make recovery rename files outside the drives, as root, or exchange folders
/// that are not cages.
#[test]
fn a_journal_naming_foreign_places_is_refused() {
    let rig = Rig::new();
    let elsewhere = rig.dir.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).expect("elsewhere");
    fs::write(elsewhere.join("victim"), b"victim").expect("victim");
    fs::write(elsewhere.join(".x.tmp"), b"forged").expect("forged");
    let journal = Journal {
        sid: SID.to_string(),
        cage: vec![CageRecord {
            private: elsewhere.clone(),
            cage: "victim".into(),
            staged: (0, 0),
            owner: Some((0, 0, 0o777)),
        }],
        file: vec![
            FileRecord {
                root: elsewhere.clone(),
                dir: String::new(),
                temp: ".x.tmp".into(),
                name: "victim".into(),
                owner: (rig.owner.uid, rig.owner.gid),
            },
            FileRecord {
                root: rig.c(),
                dir: "public/app".into(),
                temp: "song.txt".into(),
                name: "renamed-as-root".into(),
                owner: (0, 0),
            },
        ],
    };
    let text = toml::to_string(&journal).expect("toml");
    fs::write(rig.journal(), text).expect("journal");
    let r = crate::recovery::recover(&rig.spool(), &rig.drives());
    assert_eq!(r.problems.len(), 3, "{:?}", r.problems);
    assert_eq!(
        fs::read(elsewhere.join("victim")).expect("victim"),
        b"victim"
    );
    assert!(rig.song().exists());
    assert!(!rig.c().join("public/app/renamed-as-root").exists());
    assert!(!rig.journal().exists());
}
