//! The backup engine (Symbian's Secure Backup Engine rebuilt for Linux): registrations,
//! the BUR mode bus, data-owner IPC, transfer units and sessions over a spool.
//!
//! Built so far: [`registration`] (parsing and discovery of `backup_registration*.xml`),
//! [`mode`] (BUR modes and the mode bus), [`stream`] (framed, checksummed, optionally
//! compressed unit streams), [`unit`], [`manifest`] and [`spool`] (backup sets on disk and
//! their verification) and [`passive`] (selection, snapshots, increments, atomic restore).
#![forbid(unsafe_code)]

pub mod dbms;
pub mod ipc;
pub mod manifest;
pub mod mode;
pub mod owners;
pub mod passive;
pub mod public;
pub mod registration;
pub mod session;
pub mod spool;
pub mod stream;
pub mod system;
pub mod unit;
