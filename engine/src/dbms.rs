//! DBMS data: the SQLite databases an owner registers with `<dbms_backup policy=…/>`.
//!
//! Mapping (documented in `docs/engine.md`): the databases of policy `P` are the files
//! ending in `.db` or `.sqlite` directly in `<cage>/dbms/<P as 8 hex digits>/`. Backup
//! copies each one with SQLite's online backup API inside one read transaction on the
//! source, so the copy is a consistent snapshot even while the owner has it open; the copies travel in the passive
//! stream format (paths relative to the cage). Restore writes each copy to a scratch file
//! the owner cannot reach, checks it is an SQLite database, and puts it as a whole file
//! into the staging copy of the cage that the passive restore fills
//! ([`crate::passive::PassiveRestore::place_file`]), without the old database's journal or
//! WAL: the owner's databases then change with the rest of its cage, in one commit
//! (`crate::commit`), and a power cut leaves the old databases or the new ones.
//!
//! SQLite opens a database's journal, WAL and shared-memory files by path, next to the
//! database, and a hot journal is played back into the database on open. In an owner's
//! cage every one of those names is the owner's to plant, so the engine opens the owner's
//! databases only with the owner's identity ([`crate::confined::identity::as_user`]): it
//! can then read and write exactly what the owner could. The scratch side (root-only) is
//! opened before the switch and used through its open descriptor.
//!
//! Because those names are the owner's, so is what answers a read of them: a file system
//! the owner mounted there (FUSE) could hold a read forever. Every SQLite call on an
//! owner's database therefore runs on a thread of its own, copying [`PAGES_PER_STEP`]
//! pages at a time, and is given up after [`STALL`] without a step
//! ([`crate::confined::watch::run_watched`]): the owner fails alone.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};

use crate::confined::identity::{Identity, as_user};
use crate::confined::watch::{Progress, run_watched};
use crate::confined::{Dir, Kind, TempFile};
use crate::passive::PassiveRestore;
use crate::passive::archive::{self, ArchiveDecoder, ArchiveError, ArchiveEvent};
use crate::registration::{CagePath, DbmsPolicy};

/// The cage directory that holds DBMS databases (never part of passive selections).
pub const DBMS_DIR: &str = "dbms";

/// Pages copied per backup step (4 MiB with SQLite's default 4 KiB pages).
pub const PAGES_PER_STEP: std::ffi::c_int = 1024;

/// How long a copy may go without finishing a step before it is given up.
pub const STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// A DBMS backup or restore failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbmsError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("{}: {source}", path.display())]
    Sqlite {
        /// The database.
        path: PathBuf,
        /// The error.
        source: rusqlite::Error,
    },
    /// The stream is malformed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The stream names a path that is not a database of a registered policy.
    #[error("{0} is not a database of a registered policy")]
    NotADatabase(String),
    /// A database could not be put into the staging copy of the cage.
    #[error("{0}")]
    Staging(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DbmsError + '_ {
    move |source| DbmsError::Io {
        path: path.to_owned(),
        source,
    }
}

fn sql_err(path: &Path) -> impl FnOnce(rusqlite::Error) -> DbmsError + '_ {
    move |source| DbmsError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

/// Returns the cage path of a policy's database directory.
pub fn policy_dir(policy: DbmsPolicy) -> CagePath {
    CagePath::parse_relative(&format!("{DBMS_DIR}/{:08x}", policy.0)).unwrap_or_default()
}

/// Returns true if `path` names a database of one of `policies`.
pub fn is_database(path: &CagePath, policies: &[DbmsPolicy]) -> bool {
    let comps: Vec<&str> = path.components().collect();
    let [dir, policy, name] = comps.as_slice() else {
        return false;
    };
    *dir == DBMS_DIR
        && policies.iter().any(|p| format!("{:08x}", p.0) == *policy)
        && (name.ends_with(".db") || name.ends_with(".sqlite"))
}

/// Lists the databases of `policies` in a cage with their sizes (sorted; symbolic links
/// and anything but regular files ignored; a policy directory reached through a link is
/// an error).
///
/// # Errors
/// An I/O error other than a missing directory.
pub fn list_databases(
    cage: &Dir,
    policies: &[DbmsPolicy],
) -> Result<Vec<(CagePath, u64)>, DbmsError> {
    let mut out = Vec::new();
    for policy in policies {
        let rel = policy_dir(*policy);
        let dir = match cage.open_dir(rel.as_str()) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&cage.display(rel.as_str()))(e)),
        };
        for entry in dir.entries().map_err(io_err(dir.path()))? {
            let Some(path) = rel.join_name(&entry.name) else {
                continue;
            };
            if entry.kind != Kind::File || !is_database(&path, policies) {
                continue;
            }
            if let Some(meta) = cage.stat(path.as_str()).map_err(io_err(dir.path()))? {
                out.push((path, meta.size));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Opens a cage and returns it with its owner.
fn open_cage(cage: &Path) -> Result<(Dir, Identity), DbmsError> {
    let dir = Dir::open_leaf(cage).map_err(io_err(cage))?;
    let meta = dir.meta().map_err(io_err(cage))?;
    Ok((dir, Identity::new(meta.uid, meta.gid)))
}

/// Writes a consistent copy of every database of `policies` to `sink` (passive stream
/// format). `scratch` is a root-only directory for the temporary copies.
///
/// # Errors
/// A [`DbmsError`]; the stream is then incomplete.
pub fn capture_dbms(
    cage: &Path,
    policies: &[DbmsPolicy],
    scratch: &Path,
    sink: &mut impl crate::spool::SizedWrite,
) -> Result<usize, DbmsError> {
    let (dir, owner) = open_cage(cage)?;
    let databases = list_databases(&dir, policies)?;
    let scratch = scratch_dir(scratch)?;
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    for (rel, _) in &databases {
        let source = cage.join(rel.as_str());
        let mut copy = scratch.create_temp(0o600).map_err(io_err(scratch.path()))?;
        let copy_path = scratch.display(copy.name());
        online_copy(&source, owner, &copy_path)?;
        let file = copy.file();
        let size = file.metadata().map_err(io_err(&copy_path))?.len();
        archive::file_header(&mut out, rel, size, 0, 0o600);
        let copied = crate::passive::copy_exact(file, size, &mut out, sink, None);
        match copied {
            Ok(true) => {}
            Ok(false) => return Err(io_err(&copy_path)(std::io::Error::other("copy changed"))),
            Err(crate::passive::CopyError::Read(e) | crate::passive::CopyError::Sink(e)) => {
                return Err(io_err(&source)(e));
            }
        }
    }
    archive::end(&mut out);
    sink.write_bytes(out.split().freeze())
        .map_err(io_err(cage))?;
    Ok(databases.len())
}

/// Creates (0700) and opens the scratch directory.
fn scratch_dir(scratch: &Path) -> Result<Dir, DbmsError> {
    let mut builder = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(builder.recursive(true), 0o700)
        .create(scratch)
        .map_err(io_err(scratch))?;
    let dir = Dir::open_root(scratch).map_err(io_err(scratch))?;
    dir.chmod(0o700).map_err(io_err(scratch))?;
    Ok(dir)
}

/// Copies the owner's database `from` into the new scratch file `to` (a consistent
/// snapshot: one read transaction on the source around every step). The copy is opened
/// first, as the engine, without a journal; the owner's database is opened and read with
/// the owner's identity, on a watched thread.
fn online_copy(from: &Path, owner: Identity, to: &Path) -> Result<(), DbmsError> {
    let (from, to) = (from.to_owned(), to.to_owned());
    let shown = from.clone();
    run_watched(&shown, STALL, move |progress| {
        let mut dst = Connection::open(&to).map_err(sql_err(&to))?;
        dst.execute_batch("PRAGMA journal_mode = OFF; PRAGMA locking_mode = EXCLUSIVE;")
            .map_err(sql_err(&to))?;
        as_user(owner, || {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NOFOLLOW;
            let src = Connection::open_with_flags(&from, flags).map_err(sql_err(&from))?;
            src.execute_batch("BEGIN")
                .and_then(|()| src.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(())))
                .map_err(sql_err(&from))?;
            copy_pages(&src, &mut dst, progress).map_err(sql_err(&from))
        })
        .map_err(io_err(&from))?
    })
    .map_err(io_err(&shown))?
}

/// Copies every page of `src` into `dst` with the backup API, [`PAGES_PER_STEP`] at a
/// time, ticking `progress` after each step. `dst` is replaced in one transaction.
fn copy_pages(src: &Connection, dst: &mut Connection, progress: &Progress) -> rusqlite::Result<()> {
    use rusqlite::backup::StepResult;
    let backup = Backup::new(src, dst)?;
    loop {
        match backup.step(PAGES_PER_STEP)? {
            StepResult::Done => return Ok(()),
            StepResult::More => progress.tick(),
            // Someone holds a lock: wait; the watch gives up if it is never released.
            _ => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

/// A DBMS restore for one owner on one drive.
///
/// Call protocol: [`DbmsRestore::feed`] with the unit's raw bytes, then
/// [`DbmsRestore::stage_into`] the owner's passive restore of the same cage.
#[derive(Debug)]
pub struct DbmsRestore {
    scratch: PathBuf,
    policies: Vec<DbmsPolicy>,
    decoder: ArchiveDecoder,
    received: Vec<Received>,
}

/// A database received into the scratch folder.
#[derive(Debug)]
struct Received {
    copy: TempFile,
    path: CagePath,
    mode: u32,
    mtime_ns: i64,
}

impl DbmsRestore {
    /// Starts a restore of databases under `policies`; received databases wait in
    /// `scratch` (root-only).
    pub fn new(policies: &[DbmsPolicy], scratch: &Path) -> Self {
        Self {
            scratch: scratch.to_owned(),
            policies: policies.to_vec(),
            decoder: ArchiveDecoder::new(),
            received: Vec::new(),
        }
    }

    /// Feeds raw unit bytes.
    ///
    /// # Errors
    /// A [`DbmsError`] for a malformed stream, a foreign path or a write failure.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), DbmsError> {
        self.decoder.handle_input(data);
        while let Some(event) = self.decoder.poll_event()? {
            match event {
                ArchiveEvent::File {
                    path,
                    mode,
                    mtime_ns,
                    ..
                } => {
                    if !is_database(&path, &self.policies) {
                        return Err(DbmsError::NotADatabase(path.to_string()));
                    }
                    let scratch = scratch_dir(&self.scratch)?;
                    let copy = scratch.create_temp(0o600).map_err(io_err(&self.scratch))?;
                    self.received.push(Received {
                        copy,
                        path,
                        mode,
                        mtime_ns,
                    });
                }
                ArchiveEvent::Data(bytes) => {
                    if let Some(r) = self.received.last_mut() {
                        Write::write_all(r.copy.file(), &bytes).map_err(io_err(&self.scratch))?;
                    }
                }
                ArchiveEvent::FileEnd
                | ArchiveEvent::Deleted(_)
                | ArchiveEvent::EmptyDir { .. }
                | ArchiveEvent::End => {}
            }
        }
        Ok(())
    }

    /// Checks the stream ended and every received file is an SQLite database, then puts
    /// each into `cage`, the staging copy of the owner's cage; returns how many.
    ///
    /// # Errors
    /// A [`DbmsError`]; the cage itself is untouched either way (the staging copy is
    /// committed or dropped as a whole).
    pub fn stage_into(mut self, cage: &mut PassiveRestore) -> Result<usize, DbmsError> {
        self.decoder.finish()?;
        let count = self.received.len();
        for mut r in std::mem::take(&mut self.received) {
            let shown = r.copy.dir().display(r.copy.name());
            check_header(r.copy.file(), &shown, &r.path)?;
            cage.place_file(&r.path, r.copy.file(), r.mode & 0o777, r.mtime_ns)
                .map_err(|e| DbmsError::Staging(e.to_string()))?;
        }
        Ok(count)
    }
}

/// Refuses a received file that is not an SQLite database before the target is touched.
fn check_header(file: &mut File, shown: &Path, rel: &CagePath) -> Result<(), DbmsError> {
    use std::io::Seek;
    let mut header = Vec::with_capacity(16);
    Seek::rewind(file)
        .and_then(|()| Read::by_ref(file).take(16).read_to_end(&mut header))
        .map_err(io_err(shown))?;
    if header != b"SQLite format 3\0" {
        return Err(DbmsError::NotADatabase(rel.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(path: &Path, rows: &[(i64, &str)]) -> Connection {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let c = Connection::open(path).expect("open");
        c.execute_batch(
            "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT); DELETE FROM t;",
        )
        .expect("schema");
        for (id, v) in rows {
            c.execute("INSERT INTO t VALUES (?1, ?2)", (id, v))
                .expect("insert");
        }
        c
    }

    fn rows(c: &Connection) -> Vec<(i64, String)> {
        let mut s = c
            .prepare("SELECT id, v FROM t ORDER BY id")
            .expect("prepare");
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect()
    }

    const P: DbmsPolicy = DbmsPolicy(0xAABB_CCDD);

    /// Restores a DBMS stream into `cage` as a session does: the databases staged into a
    /// copy of the cage, which replaces the cage.
    fn restore_into(cage: &Path, stream: &[u8], scratch: &Path) -> Result<usize, DbmsError> {
        let keep_all = crate::registration::PassiveBackup::default();
        let mut staging = PassiveRestore::begin(cage, &keep_all).expect("staging");
        let mut restore = DbmsRestore::new(&[P], scratch);
        for piece in stream.chunks(1000) {
            restore.feed(piece)?;
        }
        let count = restore.stage_into(&mut staging)?;
        let staged = staging.stage().expect("stage");
        staged.apply().expect("apply");
        staged.remove_old();
        Ok(count)
    }

    #[test]
    fn databases_are_found_only_under_registered_policies() {
        let dir = tempfile::tempdir().expect("tempdir");
        db(&dir.path().join("dbms/aabbccdd/main.db"), &[]);
        db(&dir.path().join("dbms/aabbccdd/other.sqlite"), &[]);
        std::fs::write(dir.path().join("dbms/aabbccdd/notes.txt"), b"x").expect("txt");
        db(&dir.path().join("dbms/00000001/foreign.db"), &[]);
        let cage = Dir::open_root(dir.path()).expect("cage");
        let found: Vec<String> = list_databases(&cage, &[P])
            .expect("list")
            .iter()
            .map(|(p, _)| p.to_string())
            .collect();
        assert_eq!(
            found,
            vec!["dbms/aabbccdd/main.db", "dbms/aabbccdd/other.sqlite"]
        );
        assert!(!is_database(
            &CagePath::parse_relative("dbms/aabbccdd/x/y.db").expect("p"),
            &[P]
        ));
    }

    #[test]
    fn open_database_is_captured_consistently_and_restored_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cage = dir.path().join("cage");
        let path = cage.join("dbms/aabbccdd/main.db");
        let live = db(&path, &[(1, "one"), (2, "two")]);
        // An open, uncommitted transaction on the live connection is not captured.
        live.execute_batch("BEGIN; INSERT INTO t VALUES (3, 'uncommitted');")
            .expect("begin");
        let mut stream = Vec::new();
        assert_eq!(
            capture_dbms(&cage, &[P], &dir.path().join("scratch"), &mut stream).expect("capture"),
            1
        );
        live.execute_batch("ROLLBACK;").expect("rollback");
        live.execute("UPDATE t SET v = 'changed' WHERE id = 1", [])
            .expect("update");

        // The old database's hot journal and WAL stay out of the restored cage: SQLite
        // would play them back into the new database.
        std::fs::write(cage.join("dbms/aabbccdd/main.db-journal"), b"stale").expect("journal");
        drop(live);
        assert_eq!(
            restore_into(&cage, &stream, &dir.path().join("scratch")).expect("restore"),
            1
        );
        assert!(!cage.join("dbms/aabbccdd/main.db-journal").exists());
        let reopened = Connection::open(&path).expect("open");
        assert_eq!(
            rows(&reopened),
            vec![(1, "one".to_owned()), (2, "two".to_owned())]
        );
    }

    #[test]
    fn a_database_its_owner_keeps_locked_fails_instead_of_being_copied_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cage = dir.path().join("cage");
        let live = db(&cage.join("dbms/aabbccdd/main.db"), &[(1, "one")]);
        live.execute_batch("BEGIN EXCLUSIVE; INSERT INTO t VALUES (2, 'two');")
            .expect("lock");
        let mut stream = Vec::new();
        let e = capture_dbms(&cage, &[P], &dir.path().join("scratch"), &mut stream)
            .expect_err("a locked database is not captured");
        assert!(e.to_string().contains("main.db"), "{e}");
    }

    #[test]
    fn a_database_the_restore_creates_belongs_to_the_cage_owner() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let cage = dir.path().join("cage");
        db(&cage.join("dbms/aabbccdd/main.db"), &[(1, "one")]);
        let mut stream = Vec::new();
        capture_dbms(&cage, &[P], &dir.path().join("scratch"), &mut stream).expect("capture");
        std::fs::remove_dir_all(cage.join("dbms")).expect("rm");
        if std::os::unix::fs::chown(&cage, Some(4242), Some(4242)).is_err() {
            eprintln!("not root: ownership handover cannot be tested");
            return;
        }
        restore_into(&cage, &stream, &dir.path().join("scratch")).expect("restore");
        for rel in ["dbms", "dbms/aabbccdd", "dbms/aabbccdd/main.db"] {
            let m = std::fs::metadata(cage.join(rel)).expect(rel);
            assert_eq!((m.uid(), m.gid()), (4242, 4242), "{rel}");
        }
    }

    #[test]
    fn restore_refuses_foreign_paths_and_non_databases_without_touching_the_target() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cage = dir.path().join("cage");
        let target = db(&cage.join("dbms/aabbccdd/main.db"), &[(1, "keep")]);
        let mut stream = BytesMut::new();
        archive::begin(&mut stream);
        let rel = CagePath::parse_relative("dbms/aabbccdd/main.db").expect("path");
        archive::file_header(&mut stream, &rel, 5, 0, 0o600);
        stream.extend_from_slice(b"junk!");
        archive::end(&mut stream);
        let refused = restore_into(&cage, &stream, &dir.path().join("scratch"));
        assert!(matches!(refused, Err(DbmsError::NotADatabase(_))));
        assert_eq!(rows(&target), vec![(1, "keep".to_owned())]);

        let mut evil = BytesMut::new();
        archive::begin(&mut evil);
        archive::file_header(
            &mut evil,
            &CagePath::parse_relative("settings.ini").expect("p"),
            0,
            0,
            0o600,
        );
        let mut restore = DbmsRestore::new(&[P], &dir.path().join("scratch"));
        assert!(matches!(
            restore.feed(&evil),
            Err(DbmsError::NotADatabase(_))
        ));
    }
}
