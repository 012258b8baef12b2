//! DeleteObject, MoveObject, CopyObject and renames (SetObjectPropValue ObjectFileName).

use std::ffi::{OsStr, OsString};
use std::io::{self, ErrorKind};
use std::path::Path;

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
        let root = self.root(f.storage);
        fsops::remove_tree(root, &f.rel, &mut removal);
        let result = if fsops::exists(root, &f.rel) {
            for h in self.tree.descendants(local) {
                if self.tree.node(h).is_some() {
                    let _ = self.find(h);
                }
            }
            match (removal.removed, &removal.error) {
                (0, Some(e)) => Err(map_io(e, &self.root(f.storage).display(&f.rel))),
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
        let (_, source) = self.open_folder(parent)?;
        let (_, target) = self.open_folder(dir)?;
        match source.rename_noreplace(&name, &target, &name) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(ResponseCode::AccessDenied);
            }
            Err(e) if crosses_devices(&e) => self.move_across(&source, &target, &name, index)?,
            Err(e) => return Err(map_io(&e, &source.display(&name))),
        }
        fsops::sync_dir(&target);
        self.tree.relocate(local, dir, &name);
        self.events.push(EventCode::ObjectInfoChanged, handle.0);
        Ok(())
    }

    /// Moves `name` from folder `from` to folder `to` on another file system: copy, then
    /// delete the original.
    fn move_across(
        &mut self,
        from: &confined::Dir,
        to: &confined::Dir,
        name: &OsStr,
        storage: usize,
    ) -> ProviderResult<()> {
        if fsops::exists(to, name) {
            return Err(ResponseCode::AccessDenied);
        }
        self.copy_checked(from, Path::new(name), to, name, storage)?;
        let mut removal = Removal::default();
        fsops::remove_tree(from, Path::new(name), &mut removal);
        if let Some(e) = removal.error {
            let path = from.display(name);
            tracing::warn!(path = %path.display(), error = %e, "moved, but the original stays");
        }
        Ok(())
    }

    /// Copies `rel` beneath `from` to `name` in `to` after checking the space; removes a
    /// partial copy on failure.
    fn copy_checked(
        &mut self,
        from: &confined::Dir,
        rel: &Path,
        to: &confined::Dir,
        name: &OsStr,
        storage: usize,
    ) -> ProviderResult<()> {
        let size = fsops::tree_size(from, rel).map_err(|e| map_io(&e, &from.display(rel)))?;
        if size > self.free_space(storage)? {
            return Err(ResponseCode::StoreFull);
        }
        let modes = self.storages[storage].modes();
        let result = fsops::copy_tree(from, rel, to, name, modes, &mut || self.next_temp());
        if let Err(e) = result {
            let mut removal = Removal::default();
            fsops::remove_tree(to, Path::new(name), &mut removal);
            return Err(map_io(&e, &to.display(name)));
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
        let (_, target) = self.open_folder(dir)?;
        let name = free_name(&target, name)?;
        let source = self
            .root(f.storage)
            .try_clone()
            .map_err(|e| map_io(&e, &f.rel))?;
        self.copy_checked(&source, &f.rel, &target, &name, index)?;
        fsops::sync_dir(&target);
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
        let (parent, old) = match self.tree.node(local) {
            Some(n) if n.name == new => return Ok(()),
            Some(n) => (n.parent, n.name.to_owned()),
            None => return Err(ResponseCode::InvalidObjectHandle),
        };
        let (_, folder) = self.open_folder(parent)?;
        match folder.rename_noreplace(&old, &folder, &new) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(ResponseCode::InvalidObjectPropValue);
            }
            Err(e) => return Err(map_io(&e, &folder.display(&old))),
        }
        fsops::sync_dir(&folder);
        self.tree.relocate(local, parent, &new);
        self.events.push(EventCode::ObjectInfoChanged, handle.0);
        Ok(())
    }
}

/// Returns `name` or its first free `name (n)` alternative in `dir`.
fn free_name(dir: &confined::Dir, name: OsString) -> ProviderResult<OsString> {
    if !fsops::exists(dir, &name) {
        return Ok(name);
    }
    (1..=MAX_COPY_NUMBER)
        .map(|n| names::numbered(&name, n))
        .find(|alt| !fsops::exists(dir, alt))
        .ok_or(ResponseCode::AccessDenied)
}
