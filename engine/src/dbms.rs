//! DBMS data: the SQLite databases an owner registers with `<dbms_backup policy=…/>`.
//!
//! Mapping (documented in `docs/engine.md`): the databases of policy `P` are the files
//! ending in `.db` or `.sqlite` directly in `<cage>/dbms/<P as 8 hex digits>/`. Backup
//! copies each one with SQLite's online backup API in a single step, so the copy is a
//! consistent snapshot even while the owner has it open; the copies travel in the passive
//! stream format (paths relative to the cage). Restore writes each copy to a temporary
//! file next to the target and applies it with the backup API in the other direction,
//! which replaces the target's pages in one transaction: readers see the old database or
//! the new one, never a mix.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use rusqlite::Connection;
use rusqlite::backup::Backup;

use crate::passive::archive::{self, ArchiveDecoder, ArchiveError, ArchiveEvent};
use crate::registration::{CagePath, DbmsPolicy};

/// The cage directory that holds DBMS databases (never part of passive selections).
pub const DBMS_DIR: &str = "dbms";

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

/// Lists the databases of `policies` in a cage (sorted; symlinks ignored).
///
/// # Errors
/// An I/O error other than a missing directory.
pub fn list_databases(cage: &Path, policies: &[DbmsPolicy]) -> Result<Vec<CagePath>, DbmsError> {
    let mut out = Vec::new();
    for policy in policies {
        let rel = policy_dir(*policy);
        let dir = cage.join(rel.as_str());
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err(&dir)(e)),
        };
        for entry in entries.flatten() {
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            let Some(path) = entry.file_name().to_str().and_then(|n| rel.join(n)) else {
                continue;
            };
            if is_file && is_database(&path, policies) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Writes a consistent copy of every database of `policies` to `sink` (passive stream
/// format). `scratch` is a directory for the temporary copies.
///
/// # Errors
/// A [`DbmsError`]; the stream is then incomplete.
pub fn capture_dbms(
    cage: &Path,
    policies: &[DbmsPolicy],
    scratch: &Path,
    sink: &mut impl crate::spool::SizedWrite,
) -> Result<usize, DbmsError> {
    let databases = list_databases(cage, policies)?;
    let mut builder = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(builder.recursive(true), 0o700)
        .create(scratch)
        .map_err(io_err(scratch))?;
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    for (i, rel) in databases.iter().enumerate() {
        let source = cage.join(rel.as_str());
        let copy = scratch.join(format!("copy-{i}.db"));
        let _ = std::fs::remove_file(&copy);
        online_copy(&source, &copy)?;
        let mut file = File::open(&copy).map_err(io_err(&copy))?;
        let size = file.metadata().map_err(io_err(&copy))?.len();
        archive::file_header(&mut out, rel, size, 0, 0o600);
        let copied = crate::passive::copy_exact(&mut file, size, &mut out, sink, None);
        let _ = std::fs::remove_file(&copy);
        match copied {
            Ok(true) => {}
            Ok(false) => return Err(io_err(&copy)(std::io::Error::other("copy changed"))),
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

/// Copies `from` into a new database file `to` with one backup step (a consistent snapshot).
fn online_copy(from: &Path, to: &Path) -> Result<(), DbmsError> {
    let src = Connection::open(from).map_err(sql_err(from))?;
    let mut dst = Connection::open(to).map_err(sql_err(to))?;
    let backup = Backup::new(&src, &mut dst).map_err(sql_err(from))?;
    backup.step(-1).map_err(sql_err(from))?;
    Ok(())
}

/// A DBMS restore for one owner on one drive.
///
/// Call protocol: [`DbmsRestore::feed`] with the unit's raw bytes, then
/// [`DbmsRestore::commit`], which applies every received database atomically.
#[derive(Debug)]
pub struct DbmsRestore {
    cage: PathBuf,
    policies: Vec<DbmsPolicy>,
    decoder: ArchiveDecoder,
    current: Option<(PathBuf, File)>,
    received: Vec<(PathBuf, PathBuf)>,
}

impl DbmsRestore {
    /// Starts a restore into `cage`.
    pub fn new(cage: &Path, policies: &[DbmsPolicy]) -> Self {
        Self {
            cage: cage.to_owned(),
            policies: policies.to_vec(),
            decoder: ArchiveDecoder::new(),
            current: None,
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
                ArchiveEvent::File { path, .. } => {
                    if !is_database(&path, &self.policies) {
                        return Err(DbmsError::NotADatabase(path.to_string()));
                    }
                    let target = self.cage.join(path.as_str());
                    let dir = target.parent().unwrap_or(&self.cage).to_owned();
                    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
                    let tmp = target.with_extension("restore-tmp");
                    let file = File::create(&tmp).map_err(io_err(&tmp))?;
                    self.received.push((tmp.clone(), target));
                    self.current = Some((tmp, file));
                }
                ArchiveEvent::Data(bytes) => {
                    if let Some((path, file)) = self.current.as_mut() {
                        file.write_all(&bytes).map_err(io_err(path))?;
                    }
                }
                ArchiveEvent::FileEnd => {
                    if let Some((path, file)) = self.current.take() {
                        file.sync_all().map_err(io_err(&path))?;
                    }
                }
                ArchiveEvent::Deleted(_) | ArchiveEvent::End => {}
            }
        }
        Ok(())
    }

    /// Checks the stream ended and applies every database with the backup API.
    ///
    /// # Errors
    /// A [`DbmsError`]; databases already applied stay restored, the others untouched.
    pub fn commit(mut self) -> Result<usize, DbmsError> {
        self.decoder.finish()?;
        let count = self.received.len();
        for (tmp, target) in std::mem::take(&mut self.received) {
            let existed = target.exists();
            let result = apply(&tmp, &target);
            let _ = std::fs::remove_file(&tmp);
            result?;
            if !existed {
                self.give_to_cage_owner(&target)?;
            }
        }
        Ok(count)
    }

    /// Hands a database (and the `dbms/<policy>` directories) the restore created to the
    /// owner of the cage, as everything else in the cage.
    fn give_to_cage_owner(&self, target: &Path) -> Result<(), DbmsError> {
        use std::os::unix::fs::MetadataExt;
        let cage = std::fs::metadata(&self.cage).map_err(io_err(&self.cage))?;
        let (uid, gid) = (cage.uid(), cage.gid());
        let mut path = target.to_owned();
        while path.starts_with(&self.cage) && path != self.cage {
            let meta = std::fs::symlink_metadata(&path).map_err(io_err(&path))?;
            if (meta.uid(), meta.gid()) != (uid, gid) {
                std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(io_err(&path))?;
            }
            if !path.pop() {
                break;
            }
        }
        Ok(())
    }
}

impl Drop for DbmsRestore {
    fn drop(&mut self) {
        for (tmp, _) in &self.received {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

fn apply(copy: &Path, target: &Path) -> Result<(), DbmsError> {
    // Refuse a file that is not a database before touching the target.
    let mut header = Vec::with_capacity(16);
    File::open(copy)
        .and_then(|f| f.take(16).read_to_end(&mut header))
        .map_err(io_err(copy))?;
    if header != b"SQLite format 3\0" {
        return Err(DbmsError::NotADatabase(copy.display().to_string()));
    }
    let src = Connection::open(copy).map_err(sql_err(copy))?;
    let mut dst = Connection::open(target).map_err(sql_err(target))?;
    let backup = Backup::new(&src, &mut dst).map_err(sql_err(target))?;
    backup.step(-1).map_err(sql_err(target))?;
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

    #[test]
    fn databases_are_found_only_under_registered_policies() {
        let dir = tempfile::tempdir().expect("tempdir");
        db(&dir.path().join("dbms/aabbccdd/main.db"), &[]);
        db(&dir.path().join("dbms/aabbccdd/other.sqlite"), &[]);
        std::fs::write(dir.path().join("dbms/aabbccdd/notes.txt"), b"x").expect("txt");
        db(&dir.path().join("dbms/00000001/foreign.db"), &[]);
        let found: Vec<String> = list_databases(dir.path(), &[P])
            .expect("list")
            .iter()
            .map(ToString::to_string)
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

        let mut restore = DbmsRestore::new(&cage, &[P]);
        for piece in stream.chunks(1000) {
            restore.feed(piece).expect("feed");
        }
        assert_eq!(restore.commit().expect("commit"), 1);
        // The still-open connection sees the restored content.
        assert_eq!(
            rows(&live),
            vec![(1, "one".to_owned()), (2, "two".to_owned())]
        );
        assert!(!cage.join("dbms/aabbccdd/main.restore-tmp").exists());
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
        let mut restore = DbmsRestore::new(&cage, &[P]);
        restore.feed(&stream).expect("feed");
        restore.commit().expect("commit");
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
        let mut restore = DbmsRestore::new(&cage, &[P]);
        restore.feed(&stream).expect("feed");
        assert!(matches!(restore.commit(), Err(DbmsError::NotADatabase(_))));
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
        let mut restore = DbmsRestore::new(&cage, &[P]);
        assert!(matches!(
            restore.feed(&evil),
            Err(DbmsError::NotADatabase(_))
        ));
    }
}
