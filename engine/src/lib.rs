//! The backup engine (Symbian's Secure Backup Engine rebuilt for Linux): registrations,
//! the BUR mode bus, data-owner IPC, transfer units and sessions over a spool.
//!
//! Not built yet: see the issue "Backup engine".
