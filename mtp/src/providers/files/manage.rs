//! DeleteObject, MoveObject, CopyObject and renames (SetObjectPropValue ObjectFileName).

use std::ffi::OsString;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use crate::codec::{EventCode, ResponseCode};
use crate::provider::{ObjectHandle, Placement, ProviderResult};

use super::fsops::{self, Removal, map_io};
use super::{FilesProvider, names};

/// Most `name (n)` alternatives tried for a copy.
const MAX_COPY_NUMBER: u32 = 9999;

/// Returns true if `err` is a rename across file systems.
fn crosses_devices(err: &io::Error) -> bool {
    err.kind() == ErrorKind::CrossesDevices || err.raw_os_error() == Some(libc::EXDEV)
}

impl FilesProvider {
    /// Implements DeleteObject (folders recursively).
    pub(super) fn delete(&mut self, handle: ObjectHandle) -> ProviderResult<()> {
        let local = self.local(handle)?;
        let f = self.find(local)?;
        self.ensure_writable(f.storage)?;
        let mut removal = Removal::default();
        fsops::remove_tree(&f.path, &mut removal);
        let result = if fsops::exists(&f.path) {
            for h in self.tree.descendants(local) {
                if self.tree.node(h).is_some() {
                    let _ = self.find(h);
                }
            }
            match (removal.removed, &removal.error) {
                (0, Some(e)) => Err(map_io(e, &f.path)),
                _ => Err(ResponseCode::PartialDeletion),
            }
        } else {
            self.tree.forget(local);
            self.events.push(EventCode::ObjectRemoved, handle.0);
            Ok(())
        };
        let tree = &self.tree;
        self.edits.retain(|l| tree.node(*l).is_some());
        result
    }

    /// Implements MoveObject (a rename, or copy and delete across file systems).
    pub(super) fn move_to(&mut self, handle: ObjectHandle, to: Placement) -> ProviderResult<()> {
        let local = self.local(handle)?;
        let f = self.find(local)?;
        self.ensure_writable(f.storage)?;
        let (index, dir) = self.folder_at(to)?;
        self.ensure_writable(index)?;
        if self.tree.is_within(dir, local) {
            return Err(ResponseCode::InvalidParentObject);
        }
        let (parent, name) = self
            .tree
            .node(local)
            .map(|n| (n.parent, n.name.to_owned()))
            .ok_or(ResponseCode::InvalidObjectHandle)?;
        if parent == dir {
            return Ok(());
        }
        let (_, dir_path) = self.dir_abs(dir)?;
        let dest = dir_path.join(&name);
        match fsops::rename_noreplace(&f.path, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(ResponseCode::AccessDenied);
            }
            Err(e) if crosses_devices(&e) => self.move_across(&f.path, &dest, index)?,
            Err(e) => return Err(map_io(&e, &f.path)),
        }
        fsops::sync_dir(&dir_path);
        self.tree.relocate(local, dir, &name);
        self.events.push(EventCode::ObjectInfoChanged, handle.0);
        Ok(())
    }

    /// Moves `from` to `to` on another file system: copy, then delete the original.
    fn move_across(&mut self, from: &Path, to: &Path, storage: usize) -> ProviderResult<()> {
        if fsops::exists(to) {
            return Err(ResponseCode::AccessDenied);
        }
        self.copy_checked(from, to, storage)?;
        let mut removal = Removal::default();
        fsops::remove_tree(from, &mut removal);
        if let Some(e) = removal.error {
            tracing::warn!(path = %from.display(), error = %e, "moved, but the original stays");
        }
        Ok(())
    }

    /// Copies `from` to `to` after checking the space; removes a partial copy on failure.
    fn copy_checked(&mut self, from: &Path, to: &Path, storage: usize) -> ProviderResult<()> {
        let size = fsops::tree_size(from).map_err(|e| map_io(&e, from))?;
        if size > self.free_space(storage)? {
            return Err(ResponseCode::StoreFull);
        }
        let modes = self.storages[storage].modes();
        let result = fsops::copy_tree(from, to, modes, &mut || self.next_temp());
        if let Err(e) = result {
            let mut removal = Removal::default();
            fsops::remove_tree(to, &mut removal);
            return Err(map_io(&e, to));
        }
        Ok(())
    }

    /// Implements CopyObject; the copy takes the first free `name (n).ext` on a conflict.
    pub(super) fn copy_to(
        &mut self,
        handle: ObjectHandle,
        to: Placement,
    ) -> ProviderResult<ObjectHandle> {
        let local = self.local(handle)?;
        let f = self.find(local)?;
        let (index, dir) = self.folder_at(to)?;
        self.ensure_writable(index)?;
        if f.meta.is_dir() && self.tree.is_within(dir, local) {
            return Err(ResponseCode::InvalidParentObject);
        }
        let name = self
            .tree
            .node(local)
            .map(|n| n.name.to_owned())
            .ok_or(ResponseCode::InvalidObjectHandle)?;
        let (_, dir_path) = self.dir_abs(dir)?;
        let (name, dest) = free_name(&dir_path, name)?;
        self.copy_checked(&f.path, &dest, index)?;
        fsops::sync_dir(&dir_path);
        let new = self
            .tree
            .insert(dir, &name, f.meta.is_dir())
            .ok_or(ResponseCode::StoreFull)?;
        let new = self.handle(new);
        self.events.push(EventCode::ObjectAdded, new.0);
        Ok(new)
    }

    /// Renames an object in place (SetObjectPropValue ObjectFileName).
    pub(super) fn rename(&mut self, handle: ObjectHandle, name: &str) -> ProviderResult<()> {
        let local = self.local(handle)?;
        let f = self.find(local)?;
        self.ensure_writable(f.storage)?;
        let new = names::sanitise(name).ok_or(ResponseCode::InvalidObjectPropValue)?;
        let parent = match self.tree.node(local) {
            Some(n) if n.name == new => return Ok(()),
            Some(n) => n.parent,
            None => return Err(ResponseCode::InvalidObjectHandle),
        };
        let dir_path = f.path.parent().ok_or(ResponseCode::GeneralError)?;
        let dest = dir_path.join(&new);
        match fsops::rename_noreplace(&f.path, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(ResponseCode::InvalidObjectPropValue);
            }
            Err(e) => return Err(map_io(&e, &f.path)),
        }
        fsops::sync_dir(dir_path);
        self.tree.relocate(local, parent, &new);
        self.events.push(EventCode::ObjectInfoChanged, handle.0);
        Ok(())
    }
}

/// Returns `name` or its first free `name (n)` alternative in `dir`.
fn free_name(dir: &Path, name: OsString) -> ProviderResult<(OsString, PathBuf)> {
    let path = dir.join(&name);
    if !fsops::exists(&path) {
        return Ok((name, path));
    }
    (1..=MAX_COPY_NUMBER)
        .map(|n| names::numbered(&name, n))
        .map(|alt| {
            let p = dir.join(&alt);
            (alt, p)
        })
        .find(|(_, p)| !fsops::exists(p))
        .ok_or(ResponseCode::AccessDenied)
}
