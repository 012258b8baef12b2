//! Steps on the device's Backup storage that backup and restore share: reading the
//! status, sending a request, uploading a set from the repository, waiting for the end
//! of a session.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use engine::manifest::{MANIFEST_FILE, Manifest, UnitRecord};
use engine::spool::SpoolSet;
use indicatif::ProgressBar;

use crate::client::{ClientError, EventCode};
use crate::device::{CONSENT_HINT, Status};
use crate::link::Link;
use crate::output::{CountingReader, Exit, Failure, Outcome, fail};
use crate::storage::{BackupStorage, ROOT};

/// How often the status is read while a session runs, when no event wakes us first.
const POLL: Duration = Duration::from_millis(250);

/// A device's Backup storage with the handles it keeps looking up.
#[derive(Debug)]
pub struct Remote<L: Link> {
    /// The storage.
    pub st: BackupStorage<L>,
    status_handle: Option<u32>,
}

impl<L: Link> Remote<L> {
    /// Wraps a Backup storage.
    pub fn new(st: BackupStorage<L>) -> Self {
        Self {
            st,
            status_handle: None,
        }
    }

    /// Reads `status.toml`.
    ///
    /// # Errors
    /// The device fails or its status does not parse.
    pub fn status(&mut self) -> Outcome<Status> {
        for _ in 0..2 {
            let handle = match self.status_handle {
                Some(h) => h,
                None => {
                    let e = self.st.lookup(ROOT, "status.toml").map_err(link_failure)?;
                    let e = e.ok_or_else(|| {
                        Failure::new(Exit::Failed, "the Backup storage has no status.toml")
                    })?;
                    self.status_handle = Some(e.handle);
                    e.handle
                }
            };
            match self.st.read(handle) {
                Ok(data) => return Status::parse(&data).map_err(fail(Exit::Failed)),
                Err(ClientError::Refused { .. }) => self.status_handle = None,
                Err(e) => return Err(link_failure(e)),
            }
        }
        Err(Failure::new(Exit::Failed, "status.toml cannot be read"))
    }

    /// Reads the status and refuses to go on while access needs consent or a session
    /// runs.
    ///
    /// # Errors
    /// Access not allowed, or the device is busy.
    pub fn ready(&mut self) -> Outcome<Status> {
        let s = self.status()?;
        if s.needs_consent() {
            return Err(Failure::new(Exit::Failed, CONSENT_HINT));
        }
        if s.is_busy() {
            return Err(Failure::new(
                Exit::Failed,
                format!(
                    "the device is busy ({} {})",
                    s.state,
                    s.session.as_deref().unwrap_or("")
                ),
            ));
        }
        Ok(s)
    }

    /// Sends a request file (`backup.request`, `restore.request`) into `requests/`.
    ///
    /// # Errors
    /// The device refused it: the reason from `status.toml`.
    pub fn send_request(&mut self, name: &str, text: &str) -> Outcome<Status> {
        let folder = self
            .st
            .lookup(ROOT, "requests")
            .map_err(link_failure)?
            .ok_or_else(|| {
                Failure::new(Exit::Failed, "the Backup storage has no requests/ folder")
            })?;
        let sent = self
            .st
            .upload(folder.handle, name, text.len() as u64, &mut text.as_bytes());
        match sent {
            Ok(_) => self.status(),
            Err(ClientError::Refused { code, .. }) => {
                let s = self.status()?;
                if s.needs_consent() {
                    return Err(Failure::new(Exit::Failed, CONSENT_HINT));
                }
                let why = s.last_error.unwrap_or_else(|| format!("{code:?}"));
                if false {
                    return Err(Failure::new(Exit::Failed, CONSENT_HINT));
                }
                Err(Failure::new(
                    Exit::Failed,
                    format!("the device refused {name}: {why}"),
                ))
            }
            Err(e) => Err(link_failure(e)),
        }
    }

    /// Waits until the session `session` ended (`done` or `failed`), calling `each`
    /// with every status read and every event in between.
    ///
    /// # Errors
    /// The link fails, or `each` fails.
    pub fn follow(
        &mut self,
        session: &str,
        mut each: impl FnMut(&mut Self, &Status, bool) -> Outcome<()>,
    ) -> Outcome<Status> {
        let mut last_scan = Instant::now();
        loop {
            let events = self.st.client.wait_events(POLL);
            let added = events.iter().any(|e| e.code == EventCode::ObjectAdded);
            let s = self.status()?;
            let ended = matches!(s.state.as_str(), "done" | "failed")
                && s.session.as_deref() == Some(session);
            let scan = added || ended || last_scan.elapsed() > Duration::from_secs(2);
            if scan {
                last_scan = Instant::now();
            }
            each(self, &s, scan)?;
            if ended {
                return Ok(s);
            }
            if s.state == "idle" || (s.session.as_deref() != Some(session) && !s.is_busy()) {
                return Err(Failure::new(
                    Exit::Failed,
                    format!("the device lost session {session} (it restarted?)"),
                ));
            }
        }
    }

    /// The handle of top-level folder `name`, if the device has it.
    ///
    /// # Errors
    /// The link fails.
    pub fn folder(&mut self, name: &str) -> Outcome<Option<u32>> {
        Ok(self
            .st
            .lookup(ROOT, name)
            .map_err(link_failure)?
            .filter(|e| e.is_folder)
            .map(|e| e.handle))
    }

    /// Uploads the units of the set in `dir` that `wanted` picks, then its manifest
    /// (last: a set is complete only with it). Returns the set folder's handle.
    ///
    /// # Errors
    /// The device refused or a local file cannot be read.
    pub fn upload_set(
        &mut self,
        name: &str,
        dir: &Path,
        wanted: impl Fn(&UnitRecord) -> bool,
        bar: &ProgressBar,
    ) -> Outcome<u32> {
        let set = SpoolSet::open(dir.to_owned());
        let manifest: Manifest = set.read_manifest().map_err(fail(Exit::Damaged))?;
        let top = self
            .st
            .create_folder(ROOT, name)
            .map_err(refused("create the folder"))?;
        let mut folders: BTreeMap<String, u32> = BTreeMap::new();
        for unit in manifest.units.iter().filter(|u| wanted(u)) {
            let sid = unit.id.sid.to_string();
            let sid_h = match folders.get(&sid) {
                Some(h) => *h,
                None => {
                    let h = self
                        .st
                        .create_folder(top, &sid)
                        .map_err(refused("create a folder"))?;
                    folders.insert(sid.clone(), h);
                    h
                }
            };
            let key = format!("{sid}/{}", unit.id.drive);
            let drive_h = match folders.get(&key) {
                Some(h) => *h,
                None => {
                    let h = self
                        .st
                        .create_folder(sid_h, &unit.id.drive.to_string())
                        .map_err(refused("create a folder"))?;
                    folders.insert(key, h);
                    h
                }
            };
            let path = set.unit_path(unit.id);
            let file = File::open(&path)
                .map_err(|e| Failure::new(Exit::Failed, format!("{}: {e}", path.display())))?;
            let mut reader =
                CountingReader::new(BufReader::with_capacity(256 * 1024, file), bar.clone());
            let fname = format!("{}.unit", unit.id.kind);
            self.st
                .upload(drive_h, &fname, unit.size, &mut reader)
                .map_err(refused("upload a unit"))?;
        }
        // An encrypted set's wrapped key, then the manifest: last, as always.
        let key = dir.join(engine::crypto::SET_KEY_FILE);
        if key.is_file() {
            let data = std::fs::read(&key)
                .map_err(|e| Failure::new(Exit::Failed, format!("{}: {e}", key.display())))?;
            self.st
                .upload(
                    top,
                    engine::crypto::SET_KEY_FILE,
                    data.len() as u64,
                    &mut &data[..],
                )
                .map_err(refused("upload the wrapped key"))?;
        }
        let text = std::fs::read(dir.join(MANIFEST_FILE))
            .map_err(|e| Failure::new(Exit::Failed, format!("{}: {e}", dir.display())))?;
        self.st
            .upload(top, MANIFEST_FILE, text.len() as u64, &mut &text[..])
            .map_err(refused("upload the manifest"))?;
        Ok(top)
    }

    /// Deletes an object, telling (not failing) when the device refuses.
    pub fn delete_quietly(&mut self, handle: u32) -> Option<String> {
        self.st.delete(handle).err().map(|e| e.to_string())
    }
}

/// A failed transaction: the device is gone or broke the protocol.
pub fn link_failure(e: ClientError) -> Failure {
    match e {
        ClientError::Refused { .. } => Failure::new(Exit::Failed, e.to_string()),
        _ => Failure::new(Exit::Device, format!("the device connection failed: {e}")),
    }
}

fn refused(what: &'static str) -> impl FnOnce(ClientError) -> Failure {
    move |e| match e {
        ClientError::Refused { code, .. } => Failure::new(
            Exit::Failed,
            format!("the device refused to {what}: {code:?}"),
        ),
        e => link_failure(e),
    }
}
