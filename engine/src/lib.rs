//! The backup engine (Symbian's Secure Backup Engine rebuilt for Linux): registrations,
//! the BUR mode bus, data-owner IPC, transfer units and sessions over a spool.
//!
//! It knows nothing about MTP or USB; `docs/engine.md` describes the model, formats and
//! differences from Symbian.
//!
//! - [`registration`]: parsing and discovery of `backup_registration*.xml`.
//! - [`mode`]: BUR modes, transition rules, the mode bus and state file.
//! - [`ipc`]: the Unix-socket server for data owners (peer check, launcher, watchdog).
//! - [`stream`], [`unit`](mod@unit), [`manifest`], [`spool`]: framed units, the manifest, sets on disk.
//! - [`passive`], [`dbms`], [`public`], [`system`]: the kinds of data the engine copies itself.
//! - [`owners`]: capability flags and status as the backup server sees them.
//! - [`session`]: the pure rules of sessions (unit plans, sequencing).
//! - [`runner`]: the [`runner::Engine`] that runs backup and restore sessions over the spool,
//!   and the per-unit `CSBEClient` calls (`request_data`, `supply_data`, …).
#![deny(unsafe_code)] // one reasoned exception: ipc::server::become_owner
#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod commit;
pub mod confined;
pub mod crypto;
pub mod dbms;
pub mod ipc;
pub mod manifest;
pub mod mode;
pub mod owners;
pub mod passive;
pub mod progress;
pub mod public;
pub mod recovery;
pub mod registration;
pub mod runner;
pub mod session;
pub mod spool;
pub mod stream;
pub mod system;
pub mod unit;
