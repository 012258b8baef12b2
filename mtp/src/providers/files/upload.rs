//! SendObjectInfo and SendObject: folders are created at once, files are announced, then
//! written to a temporary file and renamed into place by the sink.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::codec::dataset::{ObjectInfo, datetime};
use crate::codec::{EventCode, ObjectFormat, ResponseCode};
use crate::provider::{ObjectHandle, ObjectSink, Placement, ProviderResult};

use super::fsops::map_io;
use super::sink::{Note, UploadSink, UploadTarget};
use super::tree::Dir;
use super::{FilesProvider, names};

/// The one upload announced by SendObjectInfo and not yet started.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    local: u32,
    storage: usize,
    dir: Dir,
    name: OsString,
    size: Option<u64>,
    modified: Option<SystemTime>,
}

/// Returns the DateModified of an ObjectInfo as a time, if it parses.
fn modified_of(info: &ObjectInfo) -> Option<SystemTime> {
    let secs = datetime::parse(&info.date_modified)?;
    match u64::try_from(secs) {
        Ok(s) => UNIX_EPOCH.checked_add(Duration::from_secs(s)),
        Err(_) => UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs())),
    }
}

impl FilesProvider {
    /// Implements SendObjectInfo.
    pub(super) fn announce(
        &mut self,
        at: Placement,
        info: &ObjectInfo,
        size: Option<u64>,
    ) -> ProviderResult<ObjectHandle> {
        let (index, dir) = self.folder_at(at)?;
        self.ensure_writable(index)?;
        let name = names::sanitise(&info.filename).ok_or(ResponseCode::InvalidDataset)?;
        if info.format == ObjectFormat::Association.to_u16() {
            return self.make_folder(dir, &name);
        }
        let (_, folder) = self.open_folder(dir)?;
        if let Ok(Some(m)) = folder.stat(&name) {
            if !m.is_file() {
                tracing::warn!(path = %folder.display(&name).display(), "upload over a non-file refused");
                return Err(ResponseCode::AccessDenied);
            }
        }
        let free = self.free_space(index)?;
        if size.is_some_and(|s| s > free) {
            return Err(ResponseCode::StoreFull);
        }
        let local = self.tree.reserve().ok_or(ResponseCode::StoreFull)?;
        self.pending = Some(Pending {
            local,
            storage: index,
            dir,
            name,
            size,
            modified: modified_of(info),
        });
        Ok(self.handle(local))
    }

    /// Creates folder `name` in `dir`, or returns the folder already there.
    fn make_folder(&mut self, dir: Dir, name: &OsString) -> ProviderResult<ObjectHandle> {
        let (storage, folder) = self.open_folder(dir)?;
        let path = folder.display(name);
        let modes = self.storages[storage].modes();
        let created = match folder.create_dir(name, modes.dir) {
            Ok(()) => true,
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if !folder
                    .stat(name)
                    .is_ok_and(|m| m.is_some_and(|m| m.is_dir()))
                {
                    return Err(ResponseCode::AccessDenied);
                }
                false
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(ResponseCode::InvalidParentObject);
            }
            Err(e) => return Err(map_io(&e, &path)),
        };
        let local = self
            .tree
            .insert(dir, name, true)
            .ok_or(ResponseCode::StoreFull)?;
        let handle = self.handle(local);
        if created {
            self.events.push(EventCode::ObjectAdded, handle.0);
        }
        Ok(handle)
    }

    /// Implements SendObject: opens the sink for the pending upload of `handle`.
    pub(super) fn open_upload(
        &mut self,
        handle: ObjectHandle,
    ) -> ProviderResult<Box<dyn ObjectSink>> {
        let p = match self.pending.take() {
            Some(p) if handle.provider() == self.id && handle.local() == p.local => p,
            other => {
                self.pending = other;
                return Err(ResponseCode::NoValidObjectInfo);
            }
        };
        self.ensure_writable(p.storage)?;
        let (_, folder) = self
            .open_folder(p.dir)
            .map_err(|_| ResponseCode::InvalidParentObject)?;
        let temp = self.next_temp();
        let modes = self.storages[p.storage].modes();
        let file = folder
            .create_new(&temp, modes.file)
            .map_err(|e| map_io(&e, &folder.display(&temp)))?;
        let target = UploadTarget {
            folder,
            name: p.name.clone(),
            size: p.size,
            modified: p.modified,
            storage: self.storages[p.storage].id,
            done: Note::Uploaded {
                local: p.local,
                dir: p.dir,
                name: p.name,
            },
        };
        Ok(Box::new(UploadSink::new(
            file,
            temp,
            target,
            self.inbox.clone(),
        )))
    }
}
