//! The table's translation, with callbacks written in Rust as `extern "C"` functions.

use std::ffi::{CStr, c_char, c_void};

use data_owners::client::{ActiveBackupDataClient, ERR_NOT_SUPPORTED, dispatch};
use data_owners::mode::{BackupIncType, BurMode, BurPartType};
use data_owners::wire::{Callback, DriveLetter, ModeInfo, Reply};

use crate::callbacks::{CallbackOwner, MtpburCallbacks};
use crate::*;

#[derive(Default)]
struct Log {
    calls: Vec<String>,
    answer: i32,
    produce: usize,
}

fn log<'a>(ctx: *mut c_void) -> &'a mut Log {
    // SAFETY: every test passes a `&mut Log` as ctx and outlives the calls.
    unsafe { &mut *ctx.cast::<Log>() }
}

unsafe extern "C" fn mode_changed(ctx: *mut c_void, mode: *const MtpburModeInfo) -> i32 {
    // SAFETY: the library passes a valid mode.
    let m = unsafe { &*mode };
    // SAFETY: drives is NUL-terminated.
    let drives = unsafe { CStr::from_ptr(m.drives.as_ptr()) };
    log(ctx).calls.push(format!(
        "mode {:#x} {:#x} {} {}",
        m.part_type,
        m.inc_type,
        drives.to_string_lossy(),
        m.affects_me
    ));
    log(ctx).answer
}

unsafe extern "C" fn init_backup(ctx: *mut c_void, drive: c_char) -> i32 {
    log(ctx).calls.push(format!("init {}", drive as u8 as char));
    if log(ctx).answer < 0 {
        // SAFETY: a NUL-terminated literal.
        unsafe { mtpbur_set_error_message(c"disk on fire".as_ptr()) };
    }
    log(ctx).answer
}

unsafe extern "C" fn section(
    ctx: *mut c_void,
    buf: *mut u8,
    max_len: usize,
    len: *mut usize,
    last: *mut bool,
) -> i32 {
    let n = log(ctx).produce;
    // SAFETY: the library gives `max_len` writable bytes and valid places; the test
    // writes past `max_len` only in its length, never in the buffer.
    unsafe {
        std::ptr::write_bytes(buf, b'x', n.min(max_len));
        *len = n;
        *last = true;
    }
    0
}

unsafe extern "C" fn restore_section(
    ctx: *mut c_void,
    data: *const u8,
    len: usize,
    last: bool,
) -> i32 {
    // SAFETY: the library passes `len` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    log(ctx)
        .calls
        .push(format!("{} {last}", String::from_utf8_lossy(bytes)));
    0
}

fn table(log: &mut Log) -> MtpburCallbacks {
    MtpburCallbacks {
        ctx: std::ptr::from_mut(log).cast(),
        bur_mode_changed: None,
        all_snapshots_supplied: None,
        receive_snapshot_data: None,
        get_expected_data_size: None,
        get_snapshot_data: None,
        initialise_get_backup_data: None,
        get_backup_data_section: None,
        initialise_restore_base_data: None,
        restore_base_data_section: None,
        initialise_restore_increment_data: None,
        restore_increment_data_section: None,
        restore_complete: None,
        initialise_get_proxy_backup_data: None,
        initialise_restore_proxy_base_data: None,
        terminate_multi_stage_operation: None,
        get_data_checksum: None,
    }
}

fn mode(part: BurPartType, inc: BackupIncType) -> ModeInfo {
    ModeInfo {
        mode: BurMode::new(part, inc).expect("mode"),
        drives: vec![
            DriveLetter::new('c').expect("c"),
            DriveLetter::new('e').expect("e"),
        ],
        affects_me: true,
    }
}

fn c() -> DriveLetter {
    DriveLetter::new('c').expect("c")
}

#[test]
fn null_entries_take_the_rust_defaults() {
    let mut l = Log::default();
    let mut owner = CallbackOwner::new(table(&mut l));
    let backup = mode(BurPartType::BackupFull, BackupIncType::Base);
    assert_eq!(owner.bur_mode_changed(&backup), Some(0));
    let normal = mode(BurPartType::Normal, BackupIncType::NoBackup);
    assert_eq!(owner.bur_mode_changed(&normal), None);
    assert_eq!(owner.get_expected_data_size(c()), Ok(0));
    assert_eq!(owner.all_snapshots_supplied(), Ok(()));
    let err = owner
        .initialise_get_backup_data(c())
        .expect_err("no backup");
    assert_eq!(err.code, ERR_NOT_SUPPORTED);
    let reply = dispatch(&mut owner, Callback::GetDataChecksum { drive: c() });
    assert_eq!(reply, Reply::Value(0));
}

#[test]
fn the_mode_reaches_c_and_its_answer_is_confirmed_only_outside_normal() {
    let mut l = Log::default();
    let mut owner = CallbackOwner::new(MtpburCallbacks {
        bur_mode_changed: Some(mode_changed),
        ..table(&mut l)
    });
    let backup = mode(BurPartType::BackupPartial, BackupIncType::Increment);
    assert_eq!(owner.bur_mode_changed(&backup), Some(0));
    log(owner_ctx(&owner)).answer = MTPBUR_DEFER;
    assert_eq!(owner.bur_mode_changed(&backup), None, "deferred");
    log(owner_ctx(&owner)).answer = MTPBUR_ERR_NOT_READY;
    assert_eq!(owner.bur_mode_changed(&backup), Some(MTPBUR_ERR_NOT_READY));
    log(owner_ctx(&owner)).answer = 0;
    let normal = mode(BurPartType::Normal, BackupIncType::NoBackup);
    assert_eq!(owner.bur_mode_changed(&normal), None, "never in Normal");
    assert_eq!(l.calls[0], "mode 0x4 0x200 ce true");
    assert_eq!(l.calls[3], "mode 0x1 0x0 ce true");
}

fn owner_ctx(owner: &CallbackOwner) -> *mut c_void {
    owner.ctx()
}

#[test]
fn an_error_code_carries_the_message_the_callback_set() {
    let mut l = Log {
        answer: MTPBUR_ERR_CORRUPT,
        ..Log::default()
    };
    let mut owner = CallbackOwner::new(MtpburCallbacks {
        initialise_get_backup_data: Some(init_backup),
        ..table(&mut l)
    });
    let reply = dispatch(&mut owner, Callback::InitialiseGetBackupData { drive: c() });
    assert_eq!(
        reply,
        Reply::Error {
            code: MTPBUR_ERR_CORRUPT,
            message: "disk on fire".into()
        }
    );
    // The message is used once; a positive code is turned into a negative one.
    log(owner.ctx()).answer = 7;
    let reply = dispatch(&mut owner, Callback::InitialiseGetBackupData { drive: c() });
    assert_eq!(
        reply,
        Reply::Error {
            code: MTPBUR_ERR_GENERAL,
            message: "initialise_get_backup_data failed with -2".into()
        }
    );
}

#[test]
fn a_section_longer_than_asked_is_refused_and_a_fitting_one_passes() {
    let mut l = Log {
        produce: 5,
        ..Log::default()
    };
    let mut owner = CallbackOwner::new(MtpburCallbacks {
        get_backup_data_section: Some(section),
        ..table(&mut l)
    });
    assert_eq!(
        owner.get_backup_data_section(8),
        Ok((b"xxxxx".to_vec(), true))
    );
    log(owner.ctx()).produce = 9;
    let err = owner.get_backup_data_section(8).expect_err("too long");
    assert!(err.message.contains("more than the 8"), "{}", err.message);
}

#[test]
fn restore_sections_reach_c_with_their_bytes() {
    let mut l = Log::default();
    let mut owner = CallbackOwner::new(MtpburCallbacks {
        restore_base_data_section: Some(restore_section),
        ..table(&mut l)
    });
    owner
        .restore_base_data_section(b"hello", false)
        .expect("section");
    owner.restore_base_data_section(b"", true).expect("last");
    assert_eq!(l.calls, ["hello false", " true"]);
}

#[test]
fn connect_failure_is_null_with_a_reason() {
    // SAFETY: a NUL-terminated literal.
    let owner = unsafe { mtpbur_owner_connect(c"/nonexistent/sbe.sock".as_ptr(), 0x2000_0060) };
    assert!(owner.is_null());
    // SAFETY: the library returns a NUL-terminated string.
    let why = unsafe { CStr::from_ptr(mtpbur_last_error()) }.to_string_lossy();
    assert!(why.contains("/nonexistent/sbe.sock"), "{why}");
    // SAFETY: NULL is allowed.
    unsafe { mtpbur_owner_free(owner) };
}

#[test]
fn the_header_constants_are_the_rust_clients() {
    assert_eq!(MTPBUR_ERR_NOT_SUPPORTED, ERR_NOT_SUPPORTED);
    for (c, part) in [
        (MTPBUR_PART_UNSET, BurPartType::Unset),
        (MTPBUR_PART_NORMAL, BurPartType::Normal),
        (MTPBUR_PART_BACKUP_FULL, BurPartType::BackupFull),
        (MTPBUR_PART_BACKUP_PARTIAL, BurPartType::BackupPartial),
        (MTPBUR_PART_RESTORE_FULL, BurPartType::RestoreFull),
        (MTPBUR_PART_RESTORE_PARTIAL, BurPartType::RestorePartial),
    ] {
        assert_eq!(c, part as u32);
    }
    for (c, inc) in [
        (MTPBUR_INC_NONE, BackupIncType::NoBackup),
        (MTPBUR_INC_BASE, BackupIncType::Base),
        (MTPBUR_INC_INCREMENT, BackupIncType::Increment),
    ] {
        assert_eq!(c, inc as u32);
    }
}
