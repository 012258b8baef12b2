//! The checked-in header is what cbindgen makes of the crate today, so C programs and the
//! Rust side never disagree. `MTPBUR_UPDATE_HEADER=1` rewrites it.

use std::path::Path;

#[test]
fn the_header_matches_the_crate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen")
        .write(&mut generated);
    let path = dir.join("include/mtpbur_owner.h");
    if std::env::var_os("MTPBUR_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write header");
    }
    let current = std::fs::read(&path).unwrap_or_default();
    assert!(
        current == generated,
        "include/mtpbur_owner.h is stale: run MTPBUR_UPDATE_HEADER=1 cargo test -p mtpbur-owner --test header"
    );
}
