#![doc = include_str!("../README.md")]
#![deny(unsafe_code)] // one reasoned exception: `mapped` (mmap for the kernel to copy from)

// Sans-IO: `codec`, `lengths`, `provider`, `responder` (mtp/clippy.toml lists the I/O
// they may not do). The shells below may, and say so here. The providers serve files, but
// only through the `confined` crate's descriptors (no path-based `std::fs`).
pub mod codec;
mod lengths;
#[allow(clippy::disallowed_methods)]
pub mod mapped;
pub mod provider;
pub mod providers;
pub mod responder;

pub use codec::{ObjectFormat, OperationCode, ResponseCode};
pub use provider::{DataProvider, ObjectHandle, StorageId};
pub use responder::{ControlRequest, DeviceStatus, Responder, ResponderConfig};
#[allow(clippy::disallowed_methods)]
pub mod driver;
#[cfg(feature = "initiator")]
#[allow(clippy::disallowed_methods)]
pub mod initiator;
#[allow(clippy::disallowed_methods)]
pub mod transport;
