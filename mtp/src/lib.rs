//! MTP responder core.
#![forbid(unsafe_code)]
pub mod codec;
