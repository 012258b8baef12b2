//! Where the test owner (`engine/examples/sbe-test-owner.rs`) is found, and the directory
//! owners are started from.
//!
//! The test owner is an example of the engine, not one of its binaries: test-only code
//! that `cargo build` and an installation never produce. `cargo test` builds examples
//! before it runs the tests.
#![allow(unreachable_pub)] // shared by several test crates
#![allow(clippy::disallowed_methods)] // copies the test owner by path

use std::path::{Path, PathBuf};

/// Returns the built test owner.
///
/// # Panics
/// If it was not built (a `--test` filter skips examples), saying how to build it.
pub fn test_owner_exe() -> PathBuf {
    // Test binaries are in target/<profile>/deps, examples in target/<profile>/examples.
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let built = profile_dir.join("examples").join("sbe-test-owner");
    assert!(
        built.is_file(),
        "the test owner is not built at {}: run `cargo build -p engine --example sbe-test-owner` \
         (cargo test builds it unless a --test filter is given)",
        built.display()
    );
    built
}

/// Returns the directory owners are started from. As root, the test owner is copied into
/// the (world-traversable) test directory: owners run as their cage's uid, which may not
/// reach the build's target directory.
pub fn owner_dir(test_dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let built = test_owner_exe();
    if !rustix::process::geteuid().is_root() {
        return built.parent().expect("examples dir").to_owned();
    }
    std::fs::set_permissions(test_dir, std::fs::Permissions::from_mode(0o755))
        .expect("chmod test dir");
    let dir = test_dir.join("owners");
    std::fs::create_dir_all(&dir).expect("owners dir");
    let to = dir.join("sbe-test-owner");
    // A link, or a copy written by a child process: a copy written here would leave a
    // writable descriptor that a concurrent test's fork inherits until its exec, and an
    // owner started from the copy meanwhile fails with "text file busy".
    if std::fs::hard_link(&built, &to).is_err() {
        let copied = std::process::Command::new("cp")
            .arg(&built)
            .arg(&to)
            .status()
            .expect("cp");
        assert!(copied.success(), "copy the test owner");
    }
    dir
}
