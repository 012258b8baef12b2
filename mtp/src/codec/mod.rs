//! Pure bytes <-> types conversion.
pub mod codes;
