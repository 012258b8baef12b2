//! Tells systemd how the daemon is doing (`sd_notify(3)`, for `Type=notify`) without
//! libsystemd: one datagram to the socket named by `$NOTIFY_SOCKET`.
//!
//! The variable holds an absolute path or, starting with `@`, an abstract socket name.
//! Without it (not started by systemd, or `Type=simple`) nothing is sent.

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use tracing::{debug, warn};

/// The daemon serves: systemd considers the unit started.
pub(crate) const READY: &str = "READY=1";
/// The daemon is shutting down: systemd shows the unit as deactivating.
pub(crate) const STOPPING: &str = "STOPPING=1";

/// Sends `state` to the service manager, if there is one; a failure is only logged
/// (systemd then times the start out, which says more than a daemon that refuses to run).
pub(crate) fn notify(state: &str) {
    match send(std::env::var_os("NOTIFY_SOCKET").as_deref(), state) {
        Ok(true) => debug!(state, "told systemd"),
        Ok(false) => {}
        Err(e) => warn!(state, error = %e, "cannot tell systemd (NOTIFY_SOCKET)"),
    }
}

/// Sends `state` to `socket` (the value of `NOTIFY_SOCKET`); returns whether there was a
/// socket to send to.
///
/// # Errors
/// The variable names no usable socket, or the datagram could not be sent whole.
fn send(socket: Option<&OsStr>, state: &str) -> io::Result<bool> {
    let Some(socket) = socket.filter(|s| !s.is_empty()) else {
        return Ok(false);
    };
    let addr = address(socket)?;
    let sent = UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr)?;
    if sent != state.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short notification datagram",
        ));
    }
    Ok(true)
}

/// Parses `NOTIFY_SOCKET`: `@name` is an abstract socket, `/path` a file-system one.
fn address(socket: &OsStr) -> io::Result<SocketAddr> {
    let bytes = socket.as_bytes();
    match bytes.split_first() {
        Some((b'@', name)) => SocketAddr::from_abstract_name(name),
        Some((b'/', _)) => SocketAddr::from_pathname(socket),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unsupported NOTIFY_SOCKET {socket:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(listener: &UnixDatagram) -> String {
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn ready_reaches_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        assert!(send(Some(path.as_os_str()), READY).unwrap());
        assert_eq!(received(&listener), "READY=1");
        assert!(send(Some(path.as_os_str()), STOPPING).unwrap());
        assert_eq!(received(&listener), "STOPPING=1");
    }

    #[test]
    fn an_at_sign_names_an_abstract_socket() {
        let name = format!("mtpbur-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&addr).unwrap();
        let var = format!("@{name}");
        assert!(send(Some(OsStr::new(&var)), READY).unwrap());
        assert_eq!(received(&listener), "READY=1");
    }

    #[test]
    fn no_or_empty_variable_sends_nothing() {
        assert!(!send(None, READY).unwrap());
        assert!(!send(Some(OsStr::new("")), READY).unwrap());
    }

    #[test]
    fn relative_or_missing_sockets_are_errors() {
        assert!(send(Some(OsStr::new("notify")), READY).is_err());
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        assert!(send(Some(gone.as_os_str()), READY).is_err());
    }
}
