use std::fs;

use super::*;

struct Rig {
    dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("spool")).expect("spool");
        fs::create_dir_all(dir.path().join("c/private")).expect("private");
        Self { dir }
    }
    fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }
    fn drives(&self) -> Vec<Drive> {
        vec![Drive::new('c', self.dir.path().join("c"))]
    }
    fn private(&self) -> PathBuf {
        self.dir.path().join("c/private")
    }
}

#[test]
fn an_interrupted_backup_loses_its_incomplete_set_and_nothing_else() {
    let rig = Rig::new();
    let set = rig.spool().join("b2");
    fs::create_dir_all(set.join("0ab7e58c/c")).expect("set");
    fs::write(set.join("0ab7e58c/c/passive-base.unit"), b"half").expect("unit");
    let complete = rig.spool().join("b1");
    fs::create_dir_all(&complete).expect("b1");
    fs::write(complete.join("manifest.toml"), b"m").expect("manifest");
    begin(&rig.spool(), SessionKind::Backup, "b2").expect("journal");

    let r = recover(&rig.spool(), &rig.drives());
    assert_eq!(
        r.interrupted,
        Some(Interrupted {
            kind: SessionKind::Backup,
            folder: "b2".into()
        })
    );
    assert!(!set.exists(), "the set without a manifest is removed");
    assert!(
        complete.join("manifest.toml").exists(),
        "other sets are kept"
    );
    assert!(!rig.spool().join(JOURNAL).exists());
    assert_eq!(recover(&rig.spool(), &rig.drives()), Recovered::default());
}

#[test]
fn a_backup_that_wrote_its_manifest_is_complete_and_kept() {
    let rig = Rig::new();
    let set = rig.spool().join("b1");
    fs::create_dir_all(&set).expect("set");
    fs::write(set.join("manifest.toml"), b"m").expect("manifest");
    begin(&rig.spool(), SessionKind::Backup, "b1").expect("journal");
    let r = recover(&rig.spool(), &rig.drives());
    assert!(r.interrupted.is_some());
    assert!(set.join("manifest.toml").exists());
}

#[test]
fn a_journal_naming_a_path_outside_the_spool_is_ignored() {
    let rig = Rig::new();
    let victim = rig.dir.path().join("c");
    fs::write(
        rig.spool().join(JOURNAL),
        "kind = \"backup\"\nfolder = \"../c\"\n",
    )
    .expect("journal");
    let r = recover(&rig.spool(), &rig.drives());
    assert_eq!(r.interrupted, None);
    assert!(victim.join("private").is_dir());
}

/// Staging folders are new data whose commit was never journalled, or old cages after
/// their exchange: either way they go (the commit itself: `crate::commit` tests).
#[test]
fn staging_folders_are_removed_and_cages_kept() {
    let rig = Rig::new();
    let cage = rig.private().join("0ab7e58c");
    fs::create_dir_all(cage.join("data")).expect("cage");
    fs::write(cage.join("data/mine"), b"mine").expect("data");
    fs::create_dir_all(rig.private().join(".0ab7e58c.staging/old")).expect("staging");
    fs::create_dir_all(rig.private().join(".11111111.staging")).expect("staging");

    let r = recover(&rig.spool(), &rig.drives());
    assert_eq!(fs::read(cage.join("data/mine")).expect("kept"), b"mine");
    assert!(!rig.private().join(".0ab7e58c.staging").exists());
    assert!(!rig.private().join(".11111111.staging").exists());
    assert_eq!(r.removed.len(), 2);
    assert!(r.problems.is_empty(), "{:?}", r.problems);
}

#[test]
fn scratch_folders_are_emptied() {
    let rig = Rig::new();
    for s in SCRATCH {
        fs::create_dir_all(rig.spool().join(s).join("x")).expect("scratch");
        fs::write(rig.spool().join(s).join("x/left"), b"left").expect("left");
    }
    let r = recover(&rig.spool(), &rig.drives());
    assert_eq!(r.removed.len(), SCRATCH.len());
    for s in SCRATCH {
        assert!(!rig.spool().join(s).exists());
    }
}

#[test]
fn temporary_files_a_power_cut_left_in_noted_folders_are_removed_and_nothing_else() {
    let rig = Rig::new();
    let public = rig.dir.path().join("c/public/20000020/photos");
    fs::create_dir_all(&public).expect("public");
    fs::write(public.join(".mtpbur-0123456789abcdef01234567.tmp"), b"half").expect("temp");
    fs::write(public.join("holiday.jpg"), b"photo").expect("photo");
    fs::write(public.join(".mtpbur-notes.txt"), b"not ours").expect("other");
    // A noted folder an owner replaced by a link, and one outside every drive.
    let outside = rig.dir.path().join("outside");
    fs::create_dir_all(&outside).expect("outside");
    fs::write(outside.join(".mtpbur-0123456789abcdef01234567.tmp"), b"x").expect("x");
    std::os::unix::fs::symlink(&outside, rig.dir.path().join("c/public/link")).expect("link");
    let log = TempLog::new(&rig.spool());
    for dir in [
        public.clone(),
        rig.dir.path().join("c/public/link"),
        outside.clone(),
        public.clone(),
    ] {
        log.note(&dir).expect("note");
    }
    begin(&rig.spool(), SessionKind::Restore, "r1").expect("journal");

    let r = recover(&rig.spool(), &rig.drives());
    assert_eq!(
        r.removed,
        [public.join(".mtpbur-0123456789abcdef01234567.tmp")]
    );
    assert!(public.join("holiday.jpg").exists());
    assert!(public.join(".mtpbur-notes.txt").exists());
    assert!(
        outside
            .join(".mtpbur-0123456789abcdef01234567.tmp")
            .exists()
    );
    assert!(!rig.spool().join(TEMPS).exists());
}
