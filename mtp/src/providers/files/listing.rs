//! Reading: StorageInfo, handle listings, object records and data sources, plus the path
//! resolution every other operation builds on.

use std::path::PathBuf;

use confined::Meta;

use crate::codec::dataset::{AccessCapability, FilesystemType, StorageInfo, StorageType};
use crate::codec::{ObjectFormat, ResponseCode};
use crate::provider::{
    ObjectHandle, ObjectRecord, ObjectSource, ParentFilter, Placement, ProviderResult, StorageId,
};

use super::fsops::{self, map_io};
use super::source::FileSource;
use super::tree::Dir;
use super::{FilesProvider, formats};

/// A resolved object: storage index, path below the storage's root and current metadata.
pub(super) struct Found {
    /// Storage index.
    pub(super) storage: usize,
    /// The path below the root of the storage.
    pub(super) rel: PathBuf,
    /// Metadata (not following symlinks).
    pub(super) meta: Meta,
}

impl FilesProvider {
    /// Returns StorageInfo with the root's real capacity and free space.
    pub(super) fn storage_info_of(&mut self, id: StorageId) -> ProviderResult<StorageInfo> {
        let index = self.storage_index(id)?;
        let s = &self.storages[index];
        let space = fsops::space(&self.roots[index]).map_err(|e| {
            tracing::error!(path = %s.root.display(), error = %e, "statvfs failed");
            ResponseCode::StoreNotAvailable
        })?;
        let access = if s.writable {
            AccessCapability::ReadWrite
        } else {
            AccessCapability::ReadOnly
        };
        Ok(StorageInfo {
            storage_type: StorageType::FixedRam as u16,
            filesystem_type: FilesystemType::GenericHierarchical as u16,
            access_capability: access as u16,
            max_capacity: space.total,
            free_space_bytes: space.free,
            free_space_objects: u32::MAX,
            description: s.description.clone(),
            volume_identifier: s.description.clone(),
        })
    }

    /// Returns the bytes available in storage `index`.
    pub(super) fn free_space(&self, index: usize) -> ProviderResult<u64> {
        fsops::space(&self.roots[index])
            .map(|s| s.free)
            .map_err(|e| map_io(&e, &self.storages[index].root))
    }

    /// Returns the open root folder of storage `index`.
    pub(super) fn root(&self, index: usize) -> &confined::Dir {
        &self.roots[index]
    }

    /// Opens a folder beneath its storage's root (no link and no mount point on the way):
    /// its storage index and descriptor.
    pub(super) fn open_folder(&self, dir: Dir) -> ProviderResult<(usize, confined::Dir)> {
        let (s, rel) = self
            .tree
            .dir_path(dir)
            .ok_or(ResponseCode::InvalidObjectHandle)?;
        match self.roots[s].open_dir(&rel) {
            Ok(d) => Ok((s, d)),
            Err(e) if fsops::is_gone(&e) => Err(ResponseCode::InvalidObjectHandle),
            Err(e) => Err(map_io(&e, &self.roots[s].display(&rel))),
        }
    }

    /// Resolves and stats object `local`; a vanished object (or one only reachable through
    /// a link) is forgotten.
    pub(super) fn find(&mut self, local: u32) -> ProviderResult<Found> {
        let node = self
            .tree
            .node(local)
            .ok_or(ResponseCode::InvalidObjectHandle)?;
        let (storage, dir) = self
            .tree
            .dir_path(node.parent)
            .ok_or(ResponseCode::InvalidObjectHandle)?;
        let rel = dir.join(node.name);
        let found = match fsops::object_meta(&self.roots[storage], &rel) {
            Ok(meta) => Ok(Found { storage, rel, meta }),
            Err(e) if fsops::is_gone(&e) => Err(ResponseCode::InvalidObjectHandle),
            Err(e) => Err(map_io(&e, &self.roots[storage].display(&rel))),
        };
        match &found {
            Err(ResponseCode::InvalidObjectHandle) => self.tree.forget(local),
            Ok(f) => self.refresh_kind(local, f.meta.is_dir()),
            Err(_) => {}
        }
        found
    }

    fn refresh_kind(&mut self, local: u32, is_dir: bool) {
        let Some(node) = self.tree.node(local) else {
            return;
        };
        if node.is_dir != is_dir {
            let (parent, name) = (node.parent, node.name.to_owned());
            self.tree.insert(parent, &name, is_dir);
        }
    }

    /// Resolves a destination folder in this provider.
    ///
    /// # Errors
    /// InvalidStorageId, InvalidParentObject (unknown, not a folder, other storage).
    pub(super) fn folder_at(&mut self, at: Placement) -> ProviderResult<(usize, Dir)> {
        let index = self.storage_index(at.storage)?;
        let Some(parent) = at.parent else {
            return Ok((index, Dir::Root(index)));
        };
        let local = self
            .local(parent)
            .map_err(|_| ResponseCode::InvalidParentObject)?;
        match self.find(local) {
            Ok(f) if f.meta.is_dir() && f.storage == index => Ok((index, Dir::Folder(local))),
            _ => Err(ResponseCode::InvalidParentObject),
        }
    }

    /// Lists `dir` on disk and brings the table in line with it.
    pub(super) fn list_dir(&mut self, dir: Dir) -> ProviderResult<Vec<u32>> {
        let (index, folder) = match self.open_folder(dir) {
            Ok(found) => found,
            Err(code) => {
                if let (Dir::Folder(h), ResponseCode::InvalidObjectHandle) = (dir, code) {
                    self.tree.forget(h);
                }
                return Err(code);
            }
        };
        // Only a storage the host may change is tidied up.
        let sweep = self
            .storages
            .get(index)
            .is_some_and(|s| s.writable)
            .then_some(self.temp_token);
        let mut entries = fsops::list(&folder, sweep).map_err(|e| map_io(&e, folder.path()))?;
        if let Some(hidden) = self.hidden {
            entries.retain(|(name, _)| !hidden(name));
        }
        Ok(self.tree.sync(dir, entries))
    }

    /// Implements GetObjectHandles for one storage.
    pub(super) fn list_handles(
        &mut self,
        storage: StorageId,
        format: Option<ObjectFormat>,
        parent: ParentFilter,
    ) -> ProviderResult<Vec<ObjectHandle>> {
        let index = self.storage_index(storage)?;
        let locals = match parent {
            ParentFilter::All => self.list_all(index)?,
            ParentFilter::Root => self.list_dir(Dir::Root(index))?,
            ParentFilter::Children(h) => {
                let at = Placement {
                    storage,
                    parent: Some(h),
                };
                let (_, dir) = self.folder_at(at)?;
                self.list_dir(dir)?
            }
        };
        Ok(locals
            .into_iter()
            .filter(|l| format.is_none_or(|f| self.format_of(*l) == Some(f)))
            .map(|l| self.handle(l))
            .collect())
    }

    /// Lists every object of storage `index`, breadth first; unreadable sub-folders are
    /// skipped with a warning.
    fn list_all(&mut self, index: usize) -> ProviderResult<Vec<u32>> {
        let mut all = self.list_dir(Dir::Root(index))?;
        let mut next = 0;
        while next < all.len() {
            let local = all[next];
            next += 1;
            if !self.tree.node(local).is_some_and(|n| n.is_dir) {
                continue;
            }
            match self.list_dir(Dir::Folder(local)) {
                Ok(kids) => all.extend(kids),
                Err(code) => tracing::warn!(%code, local, "folder skipped in listing"),
            }
        }
        all.retain(|l| self.tree.node(*l).is_some());
        Ok(all)
    }

    /// Returns the format of a known object from the table (no disk access).
    pub(super) fn format_of(&self, local: u32) -> Option<ObjectFormat> {
        let node = self.tree.node(local)?;
        Some(if node.is_dir {
            ObjectFormat::Association
        } else {
            formats::of_file(node.name)
        })
    }

    /// Implements GetObjectInfo's source: the object as it is on disk now.
    pub(super) fn record(&mut self, handle: ObjectHandle) -> ProviderResult<ObjectRecord> {
        let local = self.local(handle)?;
        let f = self.find(local)?;
        let node = self
            .tree
            .node(local)
            .ok_or(ResponseCode::InvalidObjectHandle)?;
        let cfg = &self.storages[f.storage];
        // DateCreated is the birth time where the file system keeps one (statx), else the
        // modification time.
        let modified = fsops::mtime_secs(&f.meta);
        let created = f
            .meta
            .btime_ns
            .map_or(modified, |ns| ns.div_euclid(1_000_000_000));
        Ok(ObjectRecord {
            handle,
            storage: cfg.id,
            parent: match node.parent {
                Dir::Folder(p) => Some(self.handle(p)),
                Dir::Root(_) => None,
            },
            format: self.format_of(local).unwrap_or(ObjectFormat::Undefined),
            size: if f.meta.is_dir() { 0 } else { f.meta.size },
            name: node.name.to_string_lossy().into_owned(),
            created,
            modified,
            read_only: !cfg.writable,
            puid: fsops::puid(cfg.id.0, &f.meta),
        })
    }

    /// Implements GetObject / GetPartialObject(64).
    pub(super) fn open_source(
        &mut self,
        handle: ObjectHandle,
        offset: u64,
        max_len: u64,
    ) -> ProviderResult<Box<dyn ObjectSource>> {
        let local = self.local(handle)?;
        let f = self.find(local)?;
        if f.meta.is_dir() {
            return Err(ResponseCode::InvalidObjectFormatCode);
        }
        let root = &self.roots[f.storage];
        let path = root.display(&f.rel);
        let (file, meta) = root.open_file(&f.rel).map_err(|e| map_io(&e, &path))?;
        let size = meta.size;
        if offset > size {
            return Err(ResponseCode::InvalidParameter);
        }
        let len = max_len.min(size - offset);
        Ok(Box::new(FileSource::new(file, path, offset, len)))
    }
}
