//! Paths <-> handles for a provider that wraps this one (the Backup storage announces
//! files another program wrote and asks where an object lives).

use std::path::{Component, Path, PathBuf};

use crate::provider::{ObjectHandle, StorageId};

use super::FilesProvider;
use super::tree::Dir;

impl FilesProvider {
    /// Returns the handle of the object at `rel` (a relative path of normal components)
    /// below the root of `storage`, listing folders on the way as needed; `None` if it
    /// does not exist, is hidden or `rel` is not a plain relative path.
    pub fn handle_at(&mut self, storage: StorageId, rel: &Path) -> Option<ObjectHandle> {
        let index = self.storage_index(storage).ok()?;
        let mut dir = Dir::Root(index);
        let mut found = None;
        for component in rel.components() {
            let Component::Normal(name) = component else {
                return None;
            };
            if let Some(parent) = found {
                dir = Dir::Folder(parent);
            }
            let local = match self.tree.lookup(dir, name) {
                Some(local) => local,
                None => {
                    self.list_dir(dir).ok()?;
                    self.tree.lookup(dir, name)?
                }
            };
            found = Some(local);
        }
        found.map(|local| self.handle(local))
    }

    /// Returns the storage and the path below its root of a known object.
    pub fn path_of(&self, handle: ObjectHandle) -> Option<(StorageId, PathBuf)> {
        let local = self.local(handle).ok()?;
        let node = self.tree.node(local)?;
        let (index, dir) = self.tree.dir_path(node.parent)?;
        Some((self.storages.get(index)?.id, dir.join(node.name)))
    }
}
