//! [`Dir`]: a directory descriptor and the operations beneath it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::meta::meta_of;
use super::{Kind, Meta, TempFile, not_regular, symlink_refused};

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name (names that are not UTF-8 are never listed).
    pub name: String,
    /// What it is.
    pub kind: Kind,
}

/// An open directory: the right to touch what lies beneath it, and nothing else.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// No symbolic link, nothing outside, and no other mounted file system: an owner may
/// mount one (FUSE) on a folder of its own, whose server could then hold the engine's
/// reads forever.
const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV);

fn errno(path: &Path, e: Errno) -> io::Error {
    match e {
        Errno::LOOP => symlink_refused(path),
        Errno::XDEV => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{}: leaves the directory it is resolved in or crosses a mount point",
                path.display()
            ),
        ),
        other => {
            let e = io::Error::from(other);
            io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        }
    }
}

/// Splits `rel` into its components; refuses absolute paths, `..` and empty components.
fn components(rel: &OsStr) -> io::Result<Vec<&OsStr>> {
    let bytes = rel.as_bytes();
    if bytes.is_empty() || bytes == b"." {
        return Ok(Vec::new());
    }
    let comps: Vec<&OsStr> = bytes.split(|b| *b == b'/').map(OsStr::from_bytes).collect();
    if comps
        .iter()
        .any(|c| c.is_empty() || c.as_bytes() == b"." || c.as_bytes() == b"..")
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a plain relative path", Path::new(rel).display()),
        ));
    }
    Ok(comps)
}

impl Dir {
    /// Opens a directory the device maker configured (a drive, the spool). Symbolic links
    /// in this path are followed: it comes from the board profile, not from an owner.
    /// Paths beneath it stay on its file system: a mount point on the way is refused.
    ///
    /// # Errors
    /// The open failed or `path` is not a directory.
    pub fn open_root(path: &Path) -> io::Result<Self> {
        let fd = rfs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| errno(path, e))?;
        Ok(Self {
            fd,
            path: path.to_owned(),
        })
    }

    /// Opens a directory whose parent the device maker configured (a cage under a
    /// drive's `private`): the parent path is trusted, the last component must be a
    /// directory and not a symbolic link.
    ///
    /// # Errors
    /// The open failed, the last component is a link or not a directory.
    pub fn open_leaf(path: &Path) -> io::Result<Self> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Self::open_root(path);
        };
        Self::open_root(parent)?.open_dir(name)
    }

    /// Returns the path this directory was opened at (for messages only).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns the path of `rel` beneath this directory (for messages only).
    pub fn display(&self, rel: impl AsRef<OsStr>) -> PathBuf {
        let rel = rel.as_ref();
        if rel.is_empty() {
            self.path.clone()
        } else {
            self.path.join(rel)
        }
    }

    /// Opens `rel` beneath this directory, following no symbolic link.
    fn resolve(&self, rel: &OsStr, flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let comps = components(rel)?;
        let path = if comps.is_empty() {
            OsStr::new(".")
        } else {
            rel
        };
        // `openat2` refuses `O_PATH` with any flag other than these three.
        let flags = if flags.contains(OFlags::PATH) {
            flags | OFlags::CLOEXEC
        } else {
            flags | OFlags::CLOEXEC | OFlags::NOCTTY
        };
        for _ in 0..8 {
            match rfs::openat2(&self.fd, path, flags, mode, RESOLVE) {
                Err(Errno::AGAIN | Errno::INTR) => continue,
                Err(Errno::NOSYS) => return self.walk(&comps, flags, mode),
                other => return other.map_err(|e| errno(&self.display(rel), e)),
            }
        }
        Err(errno(&self.display(rel), Errno::AGAIN))
    }

    /// The same as [`Self::resolve`] for kernels without `openat2` (before 5.6). A mount
    /// point is detected only once it is open (by its device number), not before.
    fn walk(&self, comps: &[&OsStr], flags: OFlags, mode: Mode) -> io::Result<OwnedFd> {
        let Some((last, parents)) = comps.split_last() else {
            return rfs::openat(&self.fd, ".", flags, mode).map_err(|e| errno(&self.path, e));
        };
        let dev = rfs::fstat(&self.fd)
            .map_err(|e| errno(&self.path, e))?
            .st_dev;
        let same_fs = |fd: OwnedFd, shown: &Path| {
            let st = rfs::fstat(&fd).map_err(|e| errno(shown, e))?;
            if st.st_dev == dev {
                Ok(fd)
            } else {
                Err(errno(shown, Errno::XDEV))
            }
        };
        let mut cur: Option<OwnedFd> = None;
        let mut shown = self.path.clone();
        for comp in parents {
            shown.push(comp);
            let base = cur.as_ref().map_or(self.fd.as_fd(), AsFd::as_fd);
            let next = rfs::openat(
                base,
                *comp,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| errno(&shown, e))?;
            cur = Some(same_fs(next, &shown)?);
        }
        shown.push(last);
        let base = cur.as_ref().map_or(self.fd.as_fd(), AsFd::as_fd);
        let fd = rfs::openat(base, *last, flags | OFlags::NOFOLLOW, mode)
            .map_err(|e| errno(&shown, e))?;
        same_fs(fd, &shown)
    }

    /// Opens the directory `rel` beneath this one (`""` opens this one again).
    ///
    /// # Errors
    /// Not found, not a directory, or a symbolic link on the way.
    pub fn open_dir(&self, rel: impl AsRef<OsStr>) -> io::Result<Self> {
        let rel = rel.as_ref();
        let fd = self.resolve(rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?;
        Ok(Self {
            fd,
            path: self.display(rel),
        })
    }

    /// Opens the parent of `rel` and returns it with the last component.
    fn parent_of<'a>(&self, rel: &'a OsStr) -> io::Result<(Self, &'a OsStr)> {
        if components(rel)?.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an empty path names no entry",
            ));
        }
        let bytes = rel.as_bytes();
        match bytes.iter().rposition(|b| *b == b'/') {
            Some(i) => Ok((
                self.open_dir(OsStr::from_bytes(&bytes[..i]))?,
                OsStr::from_bytes(&bytes[i + 1..]),
            )),
            None => Ok((self.try_clone()?, rel)),
        }
    }

    /// Returns the metadata of `rel` (a symbolic link is reported as one), or `None` if
    /// it or a directory on the way does not exist.
    ///
    /// # Errors
    /// A symbolic link or a non-directory on the way, or another I/O error.
    pub fn stat(&self, rel: impl AsRef<OsStr>) -> io::Result<Option<Meta>> {
        let rel = rel.as_ref();
        // An `O_PATH` descriptor, then `fstat`: the walk refuses a mount point before the
        // file system under it is asked anything, which a `stat` by name would not.
        match self.resolve(rel, OFlags::PATH | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(fd) => meta_of(fd.as_fd())
                .map(Some)
                .map_err(|e| errno(&self.display(rel), e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens the regular file `rel` for reading. The open does not block (a FIFO is
    /// refused, not waited on) and follows no symbolic link.
    ///
    /// # Errors
    /// Not found, not a regular file, a symbolic link on the way, or another I/O error.
    pub fn open_file(&self, rel: impl AsRef<OsStr>) -> io::Result<(File, Meta)> {
        self.open_regular(rel.as_ref(), OFlags::RDONLY)
    }

    /// Opens the existing regular file `rel` for writing in place, as [`Dir::open_file`]
    /// opens one for reading.
    ///
    /// # Errors
    /// As [`Dir::open_file`].
    pub fn open_file_write(&self, rel: impl AsRef<OsStr>) -> io::Result<(File, Meta)> {
        self.open_regular(rel.as_ref(), OFlags::WRONLY)
    }

    fn open_regular(&self, rel: &OsStr, access: OFlags) -> io::Result<(File, Meta)> {
        let fd = self.resolve(rel, access | OFlags::NONBLOCK, Mode::empty())?;
        let meta = meta_of(fd.as_fd()).map_err(|e| errno(&self.display(rel), e))?;
        if meta.kind != Kind::File {
            return Err(not_regular(&self.display(rel), meta.kind));
        }
        rfs::fcntl_setfl(&fd, OFlags::empty()).map_err(|e| errno(&self.display(rel), e))?;
        Ok((File::from(fd), meta))
    }

    /// Reads the whole regular file `rel`, refusing one larger than `limit` bytes (files
    /// an owner or a host controls are never read whole whatever their size).
    ///
    /// # Errors
    /// As [`Dir::open_file`], or `InvalidData` naming the limit.
    pub fn read_file(&self, rel: impl AsRef<OsStr>, limit: u64) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let rel = rel.as_ref();
        let (file, meta) = self.open_file(rel)?;
        let too_big = || {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: larger than the limit of {limit} bytes",
                    self.display(rel).display()
                ),
            )
        };
        if meta.size > limit {
            return Err(too_big());
        }
        let mut out = Vec::with_capacity(usize::try_from(meta.size).unwrap_or(0));
        file.take(limit.saturating_add(1)).read_to_end(&mut out)?;
        if out.len() as u64 > limit {
            return Err(too_big());
        }
        Ok(out)
    }

    /// Lists this directory, sorted by name (`.` and `..` left out, and names that are
    /// not UTF-8).
    ///
    /// # Errors
    /// An I/O error while reading.
    pub fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut out: Vec<Entry> = self
            .list()?
            .into_iter()
            .filter_map(|(name, kind)| {
                let name = name.into_string().ok()?;
                Some(Entry { name, kind })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Lists this directory in the order the file system returns it, with every name
    /// (`.` and `..` left out).
    ///
    /// # Errors
    /// An I/O error while reading.
    pub fn list(&self) -> io::Result<Vec<(OsString, Kind)>> {
        let mut out = Vec::new();
        let mut dir = rfs::Dir::read_from(&self.fd).map_err(|e| errno(&self.path, e))?;
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(|e| errno(&self.path, e))?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let kind = match entry.file_type() {
                rfs::FileType::Unknown => match self.stat(name)? {
                    Some(meta) => meta.kind,
                    None => continue,
                },
                t => Kind::from_type(t),
            };
            out.push((name.to_owned(), kind));
        }
        Ok(out)
    }

    /// Creates the directories of `rel` that are missing (mode `mode`, handed to `owner`
    /// through their descriptors) and opens the last one.
    ///
    /// # Errors
    /// A symbolic link or a non-directory on the way, or another I/O error.
    pub fn create_dir_all(
        &self,
        rel: impl AsRef<OsStr>,
        mode: u32,
        owner: Option<(u32, u32)>,
    ) -> io::Result<Self> {
        let mut cur = self.try_clone()?;
        for comp in components(rel.as_ref())? {
            let created = match rfs::mkdirat(&cur.fd, comp, Mode::from_raw_mode(mode)) {
                Ok(()) => true,
                Err(Errno::EXIST) => false,
                Err(e) => return Err(errno(&cur.display(comp), e)),
            };
            cur = cur.open_dir(comp)?;
            if created {
                cur.chmod(mode)?;
                if let Some((uid, gid)) = owner {
                    cur.chown(uid, gid)?;
                }
            }
        }
        Ok(cur)
    }

    /// Creates a new file under an unpredictable name in this directory, to be renamed
    /// over its target by [`TempFile::commit`].
    ///
    /// # Errors
    /// An I/O error.
    pub fn create_temp(&self, mode: u32) -> io::Result<TempFile> {
        TempFile::create(self.try_clone()?, mode)
    }

    /// Creates the new folder `name` in this directory with `mode` (less the umask).
    ///
    /// # Errors
    /// `AlreadyExists` (whatever is there, a link included), or another I/O error.
    pub fn create_dir(&self, name: impl AsRef<OsStr>, mode: u32) -> io::Result<()> {
        let name = single(name.as_ref())?;
        rfs::mkdirat(&self.fd, name, Mode::from_raw_mode(mode))
            .map_err(|e| errno(&self.display(name), e))
    }

    /// Creates the new file `name` in this directory; it must not exist.
    ///
    /// # Errors
    /// `AlreadyExists`, or another I/O error.
    pub fn create_new(&self, name: impl AsRef<OsStr>, mode: u32) -> io::Result<File> {
        let fd = self.resolve(
            single(name.as_ref())?,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW,
            Mode::from_raw_mode(mode),
        )?;
        Ok(File::from(fd))
    }

    /// Renames the entry `from` of this directory to `to` in `target` (replacing it).
    ///
    /// # Errors
    /// An I/O error.
    pub fn rename(
        &self,
        from: impl AsRef<OsStr>,
        target: &Self,
        to: impl AsRef<OsStr>,
    ) -> io::Result<()> {
        let to = to.as_ref();
        rfs::renameat(&self.fd, single(from.as_ref())?, &target.fd, single(to)?)
            .map_err(|e| errno(&target.display(to), e))
    }

    /// Renames the entry `from` of this directory to `to` in `target`, failing with
    /// `AlreadyExists` instead of replacing anything (`RENAME_NOREPLACE`; on a file
    /// system without it, a check before a plain rename).
    ///
    /// # Errors
    /// `AlreadyExists`, `CrossesDevices`, or another I/O error.
    pub fn rename_noreplace(
        &self,
        from: impl AsRef<OsStr>,
        target: &Self,
        to: impl AsRef<OsStr>,
    ) -> io::Result<()> {
        let (from, to) = (single(from.as_ref())?, single(to.as_ref())?);
        let flags = rfs::RenameFlags::NOREPLACE;
        match rfs::renameat_with(&self.fd, from, &target.fd, to, flags) {
            Ok(()) => Ok(()),
            Err(Errno::INVAL | Errno::NOSYS) => {
                if target.stat(to)?.is_some() {
                    return Err(io::Error::from(io::ErrorKind::AlreadyExists));
                }
                rfs::renameat(&self.fd, from, &target.fd, to)
                    .map_err(|e| errno(&target.display(to), e))
            }
            // The plain errno: EXDEV here means another file system, which a caller
            // answers with a copy.
            Err(e) => Err(e.into()),
        }
    }

    /// Swaps the entries `a` of this directory and `b` of `target` atomically.
    ///
    /// # Errors
    /// An I/O error (nothing changed).
    pub fn exchange(
        &self,
        a: impl AsRef<OsStr>,
        target: &Self,
        b: impl AsRef<OsStr>,
    ) -> io::Result<()> {
        let b = b.as_ref();
        rfs::renameat_with(
            &self.fd,
            single(a.as_ref())?,
            &target.fd,
            single(b)?,
            rfs::RenameFlags::EXCHANGE,
        )
        .map_err(|e| errno(&target.display(b), e))
    }

    /// Removes the file (or symbolic link) `rel`; a missing file is not an error.
    ///
    /// # Errors
    /// A directory, or another I/O error.
    pub fn remove_file(&self, rel: impl AsRef<OsStr>) -> io::Result<()> {
        let rel = rel.as_ref();
        let (parent, name) = match self.parent_of(rel) {
            Ok(p) => p,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        match rfs::unlinkat(&parent.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(errno(&self.display(rel), e)),
        }
    }

    /// Removes the empty directory `rel`.
    ///
    /// # Errors
    /// Not found, not empty, not a directory, or another I/O error.
    pub fn remove_dir(&self, rel: impl AsRef<OsStr>) -> io::Result<()> {
        let rel = rel.as_ref();
        let (parent, name) = self.parent_of(rel)?;
        rfs::unlinkat(&parent.fd, name, AtFlags::REMOVEDIR)
            .map_err(|e| errno(&self.display(rel), e))
    }

    /// Removes `rel` and everything beneath it, through descriptors (a symbolic link is
    /// removed, never followed); a missing entry is not an error.
    ///
    /// # Errors
    /// An I/O error.
    pub fn remove_tree(&self, rel: impl AsRef<OsStr>) -> io::Result<()> {
        let rel = rel.as_ref();
        let Some(meta) = self.stat(rel)? else {
            return Ok(());
        };
        if meta.kind == Kind::Dir {
            let dir = self.open_dir(rel)?;
            for (name, _) in dir.list()? {
                dir.remove_tree(&name)?;
            }
            let (parent, name) = self.parent_of(rel)?;
            match rfs::unlinkat(&parent.fd, name, AtFlags::REMOVEDIR) {
                Ok(()) | Err(Errno::NOENT) => Ok(()),
                Err(e) => Err(errno(&self.display(rel), e)),
            }
        } else {
            self.remove_file(rel)
        }
    }

    /// Returns this directory's own metadata.
    ///
    /// # Errors
    /// An I/O error.
    pub fn meta(&self) -> io::Result<Meta> {
        meta_of(self.fd.as_fd()).map_err(|e| errno(&self.path, e))
    }

    /// Gives this directory to `uid`:`gid`, if it is not theirs already.
    ///
    /// # Errors
    /// An I/O error (only root may give a directory away).
    pub fn chown(&self, uid: u32, gid: u32) -> io::Result<()> {
        chown_fd(&self.fd, uid, gid).map_err(|e| errno(&self.path, e))
    }

    /// Sets this directory's permission bits.
    ///
    /// # Errors
    /// An I/O error.
    pub fn chmod(&self, mode: u32) -> io::Result<()> {
        rfs::fchmod(&self.fd, Mode::from_raw_mode(mode & 0o7777)).map_err(|e| errno(&self.path, e))
    }

    /// Makes this directory's entries durable (`fsync` on the directory).
    ///
    /// # Errors
    /// An I/O error.
    pub fn sync(&self) -> io::Result<()> {
        rfs::fsync(&self.fd).map_err(|e| errno(&self.path, e))
    }

    /// Makes everything written on this directory's file system durable (`syncfs`).
    ///
    /// # Errors
    /// An I/O error.
    pub fn sync_fs(&self) -> io::Result<()> {
        rfs::syncfs(&self.fd).map_err(|e| errno(&self.path, e))
    }

    /// Opens this directory a second time.
    ///
    /// # Errors
    /// Out of descriptors.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        })
    }
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Gives the file behind `fd` to `uid`:`gid`, if it is not theirs already.
pub(crate) fn chown_fd(fd: impl AsFd, uid: u32, gid: u32) -> Result<(), Errno> {
    let st = rfs::fstat(&fd)?;
    if (st.st_uid, st.st_gid) == (uid, gid) {
        return Ok(());
    }
    rfs::fchown(
        &fd,
        Some(rfs::Uid::from_raw(uid)),
        Some(rfs::Gid::from_raw(gid)),
    )
}

/// Checks that `name` is one path component.
fn single(name: &OsStr) -> io::Result<&OsStr> {
    match components(name)?.as_slice() {
        [one] => Ok(one),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a single file name", Path::new(name).display()),
        )),
    }
}
