//! Board support: the USB identity and transport settings of a profile, the configfs
//! gadget built with usb-gadget, and the FunctionFS transport that carries the `mtp`
//! responder over real USB.
//!
//! `profile` and `spec` are pure; `gadget` and `ffs` are the only code that touches
//! configfs, FunctionFS and the endpoints.
#![deny(unsafe_code)]

pub mod ceiling;
pub mod ffs;
pub mod gadget;
pub mod profile;
pub mod spec;

pub use profile::{TransportProfile, UsbProfile};
pub use spec::GadgetSpec;
