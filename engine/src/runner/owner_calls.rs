//! Calling owners: the watchdog of each call, pulling an owner's data sections into a unit
//! (bounded by the spool's reserve), pushing a unit's data back, reading a snapshot, and
//! telling an owner its operation is abandoned.

use std::time::Duration;

use bytes::Bytes;
use data_owners::wire::{Callback, DriveLetter, MAX_SECTION};

use super::request::Failure;
use crate::ipc::OwnerHandle;
use crate::registration::{BackupRegistration, Drive};
use crate::spool::{UnitFile, UnitWriter};

/// The watchdog of every call to the owner of `reg`.
pub(crate) fn watchdog(reg: &BackupRegistration) -> Duration {
    reg.active
        .as_ref()
        .map_or(crate::registration::DEFAULT_CALLBACK_DELAY, |a| {
            a.callback_delay
        })
}

pub(crate) fn drive_letter(drive: &Drive) -> Result<DriveLetter, Failure> {
    DriveLetter::new(drive.letter)
        .ok_or_else(|| Failure::new(-6, format!("bad drive {}", drive.letter)))
}

/// Tells an owner its multi-stage operation is abandoned (best effort, in the background).
pub(crate) fn terminate(h: &OwnerHandle) {
    if h.is_connected() {
        let h = h.clone();
        tokio::spawn(async move {
            let _ = h
                .call(
                    Callback::TerminateMultiStageOperation,
                    Duration::from_secs(2),
                )
                .await;
        });
    }
}

/// The free space an owner's data may never take from the spool's file system: the
/// larger of 64 MiB and 5 % of it. An owner that keeps sending sections is stopped there,
/// so one owner cannot fill the device.
const SPOOL_RESERVE_MIN: u64 = 64 * 1024 * 1024;

/// Empty sections in a row after which an owner that never says finished is stopped.
const MAX_EMPTY_SECTIONS: u32 = 1000;

/// Pulls data sections from an owner into `writer` until it says finished. An owner whose
/// data would eat into the spool's reserve, or that sends empty sections without end, fails.
pub(crate) async fn pull(
    h: &OwnerHandle,
    wd: Duration,
    writer: &mut UnitWriter,
    call: impl Fn(()) -> Callback,
) -> Result<(), Failure> {
    let reserve = spool_reserve(writer);
    let mut empty = 0u32;
    loop {
        let (data, finished) = h.call_data(call(()), wd).await?;
        if data.len() > MAX_SECTION as usize {
            return Err(Failure::new(-9, "owner sent an oversized section"));
        }
        empty = if data.is_empty() { empty + 1 } else { 0 };
        if empty > MAX_EMPTY_SECTIONS && !finished {
            return Err(Failure::new(
                -9,
                format!("owner sent {MAX_EMPTY_SECTIONS} empty sections without finishing"),
            ));
        }
        if writer
            .space_left()
            .is_some_and(|left| left.saturating_sub(data.len() as u64) < reserve)
        {
            return Err(Failure::new(
                -9,
                format!("owner data would leave less than {reserve} bytes free in the spool"),
            ));
        }
        writer.write_bytes(data)?;
        if finished {
            return Ok(());
        }
    }
}

/// Returns the spool reserve for `writer`'s file system.
fn spool_reserve(writer: &UnitWriter) -> u64 {
    let total = writer.fs_size().unwrap_or(0);
    SPOOL_RESERVE_MIN.max(total / 20)
}

/// Sends a unit's raw data to an owner block by block, `last` on the final piece (an
/// empty unit is one empty piece with `last`, unlike Symbian).
pub(crate) async fn push_unit(
    h: &OwnerHandle,
    wd: Duration,
    path: &UnitFile,
    call: impl Fn(Bytes, bool) -> Callback,
) -> Result<(), Failure> {
    let mut reader = path
        .open()
        .map_err(|e| Failure::new(-2, format!("{}: {e}", path.display())))?;
    let mut current = reader.next_block()?.unwrap_or_default();
    loop {
        let next = reader.next_block()?;
        let last = next.is_none();
        h.call_done(call(current, last), wd).await?;
        match next {
            Some(n) => current = n,
            None => return Ok(()),
        }
    }
}

/// Reads a whole (small) unit's raw data.
pub(crate) fn read_unit(path: &UnitFile) -> Result<Vec<u8>, Failure> {
    let mut reader = path
        .open()
        .map_err(|e| Failure::new(-2, format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    while let Some(block) = reader.next_block()? {
        if (out.len() + block.len()) as u64 > SNAPSHOT_LIMIT {
            return Err(Failure::new(
                -9,
                format!(
                    "{}: a snapshot larger than {SNAPSHOT_LIMIT} bytes",
                    path.display()
                ),
            ));
        }
        out.extend_from_slice(&block);
    }
    Ok(out)
}

/// The largest snapshot unit read whole (a snapshot holds one small record per file: 64
/// MiB is about a million files).
const SNAPSHOT_LIMIT: u64 = 64 * 1024 * 1024;
