//! Public files: files outside cages that an owner declares with `<public_backup>`.
//!
//! Paths are relative to a drive's root. An include applies to a drive when it names that
//! drive's letter or `!:` (the drive being processed). The top-level `private`, `sys`,
//! `system` and `resource` directories are never public, symlinks are never followed, and
//! restore writes each file to a temporary name next to it and renames it into place.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bytes::BytesMut;

use crate::passive::archive::{self, ArchiveDecoder, ArchiveError, ArchiveEvent};
use crate::registration::{CagePath, Drive, DriveSpec, PublicBackup, PublicPath, Selection};

/// A public-file failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublicError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The stream is malformed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A file changed while it was copied.
    #[error("{}: changed during capture", .0.display())]
    Changed(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PublicError + '_ {
    move |source| PublicError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One listed public file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicEntry {
    /// Path relative to the drive root.
    pub path: CagePath,
    /// Size in bytes.
    pub size: u64,
    /// Modification time (ns since the epoch).
    pub mtime_ns: i64,
}

fn on_drive(p: &PublicPath, letter: char) -> bool {
    match p.drive {
        DriveSpec::Current => true,
        DriveSpec::Letter(l) => l == letter,
    }
}

fn never_public(path: &CagePath) -> bool {
    path.components().next().is_some_and(|c| {
        ["private", "sys", "system", "resource"]
            .iter()
            .any(|n| c.eq_ignore_ascii_case(n))
    })
}

/// Returns true if `path` on drive `letter` is selected by the public rules.
pub fn is_public_selected(path: &CagePath, letter: char, public: &PublicBackup) -> bool {
    if path.is_root() || never_public(path) {
        return false;
    }
    let included = public.includes.iter().any(|inc| match inc {
        Selection::File(p) => on_drive(p, letter) && p.path == *path,
        Selection::Directory(p) => on_drive(p, letter) && p.path.contains(path),
    });
    included
        && !public
            .excludes
            .iter()
            .any(|ex| on_drive(ex, letter) && ex.path.contains(path))
}

/// Lists the public files of `public` on `drive` (Symbian `PublicFileListL`).
///
/// # Errors
/// An I/O error other than "not found" while walking.
pub fn public_file_list(
    drive: &Drive,
    public: &PublicBackup,
) -> Result<Vec<PublicEntry>, PublicError> {
    let mut found = BTreeMap::new();
    for include in &public.includes {
        let p = include.path();
        if on_drive(p, drive.letter) {
            visit(drive, &p.path, public, &mut found)?;
        }
    }
    Ok(found.into_values().collect())
}

fn visit(
    drive: &Drive,
    rel: &CagePath,
    public: &PublicBackup,
    out: &mut BTreeMap<CagePath, PublicEntry>,
) -> Result<(), PublicError> {
    let abs = if rel.is_root() {
        drive.root.clone()
    } else {
        drive.root.join(rel.as_str())
    };
    let meta = match std::fs::symlink_metadata(&abs) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(&abs)(e)),
    };
    if meta.is_file() {
        if is_public_selected(rel, drive.letter, public) {
            let mtime_ns = crate::passive::mtime_ns(&meta);
            out.insert(
                rel.clone(),
                PublicEntry {
                    path: rel.clone(),
                    size: meta.len(),
                    mtime_ns,
                },
            );
        }
    } else if meta.is_dir() && !never_public(rel) {
        let mut names: Vec<String> = std::fs::read_dir(&abs)
            .map_err(io_err(&abs))?
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
        names.sort();
        for name in names {
            if let Some(child) = rel.join(&name) {
                visit(drive, &child, public, out)?;
            }
        }
    }
    Ok(())
}

/// Writes every listed public file of `drive` to `sink` (passive stream format, paths
/// relative to the drive root). Returns the entries written.
///
/// # Errors
/// A [`PublicError`]; the stream is then incomplete.
pub fn capture_public(
    drive: &Drive,
    public: &PublicBackup,
    sink: &mut impl crate::spool::SizedWrite,
) -> Result<Vec<PublicEntry>, PublicError> {
    let entries = public_file_list(drive, public)?;
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    for entry in &entries {
        let abs = drive.root.join(entry.path.as_str());
        let mut file = File::open(&abs).map_err(io_err(&abs))?;
        let mode = file.metadata().map_err(io_err(&abs))?.permissions().mode() & 0o777;
        archive::file_header(&mut out, &entry.path, entry.size, entry.mtime_ns, mode);
        let exact = crate::passive::copy_exact(&mut file, entry.size, &mut out, sink, None)
            .map_err(|e| match e {
                crate::passive::CopyError::Read(source)
                | crate::passive::CopyError::Sink(source) => PublicError::Io {
                    path: abs.clone(),
                    source,
                },
            })?;
        if !exact {
            return Err(PublicError::Changed(abs));
        }
    }
    archive::end(&mut out);
    sink.write_bytes(out.split().freeze())
        .map_err(io_err(&drive.root))?;
    Ok(entries)
}

/// Gives a replacement file the owner of the file it replaces, or of the directory it
/// lands in (a root engine would otherwise leave it owned by root).
pub(crate) fn inherit_owner(tmp: &Path, target: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let from = match std::fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(_) => std::fs::metadata(target.parent().unwrap_or(Path::new("/")))?,
    };
    let tmp_meta = std::fs::symlink_metadata(tmp)?;
    if (tmp_meta.uid(), tmp_meta.gid()) != (from.uid(), from.gid()) {
        std::os::unix::fs::lchown(tmp, Some(from.uid()), Some(from.gid()))?;
    }
    Ok(())
}

/// Restores a public stream onto `drive`: each selected file is written to a temporary
/// name and renamed into place; files the rules do not select are skipped and returned.
#[derive(Debug)]
pub struct PublicRestore {
    drive: Drive,
    public: PublicBackup,
    decoder: ArchiveDecoder,
    current: Option<(PathBuf, PathBuf, File)>,
    skipped: Vec<CagePath>,
}

impl PublicRestore {
    /// Starts a restore onto `drive`.
    pub fn new(drive: &Drive, public: &PublicBackup) -> Self {
        Self {
            drive: drive.clone(),
            public: public.clone(),
            decoder: ArchiveDecoder::new(),
            current: None,
            skipped: Vec::new(),
        }
    }

    /// Feeds raw unit bytes.
    ///
    /// # Errors
    /// A [`PublicError`] for a malformed stream or a write failure.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), PublicError> {
        self.decoder.handle_input(data);
        while let Some(event) = self.decoder.poll_event()? {
            match event {
                ArchiveEvent::File { path, mode, .. } => {
                    if !is_public_selected(&path, self.drive.letter, &self.public) {
                        self.skipped.push(path);
                        continue;
                    }
                    let target = self.drive.root.join(path.as_str());
                    let dir = target.parent().unwrap_or(&self.drive.root).to_owned();
                    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
                    let tmp = dir.join(format!(
                        ".{}.restore-tmp",
                        path.components().last().unwrap_or("file")
                    ));
                    let file = File::create(&tmp).map_err(io_err(&tmp))?;
                    file.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))
                        .map_err(io_err(&tmp))?;
                    self.current = Some((tmp, target, file));
                }
                ArchiveEvent::Data(bytes) => {
                    if let Some((tmp, _, file)) = self.current.as_mut() {
                        file.write_all(&bytes).map_err(io_err(tmp))?;
                    }
                }
                ArchiveEvent::FileEnd => {
                    if let Some((tmp, target, file)) = self.current.take() {
                        file.sync_all().map_err(io_err(&tmp))?;
                        inherit_owner(&tmp, &target).map_err(io_err(&target))?;
                        std::fs::rename(&tmp, &target).map_err(io_err(&target))?;
                    }
                }
                ArchiveEvent::Deleted(_) | ArchiveEvent::End => {}
            }
        }
        Ok(())
    }

    /// Checks the stream ended; returns the skipped paths.
    ///
    /// # Errors
    /// [`PublicError::Archive`] if the stream was truncated.
    pub fn finish(mut self) -> Result<Vec<CagePath>, PublicError> {
        self.decoder.finish()?;
        Ok(std::mem::take(&mut self.skipped))
    }
}

impl Drop for PublicRestore {
    fn drop(&mut self) {
        if let Some((tmp, _, _)) = self.current.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registration::{FileRole, Sid, parse_registration};

    fn public(body: &str) -> PublicBackup {
        let xml = format!(
            "<backup_registration><public_backup>{body}</public_backup></backup_registration>"
        );
        parse_registration(&xml, Sid(1), FileRole::Primary)
            .expect("parses")
            .public
            .expect("public")
    }

    fn write(path: &Path, data: &[u8]) {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, data).expect("write");
    }

    #[test]
    fn listing_follows_drive_letters_current_drive_and_excludes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Drive::new('c', dir.path().join("c"));
        let e = Drive::new('e', dir.path().join("e"));
        for d in [&c, &e] {
            write(&d.root.join("public/app/a.txt"), b"a");
            write(&d.root.join("public/app/junk/b.txt"), b"b");
            write(&d.root.join("shared/notes.txt"), b"n");
            write(&d.root.join("private/00000001/secret"), b"s");
        }
        let p = public(
            r#"<include_directory name="c:\public\app\"/><include_file name="!:\shared\notes.txt"/>
            <exclude name="c:\public\app\junk"/>"#,
        );
        let names = |d: &Drive| -> Vec<String> {
            public_file_list(d, &p)
                .expect("list")
                .iter()
                .map(|e| e.path.to_string())
                .collect()
        };
        assert_eq!(names(&c), vec!["public/app/a.txt", "shared/notes.txt"]);
        assert_eq!(names(&e), vec!["shared/notes.txt"]);
    }

    #[test]
    fn cages_are_never_public_even_under_a_root_include() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Drive::new('c', dir.path().join("c"));
        write(&c.root.join("private/00000001/secret"), b"s");
        write(&c.root.join("sys/bin/x"), b"x");
        write(&c.root.join("docs/readme"), b"r");
        std::os::unix::fs::symlink(c.root.join("private"), c.root.join("docs/link"))
            .expect("symlink");
        let p = public(r#"<include_directory name="c:\"/>"#);
        let listed: Vec<String> = public_file_list(&c, &p)
            .expect("list")
            .iter()
            .map(|e| e.path.to_string())
            .collect();
        assert_eq!(listed, vec!["docs/readme"]);
    }

    #[test]
    fn restored_public_files_keep_their_owner_or_take_their_directory_owner() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Drive::new('c', dir.path().join("c"));
        write(&c.root.join("public/app/old.txt"), b"old");
        write(&c.root.join("public/app/new.txt"), b"new");
        let p = public(r#"<include_directory name="c:\public\app\"/>"#);
        let mut stream = Vec::new();
        capture_public(&c, &p, &mut stream).expect("capture");
        std::fs::remove_file(c.root.join("public/app/new.txt")).expect("rm");
        let chown = |rel: &str, id| std::os::unix::fs::chown(c.root.join(rel), Some(id), Some(id));
        if chown("public/app", 4242).is_err() || chown("public/app/old.txt", 4243).is_err() {
            eprintln!("not root: ownership cannot be tested");
            return;
        }
        let mut r = PublicRestore::new(&c, &p);
        r.feed(&stream).expect("feed");
        r.finish().expect("finish");
        let uid = |rel: &str| std::fs::metadata(c.root.join(rel)).expect(rel).uid();
        assert_eq!(
            uid("public/app/old.txt"),
            4243,
            "replaced file keeps its owner"
        );
        assert_eq!(
            uid("public/app/new.txt"),
            4242,
            "new file takes its directory's owner"
        );
    }

    #[test]
    fn captured_public_files_restore_in_place_and_foreign_paths_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Drive::new('c', dir.path().join("c"));
        write(&c.root.join("public/app/a.txt"), b"original");
        let p = public(r#"<include_directory name="c:\public\app\"/>"#);
        let mut stream = Vec::new();
        assert_eq!(
            capture_public(&c, &p, &mut stream).expect("capture").len(),
            1
        );
        write(&c.root.join("public/app/a.txt"), b"changed");
        let mut r = PublicRestore::new(&c, &p);
        for piece in stream.chunks(5) {
            r.feed(piece).expect("feed");
        }
        assert!(r.finish().expect("finish").is_empty());
        assert_eq!(
            std::fs::read(c.root.join("public/app/a.txt")).expect("read"),
            b"original"
        );

        let mut evil = BytesMut::new();
        archive::begin(&mut evil);
        let target = CagePath::parse_relative("etc/passwd").expect("path");
        archive::file_header(&mut evil, &target, 1, 0, 0o644);
        evil.extend_from_slice(b"x");
        archive::end(&mut evil);
        let mut r = PublicRestore::new(&c, &p);
        r.feed(&evil).expect("feed");
        assert_eq!(r.finish().expect("finish"), vec![target]);
        assert!(!c.root.join("etc/passwd").exists());
    }
}
