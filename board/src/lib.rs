//! Board support: TOML board profiles, the configfs gadget (usb-gadget) and the FunctionFS
//! transport for the `mtp` responder.
//!
//! Not built yet: see the issue "Real USB: board profiles, the FunctionFS transport, the
//! `mtpbur` daemon, and the dummy_hcd VM suite in CI".
