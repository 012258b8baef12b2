//! Routes operations to providers by storage id and handle namespace, and derives what
//! DeviceInfo advertises from the providers' declarations.

use std::collections::BTreeSet;

use super::ops::Owner;
use crate::codec::{EventCode, ObjectFormat, ObjectPropCode, OperationCode, ResponseCode};
use crate::provider::{DataProvider, ObjectHandle, ProviderId, StorageId};

/// The providers and what they add up to.
pub(crate) struct Router {
    providers: Vec<Box<dyn DataProvider>>,
    pub(crate) operations: Vec<OperationCode>,
    pub(crate) events: Vec<EventCode>,
    pub(crate) playback_formats: Vec<ObjectFormat>,
    pub(crate) capture_formats: Vec<ObjectFormat>,
    pub(crate) writable_props: Vec<ObjectPropCode>,
}

impl Router {
    /// Attaches the providers (ids 1, 2, ...) and collects their declarations.
    pub(crate) fn new(mut providers: Vec<Box<dyn DataProvider>>) -> Self {
        let of = |owner| super::ops::OPS.iter().filter(move |s| s.owner == owner);
        let mut ops: BTreeSet<OperationCode> = of(Owner::Responder).map(|s| s.code).collect();
        let mut events = BTreeSet::new();
        let mut playback = BTreeSet::new();
        let mut capture = BTreeSet::new();
        let mut writable = BTreeSet::new();
        for (i, p) in providers.iter_mut().enumerate() {
            p.attach(ProviderId(i as u8 + 1));
            let caps = p.capabilities();
            ops.extend(
                caps.operations
                    .iter()
                    .filter(|op| of(Owner::Provider).any(|s| s.code == **op)),
            );
            events.extend(caps.events);
            playback.extend(caps.playback_formats);
            capture.extend(caps.capture_formats);
            writable.extend(caps.writable_props);
        }
        Self {
            providers,
            operations: ops.into_iter().collect(),
            events: events.into_iter().collect(),
            playback_formats: playback.into_iter().collect(),
            capture_formats: capture.into_iter().collect(),
            writable_props: writable.into_iter().collect(),
        }
    }

    /// Returns true if DeviceInfo advertises `op` (and so it is dispatched).
    pub(crate) fn advertises(&self, op: OperationCode) -> bool {
        self.operations.binary_search(&op).is_ok()
    }

    /// Returns true if `format` is advertised for playback or capture.
    pub(crate) fn knows_format(&self, format: ObjectFormat) -> bool {
        self.playback_formats.contains(&format) || self.capture_formats.contains(&format)
    }

    /// Returns every provider.
    pub(crate) fn all(&mut self) -> impl Iterator<Item = &mut Box<dyn DataProvider>> {
        self.providers.iter_mut()
    }

    /// Returns every storage id, in provider order.
    pub(crate) fn storage_ids(&self) -> Vec<StorageId> {
        self.providers
            .iter()
            .flat_map(|p| p.storage_ids())
            .collect()
    }

    /// Returns the provider owning `handle`.
    pub(crate) fn by_handle(
        &mut self,
        handle: ObjectHandle,
    ) -> Result<&mut dyn DataProvider, ResponseCode> {
        let idx = usize::from(handle.provider().0);
        match idx.checked_sub(1).and_then(|i| self.providers.get_mut(i)) {
            Some(p) => Ok(p.as_mut()),
            None => Err(ResponseCode::InvalidObjectHandle),
        }
    }

    /// Returns the index of the provider owning `storage`.
    pub(crate) fn index_of_storage(&self, storage: StorageId) -> Option<usize> {
        self.providers
            .iter()
            .position(|p| p.storage_ids().contains(&storage))
    }

    /// Returns the provider owning `storage`.
    pub(crate) fn by_storage(
        &mut self,
        storage: StorageId,
    ) -> Result<&mut dyn DataProvider, ResponseCode> {
        match self.index_of_storage(storage) {
            Some(i) => Ok(self.providers[i].as_mut()),
            None => Err(ResponseCode::InvalidStorageId),
        }
    }

    /// Returns the provider at `index`.
    pub(crate) fn at(&mut self, index: usize) -> Option<&mut dyn DataProvider> {
        self.providers
            .get_mut(index)
            .map(|p| p.as_mut() as &mut dyn DataProvider)
    }
}
