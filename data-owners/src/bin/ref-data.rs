//! `ref-data`: installs the reference owners on drive roots and seeds, changes, destroys
//! and dumps their data (see `data_owners::owners::fixture`).
#![forbid(unsafe_code)]

fn main() {
    data_owners::owners::fixture::cli::main();
}
