//! The reference owner `ref-hybrid` (see `data_owners::owners::hybrid`).
#![forbid(unsafe_code)]

fn main() {
    data_owners::owners::hybrid::main();
}
