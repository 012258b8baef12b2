//! `ref-data`: installs the reference owners on drive roots and seeds, changes, destroys
//! and dumps their data (see `reference_owners::fixture`).
#![forbid(unsafe_code)]

fn main() {
    reference_owners::fixture::cli::main();
}
