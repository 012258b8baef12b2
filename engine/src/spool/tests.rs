use super::*;
use crate::manifest::{BackupType, OwnerOutcome, OwnerRecord};
use crate::mode::{BackupIncType, BurMode, BurPartType};
use crate::progress::ProgressEvent;
use crate::unit::UnitKind;

const OWNER: Sid = Sid(0x0AB7_E58C);

fn id(kind: UnitKind) -> UnitId {
    UnitId {
        sid: OWNER,
        drive: 'c',
        kind,
    }
}

fn write_set(dir: &Path) -> (SpoolSet, Manifest) {
    let set = SpoolSet::create(dir, "s1").expect("create");
    let mut units = Vec::new();
    for (kind, compress, len) in [
        (UnitKind::PassiveBase, true, 200_000usize),
        (UnitKind::ActiveBase, false, 10),
    ] {
        let mut w = set.unit_writer(id(kind), compress).expect("writer");
        let data: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
        for piece in data.chunks(3000) {
            w.write(piece).expect("write");
        }
        units.push(w.finish().expect("finish"));
    }
    let manifest = Manifest {
        session: "s1".into(),
        created: "2026-11-24T21:00:00Z".into(),
        mode: BurMode::new(BurPartType::BackupFull, BackupIncType::Base).expect("mode"),
        backup_type: BackupType::Base,
        previous: None,
        owners: vec![OwnerRecord {
            sid: OWNER,
            outcome: OwnerOutcome::Ok,
            requires_reboot: false,
        }],
        units,
    };
    set.write_manifest(&manifest).expect("manifest");
    (set, manifest)
}

fn problems(set: &SpoolSet) -> Vec<String> {
    let (_, problems) = set.verify(|s| s == OWNER).expect("manifest readable");
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn a_written_set_verifies_and_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (set, manifest) = write_set(dir.path());
    assert_eq!(set.read_manifest().expect("read"), manifest);
    assert!(problems(&set).is_empty());
    assert!(set.dir().join("0ab7e58c/c/passive-base.unit").is_file());
    let unit = &manifest.units[0];
    assert_eq!(unit.raw_size, 200_000);
    assert!(unit.size < 20_000, "compressed");
    let mut reader = UnitReader::open(&set.unit_path(unit.id)).expect("open");
    let mut raw = Vec::new();
    while let Some(b) = reader.next_block().expect("block") {
        raw.extend_from_slice(&b);
    }
    assert_eq!(raw.len(), 200_000);
    assert_eq!(reader.sha256(), unit.sha256);
}

#[test]
fn session_names_cannot_escape_the_spool_and_sets_are_never_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        SpoolSet::create(dir.path(), "../x"),
        Err(SpoolError::BadSession(_))
    ));
    let set = SpoolSet::create(dir.path(), "s").expect("first");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(set.dir())
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "sets are private to the engine");
    assert!(matches!(
        SpoolSet::create(dir.path(), "s"),
        Err(SpoolError::Io { .. })
    ));
}

#[test]
fn flipped_byte_is_a_hash_or_corruption_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (set, manifest) = write_set(dir.path());
    let path = set.unit_path(manifest.units[1].id);
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 14;
    bytes[last] ^= 1; // inside the raw data of the stored block
    std::fs::write(&path, bytes).expect("write");
    let found = problems(&set);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("checksum") || found[0].contains("sha-256"),
        "{found:?}"
    );
}

#[test]
fn tampered_unit_with_matching_frame_fails_the_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (set, manifest) = write_set(dir.path());
    // Replace a unit by another valid unit of the same size: only SHA-256 can tell.
    let path = set.unit_path(manifest.units[1].id);
    let other = crate::stream::encode_unit(&[9u8; 10], false);
    assert_eq!(other.len() as u64, manifest.units[1].size);
    std::fs::write(&path, &other).expect("write");
    assert_eq!(
        problems(&set),
        vec![format!("{}: sha-256 mismatch", manifest.units[1].id)]
    );
}

#[test]
fn missing_truncated_symlinked_unlisted_and_unregistered_are_all_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (set, manifest) = write_set(dir.path());
    let base = set.unit_path(manifest.units[0].id);
    let active = set.unit_path(manifest.units[1].id);
    let len = std::fs::metadata(&base).expect("meta").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&base)
        .expect("open");
    f.set_len(len - 1).expect("truncate");
    std::fs::remove_file(&active).expect("rm");
    std::os::unix::fs::symlink(&base, &active).expect("symlink");
    std::fs::write(set.dir().join("0ab7e58c/c/extra.bin"), b"x").expect("extra");
    let found = problems(&set);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found
            .iter()
            .any(|p| p.contains("passive-base") && p.contains("size"))
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("active-base") && p.contains("not a regular file"))
    );
    assert!(found.iter().any(|p| p.contains("extra.bin")));

    std::fs::remove_file(&active).expect("rm");
    let (_, problems) = set.verify(|_| false).expect("manifest");
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|p| p.contains("not registered")),
        "{text:?}"
    );
    assert!(text.iter().any(|p| p.contains("missing")), "{text:?}");
}

#[test]
fn broken_manifest_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (set, _) = write_set(dir.path());
    std::fs::write(set.dir().join(MANIFEST_FILE), "format = 1\n").expect("write");
    assert!(matches!(set.verify(|_| true), Err(SpoolError::Manifest(_))));
}

fn recorder() -> (
    Progress,
    std::sync::Arc<std::sync::Mutex<Vec<ProgressEvent>>>,
) {
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = events.clone();
    let progress = Progress::new(move |e| sink.lock().expect("events").push(e));
    (progress, events)
}

/// A new set "s1" below `dir` whose progress events are recorded.
fn observed_set(
    dir: &Path,
) -> (
    SpoolSet,
    std::sync::Arc<std::sync::Mutex<Vec<ProgressEvent>>>,
) {
    let (progress, events) = recorder();
    let set = SpoolSet::create(dir, "s1")
        .expect("create")
        .observed_by(Some(progress));
    (set, events)
}

#[test]
fn a_declared_uncompressed_unit_is_announced_sized_and_grows_under_its_final_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (set, events) = observed_set(dir.path());
    // more than one write batch (1 MiB) before the check, less than all of it
    let data: Vec<u8> = (0..2_800_000u64).map(|i| (i * 7919 % 251) as u8).collect();
    let path = set.unit_path(id(UnitKind::PassiveBase));
    let mut w = set
        .unit_writer(id(UnitKind::PassiveBase), true)
        .expect("writer");
    w.declare(data.len() as u64, false).expect("declare");
    let announced = crate::stream::uncompressed_len(data.len() as u64);
    assert_eq!(
        events.lock().expect("events").as_slice(),
        [ProgressEvent::UnitOpened {
            path: path.clone(),
            size: announced
        }]
    );
    w.write(&data[..2_000_000]).expect("write");
    let partial = std::fs::metadata(&path)
        .expect("visible while written")
        .len();
    assert!(
        partial > 0 && partial < announced,
        "partial length {partial}"
    );
    w.write(&data[2_000_000..]).expect("write");
    let record = w.finish().expect("finish");
    assert_eq!((record.size, record.compressed), (announced, false));
    assert_eq!(std::fs::metadata(&path).expect("unit").len(), announced);
    assert_eq!(
        events.lock().expect("events").last(),
        Some(&ProgressEvent::UnitClosed { path, ok: true })
    );
}

#[test]
fn an_abandoned_announced_unit_is_removed_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (set, events) = observed_set(dir.path());
    let path = set.unit_path(id(UnitKind::PassiveBase));
    let mut w = set
        .unit_writer(id(UnitKind::PassiveBase), false)
        .expect("writer");
    w.declare(100_000, true).expect("declare");
    w.write(&[1; 50_000]).expect("write");
    drop(w);
    assert!(!path.exists());
    assert_eq!(
        events.lock().expect("events").last(),
        Some(&ProgressEvent::UnitClosed { path, ok: false })
    );
}

#[test]
fn a_unit_shorter_than_declared_fails_and_compressible_units_stay_unannounced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (set, events) = observed_set(dir.path());
    let mut w = set
        .unit_writer(id(UnitKind::PassiveBase), false)
        .expect("writer");
    w.declare(10, false).expect("declare");
    w.write(&[1; 9]).expect("write");
    assert!(w.finish().is_err());
    assert!(!set.unit_path(id(UnitKind::PassiveBase)).exists());
    events.lock().expect("events").clear();
    // Compression requested and worth it: the size is unknown until the end.
    let mut w = set.unit_writer(id(UnitKind::Dbms), true).expect("writer");
    w.declare(1000, true).expect("declare");
    w.write(&[0; 1000]).expect("write");
    let record = w.finish().expect("finish");
    assert!(record.compressed);
    // Never announced while written: it appears once, complete, under its final name,
    // after its bytes were counted.
    let path = set.unit_path(id(UnitKind::Dbms));
    assert_eq!(
        events.lock().expect("events").as_slice(),
        [
            ProgressEvent::Written { bytes: record.size },
            ProgressEvent::FileWritten { path }
        ]
    );
}

#[test]
fn a_fifo_or_a_link_in_place_of_a_unit_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo.unit");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("mkfifo");
    assert!(UnitReader::open(&fifo).is_err(), "a FIFO is not a unit");
    std::fs::write(dir.path().join("real.unit"), b"x").expect("write");
    std::os::unix::fs::symlink(dir.path().join("real.unit"), dir.path().join("link.unit"))
        .expect("symlink");
    assert!(
        UnitReader::open(&dir.path().join("link.unit")).is_err(),
        "a link is not followed"
    );
    assert!(UnitReader::open(&dir.path().join("real.unit")).is_ok());
}

#[test]
fn an_encrypted_declared_unit_is_announced_with_its_ciphertext_length() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (progress, events) = recorder();
    let keys = crate::crypto::Keys::create(&crate::crypto::SecretString::from("pw".to_owned()), 10)
        .expect("keys");
    let set = SpoolSet::create(dir.path(), "s1")
        .expect("create")
        .observed_by(Some(progress))
        .encrypted_with(Some(std::sync::Arc::new(keys.clone())));
    let data: Vec<u8> = (0..2_800_000u64).map(|i| (i * 7919 % 251) as u8).collect();
    let path = set.unit_path(id(UnitKind::PassiveBase));
    let mut w = set
        .unit_writer(id(UnitKind::PassiveBase), true)
        .expect("writer");
    w.declare(data.len() as u64, false).expect("declare");
    let Some(ProgressEvent::UnitOpened {
        size: announced, ..
    }) = events.lock().expect("events").first().cloned()
    else {
        panic!("not announced");
    };
    w.write(&data[..2_000_000]).expect("write");
    assert!(path.is_file(), "visible under its final name while written");
    w.write(&data[2_000_000..]).expect("write");
    let record = w.finish().expect("finish");
    assert_eq!(record.size, announced);
    assert_eq!(std::fs::metadata(&path).expect("unit").len(), announced);
    // And it reads back, with the key.
    let key = keys
        .unlock(&crate::crypto::SecretString::from("pw".to_owned()))
        .expect("unlock");
    let mut r = UnitReader::open_with(&path, Some(&key)).expect("open");
    let mut raw = 0;
    while let Some(b) = r.next_block().expect("block") {
        raw += b.len();
    }
    assert_eq!(raw, data.len());
    assert_eq!(r.sha256(), record.sha256);
    assert!(UnitReader::open(&path).is_err(), "not without the key");
}

#[test]
fn an_abandoned_encrypted_unit_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = crate::crypto::Keys::create(&crate::crypto::SecretString::from("pw".to_owned()), 10)
        .expect("keys");
    let set = SpoolSet::create(dir.path(), "s1")
        .expect("create")
        .encrypted_with(Some(std::sync::Arc::new(keys)));
    let mut w = set
        .unit_writer(id(UnitKind::ActiveBase), false)
        .expect("writer");
    w.write(&[7u8; 3_000_000]).expect("write");
    drop(w);
    let left: Vec<_> = std::fs::read_dir(set.dir().join(OWNER.to_string()).join("c"))
        .expect("dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
