//! Progress reports of sessions and the drive selection of a backup.
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::sync::{Arc, Mutex};

use engine::manifest::OwnerOutcome;
use engine::runner::{BackupRequest, Progress, ProgressEvent, RestoreRequest};
use engine::unit::UnitKind;

mod common;
use common::*;

fn collect(rig: &mut Rig) -> Arc<Mutex<Vec<ProgressEvent>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    rig.engine.set_progress(Some(Progress::new(move |e| {
        sink.lock().expect("lock").push(e);
    })));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_report_owners_and_bytes() {
    let mut rig = rig();
    let seen = collect(&mut rig);
    let m = rig.engine.backup(base("b")).await.expect("backup");
    let events = std::mem::take(&mut *seen.lock().expect("lock"));
    let set = rig.spool().join("b");
    assert_eq!(events[0], ProgressEvent::SetCreated { path: set.clone() });
    // The total from the start: the data the engine copies itself, measured before.
    let ProgressEvent::Started { owners, bytes } = events[1] else {
        panic!("{:?}", events[1]);
    };
    assert_eq!(owners, u32::try_from(m.owners.len()).expect("count"));
    let held: u64 = m
        .units
        .iter()
        .filter(|u| {
            matches!(
                u.id.kind,
                UnitKind::PassiveBase | UnitKind::Dbms | UnitKind::Public
            )
        })
        .map(|u| u.raw_size)
        .sum();
    assert!(
        bytes <= held && bytes + 4096 >= held,
        "expected {bytes}, the units carry {held}"
    );
    // Bytes are counted while written: every unit's bytes, reported on the way.
    let written: u64 = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::Written { bytes } => Some(*bytes),
            _ => None,
        })
        .sum();
    assert_eq!(written, m.units.iter().map(|u| u.size).sum::<u64>());
    // Every file of the set is reported once, complete; the manifest last.
    let mut written: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::FileWritten { path } => Some(path.clone()),
            ProgressEvent::UnitClosed { path, ok: true } => Some(path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        written.pop(),
        Some(set.join(engine::manifest::MANIFEST_FILE))
    );
    let mut units: Vec<_> = m
        .units
        .iter()
        .map(|u| set.join(u.id.relative_path()))
        .collect();
    units.sort();
    written.sort();
    assert_eq!(written, units);
    let done: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::OwnerDone { sid, ok, bytes } => Some((*sid, *ok, *bytes)),
            _ => None,
        })
        .collect();
    assert_eq!(done.len(), m.owners.len(), "one report per owner");
    for (sid, ok, bytes) in &done {
        let listed: u64 = m
            .units
            .iter()
            .filter(|u| u.id.sid == *sid)
            .map(|u| u.size)
            .sum();
        assert_eq!(*bytes, listed, "bytes of {sid}");
        let outcome = &m
            .owners
            .iter()
            .find(|o| o.sid == *sid)
            .expect("listed")
            .outcome;
        assert_eq!(*ok, *outcome == OwnerOutcome::Ok, "{sid}");
    }

    rig.engine
        .restore(RestoreRequest {
            sets: vec![rig.spool().join("b")],
            partial: None,
        })
        .await
        .expect("restore");
    let events = std::mem::take(&mut *seen.lock().expect("lock"));
    let total: u64 = m.units.iter().map(|u| u.size).sum();
    assert_eq!(events.first(), Some(&ProgressEvent::Verifying));
    assert!(
        events.iter().any(|e| matches!(
            e,
            ProgressEvent::Started { bytes, .. } if *bytes == total
        )),
        "{events:?}"
    );
    let restored: u64 = events
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::OwnerDone { bytes, .. } => Some(*bytes),
            _ => None,
        })
        .sum();
    assert_eq!(restored, total);
    assert_eq!(
        events.last(),
        Some(&ProgressEvent::FileWritten {
            path: set.join(engine::runner::RESTORE_RESULT_FILE)
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_other_drives_leaves_out_the_cages_of_drive_c() {
    let rig = rig();
    let all = rig.engine.backup(base("all")).await.expect("backup");
    assert!(all.units.iter().any(|u| u.id.drive == 'c'));
    let none = rig
        .engine
        .backup(BackupRequest {
            drives: Some(['d'].into()),
            ..base("d-only")
        })
        .await
        .expect("backup");
    assert!(
        none.units.iter().all(|u| u.id.drive != 'c'),
        "{:?}",
        none.units
    );
}
