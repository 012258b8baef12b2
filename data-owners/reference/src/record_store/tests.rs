use super::*;

fn records(n: u64) -> Records {
    (0..n)
        .map(|i| (i, format!("record {i}").into_bytes()))
        .collect()
}

fn c() -> DriveLetter {
    DriveLetter::new('c').expect("c")
}

#[test]
fn base_and_snapshot_round_trip_and_reject_junk() {
    let r = records(5);
    assert_eq!(decode_base(&encode_base(&r)), Ok(r.clone()));
    let snap = decode_snapshot(&encode_snapshot(&r)).expect("snapshot");
    assert_eq!(snap.len(), 5);
    assert_eq!(snap[&3], record_hash(b"record 3"));
    let mut base = encode_base(&r);
    base.pop();
    assert!(decode_base(&base).is_err(), "truncated");
    assert!(decode_base(b"XXXX\0\0\0\0").is_err(), "magic");
    let mut snap = encode_snapshot(&r);
    snap.push(0);
    assert!(decode_snapshot(&snap).is_err(), "trailing");
}

#[test]
fn increment_carries_only_added_changed_and_deleted_records() {
    let old = records(100);
    let snap = decode_snapshot(&encode_snapshot(&old)).expect("snapshot");
    let mut new = old.clone();
    new.insert(5, b"changed".to_vec());
    new.remove(&7);
    new.insert(1000, b"added".to_vec());
    let inc = encode_increment(&new, &snap);
    // magic + 2 puts (1+8+4+len) + 1 delete (1+8) + end
    assert_eq!(inc.len(), 4 + (13 + 7) + (13 + 5) + 9 + 1);
    let mut restored = old;
    apply_increment(&mut restored, &inc).expect("apply");
    assert_eq!(restored, new);
    assert_eq!(
        encode_increment(&new, &decode_snapshot(&encode_snapshot(&new)).expect("s")).len(),
        5
    );
    assert!(apply_increment(&mut restored, b"RSI1\x07").is_err());
}

fn drain(owner: &mut RecordStoreOwner, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let (data, last) = owner.get_backup_data_section(max).expect("section");
        out.extend_from_slice(&data);
        if last {
            return out;
        }
    }
}

fn mode(bits: u32) -> ModeInfo {
    ModeInfo {
        mode: data_owners::mode::BurMode::from_bits(bits).expect("mode"),
        drives: vec![c()],
        affects_me: true,
    }
}

#[test]
fn owner_backs_up_base_then_increment_and_restores_both_only_on_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cage = dir.path().to_owned();
    save(&cage, &records(50)).expect("save");
    let mut owner = RecordStoreOwner::open(cage.clone()).expect("open");

    assert_eq!(owner.bur_mode_changed(&mode(0x102)), Some(0));
    assert!(!owner.writable());
    assert!(
        owner.put(1, b"x".to_vec()).is_err(),
        "no writes during backup"
    );
    owner.all_snapshots_supplied().expect("supplied");
    owner.initialise_get_backup_data(c()).expect("init");
    let base = drain(&mut owner, 100);
    let snap = owner.get_snapshot_data(c(), 1 << 20).expect("snap").0;
    assert_eq!(owner.bur_mode_changed(&mode(0x01)), None);

    owner
        .put(3, b"three".to_vec())
        .expect("write in normal mode");
    let expected = owner.records().clone();

    owner.bur_mode_changed(&mode(0x202));
    let (a, b) = snap.split_at(10);
    owner.receive_snapshot_data(c(), a, false).expect("snap 1");
    owner.receive_snapshot_data(c(), b, true).expect("snap 2");
    owner.initialise_get_backup_data(c()).expect("init inc");
    let inc = drain(&mut owner, 7);
    assert!(inc.len() < 40, "only record 3: {}", inc.len());
    owner.bur_mode_changed(&mode(0x01));

    // Wipe, then a restore broken off after the base: nothing changes on disk.
    save(&cage, &Records::new()).expect("wipe");
    owner.bur_mode_changed(&mode(0x08));
    owner.initialise_restore_base_data(c()).expect("init base");
    owner.restore_base_data_section(&base, true).expect("base");
    owner.terminate_multi_stage_operation();
    owner.bur_mode_changed(&mode(0x01));
    assert!(load(&cage).expect("load").is_empty());

    owner.bur_mode_changed(&mode(0x08));
    owner.initialise_restore_base_data(c()).expect("init base");
    let (a, b) = base.split_at(base.len() / 2);
    owner.restore_base_data_section(a, false).expect("base 1");
    owner.restore_base_data_section(b, true).expect("base 2");
    owner
        .initialise_restore_increment_data(c())
        .expect("init inc");
    owner
        .restore_increment_data_section(&inc, true)
        .expect("inc");
    assert!(load(&cage).expect("load").is_empty(), "not before complete");
    owner.restore_complete(c()).expect("complete");
    assert_eq!(load(&cage).expect("load"), expected);
    assert_eq!(owner.records(), &expected, "reloaded");
}

#[test]
fn corrupt_restore_data_is_an_owner_error_and_leaves_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    save(dir.path(), &records(3)).expect("save");
    let mut owner = RecordStoreOwner::open(dir.path().to_owned()).expect("open");
    owner.bur_mode_changed(&mode(0x08));
    owner.initialise_restore_base_data(c()).expect("init");
    let err = owner
        .restore_base_data_section(b"junk", true)
        .expect_err("corrupt");
    assert_eq!(err.code, ERR_CORRUPT);
    assert!(
        owner.initialise_restore_increment_data(c()).is_err(),
        "no base staged"
    );
    assert_eq!(load(dir.path()).expect("load"), records(3));
}

#[test]
fn damaged_store_fails_a_backup_but_takes_part_in_the_restore_that_repairs_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join(STORE_FILE), b"junk").expect("damage");
    let mut owner = RecordStoreOwner::open(dir.path().to_owned()).expect("open never fails");
    assert_eq!(owner.bur_mode_changed(&mode(0x01)), None);
    assert!(!owner.writable(), "read-only while damaged");
    assert_eq!(owner.bur_mode_changed(&mode(0x102)), Some(ERR_CORRUPT));
    assert_eq!(owner.bur_mode_changed(&mode(0x08)), Some(0));
    owner.initialise_restore_base_data(c()).expect("init");
    owner
        .restore_base_data_section(&encode_base(&records(4)), true)
        .expect("base");
    owner.restore_complete(c()).expect("complete");
    owner.bur_mode_changed(&mode(0x01));
    assert!(owner.writable());
    assert_eq!(owner.records(), &records(4));
}
