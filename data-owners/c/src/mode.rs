//! The BUR mode as C sees it.

use std::ffi::c_char;

use data_owners::wire::ModeInfo;

/// A BUR mode (`BURModeInfoL` and `DoesPartialBURAffectMeL` in one).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtpburModeInfo {
    /// The part type: one of the `MTPBUR_PART_*` values.
    pub part_type: u32,
    /// The increment type: one of the `MTPBUR_INC_*` values.
    pub inc_type: u32,
    /// The drives of the operation as lower-case letters, NUL-terminated (`"ce"`).
    pub drives: [c_char; 27],
    /// True if the operation concerns this owner (a full one, or a partial one that
    /// lists it).
    pub affects_me: bool,
    /// True while a backup or restore runs, whether or not it concerns this owner: the
    /// application must not write its data and must release its locks.
    pub bur_running: bool,
}

impl From<&ModeInfo> for MtpburModeInfo {
    fn from(m: &ModeInfo) -> Self {
        let mut drives = [0 as c_char; 27];
        for (slot, d) in drives.iter_mut().zip(m.drives.iter().take(26)) {
            *slot = d.letter() as u8 as c_char;
        }
        Self {
            part_type: m.part_type() as u32,
            inc_type: m.inc_type() as u32,
            drives,
            affects_me: m.affects_me,
            bur_running: m.is_bur_running(),
        }
    }
}
