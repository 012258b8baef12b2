//! Android's edit extensions: BeginEditObject, SendPartialObject, TruncateObject,
//! EndEditObject. Edits write the file in place; EndEditObject flushes them.

use crate::codec::{EventCode, ResponseCode};
use crate::provider::{ObjectHandle, ObjectSink, ProviderResult};

use super::FilesProvider;
use super::fsops::map_io;
use super::listing::Found;
use super::sink::PartialSink;

impl FilesProvider {
    /// Returns the file of `handle` if it is in an edit session.
    fn edited(&mut self, handle: ObjectHandle) -> ProviderResult<(u32, Found)> {
        let local = self.local(handle)?;
        if !self.edits.contains(&local) {
            tracing::warn!(local, "edit operation outside an edit session");
            return Err(ResponseCode::AccessDenied);
        }
        let found = self.find(local)?;
        Ok((local, found))
    }

    /// Opens the file of an edit session for writing in place.
    fn open_edited(&self, f: &Found) -> ProviderResult<std::fs::File> {
        let root = self.root(f.storage);
        root.open_file_write(&f.rel)
            .map(|(file, _)| file)
            .map_err(|e| map_io(&e, &root.display(&f.rel)))
    }

    /// Fails with StoreFull if growing the file from `size` to `end` does not fit.
    fn ensure_room(&self, storage: usize, size: u64, end: u64) -> ProviderResult<()> {
        if end > size && end - size > self.free_space(storage)? {
            return Err(ResponseCode::StoreFull);
        }
        Ok(())
    }

    /// Implements BeginEditObject.
    pub(super) fn begin(&mut self, handle: ObjectHandle) -> ProviderResult<()> {
        let local = self.local(handle)?;
        let f = self.find(local)?;
        self.ensure_writable(f.storage)?;
        if f.meta.is_dir() {
            return Err(ResponseCode::InvalidObjectFormatCode);
        }
        self.edits.insert(local);
        Ok(())
    }

    /// Implements SendPartialObject: `len` bytes written in place from `offset`.
    pub(super) fn open_partial(
        &mut self,
        handle: ObjectHandle,
        offset: u64,
        len: u32,
    ) -> ProviderResult<Box<dyn ObjectSink>> {
        let (_, f) = self.edited(handle)?;
        self.ensure_writable(f.storage)?;
        if offset > f.meta.size {
            return Err(ResponseCode::InvalidParameter);
        }
        let end = offset.saturating_add(u64::from(len));
        self.ensure_room(f.storage, f.meta.size, end)?;
        let file = self.open_edited(&f)?;
        let storage = self.storages[f.storage].id;
        let path = self.root(f.storage).display(&f.rel);
        let sink = PartialSink::new(file, path, offset, storage, self.inbox.clone());
        Ok(Box::new(sink))
    }

    /// Implements TruncateObject.
    pub(super) fn truncate_to(&mut self, handle: ObjectHandle, size: u64) -> ProviderResult<()> {
        let (_, f) = self.edited(handle)?;
        self.ensure_writable(f.storage)?;
        self.ensure_room(f.storage, f.meta.size, size)?;
        let file = self.open_edited(&f)?;
        file.set_len(size)
            .map_err(|e| map_io(&e, &self.root(f.storage).display(&f.rel)))
    }

    /// Implements EndEditObject: flushes the file and reports the change.
    pub(super) fn end(&mut self, handle: ObjectHandle) -> ProviderResult<()> {
        let (local, f) = self.edited(handle)?;
        self.edits.remove(&local);
        let file = self.open_edited(&f)?;
        file.sync_all()
            .map_err(|e| map_io(&e, &self.root(f.storage).display(&f.rel)))?;
        self.events.push(EventCode::ObjectInfoChanged, handle.0);
        Ok(())
    }
}
