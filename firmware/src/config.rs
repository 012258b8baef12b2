//! Command-line options of `mtpbur`.

use std::path::PathBuf;

/// The help text; every option is explained here.
pub(crate) const HELP: &str = "\
mtpbur - MTP device daemon (public storages and the Backup storage) on a USB gadget

USAGE:
    mtpbur --profile <FILE> [--check]

OPTIONS:
    -p, --profile <FILE>   Board profile (TOML): USB ids and strings, the UDC, the public
                           storages, the backup drives and paths. Examples ship in
                           board/profiles/ (dummy_hcd.toml, raspberry-pi-zero.toml).
        --check            Load and check the profile, print the gadget it describes and
                           the storages, then exit without touching USB.
    -h, --help             Print this help.
    -V, --version          Print the version.

ENVIRONMENT:
    RUST_LOG               Log filter (tracing), e.g. `info`, `mtp=debug`, `board=trace`.
                           Default: info.

SIGNALS:
    SIGTERM, SIGINT        Unbind the gadget from the UDC, remove it and exit 0.

The daemon creates the configfs gadget named in the profile (removing a stale one left by
a crash), binds it to the UDC and serves MTP until a signal arrives. With
`usb.existing_functionfs` it only writes descriptors into that FunctionFS and leaves the
gadget to the board's init.

With a `[backup]` spool and drives, the Backup storage starts the backup engine on its
own thread (owner socket, registrations); hosts back up and restore by sending
backup.request / restore.request into its requests/ folder (docs/host-guide.md).";

/// Parsed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Serve with this profile.
    Run(PathBuf),
    /// Check this profile and exit.
    Check(PathBuf),
    /// Print help.
    Help,
    /// Print the version.
    Version,
}

/// Parses the arguments (without the program name).
///
/// # Errors
/// A message for an unknown option or a missing profile.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut profile = None;
    let mut check = false;
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--check" => check = true,
            "-p" | "--profile" => {
                profile = Some(args.next().ok_or("--profile needs a file")?);
            }
            s if s.starts_with("--profile=") => profile = Some(s["--profile=".len()..].to_string()),
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    let profile = PathBuf::from(profile.ok_or("missing --profile <FILE> (see --help)")?);
    Ok(if check {
        Command::Check(profile)
    } else {
        Command::Run(profile)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn options_parse() {
        assert_eq!(
            parse(args(&["--profile", "a.toml"])),
            Ok(Command::Run("a.toml".into()))
        );
        assert_eq!(
            parse(args(&["--check", "-p", "a.toml"])),
            Ok(Command::Check("a.toml".into()))
        );
        assert_eq!(
            parse(args(&["--profile=b.toml"])),
            Ok(Command::Run("b.toml".into()))
        );
        assert_eq!(parse(args(&["--help"])), Ok(Command::Help));
        assert!(parse(args(&[])).unwrap_err().contains("missing --profile"));
        assert!(parse(args(&["--bogus"])).unwrap_err().contains("--bogus"));
    }
}
