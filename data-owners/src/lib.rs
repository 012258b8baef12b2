//! The engine <-> data-owner wire protocol, the client library a data owner links, and the
//! reference data owners.
//!
//! Not built yet: see the issue "Data owners".
