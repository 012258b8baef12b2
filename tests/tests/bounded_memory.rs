//! A 100 MiB object moves both ways while the process's live heap stays bounded: the data
//! is streamed in chunks, never held whole (by the host, the responder or the provider).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use mtp::codec::{OperationCode as Op, ResponseCode};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: `p` was allocated by `alloc` with `l`.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Hashes what it receives (FNV-1a) instead of keeping it.
struct Digest(u64, u64);

impl Write for Digest {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        for x in b {
            self.0 = (self.0 ^ u64::from(*x)).wrapping_mul(0x100_0000_01b3);
        }
        self.1 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn digest_of(mut r: impl std::io::Read) -> (u64, u64) {
    let mut d = Digest(0xcbf2_9ce4_8422_2325, 0);
    std::io::copy(&mut r, &mut d).unwrap();
    (d.0, d.1)
}

const SIZE: u64 = 100 * 1024 * 1024;
const BOUND: usize = 24 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_mib_each_way_in_bounded_memory() {
    let mut d = start().await;
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);

    let r = d
        .send_object_info(INTERNAL, 0, &file_info("big.bin", SIZE))
        .await;
    assert_eq!(r.code, ResponseCode::Ok);
    let h = r.params[2];
    let r = d
        .host
        .transact_out_stream(Op::SendObject, &[], SIZE, &mut Pattern::new(SIZE, 42))
        .await
        .unwrap();
    assert_eq!(r.code, ResponseCode::Ok);
    let up_peak = PEAK.load(Ordering::Relaxed) - before;

    let on_disk = digest_of(std::fs::File::open(d.internal.join("big.bin")).unwrap());
    assert_eq!(
        on_disk,
        digest_of(Pattern::new(SIZE, 42)),
        "uploaded bytes are exact"
    );

    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    let base = LIVE.load(Ordering::Relaxed);
    let mut sink = Digest(0xcbf2_9ce4_8422_2325, 0);
    let (r, n) = d
        .host
        .transact_in_stream(Op::GetObject, &[h], &mut sink)
        .await
        .unwrap();
    assert_eq!((r.code, n), (ResponseCode::Ok, Some(SIZE)));
    assert_eq!((sink.0, sink.1), on_disk, "downloaded bytes are exact");
    let down_peak = PEAK.load(Ordering::Relaxed) - base;

    eprintln!(
        "peak extra heap: upload {} KiB, download {} KiB",
        up_peak / 1024,
        down_peak / 1024
    );
    assert!(up_peak < BOUND, "upload peak {up_peak} bytes");
    assert!(down_peak < BOUND, "download peak {down_peak} bytes");
}
