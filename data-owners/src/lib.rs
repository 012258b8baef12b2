//! The engine <-> data-owner wire protocol, the client library a data owner links, and the
//! reference data owners.
//!
//! Built so far: [`wire`] (the protocol).
#![forbid(unsafe_code)]

pub mod wire;
