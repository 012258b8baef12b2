//! Helpers shared by the unit-API test files.
#![allow(dead_code, unreachable_pub)]

use engine::mode::{BackupIncType, BurMode, BurPartType};
use engine::registration::Sid;
use engine::runner::{Engine, MAX_CHUNK, Supplied, UnitError};
use engine::session::sequence::SequenceViolation;
use engine::unit::{UnitId, UnitKind};

use super::common::*;

pub fn id(sid: Sid, kind: UnitKind) -> UnitId {
    UnitId {
        sid,
        drive: 'c',
        kind,
    }
}

pub fn mode(part: BurPartType, inc: BackupIncType) -> BurMode {
    BurMode::new(part, inc).expect("mode")
}

pub fn backup_mode(partial: bool, inc: BackupIncType) -> BurMode {
    let part = if partial {
        BurPartType::BackupPartial
    } else {
        BurPartType::BackupFull
    };
    mode(part, inc)
}

pub fn restore_mode() -> BurMode {
    mode(BurPartType::RestoreFull, BackupIncType::NoBackup)
}

/// Requests a whole unit; checks the chunk bounds and that only the last is finished.
pub async fn fetch(engine: &Engine, unit: UnitId, compress: bool) -> Vec<u8> {
    let mut stream = engine
        .request_data(unit, compress)
        .await
        .unwrap_or_else(|e| panic!("{unit}: {e}"));
    assert_eq!(stream.unit(), unit);
    let mut out = Vec::new();
    while let Some(chunk) = stream.next_chunk().expect("chunk") {
        assert!(!chunk.data.is_empty() && chunk.data.len() <= MAX_CHUNK);
        out.extend_from_slice(&chunk.data);
        assert_eq!(chunk.finished, stream.is_finished());
    }
    assert!(stream.is_finished());
    assert_eq!(out.len() as u64, stream.record().size);
    out
}

/// Supplies a unit in pieces of `piece` bytes, `finished` on the last.
pub async fn supply(
    engine: &Engine,
    unit: UnitId,
    data: &[u8],
    piece: usize,
) -> Result<Supplied, UnitError> {
    let pieces: Vec<&[u8]> = data.chunks(piece).collect();
    let mut last = Ok(Supplied::Pending);
    for (i, p) in pieces.iter().enumerate() {
        let finished = i + 1 == pieces.len();
        last = engine.supply_data(unit, p, finished).await;
        match &last {
            Ok(Supplied::Pending) if !finished => {}
            _ => return last,
        }
    }
    last
}

/// Files left in the scratch directory for units in transit.
pub fn scratch_files(rig: &Rig) -> Vec<String> {
    let dir = rig.spool().join(".unit-transfer");
    if !dir.exists() {
        return Vec::new();
    }
    tree(&dir).into_keys().collect()
}

pub fn order(r: Result<impl std::fmt::Debug, UnitError>) -> bool {
    matches!(
        r,
        Err(UnitError::Sequence {
            violation: SequenceViolation::OutOfOrder { .. },
            ..
        })
    )
}

pub fn wrong_mode<T: std::fmt::Debug>(r: Result<T, UnitError>) -> bool {
    matches!(r, Err(UnitError::WrongMode { .. }))
}
