//! Real sets for the unit tests, written with the engine's own set writer.

use std::path::Path;

use engine::manifest::{BackupType, Manifest, OwnerOutcome, OwnerRecord};
use engine::mode::{BackupIncType, BurMode, BurPartType};
use engine::registration::Sid;
use engine::spool::SpoolSet;
use engine::unit::{UnitId, UnitKind};

/// Writes set `name` into `dir` with one unit per `(sid, kind, raw data)`.
pub(crate) fn make_set(
    dir: &Path,
    name: &str,
    created: &str,
    previous: Option<&str>,
    units: &[(u32, UnitKind, Vec<u8>)],
) -> Manifest {
    let set = SpoolSet::create(dir, name).expect("create set");
    let mut records = Vec::new();
    let mut owners: Vec<Sid> = Vec::new();
    for (sid, kind, data) in units {
        let id = UnitId {
            sid: Sid(*sid),
            drive: 'c',
            kind: *kind,
        };
        let mut w = set.unit_writer(id, true).expect("writer");
        w.write(data).expect("write");
        records.push(w.finish().expect("finish"));
        if !owners.contains(&Sid(*sid)) {
            owners.push(Sid(*sid));
        }
    }
    let inc = if previous.is_some() {
        BackupIncType::Increment
    } else {
        BackupIncType::Base
    };
    let manifest = Manifest {
        session: name.into(),
        created: created.into(),
        mode: BurMode::new(BurPartType::BackupFull, inc).expect("mode"),
        backup_type: if previous.is_some() {
            BackupType::Incremental
        } else {
            BackupType::Base
        },
        previous: previous.map(str::to_owned),
        owners: owners
            .into_iter()
            .map(|sid| OwnerRecord {
                sid,
                outcome: OwnerOutcome::Ok,
                requires_reboot: false,
            })
            .collect(),
        units: records,
    };
    set.write_manifest(&manifest).expect("manifest");
    manifest
}
