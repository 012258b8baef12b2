//! What one byte of an encrypted unit costs the device's CPU, against what every unit
//! costs: the engine's age stream (`crypto::encrypt`: ChaCha20-Poly1305) and the unit's
//! SHA-256, over the same buffer in one run.
//!
//! ```sh
//! cargo bench -p engine --bench seal                 # BENCH_MIB=256 by default
//! # the crates' portable cipher code, which they run on ARM boards:
//! RUSTFLAGS="--cfg chacha20_force_soft --cfg poly1305_force_soft" \
//!     CARGO_TARGET_DIR=target/portable-cipher cargo bench -p engine --bench seal
//! # on an emulated CPU (QEMU TCG, as the VM runs it):
//! qemu-x86_64 -cpu max target/release/deps/seal-<hash>
//! ```
//!
//! Run it on a board (cross-built, `docs/real-board.md`) to see whether its cores encrypt
//! faster than its USB link carries.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::Write;
use std::time::Instant;

use engine::crypto::{Keys, SecretString};
use engine::unit::UnitKind;
use sha2::{Digest, Sha256};

fn main() {
    let mib: usize = std::env::var("BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let rounds = 3;
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    // A low scrypt work factor: the key is made once and not what is measured.
    let keys = Keys::create(&SecretString::from("bench".to_owned()), 10).unwrap();
    let recipients = keys.recipients(UnitKind::PassiveBase);

    let mut best = [f64::MAX; 2];
    for _ in 0..rounds {
        let t = Instant::now();
        let mut w = engine::crypto::encrypt(&recipients, std::io::sink()).unwrap();
        for _ in 0..mib {
            w.write_all(&data).unwrap();
        }
        w.finish().unwrap();
        best[0] = best[0].min(t.elapsed().as_secs_f64());

        let t = Instant::now();
        let mut h = Sha256::new();
        for _ in 0..mib {
            h.update(&data);
        }
        std::hint::black_box(h.finalize());
        best[1] = best[1].min(t.elapsed().as_secs_f64());
    }
    let rate = |s: f64| mib as f64 / s;
    println!("seal: {mib} MiB, best of {rounds}");
    println!("| | s | MiB/s |");
    println!("|---|---:|---:|");
    println!(
        "| age stream (ChaCha20-Poly1305) | {:.3} | {:.1} |",
        best[0],
        rate(best[0])
    );
    println!("| SHA-256 | {:.3} | {:.1} |", best[1], rate(best[1]));
    println!("encrypting costs {:.2} times hashing", best[0] / best[1]);
}
