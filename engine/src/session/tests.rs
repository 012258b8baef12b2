use super::plan::*;
use crate::manifest::{BackupType, Manifest, OwnerOutcome, OwnerRecord, UnitRecord};
use crate::mode::{BackupIncType, BurMode, BurPartType};
use crate::registration::{
    ActiveBackup, ActiveType, BackupRegistration, DEFAULT_CALLBACK_DELAY, PassiveBackup,
    RestoreOptions, Sid,
};
use crate::unit::{UnitId, UnitKind};

const S: Sid = Sid(0x0AB7_E58C);
const PROXY: Sid = Sid(0x1020_2BE9);

fn reg(
    active: Option<(ActiveType, bool)>,
    passive: Option<bool>,
    proxies: Vec<Sid>,
) -> BackupRegistration {
    BackupRegistration {
        sid: S,
        passive: passive.map(|base_only| PassiveBackup {
            base_backup_only: base_only,
            ..PassiveBackup::default()
        }),
        active: active.map(|(active_type, inc)| ActiveBackup {
            process_name: "x".into(),
            active_type,
            requires_delay_to_prepare_data: false,
            supports_selective: false,
            supports_incremental: inc,
            callback_delay: DEFAULT_CALLBACK_DELAY,
        }),
        public: None,
        system_backup: false,
        proxies,
        dbms: vec![],
        warnings: vec![],
        restore: RestoreOptions::default(),
    }
}

#[test]
fn hybrid_owner_backs_up_active_before_passive() {
    use UnitKind::*;
    let hybrid = reg(
        Some((ActiveType::ActiveAndPassive, true)),
        Some(false),
        vec![PROXY],
    );
    assert_eq!(
        backup_units(&hybrid, BackupType::Base, true, true),
        vec![
            ActiveBase,
            ActiveSnapshot,
            Proxy(PROXY),
            PassiveBase,
            PassiveSnapshot
        ]
    );
    assert_eq!(
        backup_units(&hybrid, BackupType::Incremental, true, true),
        vec![
            ActiveIncrement,
            ActiveSnapshot,
            Proxy(PROXY),
            PassiveIncrement,
            PassiveSnapshot
        ]
    );
}

#[test]
fn increments_need_a_snapshot_and_support() {
    use UnitKind::*;
    let owner = reg(Some((ActiveType::ActiveOnly, true)), Some(false), vec![]);
    assert_eq!(
        backup_units(&owner, BackupType::Incremental, false, false),
        vec![ActiveBase, ActiveSnapshot, PassiveBase, PassiveSnapshot],
        "no previous snapshot means base"
    );
    let base_only = reg(Some((ActiveType::ActiveOnly, false)), Some(true), vec![]);
    assert_eq!(
        backup_units(&base_only, BackupType::Incremental, true, true),
        vec![ActiveBase, PassiveBase]
    );
    let proxy_only = reg(Some((ActiveType::ProxyOnly, true)), None, vec![]);
    assert!(backup_units(&proxy_only, BackupType::Base, false, false).is_empty());
}

fn manifest(session: &str, previous: Option<&str>, units: &[(char, UnitKind)]) -> Manifest {
    Manifest {
        session: session.into(),
        created: "t".into(),
        mode: BurMode::new(BurPartType::BackupFull, BackupIncType::Base).expect("mode"),
        backup_type: if previous.is_some() {
            BackupType::Incremental
        } else {
            BackupType::Base
        },
        previous: previous.map(Into::into),
        owners: vec![OwnerRecord {
            sid: S,
            outcome: OwnerOutcome::Ok,
            requires_reboot: false,
        }],
        units: units
            .iter()
            .map(|(drive, kind)| UnitRecord {
                id: UnitId {
                    sid: S,
                    drive: *drive,
                    kind: *kind,
                },
                size: 0,
                raw_size: 0,
                sha256: [0; 32],
                compressed: false,
            })
            .collect(),
    }
}

#[test]
fn restore_is_passive_before_active_and_base_before_increments() {
    // The active owner gets its latest snapshot first (from i2), then base and increments.
    use UnitKind::*;
    let sets = vec![
        manifest(
            "b",
            None,
            &[
                ('c', ActiveBase),
                ('c', ActiveSnapshot),
                ('c', Public),
                ('c', System),
                ('c', PassiveBase),
                ('c', PassiveSnapshot),
                ('c', Proxy(PROXY)),
            ],
        ),
        manifest(
            "i1",
            Some("b"),
            &[('c', ActiveIncrement), ('c', PassiveIncrement)],
        ),
        manifest(
            "i2",
            Some("i1"),
            &[
                ('c', ActiveIncrement),
                ('c', ActiveSnapshot),
                ('c', PassiveIncrement),
                ('e', PassiveBase),
            ],
        ),
    ];
    check_chain(&sets).expect("chain");
    let steps: Vec<(usize, UnitKind, char)> = restore_steps(&sets, S)
        .expect("steps")
        .into_iter()
        .map(|(i, id)| (i, id.kind, id.drive))
        .collect();
    assert_eq!(
        steps,
        vec![
            (0, System, 'c'),
            (0, PassiveBase, 'c'),
            (1, PassiveIncrement, 'c'),
            (2, PassiveIncrement, 'c'),
            (0, Public, 'c'),
            (2, ActiveSnapshot, 'c'),
            (0, ActiveBase, 'c'),
            (1, ActiveIncrement, 'c'),
            (2, ActiveIncrement, 'c'),
            (0, Proxy(PROXY), 'c'),
            (2, PassiveBase, 'e'),
        ]
    );
}

#[test]
fn a_later_base_restarts_the_sequence() {
    use UnitKind::*;
    let sets = vec![
        manifest("b", None, &[('c', PassiveBase)]),
        manifest("i1", Some("b"), &[('c', PassiveIncrement)]),
        manifest("i2", Some("i1"), &[('c', PassiveBase)]),
        manifest("i3", Some("i2"), &[('c', PassiveIncrement)]),
    ];
    let steps: Vec<usize> = restore_steps(&sets, S)
        .expect("steps")
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    assert_eq!(steps, vec![2, 3]);
}

#[test]
fn increment_without_base_is_an_error() {
    let sets = vec![
        manifest("b", None, &[]),
        manifest("i1", Some("b"), &[('c', UnitKind::ActiveIncrement)]),
    ];
    assert!(matches!(
        restore_steps(&sets, S),
        Err(SequenceError::IncrementWithoutBase(_))
    ));
}

#[test]
fn broken_chains_are_rejected() {
    assert_eq!(check_chain(&[]), Err(ChainError::Empty));
    assert!(matches!(
        check_chain(&[manifest("i1", Some("b"), &[])]),
        Err(ChainError::FirstNotBase(_))
    ));
    let sets = vec![manifest("b", None, &[]), manifest("i2", Some("i1"), &[])];
    assert!(matches!(check_chain(&sets), Err(ChainError::Broken { .. })));
    let sets = vec![manifest("b", None, &[]), manifest("b2", None, &[])];
    assert!(matches!(check_chain(&sets), Err(ChainError::Broken { .. })));
}

#[test]
fn restore_report_is_valid_toml_with_every_field() {
    use crate::runner::{OwnerRestoreResult, RestoreReport};
    let report = RestoreReport {
        owners: vec![
            OwnerRestoreResult {
                sid: S,
                outcome: OwnerOutcome::Ok,
                requires_reboot: true,
                skipped: vec!["a \"quoted\" path".into()],
            },
            OwnerRestoreResult {
                sid: PROXY,
                outcome: OwnerOutcome::Failed {
                    code: -33,
                    reason: "callback timed out".into(),
                },
                requires_reboot: false,
                skipped: vec![],
            },
        ],
    };
    assert!(report.requires_reboot());
    let value: toml::Value = toml::from_str(&report.to_toml()).expect("valid toml");
    let owners = value
        .get("owners")
        .and_then(toml::Value::as_array)
        .expect("owners");
    assert_eq!(owners.len(), 2);
    assert_eq!(
        owners[0].get("sid").and_then(toml::Value::as_str),
        Some("0ab7e58c")
    );
    assert_eq!(
        owners[0]
            .get("skipped")
            .and_then(toml::Value::as_array)
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(owners[0]["skipped"][0].as_str(), Some("a \"quoted\" path"));
    assert_eq!(
        owners[1]
            .get("error_code")
            .and_then(toml::Value::as_integer),
        Some(-33)
    );
    assert_eq!(
        owners[1].get("outcome").and_then(toml::Value::as_str),
        Some("failed")
    );
}

mod sequencing {
    use super::*;
    use crate::session::sequence::{Direction, SequenceViolation, UnitSequencer};
    use UnitKind::*;

    fn hybrid() -> BackupRegistration {
        reg(
            Some((ActiveType::ActiveAndPassive, true)),
            Some(false),
            vec![],
        )
    }

    fn order(v: Result<(), SequenceViolation>) -> bool {
        matches!(v, Err(SequenceViolation::OutOfOrder { .. }))
    }

    #[test]
    fn base_backup_of_a_hybrid_owner_is_active_then_passive() {
        let mut s = UnitSequencer::new(&hybrid(), Direction::Backup);
        assert!(
            order(s.handle_request('c', PassiveBase, true)),
            "passive first is refused"
        );
        s.handle_request('c', ActiveBase, false)
            .expect("first chunk");
        assert_eq!(
            s.handle_request('c', PassiveBase, true),
            Err(SequenceViolation::InProgress(ActiveBase))
        );
        s.handle_request('c', ActiveBase, true).expect("last chunk");
        s.handle_request('c', ActiveSnapshot, true)
            .expect("snapshot");
        s.handle_request('c', PassiveBase, true)
            .expect("passive after active");
        s.handle_request('c', PassiveSnapshot, true)
            .expect("passive snapshot");
        assert!(order(s.handle_request('c', ActiveBase, true)), "twice");
        assert!(
            order(s.handle_request('c', PassiveIncrement, true)),
            "both base and increment"
        );
        // Another drive has its own state.
        s.handle_request('e', ActiveBase, true).expect("drive e");
    }

    #[test]
    fn an_abandoned_unit_goes_back_to_where_it_was() {
        let mut s = UnitSequencer::new(&hybrid(), Direction::Restore);
        s.handle_supply('c', PassiveBase, false)
            .expect("first chunk");
        s.handle_abandon('c');
        s.handle_supply('c', PassiveBase, true)
            .expect("tried again after the abandon");
        s.handle_supply('c', ActiveBase, true).expect("active base");
        s.handle_supply('c', ActiveIncrement, true)
            .expect("first increment");
        s.handle_supply('c', ActiveIncrement, false)
            .expect("second increment starts");
        s.handle_abandon('c');
        // The first increment still counts; nothing is in progress any more.
        s.handle_supply('c', ActiveIncrement, true)
            .expect("second increment again");
        assert!(order(s.handle_supply('c', ActiveBase, true)), "base twice");
        s.handle_abandon('c');
        assert!(
            order(s.handle_supply('c', ActiveBase, true)),
            "an abandon with nothing open changes nothing"
        );

        let mut b = UnitSequencer::new(&hybrid(), Direction::Backup);
        b.handle_supply('c', ActiveSnapshot, false)
            .expect("snapshot chunk");
        b.handle_abandon('c');
        b.handle_request('c', ActiveBase, true)
            .expect("the abandoned snapshot does not count");
    }

    #[test]
    fn incremental_backup_needs_supplied_snapshots_first() {
        let mut s = UnitSequencer::new(&hybrid(), Direction::Backup);
        assert!(
            order(s.handle_request('c', ActiveIncrement, true)),
            "no snapshot yet"
        );
        s.handle_supply('c', ActiveSnapshot, false)
            .expect("snapshot chunk");
        s.handle_supply('c', ActiveSnapshot, true)
            .expect("snapshot end");
        assert!(
            order(s.handle_request('c', ActiveBase, true)),
            "base after a snapshot"
        );
        s.handle_request('c', ActiveIncrement, true)
            .expect("increment");
        assert!(
            order(s.handle_supply('c', ActiveSnapshot, true)),
            "snapshot after data"
        );
        s.handle_supply('c', PassiveSnapshot, true)
            .expect("passive snapshot");
        s.handle_request('c', PassiveIncrement, true)
            .expect("passive increment");
        // The new snapshots are requested after the supplied ones, once each.
        s.handle_request('c', ActiveSnapshot, true)
            .expect("new active snapshot");
        s.handle_request('c', PassiveSnapshot, true)
            .expect("new passive snapshot");
        assert!(
            order(s.handle_request('c', ActiveSnapshot, true)),
            "requested twice"
        );
        assert!(matches!(
            s.handle_supply('c', ActiveBase, true),
            Err(SequenceViolation::WrongDirection(..))
        ));
    }

    #[test]
    fn base_only_owners_refuse_snapshots_and_increments() {
        let owner = reg(Some((ActiveType::ActiveOnly, false)), Some(true), vec![]);
        let mut s = UnitSequencer::new(&owner, Direction::Backup);
        assert_eq!(
            s.handle_supply('c', ActiveSnapshot, true),
            Err(SequenceViolation::NotSupported(ActiveSnapshot))
        );
        assert_eq!(
            s.handle_supply('c', PassiveSnapshot, true),
            Err(SequenceViolation::NotSupported(PassiveSnapshot))
        );
        let mut r = UnitSequencer::new(&owner, Direction::Restore);
        r.handle_supply('c', PassiveBase, true).expect("base");
        assert_eq!(
            r.handle_supply('c', PassiveIncrement, true),
            Err(SequenceViolation::NotSupported(PassiveIncrement))
        );
        let passive_only = reg(None, Some(false), vec![]);
        let mut p = UnitSequencer::new(&passive_only, Direction::Backup);
        assert_eq!(
            p.handle_request('c', ActiveBase, true),
            Err(SequenceViolation::NotSupported(ActiveBase))
        );
    }

    #[test]
    fn restore_is_passive_then_active_base_then_increments_in_any_number() {
        let mut s = UnitSequencer::new(&hybrid(), Direction::Restore);
        assert!(
            order(s.handle_supply('c', ActiveBase, true)),
            "active before passive is refused"
        );
        assert!(
            order(s.handle_supply('c', PassiveIncrement, true)),
            "increment before base"
        );
        s.handle_supply('c', PassiveBase, true)
            .expect("passive base");
        assert!(
            order(s.handle_supply('c', PassiveSnapshot, true)),
            "snapshot after passive data"
        );
        s.handle_supply('c', PassiveIncrement, true)
            .expect("increment 1");
        s.handle_supply('c', PassiveIncrement, true)
            .expect("increment 2");
        assert!(
            order(s.handle_supply('c', ActiveIncrement, true)),
            "active increment before base"
        );
        s.handle_supply('c', ActiveBase, false).expect("chunk");
        assert_eq!(
            s.handle_supply('c', PassiveIncrement, true),
            Err(SequenceViolation::InProgress(ActiveBase))
        );
        s.handle_supply('c', ActiveBase, true).expect("end");
        assert!(order(s.handle_supply('c', ActiveBase, true)), "base twice");
        s.handle_supply('c', ActiveIncrement, true)
            .expect("active increment");
        assert!(matches!(
            s.handle_request('c', ActiveBase, true),
            Err(SequenceViolation::WrongDirection(..))
        ));
    }
}
