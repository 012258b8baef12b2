//! The `firmware` library: the parts of the `mtpbur` daemon that are worth testing on their
//! own, starting with the pure foundations of the Backup storage ([`backup`]).
//!
//! The binary (`src/main.rs`) wires the MTP responder, the USB gadget and the engine
//! together; this library holds the sans-IO pieces it builds on: request parsing, session
//! folder naming, and the text files the Backup storage shows the host.
#![deny(unsafe_code)]

pub mod backup;
