//! System (package) data: the read-only files of an owner's installed package.
//!
//! Linux has no Symbian software-install registry, so the package file list is a file:
//! `<c>/private/10202d56/import/packages/<sid>/files.txt`, one `<drive>:\path` per line
//! (`#` starts a comment). Only files that exist, are regular (symlinks are skipped) and
//! are read-only (no write bit) are system data — writable files belong to passive or
//! public backup (seed 004). Restore writes each file under a temporary name, renames it
//! into place and keeps its read-only mode; it never writes into another owner's cage.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::BytesMut;

use crate::confined::{Dir, Kind, TempFile};
use crate::passive::archive::{self, ArchiveDecoder, ArchiveError, ArchiveEvent};
use crate::registration::{CagePath, Drive, ENGINE_SID, Sid};

/// The package file list's name in a package directory.
pub const FILE_LIST: &str = "files.txt";

/// A system-data failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SystemError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line of the file list is not `<drive>:\path` inside the drive.
    #[error("file list line {line}: bad path {text:?}")]
    BadLine {
        /// 1-based line.
        line: usize,
        /// The text.
        text: String,
    },
    /// The stream is malformed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The stream names a path system data may not write (the reason).
    #[error("{0}")]
    Forbidden(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SystemError + '_ {
    move |source| SystemError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Returns the package directory of `sid` on drive `c`.
pub fn package_dir(c: &Drive, sid: Sid) -> PathBuf {
    c.cage(ENGINE_SID)
        .join("import")
        .join("packages")
        .join(sid.to_string())
}

/// Parses a package file list into (drive letter, path below the drive root).
///
/// # Errors
/// [`SystemError::BadLine`] for a line that is not `<letter>:\path` or would leave the
/// drive root.
pub fn parse_file_list(text: &str) -> Result<Vec<(char, CagePath)>, SystemError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let bad = || SystemError::BadLine {
            line: i + 1,
            text: line.to_owned(),
        };
        let (drive, rest) = line.split_once(':').ok_or_else(bad)?;
        let mut chars = drive.chars();
        let letter = match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_alphabetic() => c.to_ascii_lowercase(),
            _ => return Err(bad()),
        };
        let path = CagePath::parse_relative(rest)
            .filter(|p| !p.is_root())
            .ok_or_else(bad)?;
        out.push((letter, path));
    }
    Ok(out)
}

/// Which system (package) data a restore may write: the board profile's
/// `[backup] system_restore`. System data is written by root outside any cage, so a host
/// that may restore it may change the device's software; the default lets it only put
/// back the package files of owners that are installed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SystemRestore {
    /// `"off"`: a set with system data is refused.
    Off,
    /// `"installed"` (default): package files of owners that are registered now, under the
    /// system roots or in the owner's own cage; never a registration file or a package
    /// file list.
    #[default]
    Installed,
    /// `"any"`: also owners that are not installed (a package comes back with its
    /// registration and its package file list). For development and for boards whose
    /// hosts are trusted to install software.
    Any,
}

impl SystemRestore {
    /// Parses the profile value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "off" => Some(Self::Off),
            "installed" => Some(Self::Installed),
            "any" => Some(Self::Any),
            _ => None,
        }
    }
}

/// What system data may be restored and where (board profile `[backup]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemPolicy {
    /// Whose system data may come back at all.
    pub restore: SystemRestore,
    /// The top-level folders of a drive that hold package files (`system_roots`, default
    /// `["sys", "resource"]`); an owner's own cage is always allowed.
    pub roots: Vec<String>,
}

impl Default for SystemPolicy {
    fn default() -> Self {
        Self {
            restore: SystemRestore::default(),
            roots: vec!["sys".into(), "resource".into()],
        }
    }
}

fn is_registration_file(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("backup_registration") && n.ends_with(".xml")
}

impl SystemPolicy {
    /// Checks that system data of `sid` (registered now: `installed`) may write `path`.
    ///
    /// # Errors
    /// The reason it may not, for the host.
    pub fn check(&self, path: &CagePath, sid: Sid, installed: bool) -> Result<(), String> {
        match self.restore {
            SystemRestore::Off => {
                return Err(
                    "this device does not restore system data (system_restore = \"off\")".into(),
                );
            }
            SystemRestore::Installed if !installed => {
                return Err(format!(
                    "{sid} is not installed and this device restores system data only for installed owners (system_restore = \"installed\")"
                ));
            }
            _ => {}
        }
        let any = self.restore == SystemRestore::Any;
        let comps: Vec<&str> = path.components().collect();
        let allowed = match comps.as_slice() {
            [first, _, ..] if self.roots.iter().any(|r| first.eq_ignore_ascii_case(r)) => true,
            [private, engine, "import", "packages", pkg, _, ..]
                if private.eq_ignore_ascii_case("private") =>
            {
                any && *engine == ENGINE_SID.to_string() && *pkg == sid.to_string()
            }
            [private, cage, name]
                if private.eq_ignore_ascii_case("private") && *cage == sid.to_string() =>
            {
                any || !is_registration_file(name)
            }
            [private, cage, _, _, ..] if private.eq_ignore_ascii_case("private") => {
                *cage == sid.to_string()
            }
            _ => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "system data of {sid} may not write {path}: only under {} or in its own cage{}",
                self.roots.join(", "),
                if any {
                    ""
                } else {
                    " (never a registration or a package file list)"
                }
            ))
        }
    }
}

/// Writes the read-only files of `list` that are on `drive` to `sink`; returns how many.
/// Files are reached through the confined layer: a symbolic link on the way, or in place
/// of the file, is skipped like any file that is not regular.
///
/// # Errors
/// A [`SystemError`]; the stream is then incomplete.
pub fn capture_system(
    drive: &Drive,
    list: &[(char, CagePath)],
    sink: &mut impl crate::spool::SizedWrite,
) -> Result<usize, SystemError> {
    let root = Dir::open_root(&drive.root).map_err(io_err(&drive.root))?;
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    let mut count = 0;
    for (_, rel) in list.iter().filter(|(l, _)| *l == drive.letter) {
        let abs = root.display(rel.as_str());
        let Ok((mut file, meta)) = root.open_file(rel.as_str()) else {
            continue;
        };
        if meta.mode & 0o222 != 0 {
            continue;
        }
        archive::file_header(&mut out, rel, meta.size, meta.mtime_ns, meta.mode & 0o777);
        let exact = crate::passive::copy_exact(&mut file, meta.size, &mut out, sink, None)
            .map_err(|e| match e {
                crate::passive::CopyError::Read(source)
                | crate::passive::CopyError::Sink(source) => SystemError::Io {
                    path: abs.clone(),
                    source,
                },
            })?;
        if !exact {
            return Err(SystemError::Io {
                path: abs,
                source: std::io::Error::other("changed during capture"),
            });
        }
        count += 1;
    }
    archive::end(&mut out);
    sink.write_bytes(out.split().freeze())
        .map_err(io_err(&drive.root))?;
    Ok(count)
}

/// A system file being restored: its path, its temporary file, its owner and mode.
struct Pending {
    path: CagePath,
    tmp: TempFile,
    owner: (u32, u32),
    mode: u32,
}

/// Restores a system stream onto `drive`. Each file is written to a new
/// temporary file under a random name in its directory (created if missing, never through
/// a symbolic link), given the owner of the file it replaces (or of its directory) and a
/// read-only mode, and renamed into place.
///
/// # Errors
/// [`SystemError::Forbidden`] for a path `allowed` refuses (a [`SystemPolicy::check`];
/// nothing after it is written), or an I/O or stream error.
pub fn restore_system(
    drive: &Drive,
    allowed: &dyn Fn(&CagePath) -> Result<(), String>,
    temps: Option<&crate::recovery::TempLog>,
    stream: &mut dyn FnMut() -> Option<Result<bytes::Bytes, SystemError>>,
) -> Result<usize, SystemError> {
    let mut root: Option<Dir> = None;
    let mut decoder = ArchiveDecoder::new();
    let mut current: Option<Pending> = None;
    let mut count = 0;
    while let Some(block) = stream() {
        decoder.handle_input(&block?);
        while let Some(event) = decoder.poll_event()? {
            match event {
                ArchiveEvent::File { path, mode, .. } => {
                    allowed(&path).map_err(SystemError::Forbidden)?;
                    if root.is_none() {
                        root = Some(Dir::open_root(&drive.root).map_err(io_err(&drive.root))?);
                    }
                    if let Some(root) = &root {
                        if let Some(temps) = temps {
                            let dir = drive.root.join(path.parent().unwrap_or_default().as_str());
                            temps.note(&dir).map_err(io_err(&dir))?;
                        }
                        current = Some(prepare(root, path, mode)?);
                    }
                }
                ArchiveEvent::Data(bytes) => {
                    if let Some(p) = current.as_mut() {
                        let shown = drive.root.join(p.path.as_str());
                        p.tmp.file().write_all(&bytes).map_err(io_err(&shown))?;
                    }
                }
                ArchiveEvent::FileEnd => {
                    if let Some(p) = current.take() {
                        let shown = drive.root.join(p.path.as_str());
                        p.tmp
                            .commit(p.path.file_name(), p.mode & 0o555, Some(p.owner))
                            .map_err(io_err(&shown))?;
                        count += 1;
                    }
                }
                ArchiveEvent::Deleted(_) | ArchiveEvent::EmptyDir { .. } | ArchiveEvent::End => {}
            }
        }
    }
    decoder.finish()?;
    Ok(count)
}

/// Opens (creating if needed) the directory of `path` and a temporary file in it; the
/// file will belong to the owner of the regular file it replaces, or of the directory.
fn prepare(root: &Dir, path: CagePath, mode: u32) -> Result<Pending, SystemError> {
    let shown = root.display(path.as_str());
    let parent = path.parent().unwrap_or_default();
    let dir = root
        .create_dir_all(parent.as_str(), 0o755, None)
        .map_err(io_err(&shown))?;
    let existing = dir.stat(path.file_name()).map_err(io_err(&shown))?;
    let from = match existing {
        Some(m) if m.kind == Kind::File => m,
        _ => dir.meta().map_err(io_err(&shown))?,
    };
    let tmp = dir.create_temp(0o600).map_err(io_err(&shown))?;
    Ok(Pending {
        path,
        tmp,
        owner: (from.uid, from.gid),
        mode,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn cp(s: &str) -> CagePath {
        CagePath::parse_relative(s).expect("path")
    }

    #[test]
    fn file_list_lines_are_drive_paths_inside_the_root() {
        let list =
            parse_file_list("# package 1\nc:\\sys\\bin\\app\n\nE:/resource/app.rsc # icon\n")
                .expect("list");
        assert_eq!(
            list,
            vec![('c', cp("sys/bin/app")), ('e', cp("resource/app.rsc"))]
        );
        for bad in ["sys\\bin\\app", "c:\\..\\etc", "cc:\\x", "c:\\"] {
            assert!(
                matches!(
                    parse_file_list(bad),
                    Err(SystemError::BadLine { line: 1, .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn system_data_writes_only_under_the_roots_or_its_own_cage() {
        let me = Sid(0x1111_1111);
        let installed = SystemPolicy::default();
        let ok = |p: &SystemPolicy, path: &str, inst: bool| p.check(&cp(path), me, inst).is_ok();
        assert!(ok(&installed, "sys/bin/app", true));
        assert!(ok(&installed, "RESOURCE/app.rsc", true));
        assert!(ok(&installed, "private/11111111/app.bin", true));
        assert!(ok(&installed, "private/11111111/lib/x.so", true));
        for bad in [
            "etc/passwd",
            "sys",
            "private/11111111/backup_registration.xml",
            "private/11111111/Backup_Registration_2.XML",
            "private/10202d56/import/packages/11111111/files.txt",
            "private/22222222/data",
            "private/10202d56/other",
        ] {
            assert!(!ok(&installed, bad, true), "{bad}");
        }
        assert!(!ok(&installed, "sys/bin/app", false), "not installed");
        let any = SystemPolicy {
            restore: SystemRestore::Any,
            ..SystemPolicy::default()
        };
        assert!(ok(&any, "sys/bin/app", false));
        assert!(ok(&any, "private/11111111/backup_registration.xml", false));
        assert!(ok(
            &any,
            "private/10202d56/import/packages/11111111/files.txt",
            false
        ));
        assert!(!ok(
            &any,
            "private/10202d56/import/packages/22222222/files.txt",
            false
        ));
        assert!(!ok(&any, "private/22222222/data", false));
        assert!(!ok(&any, "etc/passwd", false));
        let off = SystemPolicy {
            restore: SystemRestore::Off,
            ..SystemPolicy::default()
        };
        let reason = off.check(&cp("sys/bin/app"), me, true).expect_err("off");
        assert!(reason.contains("system_restore"), "{reason}");
    }

    #[test]
    fn only_read_only_files_are_captured_and_they_restore_read_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Drive::new('c', dir.path().join("c"));
        let write = |rel: &str, data: &[u8], mode: u32| {
            let p = c.root.join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, data).expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
        };
        write("sys/bin/app", b"binary", 0o555);
        write("resource/app.rsc", b"writable", 0o644);
        let list = parse_file_list("c:\\sys\\bin\\app\nc:\\resource\\app.rsc\nc:\\missing\n")
            .expect("list");
        let mut stream = Vec::new();
        assert_eq!(capture_system(&c, &list, &mut stream).expect("capture"), 1);

        std::fs::remove_file(c.root.join("sys/bin/app")).expect("rm");
        let mut once = Some(Ok(bytes::Bytes::from(stream)));
        let policy = SystemPolicy::default();
        let allowed = |p: &CagePath| policy.check(p, Sid(1), true);
        let restored = restore_system(&c, &allowed, None, &mut || once.take()).expect("restore");
        assert_eq!(restored, 1);
        let meta = std::fs::metadata(c.root.join("sys/bin/app")).expect("restored");
        assert_eq!(meta.permissions().mode() & 0o777, 0o555);
        assert_eq!(
            std::fs::read(c.root.join("sys/bin/app")).expect("read"),
            b"binary"
        );
    }

    #[test]
    fn restore_refuses_a_foreign_cage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Drive::new('c', dir.path().join("c"));
        let mut out = BytesMut::new();
        archive::begin(&mut out);
        archive::file_header(&mut out, &cp("private/22222222/data"), 1, 0, 0o444);
        out.extend_from_slice(b"x");
        archive::end(&mut out);
        let mut once = Some(Ok(out.freeze()));
        assert!(matches!(
            restore_system(
                &c,
                &|p| SystemPolicy::default().check(p, Sid(0x1111_1111), true),
                None,
                &mut || once.take()
            ),
            Err(SystemError::Forbidden(_))
        ));
        assert!(!c.root.join("private/22222222/data").exists());
    }
}
