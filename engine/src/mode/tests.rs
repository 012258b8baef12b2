use super::*;

fn mode(part: BurPartType, inc: BackupIncType) -> BurMode {
    BurMode::new(part, inc).expect("valid mode")
}

fn backup_base() -> BurMode {
    mode(BurPartType::BackupFull, BackupIncType::Base)
}

fn restore() -> BurMode {
    mode(BurPartType::RestoreFull, BackupIncType::NoBackup)
}

#[test]
fn values_are_the_seeds() {
    assert_eq!(BurPartType::Unset as u32, 0x00);
    assert_eq!(BurPartType::Normal as u32, 0x01);
    assert_eq!(BurPartType::BackupFull as u32, 0x02);
    assert_eq!(BurPartType::BackupPartial as u32, 0x04);
    assert_eq!(BurPartType::RestoreFull as u32, 0x08);
    assert_eq!(BurPartType::RestorePartial as u32, 0x10);
    assert_eq!(BackupIncType::NoBackup as u32, 0x000);
    assert_eq!(BackupIncType::Base as u32, 0x100);
    assert_eq!(BackupIncType::Increment as u32, 0x200);
    assert_eq!(PART_TYPE_MASK, 0xFF);
    assert_eq!(INC_TYPE_MASK, 0xFFFF_FF00);
    assert_eq!(
        mode(BurPartType::BackupPartial, BackupIncType::Increment).bits(),
        0x204
    );
}

#[test]
fn bits_round_trip_and_unknown_bits_are_rejected() {
    for bits in [
        0x01, 0x00, 0x102, 0x202, 0x104, 0x204, 0x08, 0x108, 0x10, 0x210,
    ] {
        assert_eq!(
            BurMode::from_bits(bits).map(BurMode::bits),
            Ok(bits),
            "{bits:#x}"
        );
    }
    for bits in [0x03, 0x20, 0x300, 0x1_0001, 0x02] {
        assert!(BurMode::from_bits(bits).is_err(), "{bits:#x}");
    }
}

#[test]
fn backup_needs_base_or_increment_and_normal_needs_none() {
    assert!(BurMode::new(BurPartType::BackupFull, BackupIncType::NoBackup).is_err());
    assert!(BurMode::new(BurPartType::Normal, BackupIncType::Base).is_err());
    assert!(BurMode::new(BurPartType::RestorePartial, BackupIncType::Increment).is_ok());
}

#[test]
fn backup_and_restore_are_entered_only_from_normal() {
    let normal = BurMode::NORMAL;
    assert_eq!(
        transition(normal, backup_base()),
        Ok(Transition::EnterBackup)
    );
    assert_eq!(
        transition(BurMode::UNSET, restore()),
        Ok(Transition::EnterRestore)
    );
    assert_eq!(transition(backup_base(), normal), Ok(Transition::EndBackup));
    assert_eq!(transition(restore(), normal), Ok(Transition::EndRestore));
    assert_eq!(
        transition(restore(), BurMode::UNSET),
        Ok(Transition::EndRestore)
    );
    assert_eq!(transition(normal, normal), Ok(Transition::Unchanged));
    assert_eq!(
        transition(normal, BurMode::UNSET),
        Ok(Transition::Unchanged)
    );
    assert_eq!(
        transition(BurMode::UNSET, normal),
        Ok(Transition::Initialise)
    );
    let partial = mode(BurPartType::BackupPartial, BackupIncType::Base);
    for (from, to) in [
        (backup_base(), restore()),
        (restore(), backup_base()),
        (backup_base(), partial),
        (restore(), restore()),
    ] {
        assert!(matches!(
            transition(from, to),
            Err(ModeError::NotThroughNormal { .. })
        ));
    }
}

#[test]
fn bus_publishes_changes_and_replaces_the_state_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bur-mode");
    let bus = ModeBus::new(Some(path.clone())).expect("bus");
    let mut rx = bus.subscribe();
    assert_eq!(rx.borrow_and_update().mode, BurMode::NORMAL);
    assert!(
        std::fs::read_to_string(&path)
            .expect("state")
            .contains("BUR_MODE=0x00000001")
    );

    assert_eq!(
        bus.set(backup_base()).expect("enter"),
        Transition::EnterBackup
    );
    assert!(rx.has_changed().expect("open"));
    assert_eq!(rx.borrow_and_update().mode, backup_base());
    assert_eq!(
        std::fs::read_to_string(&path).expect("state"),
        state_text(backup_base())
    );

    // A refused change publishes nothing and leaves the file alone.
    assert!(matches!(bus.set(restore()), Err(BusError::Mode(_))));
    assert!(!rx.has_changed().expect("open"));
    assert!(
        std::fs::read_to_string(&path)
            .expect("state")
            .contains("BUR_MODE=0x00000102")
    );

    assert_eq!(
        bus.set(BurMode::NORMAL).expect("end"),
        Transition::EndBackup
    );
    assert_eq!(bus.current(), BurMode::NORMAL);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left behind");
}

#[test]
fn unwritable_state_file_refuses_the_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bur-mode");
    let bus = ModeBus::new(Some(path.clone())).expect("bus");
    // Make the target a non-empty directory so rename fails.
    std::fs::remove_file(&path).expect("rm");
    std::fs::create_dir_all(path.join("block")).expect("mkdir");
    assert!(matches!(
        bus.set(backup_base()),
        Err(BusError::StateFile { .. })
    ));
    assert_eq!(bus.current(), BurMode::NORMAL);
}

#[test]
fn partial_list_decides_who_is_affected() {
    use crate::registration::Sid;
    let bus = ModeBus::new(None).expect("bus");
    assert!(!bus.state().affects(Sid(1)), "no one in normal");
    let partial = mode(BurPartType::BackupPartial, BackupIncType::Base);
    bus.set_operation(partial, vec!['c'], [Sid(1)].into())
        .expect("partial");
    assert!(bus.state().affects(Sid(1)));
    assert!(!bus.state().affects(Sid(2)));
    assert_eq!(bus.state().drives, vec!['c']);
    bus.set(BurMode::NORMAL).expect("normal");
    assert!(bus.state().partial.is_empty() && bus.state().drives.is_empty());
    bus.set_operation(backup_base(), vec!['c'], Default::default())
        .expect("full");
    assert!(bus.state().affects(Sid(2)), "everyone in a full backup");
}

#[test]
fn dropping_the_bus_mid_operation_leaves_the_state_file_at_normal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bur-mode");
    let bus = ModeBus::new(Some(path.clone())).expect("bus");
    bus.set(backup_base()).expect("backup");
    assert!(
        std::fs::read_to_string(&path)
            .expect("state")
            .contains("0x00000102")
    );
    drop(bus);
    assert_eq!(
        std::fs::read_to_string(&path).expect("state"),
        state_text(BurMode::NORMAL)
    );
}

#[test]
fn concurrent_callers_never_both_leave_normal() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("tempdir");
    for round in 0..20 {
        // The state file write (fsync + rename) widens the window a race would need.
        let state = dir.path().join(format!("state-{round}"));
        let bus = Arc::new(ModeBus::new(Some(state)).expect("bus"));
        let start = Arc::new(std::sync::Barrier::new(4));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let bus = Arc::clone(&bus);
                let start = Arc::clone(&start);
                std::thread::spawn(move || {
                    start.wait();
                    let target = if i % 2 == 0 { backup_base() } else { restore() };
                    bus.set(target).is_ok()
                })
            })
            .collect();
        let won = threads
            .into_iter()
            .filter_map(|t| t.join().ok())
            .filter(|ok| *ok)
            .count();
        assert_eq!(won, 1, "exactly one caller enters backup or restore");
    }
}
