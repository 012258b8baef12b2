//! The reference record store owner (see `reference_owners::record_store`).
#![forbid(unsafe_code)]

fn main() {
    reference_owners::record_store::main();
}
