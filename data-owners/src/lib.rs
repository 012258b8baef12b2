//! The engine <-> data-owner wire protocol and the client library a data owner links.
//!
//! * [`wire`]: the protocol (pure), [`transport`]: async framing;
//! * [`client`]: what an owner links (`ActiveBackupClient`, the `ActiveBackupDataClient`
//!   callbacks), [`mode`]: typed BUR modes and the mode watcher;
//!
//! The reference owners and their fixture are a crate of their own
//! (`data-owners/reference`, `reference-owners`), so that this library stays small.
//!
//! How to make an application backup-aware: `docs/data-owners.md`.
#![forbid(unsafe_code)]

pub mod client;
pub mod mode;
pub mod transport;
pub mod wire;
