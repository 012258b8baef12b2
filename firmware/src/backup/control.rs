//! The control socket: the device's own way to let hosts into the Backup storage
//! (`mtpbur ctl allow --for 10m`, `revoke`, `status`). A device maker wires it to a
//! button, a GPIO or its UI; a host over USB can never reach it.
//!
//! The socket (default `/run/mtpbur/control.sock`) is the daemon user's alone (mode
//! 0600), and every connection's peer must be that same user (`SO_PEERCRED`): root on a
//! device. One line in ([`Control`]), one line out (`ok: ...` or `error: ...`).

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tracing::{info, warn};

use super::access::{Control, Policy};
use super::naming::rfc3339;
use super::service::BackupService;
use super::session::News;

/// The longest command line read.
const MAX_LINE: u64 = 256;
/// How long a client may take to send its line.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds the control socket at `path`: a stale socket is replaced, the folder is created
/// (0755) if missing, and the socket is made 0600.
///
/// # Errors
/// The folder or socket cannot be created.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// What the control server knows: the policy, and the consent it gave (it is the only
/// one that gives consent).
#[derive(Debug)]
struct State {
    policy: Policy,
    until: Option<i64>,
}

/// Serves control connections one at a time until the listener fails. `now` gives the
/// Unix time.
pub async fn serve(
    listener: UnixListener,
    policy: Policy,
    service: BackupService,
    now: fn() -> i64,
) {
    let mut state = State {
        policy,
        until: None,
    };
    let me = rustix::process::geteuid().as_raw();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                warn!(error = %e, "control socket: accept failed; control ends");
                return;
            }
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == me => {}
            Ok(cred) => {
                warn!(
                    uid = cred.uid(),
                    "control socket: connection from another user refused"
                );
                continue;
            }
            Err(e) => {
                warn!(error = %e, "control socket: peer unknown; refused");
                continue;
            }
        }
        if let Err(e) = answer(stream, &mut state, &service, now()).await {
            warn!(error = %e, "control socket: connection failed");
        }
    }
}

/// Reads one command, applies it and writes the reply.
async fn answer(
    stream: UnixStream,
    state: &mut State,
    service: &BackupService,
    now: i64,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read).take(MAX_LINE);
    match tokio::time::timeout(READ_TIMEOUT, reader.read_line(&mut line)).await {
        Ok(read) => {
            read?;
        }
        Err(_) => return Ok(()), // a silent client is dropped
    }
    let reply = match Control::parse(&line) {
        Ok(control) => format!("ok: {}", apply(control, state, service, now)),
        Err(e) => format!("error: {e}"),
    };
    write.write_all(format!("{reply}\n").as_bytes()).await?;
    write.shutdown().await
}

/// Applies a command; returns what to say.
fn apply(control: Control, state: &mut State, service: &BackupService, now: i64) -> String {
    if state.policy == Policy::Open {
        return "access is open to every host (profile: access = \"open\"); nothing to allow or revoke".into();
    }
    match control {
        Control::Allow { secs } => {
            let until = now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
            state.until = Some(until);
            service.tell(News::AllowUntil(until));
            info!(secs, until = %rfc3339(until), "hosts allowed into the Backup storage");
            format!("hosts allowed until {} ({secs} s)", rfc3339(until))
        }
        Control::Revoke => {
            state.until = None;
            service.tell(News::Revoke);
            info!("consent revoked");
            "consent revoked: hosts see only README.txt and status.toml".into()
        }
        Control::Status => match state.until.filter(|u| now < *u) {
            Some(until) => format!(
                "hosts allowed until {} ({} s left)",
                rfc3339(until),
                until - now
            ),
            None => "consent required: hosts see only README.txt and status.toml".into(),
        },
    }
}

/// Sends one command to the daemon's control socket at `path` and returns its reply
/// (`mtpbur ctl`).
///
/// # Errors
/// The socket cannot be reached, or the daemon answered with an error (its words).
pub fn request(path: &Path, control: Control) -> Result<String, String> {
    let shown = path.display();
    let mut stream = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| format!("{shown}: {e} (is mtpbur running, and are you root?)"))?;
    stream
        .set_read_timeout(Some(READ_TIMEOUT * 2))
        .map_err(|e| format!("{shown}: {e}"))?;
    stream
        .write_all(format!("{}\n", control.to_line()).as_bytes())
        .map_err(|e| format!("{shown}: {e}"))?;
    let mut reply = String::new();
    std::io::BufReader::new(stream)
        .read_line(&mut reply)
        .map_err(|e| format!("{shown}: {e}"))?;
    let reply = reply.trim_end();
    match reply.strip_prefix("ok: ") {
        Some(text) => Ok(text.to_owned()),
        None => Err(reply
            .strip_prefix("error: ")
            .unwrap_or(if reply.is_empty() {
                "no answer (refused?)"
            } else {
                reply
            })
            .to_owned()),
    }
}
