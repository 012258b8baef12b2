use super::*;

fn mode(bits: u32) -> ModeInfo {
    ModeInfo {
        mode: crate::mode::BurMode::from_bits(bits).expect("mode"),
        drives: Vec::new(),
        affects_me: true,
    }
}

#[test]
fn mode_bits_decode_into_part_and_increment_types() {
    let m = mode(0x0000_0204);
    assert_eq!(m.part_type(), BurPartType::BackupPartial);
    assert_eq!(m.inc_type(), BackupIncType::Increment);
    assert!(m.part_type().is_partial() && m.is_bur_running() && m.is_my_bur());
    assert_eq!(mode(0x102).inc_type(), BackupIncType::Base);
    assert_eq!(mode(0x08).part_type(), BurPartType::RestoreFull);
    assert_eq!(mode(0x10).part_type(), BurPartType::RestorePartial);
    assert_eq!(mode(0x01).part_type(), BurPartType::Normal);
    assert_eq!(mode(0x00).part_type(), BurPartType::Unset);
    // Values the seeds do not define are refused (on the wire: a decode error).
    assert!(BurMode::from_bits(0x03).is_err());
    assert!(BurMode::from_bits(0x401).is_err());
    assert!(!mode(0x01).is_bur_running());
    let mut other = mode(0x08);
    other.affects_me = false;
    assert!(other.is_bur_running() && !other.is_my_bur());
}

#[tokio::test]
async fn watcher_reports_the_current_mode_then_each_change_then_none() {
    let (tx, rx) = watch::channel(mode(0x01));
    let mut w = ModeWatcher::new(rx);
    assert_eq!(w.next().await, Some(mode(0x01)));
    tx.send_replace(mode(0x102));
    assert_eq!(w.next().await, Some(mode(0x102)));
    assert_eq!(w.current(), mode(0x102));
    tx.send_replace(mode(0x01));
    drop(tx);
    assert_eq!(w.next().await, Some(mode(0x01)));
    assert_eq!(w.next().await, None);
}
