//! The reference owner `ref-sqlite-app` (see `data_owners::owners::sqlite_app`).
#![forbid(unsafe_code)]

fn main() {
    data_owners::owners::sqlite_app::main();
}
