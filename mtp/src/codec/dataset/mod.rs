//! Datasets a responder sends or receives: DeviceInfo, StorageInfo, ObjectInfo,
//! ObjectPropDesc, DevicePropDesc, ObjectPropList, and the DateTime string form.

pub mod datetime;
pub mod device_info;
pub mod object_info;
pub mod prop_desc;
pub mod prop_list;
pub mod storage_info;

pub use device_info::DeviceInfo;
pub use object_info::ObjectInfo;
pub use prop_desc::{DevicePropDesc, Form, ObjectPropDesc};
pub use prop_list::{ObjectPropList, PropListEntry};
pub use storage_info::{AccessCapability, FilesystemType, StorageInfo, StorageType};
