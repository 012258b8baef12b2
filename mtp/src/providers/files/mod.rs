//! The files provider: directories of the device's file system as MTP storages.
//!
//! Each [`StorageConfig`] names a directory that becomes one storage, read-only or
//! writable. Objects are the regular files and folders below it; symlinks, device files,
//! sockets, FIFOs and the provider's own temporary upload files are not listed, and no
//! path is ever resolved through a symlink below a root or into another mounted file
//! system: every root is held open and every object resolved beneath it through the
//! [`confined`] crate (`fsops`), so a local user who swaps a folder for a link while the
//! host works in it makes the operation fail, never reach outside.
//!
//! # Behaviour hosts rely on
//! - Handles stay the same for an object for the provider's lifetime (across sessions);
//!   PersistentUniqueObjectIdentifiers are built from storage id, device and inode, so
//!   they also survive restarts and renames.
//! - Uploads are written to `.mtp-upload-<token>-<n>.tmp` in the destination folder
//!   (`token`: random per provider instance) and renamed into place only after a complete
//!   data phase (size checked, fsynced, folder fsynced): nothing partial is ever visible
//!   and a failed upload leaves nothing behind. One interrupted by a crash or a power cut
//!   leaves its temporary file under another token: it is removed when its folder of a
//!   writable storage is next listed.
//!
//! # Conflict rules (documented choices)
//! - SendObjectInfo of a file whose name exists as a file: the old file is replaced
//!   atomically (rename over it) when the upload completes; until then it stays intact.
//!   Its old handle then disappears (ObjectRemoved) and the new handle appears
//!   (ObjectAdded). A name taken by a folder (or a symlink or special file): AccessDenied.
//! - SendObjectInfo of a folder whose name exists as a folder: that folder is reused (its
//!   handle is returned); taken by a file: AccessDenied.
//! - Renaming onto a name that exists: InvalidObjectPropValue (nothing is replaced).
//! - Moving onto a name that exists in the destination: AccessDenied (nothing is
//!   replaced); a folder into itself or below itself: InvalidParentObject.
//! - Copying onto a name that exists: the copy gets the first free `name (n).ext`.
//! - GetObject and BeginEditObject on a folder: InvalidObjectFormatCode (a folder has no
//!   data).
//! - SendPartialObject, TruncateObject and EndEditObject outside an edit session:
//!   AccessDenied; SendPartialObject starting past the end of the file: InvalidParameter.
//!   Partial writes go straight into the file (a cancelled one keeps what arrived, as on
//!   Android); EndEditObject fsyncs and raises ObjectInfoChanged.
//! - Deleting a folder is recursive; when only part of it goes: PartialDeletion.
//! - A move across file systems copies, then deletes the original; if that delete fails
//!   the move still succeeds (logged) and the leftovers show up as new objects.
//!
//! # Sessions
//! Closing a session ends edit sessions and forgets the announced upload; a sink still
//! open deletes its temporary file when aborted or dropped. Files left behind by a crash
//! stay hidden (they match the temporary-name pattern) and are not cleaned up.
//!
//! # Spec
//! MTP 1.1 §D.2 (operations), PTP 15740 §5.5.3 (StorageInfo); `MTP-NOTES.md` §4.5 and
//! §6 item 5.

mod edit;
mod events;
mod formats;
mod fsops;
mod listing;
mod lookup;
mod manage;
mod names;
mod sink;
mod source;
mod tree;
mod upload;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::disallowed_methods)]
mod tests;

use std::collections::HashSet;
use std::io;
use std::path::PathBuf;

use crate::codec::dataset::{ObjectInfo, StorageInfo};
use crate::codec::value::PropValue;
use crate::codec::{EventCode, ObjectFormat, ObjectPropCode, OperationCode, ResponseCode};
use crate::provider::{
    Capabilities, DataProvider, ObjectHandle, ObjectRecord, ObjectSink, ObjectSource, ParentFilter,
    Placement, ProviderEvent, ProviderId, ProviderResult, StorageId,
};

use events::EventQueue;
use sink::{Inbox, Note};
use tree::{Dir, Tree};
use upload::Pending;

/// Provider-local handle numbers the files provider never hands out, free for a provider
/// that wraps it and adds objects of its own in the same handle space.
pub const RESERVED_LOCALS: std::ops::RangeInclusive<u32> = 0x00FF_FF00..=0x00FF_FFFF;

/// A predicate over file names: true hides the entry from listings.
pub type HiddenFilter = fn(&std::ffi::OsStr) -> bool;

/// One directory offered as a storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// The StorageID (the low 16 bits must not be 0).
    pub id: StorageId,
    /// StorageDescription (also the VolumeIdentifier).
    pub description: String,
    /// The directory; it must exist.
    pub root: PathBuf,
    /// False makes the storage read-only: every modifying operation is StoreReadOnly.
    pub writable: bool,
    /// True creates every file 0600 and every folder 0700 (the Backup storage: private
    /// data of every application); false leaves the modes to the umask (0644/0755).
    pub private: bool,
}

impl StorageConfig {
    /// Returns the modes new files and folders get in this storage.
    fn modes(&self) -> fsops::Modes {
        if self.private {
            fsops::Modes {
                file: 0o600,
                dir: 0o700,
            }
        } else {
            fsops::Modes {
                file: 0o666,
                dir: 0o777,
            }
        }
    }
}

/// Directories as MTP storages (see the module documentation).
#[derive(Debug)]
pub struct FilesProvider {
    id: ProviderId,
    storages: Vec<StorageConfig>,
    /// The storages' root folders, open: every path is resolved beneath one of these.
    roots: Vec<confined::Dir>,
    tree: Tree,
    pending: Option<Pending>,
    edits: HashSet<u32>,
    events: EventQueue,
    inbox: Inbox,
    temp_seq: u64,
    /// This instance's mark in its temporary names: others' are stale.
    temp_token: u64,
    hidden: Option<HiddenFilter>,
}

impl FilesProvider {
    /// Creates the provider over `storages`.
    ///
    /// # Errors
    /// A root that does not exist or is not a directory, a StorageID whose low 16 bits
    /// are 0, or a StorageID given twice.
    pub fn new(storages: Vec<StorageConfig>) -> io::Result<Self> {
        let mut seen = HashSet::new();
        let mut checked = Vec::with_capacity(storages.len());
        let mut roots = Vec::with_capacity(storages.len());
        for mut s in storages {
            if s.id.0 & 0xFFFF == 0 || !seen.insert(s.id) {
                let msg = format!("bad or duplicate storage id 0x{:08X}", s.id.0);
                return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
            }
            // The profile's path, trusted (links in it are followed, once, here).
            #[allow(clippy::disallowed_methods)]
            let canonical = s.root.canonicalize()?;
            s.root = canonical;
            let root = confined::Dir::open_root(&s.root).map_err(|e| {
                let msg = format!("{}: not a directory ({e})", s.root.display());
                io::Error::new(io::ErrorKind::InvalidInput, msg)
            })?;
            roots.push(root);
            checked.push(s);
        }
        Ok(Self {
            id: ProviderId(0),
            storages: checked,
            roots,
            tree: Tree::default(),
            pending: None,
            edits: HashSet::new(),
            events: EventQueue::default(),
            inbox: Inbox::default(),
            temp_seq: 0,
            temp_token: random_token(),
            hidden: None,
        })
    }

    /// Hides entries whose names match `filter` from every listing (besides the
    /// provider's own temporary files), for example the temporary files another program
    /// writes into a storage and renames when complete.
    #[must_use]
    pub fn with_hidden(mut self, filter: HiddenFilter) -> Self {
        self.hidden = Some(filter);
        self
    }

    /// Returns the handle of local number `local`.
    fn handle(&self, local: u32) -> ObjectHandle {
        ObjectHandle::new(self.id, local)
    }

    /// Returns the local number of a known handle of this provider.
    fn local(&self, h: ObjectHandle) -> ProviderResult<u32> {
        if h.provider() != self.id || self.tree.node(h.local()).is_none() {
            return Err(ResponseCode::InvalidObjectHandle);
        }
        Ok(h.local())
    }

    /// Returns the index of storage `id`.
    fn storage_index(&self, id: StorageId) -> ProviderResult<usize> {
        self.storages
            .iter()
            .position(|s| s.id == id)
            .ok_or(ResponseCode::InvalidStorageId)
    }

    /// Fails with StoreReadOnly unless storage `index` is writable.
    fn ensure_writable(&self, index: usize) -> ProviderResult<()> {
        match self.storages.get(index) {
            Some(s) if s.writable => Ok(()),
            Some(_) => Err(ResponseCode::StoreReadOnly),
            None => Err(ResponseCode::InvalidStorageId),
        }
    }

    /// Returns the name of the next temporary file.
    fn next_temp(&mut self) -> std::ffi::OsString {
        self.temp_seq += 1;
        names::temp_name(self.temp_token, self.temp_seq)
    }

    /// Applies what sinks reported since the last call.
    fn settle(&mut self) {
        for note in self.inbox.take() {
            match note {
                Note::Uploaded { local, dir, name } => self.adopt_upload(local, dir, &name),
                Note::Full(storage) => self.events.push(EventCode::StoreFull, storage.0),
            }
        }
    }

    /// Makes a completed upload visible under its reserved handle.
    fn adopt_upload(&mut self, local: u32, dir: Dir, name: &std::ffi::OsStr) {
        if let Dir::Folder(p) = dir {
            if self.tree.node(p).is_none() {
                return;
            }
        }
        if let Some(old) = self.tree.insert_as(local, dir, name) {
            self.events
                .push(EventCode::ObjectRemoved, self.handle(old).0);
        }
        self.events
            .push(EventCode::ObjectAdded, self.handle(local).0);
    }
}

impl DataProvider for FilesProvider {
    fn name(&self) -> &str {
        "files"
    }

    fn attach(&mut self, id: ProviderId) {
        self.id = id;
    }

    fn capabilities(&self) -> Capabilities {
        use OperationCode as Op;
        Capabilities {
            operations: vec![
                Op::GetObject,
                Op::GetPartialObject,
                Op::GetPartialObject64,
                Op::DeleteObject,
                Op::SendObjectInfo,
                Op::SendObject,
                Op::MoveObject,
                Op::CopyObject,
                Op::SetObjectPropValue,
                Op::SendPartialObject,
                Op::TruncateObject,
                Op::BeginEditObject,
                Op::EndEditObject,
            ],
            playback_formats: formats::all(),
            capture_formats: formats::all(),
            writable_props: vec![ObjectPropCode::ObjectFileName],
            events: vec![
                EventCode::ObjectAdded,
                EventCode::ObjectRemoved,
                EventCode::ObjectInfoChanged,
                EventCode::StoreFull,
            ],
        }
    }

    fn storage_ids(&self) -> Vec<StorageId> {
        self.storages.iter().map(|s| s.id).collect()
    }

    fn storage_info(&mut self, storage: StorageId) -> ProviderResult<StorageInfo> {
        self.storage_info_of(storage)
    }

    fn object_handles(
        &mut self,
        storage: StorageId,
        format: Option<ObjectFormat>,
        parent: ParentFilter,
    ) -> ProviderResult<Vec<ObjectHandle>> {
        self.settle();
        self.list_handles(storage, format, parent)
    }

    fn object(&mut self, handle: ObjectHandle) -> ProviderResult<ObjectRecord> {
        self.settle();
        self.record(handle)
    }

    fn open_read(
        &mut self,
        handle: ObjectHandle,
        offset: u64,
        max_len: u64,
    ) -> ProviderResult<Box<dyn ObjectSource>> {
        self.settle();
        self.open_source(handle, offset, max_len)
    }

    fn send_object_info(
        &mut self,
        at: Placement,
        info: &ObjectInfo,
        size: Option<u64>,
    ) -> ProviderResult<ObjectHandle> {
        self.settle();
        self.announce(at, info, size)
    }

    fn send_object(&mut self, handle: ObjectHandle) -> ProviderResult<Box<dyn ObjectSink>> {
        self.settle();
        self.open_upload(handle)
    }

    fn delete_object(&mut self, handle: ObjectHandle) -> ProviderResult<()> {
        self.settle();
        self.delete(handle)
    }

    fn move_object(&mut self, handle: ObjectHandle, to: Placement) -> ProviderResult<()> {
        self.settle();
        self.move_to(handle, to)
    }

    fn copy_object(&mut self, handle: ObjectHandle, to: Placement) -> ProviderResult<ObjectHandle> {
        self.settle();
        self.copy_to(handle, to)
    }

    fn set_object_prop(
        &mut self,
        handle: ObjectHandle,
        prop: ObjectPropCode,
        value: &PropValue,
    ) -> ProviderResult<()> {
        self.settle();
        if prop != ObjectPropCode::ObjectFileName {
            return Err(ResponseCode::ObjectPropNotSupported);
        }
        match value {
            PropValue::Str(name) => self.rename(handle, name),
            _ => Err(ResponseCode::InvalidObjectPropValue),
        }
    }

    fn begin_edit(&mut self, handle: ObjectHandle) -> ProviderResult<()> {
        self.settle();
        self.begin(handle)
    }

    fn end_edit(&mut self, handle: ObjectHandle) -> ProviderResult<()> {
        self.settle();
        self.end(handle)
    }

    fn send_partial(
        &mut self,
        handle: ObjectHandle,
        offset: u64,
        len: u32,
    ) -> ProviderResult<Box<dyn ObjectSink>> {
        self.settle();
        self.open_partial(handle, offset, len)
    }

    fn truncate(&mut self, handle: ObjectHandle, size: u64) -> ProviderResult<()> {
        self.settle();
        self.truncate_to(handle, size)
    }

    fn poll_event(&mut self) -> Option<ProviderEvent> {
        self.settle();
        self.events.pop()
    }

    fn on_session_close(&mut self) {
        self.settle();
        self.edits.clear();
        self.pending = None;
    }
}

/// A random number that marks this provider instance's temporary files (unlike a pid,
/// it differs from one boot of a board to the next).
fn random_token() -> u64 {
    let mut b = [0u8; 8];
    match rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty()) {
        Ok(8) => u64::from_le_bytes(b),
        _ => {
            // Only if getrandom fails: the clock, read once at start.
            #[allow(clippy::disallowed_methods)]
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            (t as u64) ^ u64::from(std::process::id())
        }
    }
}
