//! The PC side of an `mtpbur` device's Backup storage: an MTP initiator over USB
//! (`nusb`), the repository of sets on the PC, and the commands of `mtpbur-host`.
//! See `docs/host-program.md`.

pub mod check;
pub mod client;
pub mod cmd;
pub mod device;
pub mod extract;
pub mod keep;
pub mod link;
pub mod output;
pub mod password;
pub mod remote;
pub mod repo;
pub mod storage;
#[cfg(test)]
mod testset;
pub mod usb;
