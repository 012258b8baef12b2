//! `mtpbur`: the MTP device daemon. See `mtpbur --help`.
#![deny(unsafe_code)]
// The daemon's modules are its shell (firmware/clippy.toml is for the library's sans-IO
// modules).
#![allow(clippy::disallowed_methods)]

mod backup_wiring;
mod config;
mod error;
mod groups;
mod logging;
mod notify;
mod profile;
mod run;

use std::process::ExitCode;

use config::Command;

fn main() -> ExitCode {
    let log = logging::init();
    let cmd = match config::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("mtpbur: {msg}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd {
        Command::Help => {
            println!("{}", config::HELP);
            Ok(())
        }
        Command::Version => {
            println!("mtpbur {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Check(p) => run::check(&p),
        Command::Ctl {
            control,
            socket,
            profile,
        } => return run::ctl(control, socket, profile),
        // One thread serves everything: under the emulated controller (and on single-core
        // boards) cross-thread wake-ups per USB completion cost more than they save.
        Command::Run(p) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(run::run(&p)),
            Err(e) => Err(e.into()),
        },
        // The same runtime as the responder's, so the ceiling is the same path's.
        Command::Ceiling(p) => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(run::ceiling(&p)),
            Err(e) => Err(e.into()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}mtpbur: {e}", log.error_prefix());
            ExitCode::FAILURE
        }
    }
}
