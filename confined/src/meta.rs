//! [`Meta`] and [`Kind`]: what a file is, read through its descriptor without following a
//! link.

use std::os::fd::BorrowedFd;

use rustix::fs::{self as rfs, AtFlags};
use rustix::io::Errno;

/// What a directory entry is (symbolic links are reported, never followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A FIFO, socket or device.
    Other,
}

impl Kind {
    pub(crate) fn from_type(t: rfs::FileType) -> Self {
        match t {
            rfs::FileType::RegularFile => Self::File,
            rfs::FileType::Directory => Self::Dir,
            rfs::FileType::Symlink => Self::Symlink,
            _ => Self::Other,
        }
    }
}

/// The metadata of a file, read without following a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// What it is.
    pub kind: Kind,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i64,
    /// Number of hard links.
    pub nlink: u64,
    /// Device and inode number: which object it is (names can be swapped, these not).
    pub dev_ino: (u64, u64),
    /// Birth time, ns since the epoch, where the file system keeps one.
    pub btime_ns: Option<i64>,
}

impl Meta {
    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }

    /// True for a regular file.
    pub fn is_file(&self) -> bool {
        self.kind == Kind::File
    }
}

impl From<rfs::Stat> for Meta {
    // The field types of `struct stat` differ between architectures, hence the casts.
    #[allow(
        clippy::cast_possible_wrap,
        clippy::unnecessary_cast,
        clippy::useless_conversion
    )]
    fn from(st: rfs::Stat) -> Self {
        let mode = st.st_mode as u32;
        Self {
            kind: Kind::from_type(rfs::FileType::from_raw_mode(mode as _)),
            mode: mode & 0o7777,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            size: u64::try_from(st.st_size as i64).unwrap_or(0),
            mtime_ns: (st.st_mtime as i64)
                .saturating_mul(1_000_000_000)
                .saturating_add(st.st_mtime_nsec as i64),
            nlink: st.st_nlink as u64,
            dev_ino: (st.st_dev as u64, st.st_ino as u64),
            btime_ns: None,
        }
    }
}

impl From<rfs::Statx> for Meta {
    fn from(st: rfs::Statx) -> Self {
        let mode = u32::from(st.stx_mode);
        let ns = |t: rfs::StatxTimestamp| {
            t.tv_sec
                .saturating_mul(1_000_000_000)
                .saturating_add(i64::from(t.tv_nsec))
        };
        let has_btime =
            rfs::StatxFlags::from_bits_retain(st.stx_mask).contains(rfs::StatxFlags::BTIME);
        Self {
            kind: Kind::from_type(rfs::FileType::from_raw_mode(mode as _)),
            mode: mode & 0o7777,
            uid: st.stx_uid,
            gid: st.stx_gid,
            size: st.stx_size,
            mtime_ns: ns(st.stx_mtime),
            nlink: u64::from(st.stx_nlink),
            dev_ino: (rfs::makedev(st.stx_dev_major, st.stx_dev_minor), st.stx_ino),
            btime_ns: has_btime.then(|| ns(st.stx_btime)),
        }
    }
}

/// Reads the metadata of the file behind `fd`, with its birth time where the file system
/// keeps one (`statx`; `fstat` on a kernel without it).
pub(crate) fn meta_of(fd: BorrowedFd<'_>) -> Result<Meta, Errno> {
    let mask = rfs::StatxFlags::BASIC_STATS | rfs::StatxFlags::BTIME;
    match rfs::statx(fd, "", AtFlags::EMPTY_PATH, mask) {
        Ok(st) => Ok(st.into()),
        Err(Errno::NOSYS) => rfs::fstat(fd).map(Meta::from),
        Err(e) => Err(e),
    }
}
