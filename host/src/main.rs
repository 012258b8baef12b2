//! `mtpbur-host`: the PC side of an `mtpbur` device's Backup storage. One command backs
//! up, restores, lists, verifies and extracts; the sets live in a repository on the PC
//! (`repo.rs`). See `docs/host-program.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use mtpbur_host::client::Client;
use mtpbur_host::output::{Exit, Failure, Outcome, Ui, fail};
use mtpbur_host::remote::{Remote, link_failure};
use mtpbur_host::repo::Repo;
use mtpbur_host::storage::BackupStorage;
use mtpbur_host::usb::{Queue, UsbLink};

/// Back up, restore, list, verify and extract the private data of an mtpbur device.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Print one JSON document on stdout instead of text (progress bars are off).
    #[arg(long, global = true)]
    json: bool,
    /// The device's serial number, when several are plugged in (see `devices`); for
    /// repository commands, the device folder to look at.
    #[arg(long, global = true)]
    serial: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the MTP devices plugged in.
    Devices,
    /// Benchmark: what the USB path carries, against a device running `mtpbur ceiling`
    /// (not an MTP device then).
    BenchRaw {
        /// MiB to move each way.
        #[arg(long, default_value_t = 64)]
        mb: u64,
        /// Round trips to time.
        #[arg(long, default_value_t = 1000)]
        rounds: u32,
        /// Data bytes in each round trip.
        #[arg(long, default_value_t = 0)]
        data: u64,
        /// One 16 KiB transfer at a time, as libmtp moves every phase (the path's limit
        /// for a libmtp tool), instead of four 256 KiB transfers queued.
        #[arg(long)]
        lockstep: bool,
    },
    /// Benchmark: the bench workload through this program's MTP client (a listing of the
    /// first storage's root, again as `mtp-files` asks for it, a GetObject, a SendObject
    /// that is deleted again).
    BenchMtp {
        /// The object in the first storage's root to read.
        #[arg(long)]
        get: String,
        /// MiB to send.
        #[arg(long, default_value_t = 64)]
        send_mb: u64,
        /// Only the listings (no GetObject, no SendObject).
        #[arg(long)]
        list_only: bool,
    },
    /// Show a device: storages, status, data owners.
    Info,
    /// Back up the device into REPO (an increment on its newest set there, if any).
    Backup {
        /// The repository folder (created if missing).
        repo: PathBuf,
        /// Only these owners (SIDs, comma separated).
        #[arg(long, value_delimiter = ',')]
        owners: Vec<String>,
        /// A base backup even if REPO has earlier sets.
        #[arg(long, conflicts_with = "incremental")]
        full: bool,
        /// An increment; fail if REPO has no earlier set of this device.
        #[arg(long)]
        incremental: bool,
        /// Leave the set on the device too.
        #[arg(long)]
        keep: bool,
        /// Appended to the set's name (1 to 32 characters).
        #[arg(long)]
        label: Option<String>,
    },
    /// Restore a set (and the sets it builds on) from REPO to the device.
    Restore {
        /// The repository folder.
        repo: PathBuf,
        /// The set to restore; the newest if not given.
        #[arg(long)]
        set: Option<String>,
        /// Only these owners (SIDs, comma separated).
        #[arg(long, value_delimiter = ',')]
        owners: Vec<String>,
        /// Leave the uploaded sets on the device.
        #[arg(long)]
        keep: bool,
    },
    /// List the sets in REPO.
    List {
        /// The repository folder.
        repo: PathBuf,
    },
    /// Read every byte of the sets in REPO and check it against their manifests.
    Verify {
        /// The repository folder.
        repo: PathBuf,
        /// Only this set.
        #[arg(long)]
        set: Option<String>,
    },
    /// Write one owner's data of a set (with the sets it builds on) as plain files.
    Extract {
        /// The repository folder.
        repo: PathBuf,
        /// The set.
        #[arg(long)]
        set: String,
        /// The owner's SID.
        #[arg(long)]
        owner: String,
        /// A new or empty folder to write into.
        dir: PathBuf,
    },
    /// Set, remove or change the device's backup password (encrypted backups).
    Encryption {
        /// on, off or change.
        #[arg(value_enum)]
        action: mtpbur_host::cmd::encryption::Action,
    },
    /// Say which sets a policy removes; remove them with --prune. Chains never break.
    Forget {
        /// The repository folder.
        repo: PathBuf,
        /// Keep the newest N sets and every set they build on.
        #[arg(long)]
        keep_last: Option<usize>,
        /// Forget these sets (comma separated).
        #[arg(long, value_delimiter = ',')]
        set: Vec<String>,
        /// Remove them (without it, only list them).
        #[arg(long)]
        prune: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ui = Ui { json: cli.json };
    match run(&cli, &ui) {
        Ok(code) => ExitCode::from(code as u8),
        Err(f) => {
            if ui.json {
                println!(
                    "{}",
                    serde_json::json!({ "error": f.message, "exit": f.exit as u8 })
                );
            } else {
                eprintln!("mtpbur-host: {}", f.message);
            }
            ExitCode::from(f.exit as u8)
        }
    }
}

fn connect(serial: Option<&str>) -> Outcome<(Remote<UsbLink>, String)> {
    let found = mtpbur_host::usb::find_all().map_err(fail(Exit::Device))?;
    let dev = mtpbur_host::usb::choose(found, serial).map_err(fail(Exit::Device))?;
    let link = UsbLink::open(&dev).map_err(|e| {
        Failure::new(
            Exit::Device,
            format!("cannot open the device ({}): {e}", dev.location),
        )
    })?;
    let mut client = Client::connect(link).map_err(link_failure)?;
    let info = client.device_info().map_err(link_failure)?;
    let serial = if info.serial_number.is_empty() {
        dev.serial.clone().unwrap_or_else(|| "unknown".into())
    } else {
        info.serial_number
    };
    let st = BackupStorage::find(client).map_err(|(_, e)| link_failure(e))?;
    Ok((Remote::new(st), serial))
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn run(cli: &Cli, ui: &Ui) -> Outcome<Exit> {
    let serial = cli.serial.as_deref();
    match &cli.command {
        Command::Devices => {
            let found = mtpbur_host::usb::find_all().map_err(fail(Exit::Device))?;
            ui.print(
                &mtpbur_host::cmd::device::devices_text(&found),
                &json(&found),
            );
            Ok(Exit::Ok)
        }
        Command::BenchRaw {
            mb,
            rounds,
            data,
            lockstep,
        } => {
            let found = mtpbur_host::usb::find_all().map_err(fail(Exit::Device))?;
            let dev = mtpbur_host::usb::choose(found, serial).map_err(fail(Exit::Device))?;
            let queue = if *lockstep {
                Queue::Lockstep
            } else {
                Queue::Ahead
            };
            let mut link = UsbLink::open_queued(&dev, queue).map_err(fail(Exit::Device))?;
            let figures = mtpbur_host::cmd::ceiling::run(&mut link, mb << 20, *rounds, *data)
                .map_err(fail(Exit::Failed))?;
            ui.print(&mtpbur_host::cmd::ceiling::text(&figures), &json(&figures));
            Ok(Exit::Ok)
        }
        Command::BenchMtp {
            get,
            send_mb,
            list_only,
        } => {
            let found = mtpbur_host::usb::find_all().map_err(fail(Exit::Device))?;
            let dev = mtpbur_host::usb::choose(found, serial).map_err(fail(Exit::Device))?;
            let link = UsbLink::open(&dev).map_err(fail(Exit::Device))?;
            let mut client = Client::connect(link).map_err(link_failure)?;
            let transfers = if *list_only {
                mtpbur_host::cmd::bench::Transfers::None
            } else {
                mtpbur_host::cmd::bench::Transfers::Both {
                    send_bytes: send_mb << 20,
                }
            };
            let figures = mtpbur_host::cmd::bench::run(&mut client, get, transfers)
                .map_err(|e| Failure::new(Exit::Failed, e))?;
            client.close();
            ui.print(&mtpbur_host::cmd::bench::text(&figures), &json(&figures));
            Ok(Exit::Ok)
        }
        Command::Info => {
            let (mut remote, _) = connect(serial)?;
            let info = mtpbur_host::cmd::device::info(&mut remote)?;
            remote.st.client.close();
            ui.print(&mtpbur_host::cmd::device::info_text(&info), &json(&info));
            Ok(Exit::Ok)
        }
        Command::Backup {
            repo,
            owners,
            full,
            incremental,
            keep,
            label,
        } => {
            let (mut remote, serial) = connect(serial)?;
            let repo = Repo::create(repo).map_err(fail(Exit::Failed))?;
            let dev = repo.device(&serial, true).map_err(fail(Exit::Failed))?;
            let _lock = dev.lock().map_err(fail(Exit::Failed))?;
            let kind = match (full, incremental) {
                (true, _) => mtpbur_host::cmd::backup::Kind::Full,
                (_, true) => mtpbur_host::cmd::backup::Kind::Incremental,
                _ => mtpbur_host::cmd::backup::Kind::Auto,
            };
            let opts = mtpbur_host::cmd::backup::Options {
                owners: owners.clone(),
                kind,
                keep: *keep,
                label: label.clone(),
            };
            let report = mtpbur_host::cmd::backup::run(&mut remote, &dev, &opts, ui)?;
            remote.st.client.close();
            ui.print(&mtpbur_host::cmd::backup::text(&report), &json(&report));
            Ok(if report.owners_failed.is_empty() {
                Exit::Ok
            } else {
                Exit::OwnersFailed
            })
        }
        Command::Restore {
            repo,
            set,
            owners,
            keep,
        } => {
            let repo = Repo::open(repo).map_err(fail(Exit::Failed))?;
            let (mut remote, serial) = connect(serial)?;
            let dev = repo.device(&serial, false).map_err(fail(Exit::Failed))?;
            let _lock = dev.lock().map_err(fail(Exit::Failed))?;
            let opts = mtpbur_host::cmd::restore::Options {
                password: None,
                set: set.clone(),
                owners: owners.clone(),
                keep: *keep,
            };
            let report = mtpbur_host::cmd::restore::run(&mut remote, &dev, &opts, ui)?;
            remote.st.client.close();
            ui.print(&mtpbur_host::cmd::restore::text(&report), &json(&report));
            Ok(if mtpbur_host::cmd::restore::any_failed(&report) {
                Exit::OwnersFailed
            } else {
                Exit::Ok
            })
        }
        Command::Encryption { action } => {
            let (mut remote, _) = connect(serial)?;
            let state = mtpbur_host::cmd::encryption::run(&mut remote, *action)?;
            remote.st.client.close();
            ui.print(
                &format!("encryption is {state}\n"),
                &serde_json::json!({ "encryption": state }),
            );
            Ok(Exit::Ok)
        }
        Command::List { repo } => {
            let repo = Repo::open(repo).map_err(fail(Exit::Failed))?;
            let (lines, bad) = mtpbur_host::cmd::repo::list(&repo, serial)?;
            ui.print(
                &mtpbur_host::cmd::repo::list_text(&lines, &bad),
                &serde_json::json!({ "sets": lines, "unreadable": bad }),
            );
            Ok(Exit::Ok)
        }
        Command::Verify { repo, set } => {
            let repo = Repo::open(repo).map_err(fail(Exit::Failed))?;
            let v = mtpbur_host::cmd::repo::verify(&repo, serial, set.as_deref())?;
            ui.print(
                &mtpbur_host::cmd::repo::verify_text(&v),
                &serde_json::json!({ "sets": v }),
            );
            Ok(if v.iter().all(|s| s.problems.is_empty()) {
                Exit::Ok
            } else {
                Exit::Damaged
            })
        }
        Command::Extract {
            repo,
            set,
            owner,
            dir,
        } => {
            let repo = Repo::open(repo).map_err(fail(Exit::Failed))?;
            let done = mtpbur_host::cmd::repo::extract_owner(&repo, serial, set, owner, dir)?;
            ui.print(
                &format!(
                    "{} files, {} streams, {} written to {}\n",
                    done.files,
                    done.streams,
                    mtpbur_host::output::size(done.bytes),
                    dir.display()
                ),
                &json(&done),
            );
            Ok(Exit::Ok)
        }
        Command::Forget {
            repo,
            keep_last,
            set,
            prune,
        } => {
            if keep_last.is_none() && set.is_empty() {
                return Err(Failure::new(
                    Exit::Usage,
                    "say what to forget: --keep-last N or --set NAME",
                ));
            }
            let repo = Repo::open(repo).map_err(fail(Exit::Failed))?;
            let policy = mtpbur_host::keep::Policy {
                keep_last: *keep_last,
                sets: set.clone(),
            };
            let gone = mtpbur_host::cmd::repo::forget(&repo, serial, &policy, *prune)?;
            let verb = if *prune {
                "removed"
            } else {
                "would remove (add --prune)"
            };
            let text: String = gone.iter().map(|g| format!("{verb}: {g}\n")).collect();
            ui.print(
                if gone.is_empty() {
                    "nothing to forget\n"
                } else {
                    &text
                },
                &serde_json::json!({ "pruned": prune, "sets": gone }),
            );
            Ok(Exit::Ok)
        }
    }
}
