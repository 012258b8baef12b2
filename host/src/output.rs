//! How results leave the program: exit codes, `--json` documents, progress bars.

use std::io::{self, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The exit codes (also in `docs/host-program.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was done.
    Ok = 0,
    /// The device refused or the operation failed; nothing was kept or changed.
    Failed = 1,
    /// The command line is wrong.
    Usage = 2,
    /// No usable device: none found, several without `--serial`, no permission, gone.
    Device = 3,
    /// Done, but some owners failed (named in the output).
    OwnersFailed = 4,
    /// A set is damaged (verify found problems, a copy did not match its manifest).
    Damaged = 5,
}

/// Why a command did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What happened, in words.
    pub message: String,
}

impl Failure {
    /// A failure with `exit`.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }
}

/// A result of a command.
pub type Outcome<T> = Result<T, Failure>;

/// Turns any displayable error into a [`Failure`] with `exit`.
pub fn fail<E: std::fmt::Display>(exit: Exit) -> impl FnOnce(E) -> Failure {
    move |e| Failure::new(exit, e.to_string())
}

/// Output settings.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// Print one JSON document instead of text.
    pub json: bool,
}

impl Ui {
    /// A byte progress bar on stderr (drawn only on a terminal, never with `--json`).
    pub fn bar(&self, total: u64, what: &str) -> ProgressBar {
        let target = if self.json {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:24} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} ETA {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        bar
    }

    /// A line for the user on stderr (not with `--json`).
    pub fn note(&self, line: &str) {
        if !self.json {
            let _ = writeln!(io::stderr(), "{line}");
        }
    }

    /// Prints the result: `text` normally, `json` with `--json`.
    pub fn print(&self, text: &str, json: &serde_json::Value) {
        let mut out = io::stdout().lock();
        if self.json {
            let _ = writeln!(out, "{json}");
        } else if !text.is_empty() {
            let _ = write!(out, "{text}");
        }
    }
}

/// A writer that moves a progress bar.
#[derive(Debug)]
pub struct Counting<W: Write> {
    inner: W,
    bar: ProgressBar,
}

impl<W: Write> Counting<W> {
    /// Wraps `inner`.
    pub fn new(inner: W, bar: ProgressBar) -> Self {
        Self { inner, bar }
    }

    /// The inner writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that moves a progress bar.
#[derive(Debug)]
pub struct CountingReader<R: io::Read> {
    inner: R,
    bar: ProgressBar,
}

impl<R: io::Read> CountingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, bar: ProgressBar) -> Self {
        Self { inner, bar }
    }
}

impl<R: io::Read> io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// Bytes in words: `1.5 MiB`.
pub fn size(bytes: u64) -> String {
    indicatif::BinaryBytes(bytes).to_string()
}
