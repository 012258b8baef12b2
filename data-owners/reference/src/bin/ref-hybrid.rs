//! The reference owner `ref-hybrid` (see `reference_owners::hybrid`).
#![forbid(unsafe_code)]

fn main() {
    reference_owners::hybrid::main();
}
