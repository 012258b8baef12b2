//! The engine <-> data-owner wire protocol, the client library a data owner links, and the
//! reference data owners.
//!
//! * [`wire`]: the protocol (pure), [`transport`]: async framing;
//! * [`client`]: what an owner links (`ActiveBackupClient`, the `ActiveBackupDataClient`
//!   callbacks), [`mode`]: typed BUR modes and the mode watcher;
//! * [`owners`]: the reference owners (their `main`s are the crate's binaries).
//!
//! How to make an application backup-aware: `docs/data-owners.md`.
#![forbid(unsafe_code)]

pub mod client;
pub mod mode;
pub mod owners;
pub mod transport;
pub mod wire;
