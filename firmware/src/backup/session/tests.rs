//! The session machine per state: idle, running a backup, running a restore, ended.

use super::*;
use crate::backup::access::Policy;

const SPOOL: &str = "/spool";

fn p(rel: &str) -> PathBuf {
    Path::new(SPOOL).join(rel)
}

fn idle() -> Session {
    Session::new(PathBuf::from(SPOOL), Policy::Open)
}

fn claim(folder: &str, in_use: &[&str], restoring: bool) -> Claim {
    Claim {
        folder: folder.into(),
        in_use: in_use.iter().map(|s| (*s).to_owned()).collect(),
        restoring,
    }
}

fn backing_up() -> Session {
    let mut s = idle();
    s.handle(News::Accepted(claim("s1", &["s1"], false)));
    drain(&mut s);
    s
}

fn restoring() -> Session {
    let mut s = idle();
    s.handle(News::Accepted(claim("inc", &["base", "inc"], true)));
    drain(&mut s);
    s
}

fn drain(s: &mut Session) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn added(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Added(p) => Some(p.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect()
}

fn progress(s: &mut Session, e: ProgressEvent) {
    s.handle(News::Progress(e));
}

#[test]
fn idle_a_refusal_fails_the_status_with_its_reason() {
    let mut s = idle();
    s.handle(News::Refused("backup.request: line 2: type".into()));
    assert_eq!(drain(&mut s), [Output::StatusChanged]);
    assert_eq!(s.status().state, State::Failed);
    assert_eq!(
        s.status().last_error.as_deref(),
        Some("backup.request: line 2: type")
    );
    assert_eq!(s.running(), None);
}

#[test]
fn idle_owner_news_changes_owners_toml_only_when_its_text_changes() {
    let mut s = idle();
    let news = || News::Owners {
        text: "[[owner]]\n".into(),
        registered: [Sid(7)].into(),
    };
    s.handle(news());
    assert_eq!(drain(&mut s), [Output::OwnersChanged]);
    s.handle(news());
    assert_eq!(drain(&mut s), []);
    assert!(s.registered().contains(&Sid(7)));
    assert_eq!(s.owners_text(), "[[owner]]\n");
}

#[test]
fn idle_nothing_is_locked() {
    let s = idle();
    assert!(!s.locks(Path::new("s1/0a000001")));
}

#[test]
fn accepted_a_backup_runs_capturing_and_locks_its_folder() {
    let mut s = idle();
    s.handle(News::Accepted(claim("s1", &["s1", "snaps"], false)));
    assert_eq!(drain(&mut s), [Output::StatusChanged]);
    assert_eq!(s.running(), Some("s1"));
    assert_eq!(s.status().state, State::Capturing);
    assert_eq!(s.status().session.as_deref(), Some("s1"));
    assert!(s.locks(Path::new("s1")));
    assert!(s.locks(Path::new("snaps/manifest.toml")));
    assert!(!s.locks(Path::new("other")));
}

#[test]
fn backing_up_a_refusal_leaves_the_running_status_alone() {
    let mut s = backing_up();
    s.handle(News::Refused("busy".into()));
    assert_eq!(drain(&mut s), []);
    assert_eq!(s.status().state, State::Capturing);
}

#[test]
fn backing_up_a_second_claim_is_ignored() {
    let mut s = backing_up();
    s.handle(News::Accepted(claim("s2", &["s2"], false)));
    assert_eq!(s.running(), Some("s1"));
    assert!(!s.locks(Path::new("s2")));
}

#[test]
fn backing_up_files_are_announced_once_parents_first() {
    let mut s = backing_up();
    progress(&mut s, ProgressEvent::SetCreated { path: p("s1") });
    progress(
        &mut s,
        ProgressEvent::FileWritten {
            path: p("s1/0a000001/c/passive-base.unit"),
        },
    );
    progress(
        &mut s,
        ProgressEvent::FileWritten {
            path: p("s1/0a000001/c/passive-inc.unit"),
        },
    );
    progress(
        &mut s,
        ProgressEvent::FileWritten {
            path: p("s1/manifest.toml"),
        },
    );
    assert_eq!(
        added(&drain(&mut s)),
        [
            "s1",
            "s1/0a000001",
            "s1/0a000001/c",
            "s1/0a000001/c/passive-base.unit",
            "s1/0a000001/c/passive-inc.unit",
            "s1/manifest.toml"
        ]
    );
}

#[test]
fn backing_up_paths_outside_the_spool_are_not_announced() {
    let mut s = backing_up();
    progress(
        &mut s,
        ProgressEvent::FileWritten {
            path: PathBuf::from("/elsewhere/x"),
        },
    );
    progress(
        &mut s,
        ProgressEvent::SetCreated {
            path: PathBuf::from(SPOOL),
        },
    );
    assert_eq!(drain(&mut s), []);
}

#[test]
fn backing_up_progress_moves_the_counts() {
    let mut s = backing_up();
    progress(
        &mut s,
        ProgressEvent::Started {
            owners: 2,
            bytes: 0,
        },
    );
    progress(
        &mut s,
        ProgressEvent::OwnerDone {
            sid: Sid(1),
            ok: true,
            bytes: 100,
        },
    );
    assert_eq!(drain(&mut s), [Output::StatusChanged], "coalesced");
    let st = s.status();
    assert_eq!(st.state, State::Capturing);
    assert_eq!((st.owners_done, st.owners_total), (1, 2));
    assert_eq!(st.bytes_done, 100);
}

#[test]
fn backing_up_a_growing_unit_is_announced_at_once_and_its_cell_follows_it() {
    let mut s = backing_up();
    let unit = p("s1/0a000001/c/passive-base.unit");
    let rel = Path::new("s1/0a000001/c/passive-base.unit");
    progress(
        &mut s,
        ProgressEvent::UnitOpened {
            path: unit.clone(),
            size: 300,
        },
    );
    assert_eq!(
        added(&drain(&mut s)).last().map(String::as_str),
        Some("s1/0a000001/c/passive-base.unit")
    );
    let g = s.growing(rel).unwrap().clone();
    assert_eq!((g.size, g.cell.get()), (300, UnitState::Open));
    progress(
        &mut s,
        ProgressEvent::UnitClosed {
            path: unit,
            ok: true,
        },
    );
    assert_eq!(g.cell.get(), UnitState::Complete);
    assert!(
        s.growing(rel).is_none(),
        "a complete unit is an ordinary file"
    );
    assert_eq!(drain(&mut s), [], "announced once");
}

#[test]
fn backing_up_an_abandoned_unit_stays_known_as_abandoned() {
    let mut s = backing_up();
    let unit = p("s1/0a000002/c/active-base.unit");
    let rel = Path::new("s1/0a000002/c/active-base.unit");
    progress(
        &mut s,
        ProgressEvent::UnitOpened {
            path: unit.clone(),
            size: 10,
        },
    );
    let cell = s.growing(rel).unwrap().cell.clone();
    progress(
        &mut s,
        ProgressEvent::UnitClosed {
            path: unit,
            ok: false,
        },
    );
    assert_eq!(cell.get(), UnitState::Abandoned);
    assert_eq!(s.growing(rel).unwrap().cell.get(), UnitState::Abandoned);
}

#[test]
fn backing_up_the_end_releases_the_folders_and_abandons_open_units() {
    let mut s = backing_up();
    progress(
        &mut s,
        ProgressEvent::UnitOpened {
            path: p("s1/0a000001/c/passive-base.unit"),
            size: 10,
        },
    );
    let cell = s
        .growing(Path::new("s1/0a000001/c/passive-base.unit"))
        .unwrap()
        .cell
        .clone();
    drain(&mut s);
    s.handle(News::Ended(Outcome::failed(
        "interrupted: the device stopped",
    )));
    assert_eq!(drain(&mut s), [Output::StatusChanged]);
    assert_eq!(
        cell.get(),
        UnitState::Abandoned,
        "a reader does not wait for ever"
    );
    assert_eq!(s.running(), None);
    assert!(!s.locks(Path::new("s1")));
    assert_eq!(s.status().state, State::Failed);
    assert_eq!(
        s.status().last_error.as_deref(),
        Some("interrupted: the device stopped")
    );
}

#[test]
fn backing_up_a_good_end_is_done_with_the_bytes_written() {
    let mut s = backing_up();
    progress(
        &mut s,
        ProgressEvent::OwnerDone {
            sid: Sid(1),
            ok: true,
            bytes: 4096,
        },
    );
    s.handle(News::Ended(Outcome {
        ok: true,
        error: None,
    }));
    let st = s.status();
    assert_eq!(st.state, State::Done);
    assert_eq!((st.bytes_done, st.bytes_total), (4096, 4096));
    assert_eq!(st.session.as_deref(), Some("s1"), "the session stays named");
}

#[test]
fn restoring_starts_verifying_then_restoring() {
    let mut s = idle();
    s.handle(News::Accepted(claim("inc", &["base", "inc"], true)));
    assert_eq!(s.status().state, State::Verifying);
    progress(
        &mut s,
        ProgressEvent::Started {
            owners: 3,
            bytes: 900,
        },
    );
    assert_eq!(s.status().state, State::Restoring);
    assert_eq!(s.status().bytes_total, 900);
    assert!(s.locks(Path::new("base")) && s.locks(Path::new("inc")));
}

#[test]
fn restoring_only_the_result_is_announced_not_the_sets_the_host_has() {
    let mut s = restoring();
    progress(
        &mut s,
        ProgressEvent::FileWritten {
            path: p("inc/restore-result.toml"),
        },
    );
    assert_eq!(added(&drain(&mut s)), ["inc/restore-result.toml"]);
}

#[test]
fn ended_a_new_session_announces_afresh() {
    let mut s = backing_up();
    progress(&mut s, ProgressEvent::SetCreated { path: p("s1") });
    s.handle(News::Ended(Outcome {
        ok: true,
        error: None,
    }));
    drain(&mut s);
    s.handle(News::Accepted(claim("s1", &["s1"], true)));
    progress(
        &mut s,
        ProgressEvent::FileWritten {
            path: p("s1/restore-result.toml"),
        },
    );
    assert_eq!(added(&drain(&mut s)), ["s1/restore-result.toml"]);
}

#[test]
fn backing_up_bytes_count_while_an_owner_is_captured_and_settle_when_it_is_done() {
    let mut s = backing_up();
    progress(
        &mut s,
        ProgressEvent::Started {
            owners: 2,
            bytes: 10 << 20,
        },
    );
    assert_eq!(
        s.status().bytes_total,
        10 << 20,
        "the estimate from the start"
    );
    for _ in 0..3 {
        progress(&mut s, ProgressEvent::Written { bytes: 1 << 20 });
    }
    assert_eq!(s.status().bytes_done, 3 << 20, "counted while captured");
    // Compressed, the owner's units hold less than was counted on the way.
    progress(
        &mut s,
        ProgressEvent::OwnerDone {
            sid: Sid(1),
            ok: true,
            bytes: 2 << 20,
        },
    );
    assert_eq!(s.status().bytes_done, 2 << 20);
    // An active owner writes more than the estimate knew: the total follows.
    for _ in 0..9 {
        progress(&mut s, ProgressEvent::Written { bytes: 1 << 20 });
    }
    assert_eq!(s.status().bytes_done, 11 << 20);
    assert_eq!(s.status().bytes_total, 11 << 20);
    // It fails: its bytes no longer count.
    progress(
        &mut s,
        ProgressEvent::OwnerDone {
            sid: Sid(2),
            ok: false,
            bytes: 0,
        },
    );
    assert_eq!(s.status().bytes_done, 2 << 20);
    s.handle(News::Ended(Outcome {
        ok: true,
        error: None,
    }));
    assert_eq!(
        (s.status().bytes_done, s.status().bytes_total),
        (2 << 20, 2 << 20),
        "a finished backup's total is what it wrote"
    );
}

#[test]
fn consent_allows_hosts_until_it_expires_or_is_revoked() {
    let mut s = Session::new(PathBuf::from(SPOOL), Policy::Consent);
    assert!(!s.allowed(1000), "nothing allowed before the user says so");
    s.handle(News::AllowUntil(1600));
    assert!(s.allowed(1000) && s.allowed(1599));
    assert!(!s.allowed(1600), "expired");
    s.handle(News::AllowUntil(5000));
    s.handle(News::Revoke);
    assert!(!s.allowed(1000));
    assert_eq!(s.access().describe(1000), "consent required");
}
