//! The Backup storage's pure foundations (sans-IO): what the host sends and what it reads.
//!
//! The Backup storage (DESIGN.md, "The backup provider") shows the host `README.txt`,
//! `owners.toml`, `status.toml`, a permanent `requests/` folder and one folder per backup
//! session. The host drives it with stock libmtp tools or a file manager on a mount:
//!
//! - [`request`] parses and validates `backup.request` and `restore.request`;
//! - [`naming`] names session folders `<UTC yyyymmddThhmmssZ>[-label]`, made unique;
//! - [`status`] renders `status.toml` and `owners.toml`;
//! - [`readme`] holds the text of `README.txt`.
//!
//! Nothing here touches files, clocks or the engine's sessions: the provider that will
//! implement `mtp::provider::DataProvider` for the storage passes time and listings in.

pub mod intake;
pub mod naming;
pub mod provider;
pub mod readme;
pub mod request;
pub mod service;
pub mod shared;
pub mod status;
