//! Plain against encrypted full backups on this machine's own cores: `mtpbur-host backup
//! --full` against the real firmware (engine, Backup storage, responder) over the
//! in-memory loopback, alternating rounds in one process, best of each.
//!
//! ```sh
//! cargo bench -p mtpbur-host --bench backup_loopback
//! BENCH_MIB=256 BENCH_ROUNDS=3 BENCH_LINK_MBS=40 cargo bench -p mtpbur-host --bench backup_loopback
//! ```
//!
//! Each kind of backup runs twice: as fast as the machine allows (no pace), and on a
//! link paced at `BENCH_LINK_MBS` MB/s (default 40: what USB 2.0 high speed carries in
//! bulk; 0: no paced run), where the question is whether the device keeps up with the
//! link. `BENCH_ONLY=plain|encrypted` runs one kind, for a profile. CPU seconds are the
//! process's (both ends: the PC's copy and checks, the device's capture, encryption and
//! serving), read from `/proc/self/stat`. The VM benchmark (`tests/vm/bench-backup.sh`)
//! measures the same on the real gadget stack, on emulated CPUs.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/rig/mod.rs"]
mod rig;

use std::time::Instant;

use engine::crypto::SecretString;
use mtpbur_host::cmd::backup;
use mtpbur_host::cmd::encryption::{Action, request};
use mtpbur_host::output::Ui;
use rig::{Pace, Rig, rig_with};

/// Files of the owner (their sizes add up to `BENCH_MIB`).
const FILES: usize = 16;

fn env_or(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Incompressible bytes (xorshift64*), `n` of them.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// CPU seconds (user + system) of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / rustix::param::clock_ticks_per_second() as f64
}

struct Round {
    wall: f64,
    cpu: f64,
    bytes: u64,
}

fn backup_once(rig: &Rig, pace: Option<f64>, n: usize) -> Round {
    let dir = rig.repo.with_file_name(format!("repo-{n}"));
    let repo = rig.device_repo_at(&dir);
    let mut remote = rig.connect_paced(pace.map(Pace::new));
    let opts = backup::Options {
        owners: vec![],
        kind: backup::Kind::Full,
        keep: false,
        label: None,
    };
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let report = backup::run(&mut remote, &repo, &opts, &Ui { json: true }).unwrap();
    let r = Round {
        wall: t0.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu0,
        bytes: report.bytes,
    };
    std::fs::remove_dir_all(&dir).unwrap();
    r
}

fn encryption(rig: &Rig, on: bool, pw: &SecretString) {
    let text = if on {
        request(Action::On, None, Some(pw))
    } else {
        request(Action::Off, Some(pw), None)
    };
    let status = rig
        .connect()
        .send_request("encryption.request", &text)
        .unwrap();
    let want = if on { "on" } else { "off" };
    assert_eq!(status.encryption.as_deref(), Some(want));
}

fn main() {
    let mib = env_or("BENCH_MIB", 256.0) as usize;
    let rounds = env_or("BENCH_ROUNDS", 3.0) as usize;
    let link_mbs = env_or("BENCH_LINK_MBS", 40.0);
    // For a profile of one kind: BENCH_ONLY=plain or encrypted.
    let only = std::env::var("BENCH_ONLY").ok().map(|v| v == "encrypted");
    let each = (mib << 20) / FILES;
    let rig = rig_with(|cage| {
        for i in 0..FILES {
            std::fs::write(cage.join(format!("f{i:02}.bin")), noise(i as u64 + 1, each)).unwrap();
        }
    });
    let pw = SecretString::from("bench pass phrase".to_owned());
    println!(
        "backup_loopback: {mib} MiB in {FILES} files, best of {rounds}, {} CPUs",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "| link | plain s | encrypted s | encrypted / plain (throughput) | plain CPU s | encrypted CPU s | extra CPU ms per MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut n = 0;
    let paces = [None, (link_mbs > 0.0).then_some(link_mbs * 1e6)];
    for (k, pace) in paces.into_iter().enumerate() {
        if k > 0 && pace.is_none() {
            continue;
        }
        let mut best = [f64::MAX; 2];
        let mut cpu = [f64::MAX; 2];
        let mut bytes = 0;
        for _ in 0..rounds {
            for (i, on) in [false, true].into_iter().enumerate() {
                if only.is_some_and(|o| o != on) {
                    continue;
                }
                if on {
                    encryption(&rig, true, &pw);
                }
                n += 1;
                let r = backup_once(&rig, pace, n);
                best[i] = best[i].min(r.wall);
                cpu[i] = cpu[i].min(r.cpu);
                bytes = r.bytes;
                eprintln!(
                    "  round {n}: {} {:.2} s, {:.2} CPU s, {} bytes",
                    if on { "encrypted" } else { "plain" },
                    r.wall,
                    r.cpu,
                    r.bytes
                );
                if on {
                    encryption(&rig, false, &pw);
                }
            }
        }
        let link = pace.map_or("no pace".to_owned(), |p| format!("{:.0} MB/s", p / 1e6));
        let mibs = bytes as f64 / f64::from(1 << 20);
        let ran = |x: f64, digits: usize| {
            if x < f64::MAX {
                format!("{x:.digits$}")
            } else {
                "-".to_owned()
            }
        };
        let both = only.is_none();
        println!(
            "| {link} | {} | {} | {} | {} | {} | {} |",
            ran(best[0], 2),
            ran(best[1], 2),
            ran(if both { best[0] / best[1] } else { f64::MAX }, 3),
            ran(cpu[0], 2),
            ran(cpu[1], 2),
            ran(
                if both {
                    (cpu[1] - cpu[0]) * 1e3 / mibs
                } else {
                    f64::MAX
                },
                1
            ),
        );
    }
}
