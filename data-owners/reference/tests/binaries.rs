//! The reference owners are built as binaries (the system tests start them through the
//! engine from the same target directory).

#[test]
fn reference_owner_binaries_exist() {
    for bin in [
        env!("CARGO_BIN_EXE_ref-record-store"),
        env!("CARGO_BIN_EXE_ref-sqlite-app"),
        env!("CARGO_BIN_EXE_ref-hybrid"),
        env!("CARGO_BIN_EXE_ref-settings-store"),
        env!("CARGO_BIN_EXE_ref-data"),
    ] {
        assert!(std::path::Path::new(bin).is_file(), "{bin}");
    }
}
