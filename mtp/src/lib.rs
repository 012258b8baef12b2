#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod codec;
mod lengths;
pub mod provider;
pub mod providers;
pub mod responder;

pub use codec::{ObjectFormat, OperationCode, ResponseCode};
pub use provider::{DataProvider, ObjectHandle, StorageId};
pub use responder::{ControlRequest, DeviceStatus, Responder, ResponderConfig};
pub mod driver;
#[cfg(feature = "initiator")]
pub mod initiator;
pub mod transport;
