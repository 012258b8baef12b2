//! Backup and restore sessions over a spool.

pub mod plan;

#[cfg(test)]
mod tests;
