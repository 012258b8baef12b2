//! [`TempFile`]: a new file under an unpredictable name, renamed over its target when done.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

use rustix::fs::{Mode, OFlags};

use super::Dir;
use super::dir::chown_fd;

/// A file created exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`) under a random name in a
/// directory; nobody could have planted anything at that name. Dropped without
/// [`TempFile::commit`], it is removed.
#[derive(Debug)]
pub struct TempFile {
    dir: Dir,
    name: String,
    file: File,
}

fn random_name() -> io::Result<String> {
    let mut bytes = [0u8; 12];
    let mut filled = 0;
    while filled < bytes.len() {
        filled +=
            rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty())?;
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(".mtpbur-{hex}.tmp"))
}

impl TempFile {
    pub(super) fn create(dir: Dir, mode: u32) -> io::Result<Self> {
        loop {
            let name = random_name()?;
            match rustix::fs::openat(
                dir.as_fd(),
                name.as_str(),
                OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(mode & 0o777),
            ) {
                Ok(fd) => {
                    return Ok(Self {
                        dir,
                        name,
                        file: File::from(fd),
                    });
                }
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => {
                    let e = io::Error::from(e);
                    return Err(io::Error::new(
                        e.kind(),
                        format!("{}: {e}", dir.display(&name).display()),
                    ));
                }
            }
        }
    }

    /// Returns the open file, to be written.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Returns the file's (random) name in its directory.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the directory the file is in.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// Gives the file to `owner` (if any) and `mode`, through its descriptor; syncs it;
    /// renames it over `target` in its directory; syncs the directory.
    ///
    /// # Errors
    /// An I/O error; the temporary file is then removed.
    pub fn commit(mut self, target: &str, mode: u32, owner: Option<(u32, u32)>) -> io::Result<()> {
        self.prepare(mode, owner)?;
        let dir = self.dir.try_clone()?;
        self.place(target)?;
        dir.sync()
    }

    /// Gives the file to `owner` (if any) and `mode`, through its descriptor, and syncs
    /// it: its content is durable under the temporary name (the directory entry is not,
    /// until the directory is synced).
    ///
    /// # Errors
    /// An I/O error.
    pub fn prepare(&mut self, mode: u32, owner: Option<(u32, u32)>) -> io::Result<()> {
        let shown = self.dir.display(&self.name);
        let wrap = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", shown.display()));
        let file = &self.file;
        if let Some((uid, gid)) = owner {
            chown_fd(file, uid, gid).map_err(|e| wrap(e.into()))?;
        }
        // After the chown: a chown clears set-id bits.
        rustix::fs::fchmod(file, Mode::from_raw_mode(mode & 0o7777)).map_err(|e| wrap(e.into()))?;
        file.sync_all().map_err(wrap)
    }

    /// Renames the file over `target` in its directory (the caller syncs the directory).
    ///
    /// # Errors
    /// An I/O error; the temporary file is then removed.
    pub fn place(mut self, target: &str) -> io::Result<()> {
        self.dir.rename(&self.name, &self.dir, target)?;
        self.name.clear();
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.name.is_empty() {
            let _ = self.dir.remove_file(&self.name);
        }
    }
}
