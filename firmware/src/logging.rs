//! Log output on stderr: colour only on a terminal, and under systemd plain lines with a
//! syslog priority prefix (`<3>` … `<7>`) that journald turns into the entry's priority
//! (`SyslogLevelPrefix=`, on by default), without timestamps journald adds itself.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written, decided once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    /// ANSI colour codes.
    ansi: bool,
    /// stderr is journald's stream: priority prefixes, no timestamps.
    journal: bool,
}

impl Style {
    /// Returns the style for what stderr is and the environment says.
    ///
    /// `journal`: `$JOURNAL_STREAM` names stderr; `journal_set`: the variable is set at
    /// all (a child of a service: no colour, but no prefixes either unless it is ours).
    fn choose(terminal: bool, no_color: bool, journal_set: bool, journal: bool) -> Self {
        Self {
            ansi: terminal && !no_color && !journal_set,
            journal,
        }
    }

    /// Returns the prefix for a fatal message printed outside tracing.
    pub(crate) fn error_prefix(self) -> &'static str {
        if self.journal { "<3>" } else { "" }
    }
}

/// Returns the syslog priority journald should give an event of `level`.
fn priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Parses `$JOURNAL_STREAM` (`<device>:<inode>` of the stream journald gave us).
fn journal_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// Returns whether stderr is the stream `$JOURNAL_STREAM` names (as `sd_journal_stream_fd`
/// documents: compare device and inode).
fn stderr_is(stream: (u64, u64)) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .and_then(|fd| std::fs::File::from(fd).metadata())
        .is_ok_and(|m| (m.dev(), m.ino()) == stream)
}

/// Wraps an event format with the journald priority prefix.
struct Prefixed<F>(F);

impl<S, N, F> FormatEvent<S, N> for Prefixed<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Installs the global subscriber (filter from `RUST_LOG`, default `info`) and returns
/// the style it uses.
pub(crate) fn init() -> Style {
    let journal_var = std::env::var("JOURNAL_STREAM").ok();
    let journal = journal_var
        .as_deref()
        .and_then(journal_stream)
        .is_some_and(stderr_is);
    let style = Style::choose(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        journal_var.is_some(),
        journal,
    );
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(style.ansi);
    if style.journal {
        let format = tracing_subscriber::fmt::format().without_time();
        builder.event_format(Prefixed(format)).init();
    } else {
        builder.init();
    }
    style
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color_or_journal() {
        assert!(Style::choose(true, false, false, false).ansi);
        assert!(!Style::choose(false, false, false, false).ansi);
        assert!(!Style::choose(true, true, false, false).ansi);
        assert!(!Style::choose(true, false, true, false).ansi);
        let journal = Style::choose(false, false, true, true);
        assert!(!journal.ansi);
        assert_eq!(journal.error_prefix(), "<3>");
        assert_eq!(Style::choose(false, false, true, false).error_prefix(), "");
    }

    #[test]
    fn journal_stream_is_device_colon_inode() {
        assert_eq!(journal_stream("8:12345"), Some((8, 12345)));
        assert_eq!(journal_stream("8"), None);
        assert_eq!(journal_stream("x:1"), None);
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(Level::ERROR), 3);
        assert_eq!(priority(Level::WARN), 4);
        assert_eq!(priority(Level::INFO), 6);
        assert_eq!(priority(Level::DEBUG), 7);
        assert_eq!(priority(Level::TRACE), 7);
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn journal_lines_start_with_the_priority_and_carry_no_colour() {
        let buf = Buffer::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .event_format(Prefixed(tracing_subscriber::fmt::format().without_time()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(path = "/x", "friendly name not saved");
            tracing::error!("gadget removal failed");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("<4>"), "{text}");
        assert!(lines[0].contains("friendly name not saved"), "{text}");
        assert!(lines[1].starts_with("<3>"), "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
    }
}
