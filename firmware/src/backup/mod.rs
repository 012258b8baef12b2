//! The Backup storage (DESIGN.md, "The backup provider"): it shows the host `README.txt`,
//! `owners.toml`, `status.toml`, a permanent `requests/` folder and one folder per backup
//! session, and the host drives it with stock libmtp tools or a file manager on a mount.
//!
//! Pure (sans-IO), unit-tested per state or per input:
//! - [`request`] parses and validates `backup.request` and `restore.request`;
//! - [`naming`] names session folders `<UTC yyyymmddThhmmssZ>[-label]`, made unique;
//! - [`status`] renders `status.toml` and `owners.toml`;
//! - [`readme`] holds the text of `README.txt`;
//! - [`session`] owns the state of the storage's sessions: it takes in news and says what
//!   the host must hear;
//! - [`access`] decides whether a host may use the storage now (open, or consent on the
//!   device) and parses the control socket's commands.
//!
//! With I/O:
//! - [`service`] runs the engine on its own thread and sends the session its news;
//! - [`intake`] checks a request against the spool and the device and hands the job over;
//! - [`provider`] is the `mtp::provider::DataProvider` that serves the storage and drains
//!   the session's news;
//! - [`control`] serves the root-only control socket (`mtpbur ctl allow --for 10m`).
//!
//! ```text
//!  USB thread                                   engine thread
//!  provider ──request──▶ intake ──Job──────────▶ service ── Engine
//!     ▲                    │ Accepted/Refused        │ progress, files, owners, end
//!     └──── Session ◀──────┴──── News channel ◀──────┘
//! ```

pub mod access;
pub mod control;
pub mod intake;
pub mod naming;
pub mod provider;
pub mod readme;
pub mod request;
pub mod service;
pub mod session;
pub mod status;
