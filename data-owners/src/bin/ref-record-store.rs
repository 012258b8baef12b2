//! The reference record store owner (see `data_owners::owners::record_store`).
#![forbid(unsafe_code)]

fn main() {
    data_owners::owners::record_store::main();
}
