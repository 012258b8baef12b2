//! The reference owner `ref-settings-store` (see `reference_owners::settings_store`).
#![forbid(unsafe_code)]

fn main() {
    reference_owners::settings_store::main();
}
