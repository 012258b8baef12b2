//! The `mtpbur` daemon and the backup provider (the MTP plug-in that maps the Backup storage
//! onto engine sessions).
//!
//! Not built yet: see the issues "Real USB" and "The Backup storage".
