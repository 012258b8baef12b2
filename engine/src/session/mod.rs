//! The rules of backup and restore sessions, free of I/O: which units an owner gets and
//! in which order ([`plan`]), and the reference's per-(owner, drive) sequencing rules
//! ([`sequence`]). The async shell that runs sessions over a spool is [`crate::runner`].

pub mod plan;
pub mod sequence;

#[cfg(test)]
mod tests;
