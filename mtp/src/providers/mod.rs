//! Built-in providers: the device provider (DeviceInfo identity and device properties) and
//! the files provider (directories as storages).

pub mod device;
pub mod files;

pub use device::{DeviceIdentity, DeviceProvider};
pub use files::{FilesProvider, HiddenFilter, RESERVED_LOCALS, StorageConfig};
