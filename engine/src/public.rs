//! Public files: files outside cages that an owner declares with `<public_backup>`.
//!
//! Paths are relative to a drive's root. An include applies to a drive when it names that
//! drive's letter or `!:` (the drive being processed). The top-level `private`, `sys`,
//! `system` and `resource` directories are never public, symlinks are never followed, and
//! restore writes each file to a temporary name next to it ([`StagedFile`]) and renames
//! it into place when the owner's restore is committed (`crate::commit`).
//!
//! Public files lie outside cages, in folders that other owners and users share, so the
//! engine lists, reads and writes them with the owner's own identity
//! ([`crate::confined::identity::as_user`]) through the confined layer: an owner can back
//! up and restore exactly the public files it could read and write itself. A restored
//! file belongs to the owner.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use serde::{Deserialize, Serialize};

use crate::confined::identity::{Identity, as_user};
use crate::confined::{Dir, Kind, TempFile};
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

/// Lists the public files of `public` on `drive` (Symbian `PublicFileListL`), as the
/// owner `owner` sees them.
///
/// # Errors
/// An I/O error other than "not found" while walking, a symbolic link on the way to an
/// include, or a failed identity switch.
pub fn public_file_list(
    drive: &Drive,
    public: &PublicBackup,
    owner: Identity,
) -> Result<Vec<PublicEntry>, PublicError> {
    as_user(owner, || {
        let root = Dir::open_root(&drive.root).map_err(io_err(&drive.root))?;
        let mut found = BTreeMap::new();
        for include in &public.includes {
            let p = include.path();
            if on_drive(p, drive.letter) {
                visit(&root, drive.letter, &p.path, public, &mut found)?;
            }
        }
        Ok(found.into_values().collect())
    })
    .map_err(io_err(&drive.root))?
}

fn visit(
    root: &Dir,
    letter: char,
    rel: &CagePath,
    public: &PublicBackup,
    out: &mut BTreeMap<CagePath, PublicEntry>,
) -> Result<(), PublicError> {
    let shown = root.display(rel.as_str());
    let Some(meta) = root.stat(rel.as_str()).map_err(io_err(&shown))? else {
        return Ok(());
    };
    if meta.kind == Kind::File {
        if is_public_selected(rel, letter, public) {
            out.insert(
                rel.clone(),
                PublicEntry {
                    path: rel.clone(),
                    size: meta.size,
                    mtime_ns: meta.mtime_ns,
                },
            );
        }
    } else if meta.kind == Kind::Dir && !never_public(rel) {
        let dir = root.open_dir(rel.as_str()).map_err(io_err(&shown))?;
        for entry in dir.entries().map_err(io_err(&shown))? {
            if !matches!(entry.kind, Kind::File | Kind::Dir) {
                continue;
            }
            if let Some(child) = rel.join_name(&entry.name) {
                visit(root, letter, &child, public, out)?;
            }
        }
    }
    Ok(())
}

/// Writes every listed public file of `drive` to `sink` (passive stream format, paths
/// relative to the drive root), each opened with the owner's identity. Returns the
/// entries written.
///
/// # Errors
/// A [`PublicError`]; the stream is then incomplete.
pub fn capture_public(
    drive: &Drive,
    public: &PublicBackup,
    owner: Identity,
    sink: &mut impl crate::spool::SizedWrite,
) -> Result<Vec<PublicEntry>, PublicError> {
    let entries = public_file_list(drive, public, owner)?;
    let root = Dir::open_root(&drive.root).map_err(io_err(&drive.root))?;
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    for entry in &entries {
        let abs = root.display(entry.path.as_str());
        let (mut file, meta) = as_user(owner, || root.open_file(entry.path.as_str()))
            .and_then(|r| r)
            .map_err(io_err(&abs))?;
        if meta.size != entry.size {
            return Err(PublicError::Changed(abs));
        }
        archive::file_header(
            &mut out,
            &entry.path,
            entry.size,
            entry.mtime_ns,
            meta.mode & 0o777,
        );
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

/// Restores a public stream onto `drive` with the owner's identity: each selected file is
/// written to a new temporary file under a random name in its directory, made durable
/// and returned staged ([`StagedFile`]), to be renamed into place by the owner's commit;
/// files the rules do not select are skipped and returned.
#[derive(Debug)]
pub struct PublicRestore {
    drive: Drive,
    public: PublicBackup,
    owner: Identity,
    decoder: ArchiveDecoder,
    current: Option<(CagePath, TempFile, u32)>,
    staged: Vec<StagedFile>,
    skipped: Vec<CagePath>,
    temps: Option<crate::recovery::TempLog>,
}

/// What a public restore leaves for its owner's commit.
#[derive(Debug)]
pub struct PublicStaged {
    /// The files, durable under their temporary names.
    pub files: Vec<StagedFile>,
    /// The paths the rules do not select (not written).
    pub skipped: Vec<CagePath>,
}

/// A restored public file, durable under a temporary name next to its target; dropped
/// without [`StagedFile::apply`], the temporary file is removed.
#[derive(Debug)]
pub struct StagedFile {
    tmp: TempFile,
    target: String,
    root: PathBuf,
    dir: String,
    owner: Identity,
}

/// What a commit journal records of a staged public file: enough to place it after a
/// power cut ([`finish_commit`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// The drive's root.
    pub root: PathBuf,
    /// The file's folder, relative to the root.
    pub dir: String,
    /// The temporary name.
    pub temp: String,
    /// The final name.
    pub name: String,
    /// The owner (user and group) the rename is done as.
    pub owner: (u32, u32),
}

impl StagedFile {
    /// Returns what the commit journal records of it.
    pub fn record(&self) -> FileRecord {
        FileRecord {
            root: self.root.clone(),
            dir: self.dir.clone(),
            temp: self.tmp.name().to_owned(),
            name: self.target.clone(),
            owner: (self.owner.uid, self.owner.gid),
        }
    }

    /// The folder it is in (synced by the commit before the journal is written).
    pub fn folder(&self) -> &Dir {
        self.tmp.dir()
    }

    /// Renames it over its target, as its owner (in a shared, sticky folder the owner may
    /// replace only what it could replace itself). The caller syncs the folder.
    ///
    /// # Errors
    /// An I/O error; the temporary file is then removed.
    pub fn apply(self) -> std::io::Result<()> {
        let Self {
            tmp, target, owner, ..
        } = self;
        as_user(owner, || tmp.place(&target)).and_then(|r| r)
    }
}

/// Places a staged public file after a power cut, as its owner, reaching its folder from
/// the drive's root without following a link; a temporary file that is gone was placed
/// already.
///
/// # Errors
/// An I/O error.
pub fn finish_commit(record: &FileRecord) -> std::io::Result<()> {
    let owner = Identity::new(record.owner.0, record.owner.1);
    as_user(owner, || {
        let dir = Dir::open_root(&record.root)?.open_dir(&record.dir)?;
        match dir.stat(&record.temp)? {
            Some(m) if m.kind == Kind::File => {
                dir.rename(&record.temp, &dir, &record.name)?;
                dir.sync()
            }
            _ => Ok(()),
        }
    })
    .and_then(|r| r)
}

impl PublicRestore {
    /// Starts a restore onto `drive` for the owner `owner`.
    pub fn new(drive: &Drive, public: &PublicBackup, owner: Identity) -> Self {
        Self {
            drive: drive.clone(),
            public: public.clone(),
            owner,
            decoder: ArchiveDecoder::new(),
            current: None,
            staged: Vec::new(),
            skipped: Vec::new(),
            temps: None,
        }
    }

    /// Notes every folder a temporary file is created in first (`crate::recovery`).
    #[must_use]
    pub fn noting_temps(mut self, temps: crate::recovery::TempLog) -> Self {
        self.temps = Some(temps);
        self
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
                    let tmp = self.create_temp(&path)?;
                    self.current = Some((path, tmp, mode));
                }
                ArchiveEvent::Data(bytes) => {
                    if let Some((path, tmp, _)) = self.current.as_mut() {
                        tmp.file()
                            .write_all(&bytes)
                            .map_err(io_err(&self.drive.root.join(path.as_str())))?;
                    }
                }
                ArchiveEvent::FileEnd => {
                    if let Some((path, mut tmp, mode)) = self.current.take() {
                        let target = self.drive.root.join(path.as_str());
                        as_user(self.owner, || tmp.prepare(mode & 0o777, None))
                            .and_then(|r| r)
                            .map_err(io_err(&target))?;
                        self.staged.push(StagedFile {
                            tmp,
                            target: path.file_name().to_owned(),
                            root: self.drive.root.clone(),
                            dir: path.parent().unwrap_or_default().as_str().to_owned(),
                            owner: self.owner,
                        });
                    }
                }
                ArchiveEvent::Deleted(_) | ArchiveEvent::EmptyDir { .. } | ArchiveEvent::End => {}
            }
        }
        Ok(())
    }

    /// Creates the directories of `path` and a temporary file next to it, as the owner.
    fn create_temp(&self, path: &CagePath) -> Result<TempFile, PublicError> {
        let target = self.drive.root.join(path.as_str());
        let parent = path.parent().unwrap_or_default();
        if let Some(temps) = &self.temps {
            temps
                .note(&self.drive.root.join(parent.as_str()))
                .map_err(io_err(&target))?;
        }
        as_user(self.owner, || {
            let root = Dir::open_root(&self.drive.root)?;
            root.create_dir_all(parent.as_str(), 0o755, None)?
                .create_temp(0o600)
        })
        .and_then(|r| r)
        .map_err(io_err(&target))
    }

    /// Checks the stream ended; returns the staged files and the skipped paths.
    ///
    /// # Errors
    /// [`PublicError::Archive`] if the stream was truncated (the staged files are then
    /// removed).
    pub fn finish(mut self) -> Result<PublicStaged, PublicError> {
        self.decoder.finish()?;
        Ok(PublicStaged {
            files: std::mem::take(&mut self.staged),
            skipped: std::mem::take(&mut self.skipped),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registration::{FileRole, Sid, parse_registration};

    /// The test's own identity: the owner when the tests do not run as root.
    fn me() -> Identity {
        Identity::new(
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        )
    }

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

    /// Puts staged files in place (what the owner's commit does).
    fn apply(staged: PublicStaged) {
        for f in staged.files {
            f.apply().expect("apply");
        }
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
            public_file_list(d, &p, me())
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
        let listed: Vec<String> = public_file_list(&c, &p, me())
            .expect("list")
            .iter()
            .map(|e| e.path.to_string())
            .collect();
        assert_eq!(listed, vec!["docs/readme"]);
    }

    #[test]
    fn public_files_are_restored_with_the_owners_identity() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Drive::new('c', dir.path().join("c"));
        write(&c.root.join("public/app/old.txt"), b"old");
        write(&c.root.join("public/app/new.txt"), b"new");
        let p = public(r#"<include_directory name="c:\public\app\"/>"#);
        let mut stream = Vec::new();
        capture_public(&c, &p, me(), &mut stream).expect("capture");
        std::fs::remove_file(c.root.join("public/app/new.txt")).expect("rm");
        let chown = |rel: &str, id| std::os::unix::fs::chown(c.root.join(rel), Some(id), Some(id));
        if chown("public/app", 4242).is_err() || chown("public/app/old.txt", 4243).is_err() {
            eprintln!("NOT ROOT: restoring as the owner cannot be tested (runs as root in CI)");
            return;
        }
        for d in [dir.path(), &c.root, &c.root.join("public")] {
            std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .expect("chmod");
        }
        let mut r = PublicRestore::new(&c, &p, Identity::new(4242, 4242));
        r.feed(&stream).expect("feed");
        apply(r.finish().expect("finish"));
        for rel in ["public/app/old.txt", "public/app/new.txt"] {
            let m = std::fs::metadata(c.root.join(rel)).expect(rel);
            assert_eq!(
                (m.uid(), m.gid()),
                (4242, 4242),
                "{rel} belongs to the owner"
            );
        }
        assert_eq!(
            std::fs::read(c.root.join("public/app/new.txt")).expect("new"),
            b"new"
        );
        // In a folder the owner cannot write, nothing is restored.
        chown("public/app", 0).expect("chown");
        let mut r = PublicRestore::new(&c, &p, Identity::new(4242, 4242));
        let err = r.feed(&stream).expect_err("the owner may not write there");
        assert!(err.to_string().contains("ermission denied"), "{err}");
    }

    #[test]
    fn captured_public_files_restore_in_place_and_foreign_paths_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Drive::new('c', dir.path().join("c"));
        write(&c.root.join("public/app/a.txt"), b"original");
        let p = public(r#"<include_directory name="c:\public\app\"/>"#);
        let mut stream = Vec::new();
        assert_eq!(
            capture_public(&c, &p, me(), &mut stream)
                .expect("capture")
                .len(),
            1
        );
        write(&c.root.join("public/app/a.txt"), b"changed");
        let mut r = PublicRestore::new(&c, &p, me());
        for piece in stream.chunks(5) {
            r.feed(piece).expect("feed");
        }
        let staged = r.finish().expect("finish");
        assert!(staged.skipped.is_empty());
        assert_eq!(
            std::fs::read(c.root.join("public/app/a.txt")).expect("read"),
            b"changed",
            "nothing is in place before the commit"
        );
        apply(staged);
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
        let mut r = PublicRestore::new(&c, &p, me());
        r.feed(&evil).expect("feed");
        assert_eq!(r.finish().expect("finish").skipped, vec![target]);
        assert!(!c.root.join("etc/passwd").exists());
    }
}
