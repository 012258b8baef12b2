//! Work that cannot go through a [`super::Dir`] and may stall, run on a thread of its own
//! and given up when it stops making progress.
//!
//! SQLite opens a database, its journal and its WAL by name, and an owner can put a file
//! system of its own (FUSE) under such a name: a read there returns when the owner's
//! server wants. [`run_watched`] runs the work on a new thread (which sets its own
//! identity with [`super::identity::as_user`]) and waits while the work reports progress;
//! after `stall` without any, it returns an error so that the owner fails alone and the
//! engine goes on. The stuck thread is left behind, blocked in the kernel, and ends when
//! the owner's file system answers or goes away.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// What watched work reports: call [`Progress::tick`] each time it gets further.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<AtomicU64>);

impl Progress {
    /// Reports progress.
    pub fn tick(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Runs `work` on its own thread and returns its result, or a `TimedOut` error naming
/// `what` if `stall` passes without a [`Progress::tick`] (or the result).
///
/// # Errors
/// `TimedOut` on a stall; `Other` if the work panicked or no thread could be started.
pub fn run_watched<T: Send + 'static>(
    what: &Path,
    stall: Duration,
    work: impl FnOnce(&Progress) -> T + Send + 'static,
) -> io::Result<T> {
    let progress = Progress::default();
    let (tx, rx) = mpsc::sync_channel(1);
    let theirs = progress.clone();
    std::thread::Builder::new()
        .name("mtpbur-watched".into())
        .spawn(move || {
            let _ = tx.send(work(&theirs));
        })?;
    let mut seen = progress.count();
    loop {
        match rx.recv_timeout(stall) {
            Ok(result) => return Ok(result),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = progress.count();
                if now == seen {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "{}: no progress for {} s, given up",
                            what.display(),
                            stall.as_secs()
                        ),
                    ));
                }
                seen = now;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other(format!(
                    "{}: the work failed unexpectedly",
                    what.display()
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_that_stops_is_given_up_and_the_caller_goes_on() {
        let start = std::time::Instant::now();
        let e = run_watched(Path::new("stuck.db"), Duration::from_millis(200), |_| {
            std::thread::sleep(Duration::from_secs(3600));
        })
        .expect_err("stalled");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(e.to_string().contains("stuck.db"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn slow_work_that_keeps_ticking_is_waited_for() {
        // Ticks 40 times as often as the limit: a loaded machine may hold the thread
        // back for a while without the work looking stalled.
        let got = run_watched(Path::new("big.db"), Duration::from_secs(2), |p| {
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(50));
                p.tick();
            }
            42
        })
        .expect("finished");
        assert_eq!(got, 42);
    }

    #[test]
    fn a_panic_is_an_error_not_a_hang() {
        let e = run_watched(Path::new("bad.db"), Duration::from_secs(60), |_| {
            panic!("boom");
        })
        .expect_err("panicked");
        assert_eq!(e.kind(), io::ErrorKind::Other);
    }
}
