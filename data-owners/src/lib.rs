//! The engine <-> data-owner wire protocol, the client library a data owner links, and the
//! reference data owners.
//!
//! Built so far: [`wire`] (the protocol), [`transport`] (async framing) and [`client`]
//! (the minimal owner side: connect, confirm ready, serve callbacks).
#![forbid(unsafe_code)]

pub mod client;
pub mod transport;
pub mod wire;
