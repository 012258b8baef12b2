//! The data-provider plug-in interface (Symbian's MTP data provider, in spirit).
//!
//! A provider owns one or more storages and the objects in them. It declares up front which
//! operations and formats it supports ([`Capabilities`]); the responder builds DeviceInfo and
//! routes operations from that declaration alone. Object data moves through
//! [`ObjectSource`] (device to host) and [`ObjectSink`] (host to device) in bounded chunks.
//!
//! Handles are namespaced: the responder gives each provider a [`ProviderId`] when it is
//! added, and every handle the provider hands out carries that id in its top byte, so the
//! responder can route a handle without asking anybody. A provider must keep a handle (and
//! the persistent unique id) stable for the same object across sessions.
//!
//! Failures are [`ResponseCode`]s the provider chooses; "not mine" is never an error.

use bytes::Bytes;

use crate::codec::dataset::{ObjectInfo, StorageInfo};
use crate::codec::value::PropValue;
use crate::codec::{EventCode, ObjectFormat, ObjectPropCode, OperationCode, ResponseCode};

/// A provider's result type.
pub type ProviderResult<T> = Result<T, ResponseCode>;

/// Index of a provider in the responder, carried in the top byte of its handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProviderId(pub u8);

/// An object handle (never 0 or 0xFFFFFFFF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectHandle(pub u32);

impl ObjectHandle {
    /// Builds the handle with local number `local` (1..=0xFFFFFF) in provider `id`'s space.
    pub fn new(id: ProviderId, local: u32) -> Self {
        debug_assert!(local != 0 && local <= 0x00FF_FFFF);
        Self((u32::from(id.0) << 24) | (local & 0x00FF_FFFF))
    }

    /// Returns the provider this handle belongs to.
    pub fn provider(self) -> ProviderId {
        ProviderId((self.0 >> 24) as u8)
    }

    /// Returns the provider-local number.
    pub fn local(self) -> u32 {
        self.0 & 0x00FF_FFFF
    }
}

/// A storage id (high 16 bits: physical store, low 16: logical; the low half is never 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageId(pub u32);

/// Which objects GetObjectHandles / GetNumObjects asks for, by parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentFilter {
    /// Parameter 0: every object in the storage, at any depth.
    All,
    /// Parameter 0xFFFFFFFF: the objects in the storage root.
    Root,
    /// The children of this association.
    Children(ObjectHandle),
}

/// What the responder needs to know about one object; the responder derives ObjectInfo and
/// every object property it serves from this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRecord {
    /// The object's handle.
    pub handle: ObjectHandle,
    /// The storage it lives in.
    pub storage: StorageId,
    /// Its parent folder, or `None` for the storage root.
    pub parent: Option<ObjectHandle>,
    /// ObjectFormat; folders are [`ObjectFormat::Association`].
    pub format: ObjectFormat,
    /// Exact size in bytes (0 for folders).
    pub size: u64,
    /// File name (one path component).
    pub name: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Modification time, Unix seconds.
    pub modified: i64,
    /// True if the object may not be modified or deleted.
    pub read_only: bool,
    /// PersistentUniqueObjectIdentifier: stable for this object across sessions.
    pub puid: u128,
}

impl ObjectRecord {
    /// Returns true for folders.
    pub fn is_folder(&self) -> bool {
        self.format == ObjectFormat::Association
    }

    /// Builds the ObjectInfo dataset (ParentObject 0 for root objects, compressed size
    /// clamped to 0xFFFFFFFF from 4 GiB on).
    pub fn to_object_info(&self) -> ObjectInfo {
        use crate::codec::dataset::datetime;
        ObjectInfo {
            storage_id: self.storage.0,
            format: self.format.to_u16(),
            protection_status: u16::from(self.read_only),
            compressed_size: u32::try_from(self.size).unwrap_or(u32::MAX),
            parent: self.parent.map_or(0, |p| p.0),
            association_type: u16::from(self.is_folder()),
            filename: self.name.clone(),
            date_created: datetime::format(self.created),
            date_modified: datetime::format(self.modified),
            ..ObjectInfo::default()
        }
    }
}

/// What a provider declares it supports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// Object operations it handles (GetObjectInfo, SendObject, MoveObject, ...). Session and
    /// device operations belong to the responder and need not be listed.
    pub operations: Vec<OperationCode>,
    /// Formats it can send to the host.
    pub playback_formats: Vec<ObjectFormat>,
    /// Formats it accepts from the host.
    pub capture_formats: Vec<ObjectFormat>,
    /// Object properties the host may set (ObjectFileName for renames, ...).
    pub writable_props: Vec<ObjectPropCode>,
    /// Events it may raise.
    pub events: Vec<EventCode>,
}

/// The destination of an upload announced by SendObjectInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The storage (never 0 or 0xFFFFFFFF here: the responder resolved it).
    pub storage: StorageId,
    /// The parent folder, or `None` for the storage root.
    pub parent: Option<ObjectHandle>,
}

/// One read from an [`ObjectSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    /// Some bytes (never empty, at most the requested length).
    Data(Bytes),
    /// Nothing yet: the responder asks again later (a slow producer never blocks USB).
    NotReady,
}

/// Object data flowing to the host, read in bounded chunks.
pub trait ObjectSource: Send {
    /// Returns the exact number of bytes this source will produce.
    fn len(&self) -> u64;

    /// Returns true if the source produces no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads up to `max` bytes; the source must not end before `len()` bytes.
    ///
    /// # Errors
    /// A response code if the data cannot be read; the responder then aborts the transfer.
    fn read(&mut self, max: usize) -> ProviderResult<Chunk>;

    /// Returns exactly the next `len` bytes mapped from a file ([`crate::mapped`]), for
    /// the kernel to copy straight into one USB request; `None` if this source does not
    /// map (or not now), and the responder reads instead. The caller never reads the
    /// bytes in user space (a file truncated under the mapping would raise SIGBUS).
    ///
    /// # Errors
    /// A response code if the data is gone (the file shrank); the responder then aborts
    /// the transfer.
    fn map_next(&mut self, len: usize) -> Option<ProviderResult<Bytes>> {
        let _ = len;
        None
    }
}

/// Object data flowing from the host, written in bounded chunks.
pub trait ObjectSink: Send {
    /// Writes the next chunk.
    ///
    /// # Errors
    /// StoreFull, GeneralError, ...: the responder keeps draining the data phase, then
    /// calls [`ObjectSink::abort`] and answers with the code.
    fn write(&mut self, data: Bytes) -> ProviderResult<()>;

    /// Commits the data after a complete data phase of `received` bytes.
    ///
    /// # Errors
    /// A response code if the data cannot be committed (nothing partial stays visible).
    fn finish(self: Box<Self>, received: u64) -> ProviderResult<()>;

    /// Throws away everything written (cancel, error, short transfer).
    fn abort(self: Box<Self>);
}

/// A change a provider reports, sent to the host as an event while a session is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderEvent {
    /// Event code.
    pub code: EventCode,
    /// Up to three parameters.
    pub params: [Option<u32>; 3],
}

impl ProviderEvent {
    /// An event with one parameter (ObjectAdded(handle), StoreAdded(storage), ...).
    pub fn with(code: EventCode, param: u32) -> Self {
        Self {
            code,
            params: [Some(param), None, None],
        }
    }
}

/// The plug-in trait. Every method has a default that answers "not supported", so a
/// provider implements only what it declares.
pub trait DataProvider: Send {
    /// Returns a short name for logs.
    fn name(&self) -> &str;

    /// Receives this provider's id; called once when the provider is added.
    fn attach(&mut self, id: ProviderId);

    /// Returns what the provider supports.
    fn capabilities(&self) -> Capabilities;

    /// Returns the storages the provider currently offers.
    fn storage_ids(&self) -> Vec<StorageId>;

    /// Returns StorageInfo for one of its storages.
    ///
    /// # Errors
    /// InvalidStorageID, StoreNotAvailable.
    fn storage_info(&mut self, storage: StorageId) -> ProviderResult<StorageInfo>;

    /// Lists handles in `storage` under `parent`, optionally only of `format`.
    ///
    /// # Errors
    /// InvalidParentObject, InvalidObjectHandle, StoreNotAvailable.
    fn object_handles(
        &mut self,
        storage: StorageId,
        format: Option<ObjectFormat>,
        parent: ParentFilter,
    ) -> ProviderResult<Vec<ObjectHandle>>;

    /// Returns what is known about one object.
    ///
    /// # Errors
    /// InvalidObjectHandle.
    fn object(&mut self, handle: ObjectHandle) -> ProviderResult<ObjectRecord>;

    /// Opens object data for reading from `offset`, at most `max_len` bytes.
    ///
    /// # Errors
    /// InvalidObjectHandle, InvalidParameter (offset past the end), AccessDenied.
    fn open_read(
        &mut self,
        handle: ObjectHandle,
        offset: u64,
        max_len: u64,
    ) -> ProviderResult<Box<dyn ObjectSource>>;

    /// Announces an upload (SendObjectInfo). Folders are created at once; files become
    /// visible only after their SendObject completes. `size` is the real size (the
    /// responder resolves 0xFFFFFFFF compressed sizes as unknown: `None`).
    ///
    /// # Errors
    /// StoreFull, StoreReadOnly, InvalidParentObject, InvalidDataset (bad name), ...
    fn send_object_info(
        &mut self,
        _at: Placement,
        _info: &ObjectInfo,
        _size: Option<u64>,
    ) -> ProviderResult<ObjectHandle> {
        Err(ResponseCode::OperationNotSupported)
    }

    /// Opens the sink for the SendObject that follows SendObjectInfo of `handle`.
    ///
    /// # Errors
    /// NoValidObjectInfo, StoreFull, ...
    fn send_object(&mut self, _handle: ObjectHandle) -> ProviderResult<Box<dyn ObjectSink>> {
        Err(ResponseCode::OperationNotSupported)
    }

    /// Deletes an object (folders recursively).
    ///
    /// # Errors
    /// ObjectWriteProtected, StoreReadOnly, PartialDeletion, AccessDenied.
    fn delete_object(&mut self, _handle: ObjectHandle) -> ProviderResult<()> {
        Err(ResponseCode::OperationNotSupported)
    }

    /// Moves an object into another folder or storage of this provider.
    ///
    /// # Errors
    /// InvalidParentObject, StoreReadOnly, SpecificationOfDestinationUnsupported, ...
    fn move_object(&mut self, _handle: ObjectHandle, _to: Placement) -> ProviderResult<()> {
        Err(ResponseCode::OperationNotSupported)
    }

    /// Copies an object (folders recursively) and returns the new handle.
    ///
    /// # Errors
    /// As [`DataProvider::move_object`], plus StoreFull.
    fn copy_object(
        &mut self,
        _handle: ObjectHandle,
        _to: Placement,
    ) -> ProviderResult<ObjectHandle> {
        Err(ResponseCode::OperationNotSupported)
    }

    /// Sets a writable object property (ObjectFileName renames).
    ///
    /// # Errors
    /// ObjectPropNotSupported, AccessDenied, InvalidObjectPropValue.
    fn set_object_prop(
        &mut self,
        _handle: ObjectHandle,
        _prop: ObjectPropCode,
        _value: &PropValue,
    ) -> ProviderResult<()> {
        Err(ResponseCode::AccessDenied)
    }

    /// Starts an edit session on an object (Android BeginEditObject).
    ///
    /// # Errors
    /// InvalidObjectHandle, AccessDenied, DeviceBusy.
    fn begin_edit(&mut self, _handle: ObjectHandle) -> ProviderResult<()> {
        Err(ResponseCode::OperationNotSupported)
    }

    /// Ends an edit session, making the edits visible.
    ///
    /// # Errors
    /// InvalidObjectHandle, GeneralError.
    fn end_edit(&mut self, _handle: ObjectHandle) -> ProviderResult<()> {
        Err(ResponseCode::OperationNotSupported)
    }

    /// Opens a sink writing `len` bytes at `offset` of an object in an edit session.
    ///
    /// # Errors
    /// InvalidObjectHandle, AccessDenied (no edit session), StoreFull.
    fn send_partial(
        &mut self,
        _handle: ObjectHandle,
        _offset: u64,
        _len: u32,
    ) -> ProviderResult<Box<dyn ObjectSink>> {
        Err(ResponseCode::OperationNotSupported)
    }

    /// Truncates an object in an edit session to `size` bytes.
    ///
    /// # Errors
    /// InvalidObjectHandle, AccessDenied (no edit session).
    fn truncate(&mut self, _handle: ObjectHandle, _size: u64) -> ProviderResult<()> {
        Err(ResponseCode::OperationNotSupported)
    }

    /// Returns the next pending event, if any.
    fn poll_event(&mut self) -> Option<ProviderEvent> {
        None
    }

    /// Called when a session opens.
    fn on_session_open(&mut self) {}

    /// Called when a session closes or the device is reset or disconnected; edit sessions
    /// and half-announced uploads end here.
    fn on_session_close(&mut self) {}
}
