use super::*;
use crate::testset::make_set;
use bytes::BytesMut;
use engine::passive::archive;
use engine::spool::SpoolSet;

const SID: u32 = 0x2000_0020;

fn stream(files: &[(&str, &[u8])], deleted: &[&str]) -> Vec<u8> {
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    for (path, data) in files {
        let p = CagePath::parse_relative(path).unwrap();
        archive::file_header(
            &mut out,
            &p,
            data.len() as u64,
            1_700_000_000_000_000_000,
            0o4755,
        );
        out.extend_from_slice(data);
    }
    for path in deleted {
        archive::deleted(&mut out, &CagePath::parse_relative(path).unwrap());
    }
    archive::end(&mut out);
    out.to_vec()
}

fn chain(dir: &Path) -> Vec<ChainSet> {
    make_set(
        dir,
        "b1",
        "2026-01-01T00:00:00Z",
        None,
        &[
            (
                SID,
                UnitKind::PassiveBase,
                stream(&[("notes/a.txt", b"alpha"), ("b.txt", b"beta")], &[]),
            ),
            (SID, UnitKind::PassiveSnapshot, vec![1, 2, 3]),
            (
                SID,
                UnitKind::Public,
                stream(&[("Music/song.mp3", b"la la")], &[]),
            ),
            (SID, UnitKind::ActiveBase, b"active state".to_vec()),
            (0x2000_0001, UnitKind::ActiveBase, b"someone else".to_vec()),
        ],
    );
    make_set(
        dir,
        "i1",
        "2026-01-02T00:00:00Z",
        Some("b1"),
        &[(
            SID,
            UnitKind::PassiveIncrement,
            stream(&[("c.txt", b"gamma")], &["b.txt"]),
        )],
    );
    ["b1", "i1"]
        .iter()
        .map(|n| {
            let d = dir.join(n);
            let manifest = SpoolSet::open(d.clone()).read_manifest().unwrap();
            (
                SetInfo {
                    name: (*n).into(),
                    manifest,
                    size: 0,
                },
                d,
                None,
            )
        })
        .collect()
}

#[test]
fn an_owner_comes_back_as_plain_files_with_increments_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let c = chain(tmp.path());
    let out = tmp.path().join("out");
    let done = extract(&c, Sid(SID), &out).unwrap();
    let priv_ = out.join("c/private");
    assert_eq!(fs::read(priv_.join("notes/a.txt")).unwrap(), b"alpha");
    assert_eq!(fs::read(priv_.join("c.txt")).unwrap(), b"gamma");
    assert!(!priv_.join("b.txt").exists(), "the increment deleted it");
    assert_eq!(
        fs::read(out.join("c/public/Music/song.mp3")).unwrap(),
        b"la la"
    );
    assert_eq!(
        fs::read(out.join("c/streams/b1.active-base.bin")).unwrap(),
        b"active state"
    );
    assert_eq!(done.files, 4);
    assert_eq!(done.deleted, 1);
    assert_eq!(done.streams, 1);
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(priv_.join("c.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755, "no set-id bit comes from a set");
    let mtime = fs::metadata(priv_.join("c.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(mtime, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
}

#[test]
fn a_damaged_unit_or_a_used_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let c = chain(tmp.path());
    let out = tmp.path().join("used");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("x"), b"mine").unwrap();
    let err = extract(&c, Sid(SID), &out).unwrap_err();
    assert!(err.contains("not empty"), "{err}");
    let unit = tmp.path().join("b1/20000020/c/public.unit");
    let mut data = fs::read(&unit).unwrap();
    let at = data.len() / 2;
    data[at] ^= 0xff;
    fs::write(&unit, data).unwrap();
    let err = extract(&c, Sid(SID), &tmp.path().join("new")).unwrap_err();
    assert!(err.contains("public"), "{err}");
    let err = extract(&c, Sid(0x1234), &tmp.path().join("none")).unwrap_err();
    assert!(err.contains("no data"), "{err}");
}
