//! The `firmware` library: the Backup storage ([`backup`]), the part of the `mtpbur`
//! daemon that is worth testing on its own.
//!
//! The binary (`src/main.rs`) wires the MTP responder, the USB gadget and the engine
//! together; this library holds the Backup storage's provider, its engine thread and the
//! sans-IO pieces they build on: the session machine, request parsing, session folder
//! naming, and the text files the Backup storage shows the host.
#![deny(unsafe_code)]
// firmware/clippy.toml lists the I/O a sans-IO module may not do; the lint is on only in
// those modules (each starts with `#![warn(clippy::disallowed_methods)]`).
#![allow(clippy::disallowed_methods)]

pub mod backup;
