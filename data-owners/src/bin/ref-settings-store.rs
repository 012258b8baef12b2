//! The reference owner `ref-settings-store` (see `data_owners::owners::settings_store`).
#![forbid(unsafe_code)]

fn main() {
    data_owners::owners::settings_store::main();
}
