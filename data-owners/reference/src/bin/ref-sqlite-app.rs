//! The reference owner `ref-sqlite-app` (see `reference_owners::sqlite_app`).
#![forbid(unsafe_code)]

fn main() {
    reference_owners::sqlite_app::main();
}
