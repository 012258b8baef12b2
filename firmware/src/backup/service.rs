//! The engine thread: owns the backup engine, runs one session at a time and keeps the
//! shared status up to date.
//!
//! The engine does blocking file work (hashing, copying databases) inside its async
//! sessions, so it gets a runtime on its own thread: the MTP responder on the main
//! runtime keeps answering the host (status reads, copies of finished units) while a
//! session runs.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use engine::manifest::{Manifest, OwnerOutcome};
use engine::mode::BurMode;
use engine::recovery::{Interrupted, SessionKind};
use engine::registration::Sid;
use engine::runner::{
    BackupRequest, Engine, EngineConfig, Progress, RestoreReport, RestoreRequest, SessionError,
};
use tokio::sync::{Notify, mpsc};
use tracing::{error, info, warn};

use super::session::{News, Outcome};
use super::status;

/// A session to run.
#[derive(Debug)]
pub enum Job {
    /// A backup into a new set.
    Backup(BackupRequest),
    /// A restore of a chain of sets, with the backup password for encrypted ones.
    Restore(RestoreRequest, Option<engine::crypto::SecretString>),
}

/// The running engine thread, seen from the provider.
#[derive(Debug, Clone)]
pub struct BackupService {
    news: Sender<News>,
    jobs: mpsc::UnboundedSender<Job>,
    stop: Arc<Notify>,
    ended: Arc<Mutex<Option<std::sync::mpsc::Receiver<()>>>>,
}

impl BackupService {
    /// Starts the engine on its own thread and waits until it serves (socket bound,
    /// registrations scanned). The engine sends what happens to `news` (the Backup
    /// storage's [`super::session::Session`] takes it in). Returns the service and the
    /// registration files that were left out, in words.
    ///
    /// # Errors
    /// The thread or runtime cannot be created, or the engine does not start.
    pub fn start(config: EngineConfig, news: Sender<News>) -> std::io::Result<(Self, Vec<String>)> {
        let (jobs, rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (ended_tx, ended_rx) = std::sync::mpsc::channel();
        let stop = Arc::new(Notify::new());
        let to_session = news.clone();
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("engine".into())
            .spawn(move || {
                lower_priority();
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("engine-io")
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => rt.block_on(serve(config, to_session, rx, stopped, ready_tx)),
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("engine runtime: {e}")));
                    }
                }
                // The runtime is gone: owner processes killed, the mode file back to Normal.
                let _ = ended_tx.send(());
            })?;
        let started = ready_rx
            .recv()
            .unwrap_or_else(|_| Err("the engine thread ended while starting".into()));
        match started {
            Ok(errors) => Ok((
                Self {
                    news,
                    jobs,
                    stop,
                    ended: Arc::new(Mutex::new(Some(ended_rx))),
                },
                errors,
            )),
            Err(msg) => Err(std::io::Error::other(msg)),
        }
    }

    /// Stops the engine (SIGTERM): a running session is interrupted (owners are told the
    /// device is back in Normal, `status.toml` says `failed` with the reason) and the
    /// engine thread ends. Waits at most `wait`; returns true if it ended. What the
    /// session left is cleaned up at the next start (`engine::recovery`).
    pub fn stop(&self, wait: std::time::Duration) -> bool {
        self.stop.notify_one();
        let ended = self
            .ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        ended.is_some_and(|rx| rx.recv_timeout(wait).is_ok())
    }

    /// Tells the Backup storage's session something (the intake's acceptances and
    /// refusals travel the same channel as the engine's news, so they stay in order).
    pub fn tell(&self, news: News) {
        // The receiver is the provider: when it is gone, nobody is left to tell.
        let _ = self.news.send(news);
    }

    /// Hands a job to the engine thread.
    ///
    /// # Errors
    /// The engine thread is gone.
    pub fn submit(&self, job: Job) -> Result<(), EngineGone> {
        self.jobs.send(job).map_err(|_| EngineGone)
    }
}

/// Nice value of the engine's threads (the runtime worker and the hashing threads
/// inherit it from the engine thread).
const ENGINE_NICE: i32 = 10;

/// Lowers the calling thread's priority to [`ENGINE_NICE`] (on Linux the nice value is
/// per thread and `setpriority(PRIO_PROCESS, 0)` applies to the caller). A capture hashes
/// and copies every byte; at a lower priority it yields the CPU to the USB side, which
/// must keep serving, also the units being captured, at full speed. A capture is ahead
/// of the transfer anyway, so overall a backup copied while it runs ends sooner.
fn lower_priority() {
    if let Err(e) = rustix::process::setpriority_process(None, ENGINE_NICE) {
        warn!(error = %e, "engine priority unchanged");
    }
}

/// The engine thread has ended; no session can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the backup engine is not running")]
pub struct EngineGone;

type Ready = std::sync::mpsc::Sender<Result<Vec<String>, String>>;

async fn serve(
    config: EngineConfig,
    news: Sender<News>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    stop: Arc<Notify>,
    ready: Ready,
) {
    let (mut engine, errors) = match Engine::start(config) {
        Ok(started) => started,
        Err(e) => {
            let _ = ready.send(Err(format!("backup engine: {e}")));
            return;
        }
    };
    if let Some(i) = &engine.recovered().interrupted {
        report_interrupted(&news, i);
    }
    let progress = news.clone();
    engine.set_progress(Some(Progress::new(move |e| {
        let _ = progress.send(News::Progress(e));
    })));
    let mut left_out: Vec<String> = errors.iter().map(ToString::to_string).collect();
    publish_owners(&engine, &left_out, &news);
    let _ = ready.send(Ok(left_out.clone()));
    info!(owners = engine.registrations().len(), "backup engine ready");
    let _guard = CrashGuard(news.clone());
    let mut rescan = tokio::time::interval(RESCAN_EVERY);
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let job = tokio::select! {
            job = jobs.recv() => job,
            () = stop.notified() => None,
            _ = rescan.tick() => {
                refresh(&mut engine, &news, &mut left_out);
                continue;
            }
        };
        let Some(job) = job else { break };
        // Applications installed or removed since the last look take part (or not).
        refresh(&mut engine, &news, &mut left_out);
        let ended = tokio::select! {
            outcome = run(&mut engine, job) => Some(outcome),
            () = stop.notified() => None,
        };
        let Some(outcome) = ended else {
            interrupt(&engine, &news);
            break;
        };
        finish(&news, outcome);
        refresh(&mut engine, &news, &mut left_out);
    }
    info!("engine thread ends");
}

/// How often the registrations are read again while no session runs (so `owners.toml`
/// and the requests' owner checks follow applications as they are installed).
const RESCAN_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads the registrations again and publishes `owners.toml` (with the registration
/// files left out); they are logged when they change (not every 30 s).
fn refresh(engine: &mut Engine, news: &Sender<News>, left_out: &mut Vec<String>) {
    let errors: Vec<String> = engine.rescan().iter().map(ToString::to_string).collect();
    if errors != *left_out {
        for e in &errors {
            warn!(error = %e, "registration left out");
        }
        *left_out = errors;
    }
    publish_owners(engine, left_out, news);
}

/// Runs one job to its outcome.
async fn run(engine: &mut Engine, job: Job) -> Outcome {
    match job {
        Job::Backup(req) => {
            info!(session = %req.session, "backup starts");
            backup_outcome(engine.backup(req).await)
        }
        Job::Restore(req, password) => {
            info!(sets = ?req.sets, "restore starts");
            restore_outcome(engine.restore_with_password(req, password).await)
        }
    }
}

/// Ends a session the daemon's stop broke off: owners hear that the device is back in
/// Normal, and `status.toml` says why the session failed. The journal stays: the next
/// start removes what the session left and says so again.
fn interrupt(engine: &Engine, news: &Sender<News>) {
    warn!("session interrupted: the daemon is stopping");
    if let Err(e) = engine.bus().set(BurMode::NORMAL) {
        error!(error = %e, "mode not returned to Normal");
    }
    finish(
        news,
        Outcome::failed("interrupted: the device stopped during the session"),
    );
}

/// Says in `status.toml` that the last session was interrupted (found at start).
fn report_interrupted(news: &Sender<News>, i: &Interrupted) {
    let what = match i.kind {
        SessionKind::Backup => format!(
            "interrupted: the device stopped during the backup into {}; its incomplete set was removed",
            i.folder
        ),
        SessionKind::Restore => format!(
            "interrupted: the device stopped during the restore from {}; every owner has either all its old or all its restored files, databases and public files; data applications restore themselves may be partly restored",
            i.folder
        ),
    };
    warn!(problem = %what, "last session");
    let _ = news.send(News::Ended(Outcome::failed(what)));
}

/// Ends a session that a panic in the engine broke off: the storage must not stay busy
/// for ever. Later requests are refused with "the backup engine is not running".
struct CrashGuard(Sender<News>);

impl Drop for CrashGuard {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        error!("the backup engine stopped unexpectedly");
        let _ = self.0.send(News::Ended(Outcome::failed(
            "the backup engine stopped unexpectedly; see the device log",
        )));
    }
}

/// Renders `owners.toml` from the engine's current view.
fn publish_owners(engine: &Engine, left_out: &[String], news: &Sender<News>) {
    let entries = status::owner_entries(engine.list_data_owners(), engine.registrations());
    let text = status::render_owners(&entries, left_out);
    let registered: BTreeSet<Sid> = engine.registrations().keys().copied().collect();
    let _ = news.send(News::Owners { text, registered });
}

fn backup_outcome(result: Result<Manifest, SessionError>) -> Outcome {
    session_outcome(result.map(|m| {
        let owners = m.owners.iter().map(|o| (o.sid, &o.outcome));
        failed_owners(owners, "backed up")
    }))
}

fn restore_outcome(result: Result<RestoreReport, SessionError>) -> Outcome {
    session_outcome(result.map(|r| {
        let owners = r.owners.iter().map(|o| (o.sid, &o.outcome));
        failed_owners(owners, "restored")
    }))
}

fn session_outcome(result: Result<Option<String>, SessionError>) -> Outcome {
    match result {
        Ok(error) => Outcome { ok: true, error },
        Err(e) => Outcome {
            ok: false,
            error: Some(e.to_string()),
        },
    }
}

/// Lists the owners that failed, in words, or `None` when every owner succeeded.
fn failed_owners<'a>(
    owners: impl Iterator<Item = (Sid, &'a OwnerOutcome)>,
    verb: &str,
) -> Option<String> {
    let failed: Vec<String> = owners
        .filter_map(|(sid, outcome)| match outcome {
            OwnerOutcome::Ok => None,
            OwnerOutcome::Failed { code, reason } => {
                Some(format!("0x{sid} (error {code}: {reason})"))
            }
        })
        .collect();
    if failed.is_empty() {
        return None;
    }
    let mut text = format!("{} owner(s) not {verb}: ", failed.len());
    let _ = write!(text, "{}", failed.join("; "));
    Some(text)
}

fn finish(news: &Sender<News>, outcome: Outcome) {
    match &outcome.error {
        Some(e) if !outcome.ok => error!(error = %e, "session failed"),
        Some(e) => warn!(problem = %e, "session done with failed owners"),
        None => info!("session done"),
    }
    let _ = news.send(News::Ended(outcome));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_owners_are_named_with_code_and_reason() {
        let ok = OwnerOutcome::Ok;
        let bad = OwnerOutcome::Failed {
            code: -18,
            reason: "not ready within 10 s".into(),
        };
        let owners = [(Sid(0x2000_0001), &ok), (Sid(0x2000_0040), &bad)];
        assert_eq!(
            failed_owners(owners.into_iter(), "backed up").as_deref(),
            Some("1 owner(s) not backed up: 0x20000040 (error -18: not ready within 10 s)")
        );
        assert_eq!(failed_owners([(Sid(1), &ok)].into_iter(), "restored"), None);
    }
}
