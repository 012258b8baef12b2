//! The callback table a C owner fills, and the Rust owner that calls it.

use std::ffi::{c_char, c_void};

use data_owners::client::{ActiveBackupDataClient, ERR_NOT_SUPPORTED, OwnerError, Section};
use data_owners::wire::{DriveLetter, ModeInfo};

use crate::error::{clear_reply_message, take_reply_message};
use crate::mode::MtpburModeInfo;
use crate::{MTPBUR_DEFER, MTPBUR_ERR_GENERAL};

/// Symbian's `MActiveBackupDataClient` as a table of C functions.
///
/// Every function gets `ctx` first. Functions returning `int32_t` return 0 on success
/// or a negative error code (`MTPBUR_ERR_*`, or any negative Symbian-style code); before
/// returning an error they may call `mtpbur_set_error_message`. A NULL entry takes the
/// default: `bur_mode_changed` confirms ready whenever a backup or restore runs,
/// `all_snapshots_supplied`, `restore_complete` and `terminate_multi_stage_operation` do
/// nothing, `get_expected_data_size` and `get_data_checksum` answer 0, and every other
/// one answers `MTPBUR_ERR_NOT_SUPPORTED`.
///
/// Sections: `get_backup_data_section` and `get_snapshot_data` write at most `max_len`
/// bytes into `buf`, store how many in `*len` and whether this is the unit's last
/// section in `*last` (an empty unit is one empty section with `*last` true). The
/// `data` given to the restore and snapshot functions is valid only during the call.
/// `drive` is the drive's lower-case letter.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct MtpburCallbacks {
    /// Passed to every function.
    pub ctx: *mut c_void,
    /// The BUR mode changed (also called once with the mode at connect). Returns
    /// `MTPBUR_READY` to confirm readiness, a negative code to report that the owner
    /// cannot take part, or `MTPBUR_DEFER` to confirm later with
    /// `mtpbur_owner_confirm_ready`. In Normal mode nothing is confirmed, whatever it
    /// returns.
    pub bur_mode_changed:
        Option<unsafe extern "C" fn(ctx: *mut c_void, mode: *const MtpburModeInfo) -> i32>,
    /// All snapshots have been supplied (none arrived: the next backup is a base).
    pub all_snapshots_supplied: Option<unsafe extern "C" fn(ctx: *mut c_void) -> i32>,
    /// A section of the previous snapshot.
    pub receive_snapshot_data: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            drive: c_char,
            data: *const u8,
            len: usize,
            last: bool,
        ) -> i32,
    >,
    /// The expected size of the backup data for `drive`, in `*size` (progress only).
    pub get_expected_data_size:
        Option<unsafe extern "C" fn(ctx: *mut c_void, drive: c_char, size: *mut u64) -> i32>,
    /// Up to `max_len` bytes of the new snapshot.
    pub get_snapshot_data: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            drive: c_char,
            buf: *mut u8,
            max_len: usize,
            len: *mut usize,
            last: *mut bool,
        ) -> i32,
    >,
    /// A backup unit for `drive` begins: a base, or an increment on the snapshot
    /// received.
    pub initialise_get_backup_data:
        Option<unsafe extern "C" fn(ctx: *mut c_void, drive: c_char) -> i32>,
    /// Up to `max_len` bytes of backup data.
    pub get_backup_data_section: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            buf: *mut u8,
            max_len: usize,
            len: *mut usize,
            last: *mut bool,
        ) -> i32,
    >,
    /// A base restore unit for `drive` begins.
    pub initialise_restore_base_data:
        Option<unsafe extern "C" fn(ctx: *mut c_void, drive: c_char) -> i32>,
    /// A section of base data.
    pub restore_base_data_section: Option<
        unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize, last: bool) -> i32,
    >,
    /// An increment for `drive` begins (once per increment, oldest first).
    pub initialise_restore_increment_data:
        Option<unsafe extern "C" fn(ctx: *mut c_void, drive: c_char) -> i32>,
    /// A section of increment data.
    pub restore_increment_data_section: Option<
        unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize, last: bool) -> i32,
    >,
    /// The restore of `drive` is over: commit and reload.
    pub restore_complete: Option<unsafe extern "C" fn(ctx: *mut c_void, drive: c_char) -> i32>,
    /// A proxy backup unit for owner `sid` begins (proxy data managers only).
    pub initialise_get_proxy_backup_data:
        Option<unsafe extern "C" fn(ctx: *mut c_void, sid: u32, drive: c_char) -> i32>,
    /// A proxy base restore unit for owner `sid` begins (proxy data managers only).
    pub initialise_restore_proxy_base_data:
        Option<unsafe extern "C" fn(ctx: *mut c_void, sid: u32, drive: c_char) -> i32>,
    /// The current multi-stage operation is abandoned: drop what is staged.
    pub terminate_multi_stage_operation: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    /// A checksum of the owner's data (a test hook; an invariant value is acceptable).
    pub get_data_checksum: Option<unsafe extern "C" fn(ctx: *mut c_void, drive: c_char) -> u64>,
}

/// The owner the Rust client serves: each trait method calls the table's function.
///
/// Sound as long as the table's promise holds: the functions are callable with `ctx`,
/// and the section functions write at most `max_len` bytes to `buf`.
pub(crate) struct CallbackOwner {
    table: MtpburCallbacks,
}

impl CallbackOwner {
    /// Wraps a table the caller vouched for (see [`crate::mtpbur_owner_run`]).
    pub(crate) fn new(table: MtpburCallbacks) -> Self {
        Self { table }
    }

    /// The table's context (tests reach their state through it).
    #[cfg(test)]
    pub(crate) fn ctx(&self) -> *mut c_void {
        self.table.ctx
    }
}

fn letter(drive: DriveLetter) -> c_char {
    drive.letter() as u8 as c_char
}

fn not_supported(what: &str) -> OwnerError {
    OwnerError::new(ERR_NOT_SUPPORTED, format!("{what} not supported"))
}

/// A table entry called with the drive only.
type DriveFn = unsafe extern "C" fn(ctx: *mut c_void, drive: c_char) -> i32;
/// A table entry handed a section of restore data.
type DataFn =
    unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize, last: bool) -> i32;
/// A table entry called for another owner's proxy data.
type ProxyFn = unsafe extern "C" fn(ctx: *mut c_void, sid: u32, drive: c_char) -> i32;

/// Turns a C return code into the trait's result.
fn status(callback: &str, code: i32) -> Result<(), OwnerError> {
    if code == 0 {
        clear_reply_message();
        Ok(())
    } else {
        // A positive code is a mistake of the owner; the engine expects a negative one.
        let code = if code > 0 { MTPBUR_ERR_GENERAL } else { code };
        Err(OwnerError::new(code, take_reply_message(callback, code)))
    }
}

/// Calls a section-producing function with a buffer of `max_len` bytes.
fn section(
    callback: &str,
    max_len: usize,
    call: impl FnOnce(*mut u8, *mut usize, *mut bool) -> i32,
) -> Result<Section, OwnerError> {
    let mut buf = vec![0u8; max_len];
    let mut len = 0usize;
    let mut last = false;
    status(callback, call(buf.as_mut_ptr(), &mut len, &mut last))?;
    if len > max_len {
        return Err(OwnerError::new(
            MTPBUR_ERR_GENERAL,
            format!("{callback} returned {len} bytes, more than the {max_len} asked for"),
        ));
    }
    buf.truncate(len);
    Ok((buf, last))
}

impl CallbackOwner {
    /// Calls a drive-only entry; a NULL entry is "`what` not supported".
    fn on_drive(
        &self,
        f: Option<DriveFn>,
        what: &str,
        callback: &str,
        drive: DriveLetter,
    ) -> Result<(), OwnerError> {
        let f = f.ok_or_else(|| not_supported(what))?;
        // SAFETY: the table's promise.
        status(callback, unsafe { f(self.table.ctx, letter(drive)) })
    }

    /// Hands a restore section to an entry; a NULL entry is "`what` not supported".
    fn on_data(
        &self,
        f: Option<DataFn>,
        what: &str,
        callback: &str,
        data: &[u8],
        last: bool,
    ) -> Result<(), OwnerError> {
        let f = f.ok_or_else(|| not_supported(what))?;
        // SAFETY: the table's promise; `data` is valid for the call.
        let code = unsafe { f(self.table.ctx, data.as_ptr(), data.len(), last) };
        status(callback, code)
    }

    /// Calls a proxy entry; a NULL entry is "proxy data not supported".
    fn on_proxy(
        &self,
        f: Option<ProxyFn>,
        callback: &str,
        sid: u32,
        drive: DriveLetter,
    ) -> Result<(), OwnerError> {
        let f = f.ok_or_else(|| not_supported("proxy data"))?;
        // SAFETY: the table's promise.
        status(callback, unsafe { f(self.table.ctx, sid, letter(drive)) })
    }
}

impl ActiveBackupDataClient for CallbackOwner {
    fn bur_mode_changed(&mut self, mode: &ModeInfo) -> Option<i32> {
        let normal = !mode.is_bur_running();
        let Some(f) = self.table.bur_mode_changed else {
            return (!normal).then_some(0);
        };
        let info = MtpburModeInfo::from(mode);
        // SAFETY: the table's promise; `info` outlives the call.
        let answer = unsafe { f(self.table.ctx, &info) };
        (!normal && answer != MTPBUR_DEFER).then_some(answer.min(0))
    }

    fn all_snapshots_supplied(&mut self) -> Result<(), OwnerError> {
        let Some(f) = self.table.all_snapshots_supplied else {
            return Ok(());
        };
        // SAFETY: the table's promise.
        status("all_snapshots_supplied", unsafe { f(self.table.ctx) })
    }

    fn receive_snapshot_data(
        &mut self,
        drive: DriveLetter,
        data: &[u8],
        last: bool,
    ) -> Result<(), OwnerError> {
        let f = self
            .table
            .receive_snapshot_data
            .ok_or_else(|| not_supported("snapshots"))?;
        // SAFETY: the table's promise; `data` is valid for the call.
        let code = unsafe {
            f(
                self.table.ctx,
                letter(drive),
                data.as_ptr(),
                data.len(),
                last,
            )
        };
        status("receive_snapshot_data", code)
    }

    fn get_expected_data_size(&mut self, drive: DriveLetter) -> Result<u64, OwnerError> {
        let Some(f) = self.table.get_expected_data_size else {
            return Ok(0);
        };
        let mut size = 0u64;
        // SAFETY: the table's promise; `size` is a valid place for the call.
        let code = unsafe { f(self.table.ctx, letter(drive), &mut size) };
        status("get_expected_data_size", code).map(|()| size)
    }

    fn get_snapshot_data(
        &mut self,
        drive: DriveLetter,
        max_len: usize,
    ) -> Result<Section, OwnerError> {
        let f = self
            .table
            .get_snapshot_data
            .ok_or_else(|| not_supported("snapshots"))?;
        let ctx = self.table.ctx;
        section("get_snapshot_data", max_len, |buf, len, last| {
            // SAFETY: the table's promise; `buf` holds `max_len` bytes, `len` and `last`
            // are valid places for the call.
            unsafe { f(ctx, letter(drive), buf, max_len, len, last) }
        })
    }

    fn initialise_get_backup_data(&mut self, drive: DriveLetter) -> Result<(), OwnerError> {
        let f = self.table.initialise_get_backup_data;
        self.on_drive(f, "backup", "initialise_get_backup_data", drive)
    }

    fn get_backup_data_section(&mut self, max_len: usize) -> Result<Section, OwnerError> {
        let f = self
            .table
            .get_backup_data_section
            .ok_or_else(|| not_supported("backup"))?;
        let ctx = self.table.ctx;
        section("get_backup_data_section", max_len, |buf, len, last| {
            // SAFETY: as in `get_snapshot_data`.
            unsafe { f(ctx, buf, max_len, len, last) }
        })
    }

    fn initialise_restore_base_data(&mut self, drive: DriveLetter) -> Result<(), OwnerError> {
        let f = self.table.initialise_restore_base_data;
        self.on_drive(f, "restore", "initialise_restore_base_data", drive)
    }

    fn restore_base_data_section(&mut self, data: &[u8], last: bool) -> Result<(), OwnerError> {
        let f = self.table.restore_base_data_section;
        self.on_data(f, "restore", "restore_base_data_section", data, last)
    }

    fn initialise_restore_increment_data(&mut self, drive: DriveLetter) -> Result<(), OwnerError> {
        let f = self.table.initialise_restore_increment_data;
        self.on_drive(f, "increments", "initialise_restore_increment_data", drive)
    }

    fn restore_increment_data_section(
        &mut self,
        data: &[u8],
        last: bool,
    ) -> Result<(), OwnerError> {
        let f = self.table.restore_increment_data_section;
        self.on_data(
            f,
            "increments",
            "restore_increment_data_section",
            data,
            last,
        )
    }

    fn restore_complete(&mut self, drive: DriveLetter) -> Result<(), OwnerError> {
        let Some(f) = self.table.restore_complete else {
            return Ok(());
        };
        // SAFETY: the table's promise.
        status("restore_complete", unsafe {
            f(self.table.ctx, letter(drive))
        })
    }

    fn initialise_get_proxy_backup_data(
        &mut self,
        sid: u32,
        drive: DriveLetter,
    ) -> Result<(), OwnerError> {
        let f = self.table.initialise_get_proxy_backup_data;
        self.on_proxy(f, "initialise_get_proxy_backup_data", sid, drive)
    }

    fn initialise_restore_proxy_base_data(
        &mut self,
        sid: u32,
        drive: DriveLetter,
    ) -> Result<(), OwnerError> {
        let f = self.table.initialise_restore_proxy_base_data;
        self.on_proxy(f, "initialise_restore_proxy_base_data", sid, drive)
    }

    fn terminate_multi_stage_operation(&mut self) {
        if let Some(f) = self.table.terminate_multi_stage_operation {
            // SAFETY: the table's promise.
            unsafe { f(self.table.ctx) }
        }
    }

    fn get_data_checksum(&mut self, drive: DriveLetter) -> u64 {
        match self.table.get_data_checksum {
            // SAFETY: the table's promise.
            Some(f) => unsafe { f(self.table.ctx, letter(drive)) },
            None => 0,
        }
    }
}
