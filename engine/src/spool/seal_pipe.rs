//! Encrypting a unit on a thread of its own: the reading thread frames the data and
//! hands it over in batches, this thread runs the age stream (ChaCha20-Poly1305) and
//! writes the ciphertext, and the hashing thread hashes it. Reading, encrypting and
//! hashing overlap, so a device with cores to spare keeps up with USB.
#![allow(
    clippy::disallowed_methods,
    reason = "unit files are created by the engine in its own root-only spool"
)]

use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use bytes::{Bytes, BytesMut};

use super::hash_pipe::HashPipe;

/// Batches in flight between the reading thread and this one.
const DEPTH: usize = 4;

/// Ciphertext gathered before it is written and hashed: one write and one hand-over to
/// the hashing thread per batch, not per 64 KiB age chunk.
const BATCH: usize = 1024 * 1024;
/// The most age writes at once: a 64 KiB chunk and its 16-byte tag. A batch holds up to
/// `BATCH` and one more such write, so it never grows (and copies itself) in place.
const CHUNK: usize = 64 * 1024 + 16;

/// Where the age stream writes: batches of ciphertext, each written to the file and then
/// handed to the hashing thread (the same buffer: no copy for the hash).
struct Sink {
    file: File,
    hasher: HashPipe,
    batch: BytesMut,
    /// Bytes the stream has written into the sink (on disk once flushed).
    written: Arc<AtomicU64>,
}

impl Sink {
    /// Writes the gathered ciphertext to the file and hands it to the hashing thread.
    fn flush_batch(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = self.batch.split().freeze();
        self.file.write_all(&batch)?;
        self.hasher.update(vec![batch]);
        self.batch.reserve(BATCH + CHUNK);
        Ok(())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A full batch goes out first, so an error comes before `buf` is taken.
        if self.batch.len() >= BATCH {
            self.flush_batch()?;
        }
        self.batch.extend_from_slice(buf);
        self.written.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_batch()
    }
}

/// What the thread hands back: the file (to be synced), its length and its SHA-256.
pub(super) type Sealed = (File, u64, [u8; 32]);

/// The encrypting thread of one unit.
#[derive(Debug)]
pub(super) struct SealPipe {
    tx: Option<SyncSender<Vec<Bytes>>>,
    handle: Option<JoinHandle<io::Result<Sealed>>>,
    /// Bytes of the age header (and payload nonce), which come before any data.
    pub(super) header: u64,
}

impl SealPipe {
    /// Starts the age stream for `recipients` into `file` (its header goes out with the
    /// first batch) and the thread.
    ///
    /// # Errors
    /// The age stream (its recipients' stanzas) or the thread cannot start.
    pub(super) fn start(
        recipients: &[Box<dyn age::Recipient + Send>],
        file: File,
    ) -> io::Result<Self> {
        let written = Arc::new(AtomicU64::new(0));
        let sink = Sink {
            file,
            hasher: HashPipe::new(),
            batch: BytesMut::with_capacity(BATCH + CHUNK),
            written: written.clone(),
        };
        let mut stream = crate::crypto::encrypt(recipients, sink)?;
        let header = written.load(Ordering::Relaxed);
        let (tx, rx) = sync_channel::<Vec<Bytes>>(DEPTH);
        let handle = std::thread::Builder::new()
            .name("engine-seal".into())
            .spawn(move || -> io::Result<Sealed> {
                for batch in rx {
                    for segment in batch {
                        stream.write_all(&segment)?;
                    }
                }
                let mut sink = stream.finish()?;
                sink.flush_batch()?;
                let size = sink.written.load(Ordering::Relaxed);
                let sha = sink
                    .hasher
                    .finalize()
                    .ok_or_else(|| io::Error::other("the hashing thread failed"))?;
                Ok((sink.file, size, sha))
            })?;
        Ok(Self {
            tx: Some(tx),
            handle: Some(handle),
            header,
        })
    }

    /// Hands a batch of plaintext over.
    ///
    /// # Errors
    /// The thread failed (its error).
    pub(super) fn send(&mut self, batch: Vec<Bytes>) -> io::Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(batch).is_ok());
        if sent {
            return Ok(());
        }
        // The thread ended early: its error says why.
        self.tx = None;
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(io::Error::other("the encrypting thread ended early")),
        }
    }

    /// Ends the stream and waits for the thread.
    ///
    /// # Errors
    /// Writing or encrypting failed.
    pub(super) fn finish(mut self) -> io::Result<Sealed> {
        self.tx = None;
        self.join()
    }

    fn join(&mut self) -> io::Result<Sealed> {
        let handle = self
            .handle
            .take()
            .ok_or_else(|| io::Error::other("the encrypting thread is gone"))?;
        handle
            .join()
            .map_err(|_| io::Error::other("the encrypting thread panicked"))?
    }
}

impl Drop for SealPipe {
    /// An abandoned unit: the thread ends with the channel and is not waited for.
    fn drop(&mut self) {
        self.tx = None;
    }
}
