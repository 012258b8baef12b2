//! The reference data owners. Each is a module with the owner and a `main` that the
//! crate's binary of the same name calls; each has its `backup_registration.xml` under
//! `data-owners/owners/<name>/`.
//!
//! | Binary | Module | Kind |
//! |---|---|---|
//! | `ref-record-store` | [`record_store`] | active, base + incremental |
//! | `ref-sqlite-app` | [`sqlite_app`] | `dbms_backup` (engine copies the database) + mode follower |
//! | `ref-hybrid` | [`hybrid`] | active prepares files, passive carries them |
//! | `ref-settings-store` | [`settings_store`] | proxy data manager (central repository), base only |
//! | (none) | — | passive-only: `owners/passive-app/backup_registration.xml` |
//! | `ref-data` | [`fixture`] | not an owner: installs the owners and their sample data (VM tests) |

use std::path::PathBuf;

use data_owners::client::{
    ActiveBackupClient, ActiveBackupDataClient, OwnerEnv, OwnerError, Section,
};

pub mod fixture;
pub mod hybrid;
pub mod record_store;
pub mod settings_store;
pub mod sqlite_app;

/// Symbian `KErrNotReady`: asked for something out of order, or the app is busy.
pub const ERR_NOT_READY: i32 = -18;
/// Symbian `KErrCorrupt`: data that does not decode.
pub const ERR_CORRUPT: i32 = -20;
/// Symbian `KErrGeneral`: an I/O failure.
pub const ERR_GENERAL: i32 = -2;

/// Turns an I/O error into an owner error the engine reports.
pub fn io_error(e: std::io::Error) -> OwnerError {
    OwnerError::new(ERR_GENERAL, e.to_string())
}

/// Writes `data` to `path` atomically (temporary file, fsync, rename), creating the
/// directory.
///
/// # Errors
/// I/O errors; the old file is then untouched.
pub fn write_atomic(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

/// Hands out a buffer in sections of at most the size the engine asks for.
#[derive(Debug, Default)]
pub struct SectionReader {
    data: Vec<u8>,
    pos: usize,
}

impl SectionReader {
    /// A reader over `data`.
    pub fn new(data: Vec<u8>) -> Self {
        Self { data, pos: 0 }
    }

    /// The next section and whether it is the last (an empty buffer is one empty last
    /// section).
    pub fn next(&mut self, max_len: usize) -> Section {
        let end = self.pos.saturating_add(max_len.max(1)).min(self.data.len());
        let out = self.data[self.pos..end].to_vec();
        self.pos = end;
        (out, end == self.data.len())
    }
}

/// Runs an owner built from its cage: reads the engine's environment, connects, serves
/// callbacks until the engine closes the connection. Exits non-zero on failure.
pub fn run_main<D, E>(name: &str, open: impl FnOnce(PathBuf) -> Result<D, E>)
where
    D: ActiveBackupDataClient,
    E: std::fmt::Display,
{
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(async {
                let env = OwnerEnv::from_env()?;
                let mut owner = open(env.cage.clone()).map_err(|e| e.to_string())?;
                let mut client = ActiveBackupClient::connect_env(&env)
                    .await
                    .map_err(|e| e.to_string())?;
                client.run(&mut owner).await.map_err(|e| e.to_string())
            })
        });
    if let Err(e) = result {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}
