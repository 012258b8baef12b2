//! Command-line options of `mtpbur`.

use std::path::PathBuf;

/// The help text; every option is explained here.
pub(crate) const HELP: &str = "\
mtpbur - MTP device daemon (public storages and the Backup storage) on a USB gadget

USAGE:
    mtpbur --profile <FILE> [--check]
    mtpbur ctl allow --for <DURATION> | revoke | status  [--profile <FILE> | --socket <PATH>]
    mtpbur ceiling --profile <FILE>

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

BENCHMARK:
    mtpbur ceiling -p FILE       Serve the profile's gadget with a raw bulk source and sink
                                 instead of MTP (same endpoints, buffers and queue depth):
                                 `mtpbur-host bench-raw` measures what the USB path itself
                                 carries (tests/vm/bench.sh).

CONTROL (root only, on the device):
    mtpbur ctl allow --for 10m   Let hosts use the Backup storage for 10 minutes (90s, 10m,
                                 1h; at most 24h). Under `access = \"consent\"` (the
                                 default) a host sees only README.txt and status.toml
                                 until then.
    mtpbur ctl revoke            End the consent now.
    mtpbur ctl status            Say whether hosts are allowed, and until when.
    The command talks to the daemon's control socket: --socket, else the profile's
    [backup] control_socket, else /run/mtpbur/control.sock. Exit status 1 on refusal.

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
    /// Serve the raw USB ceiling benchmark (board::ceiling) instead of MTP.
    Ceiling(PathBuf),
    /// Send a control command to the running daemon.
    Ctl {
        /// The command.
        control: firmware::backup::access::Control,
        /// `--socket`.
        socket: Option<PathBuf>,
        /// `--profile` (its `control_socket`).
        profile: Option<PathBuf>,
    },
}

/// Parses the arguments (without the program name).
///
/// # Errors
/// A message for an unknown option or a missing profile.
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let args: Vec<String> = args.into_iter().collect();
    if args.first().is_some_and(|a| a == "ctl") {
        return parse_ctl(&args[1..]);
    }
    if args.first().is_some_and(|a| a == "ceiling") {
        return match parse(args[1..].iter().cloned())? {
            Command::Run(p) => Ok(Command::Ceiling(p)),
            _ => Err("ceiling: --profile <FILE> only".into()),
        };
    }
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

/// Parses `mtpbur ctl ...` (without `ctl`).
fn parse_ctl(args: &[String]) -> Result<Command, String> {
    use firmware::backup::access::{Control, parse_duration};
    let mut command = None;
    let mut duration = None;
    let (mut socket, mut profile) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--for" => duration = Some(value("--for")?),
            "--socket" => socket = Some(PathBuf::from(value("--socket")?)),
            "-p" | "--profile" => profile = Some(PathBuf::from(value("--profile")?)),
            "allow" | "revoke" | "status" if command.is_none() => command = Some(a.clone()),
            other => return Err(format!("ctl: unexpected {other:?} (see --help)")),
        }
    }
    let control = match (command.as_deref(), duration) {
        (Some("allow"), Some(d)) => Control::Allow {
            secs: parse_duration(&d)?,
        },
        (Some("allow"), None) => return Err("ctl allow: --for <DURATION> (e.g. 10m)".into()),
        (Some("revoke"), None) => Control::Revoke,
        (Some("status"), None) => Control::Status,
        (Some(c), Some(_)) => return Err(format!("ctl {c}: --for is for allow")),
        _ => return Err("ctl: allow, revoke or status (see --help)".into()),
    };
    Ok(Command::Ctl {
        control,
        socket,
        profile,
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
        assert_eq!(
            parse(args(&["ceiling", "-p", "a.toml"])),
            Ok(Command::Ceiling("a.toml".into()))
        );
        assert!(parse(args(&["ceiling", "--check", "-p", "a.toml"])).is_err());
        assert!(parse(args(&["--bogus"])).unwrap_err().contains("--bogus"));
    }

    #[test]
    fn ctl_commands_parse() {
        use firmware::backup::access::Control;
        assert_eq!(
            parse(args(&["ctl", "allow", "--for", "10m"])),
            Ok(Command::Ctl {
                control: Control::Allow { secs: 600 },
                socket: None,
                profile: None
            })
        );
        assert_eq!(
            parse(args(&["ctl", "status", "--socket", "/tmp/c.sock"])),
            Ok(Command::Ctl {
                control: Control::Status,
                socket: Some("/tmp/c.sock".into()),
                profile: None
            })
        );
        assert_eq!(
            parse(args(&["ctl", "revoke", "-p", "a.toml"])),
            Ok(Command::Ctl {
                control: Control::Revoke,
                socket: None,
                profile: Some("a.toml".into())
            })
        );
        for (bad, word) in [
            (&["ctl"][..], "allow, revoke or status"),
            (&["ctl", "allow"][..], "--for"),
            (&["ctl", "allow", "--for", "2d"][..], "like 90s"),
            (&["ctl", "status", "--for", "1m"][..], "is for allow"),
            (&["ctl", "allow", "revoke"][..], "unexpected"),
        ] {
            let e = parse(args(bad)).unwrap_err();
            assert!(e.contains(word), "{bad:?}: {e}");
        }
    }
}
