//! The commands. Device commands take a [`Remote`](crate::remote::Remote) over any
//! [`Link`](crate::link::Link), so tests drive them over the firmware's loopback; the
//! repository commands need no device.

pub mod backup;
pub mod bench;
pub mod ceiling;
pub mod device;
pub mod encryption;
pub mod repo;
pub mod restore;
