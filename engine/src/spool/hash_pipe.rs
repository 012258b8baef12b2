//! SHA-256 on a second thread: a unit writer hands each batch of segments it writes to a
//! hashing thread and collects the digest when the unit is finished, so hashing runs next to
//! encoding and file I/O on boards with two or more cores (on one core it costs a
//! thread switch per batch, nothing more).
//!
//! The channel is bounded, so at most [`DEPTH`] batches wait for the hasher: memory stays
//! bounded whatever the unit's size.

use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Batches that may wait for the hashing thread.
const DEPTH: usize = 4;

/// A SHA-256 computed on another thread (or inline if no thread could be started).
#[derive(Debug)]
pub(crate) struct HashPipe {
    tx: Option<SyncSender<Vec<Bytes>>>,
    worker: Option<JoinHandle<[u8; 32]>>,
    inline: Option<Sha256>,
}

impl HashPipe {
    /// Starts the hashing thread.
    pub(crate) fn new() -> Self {
        let (tx, rx) = sync_channel::<Vec<Bytes>>(DEPTH);
        let spawned = std::thread::Builder::new()
            .name("unit-sha256".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                for batch in rx {
                    for segment in batch {
                        hasher.update(&segment);
                    }
                }
                hasher.finalize().into()
            });
        match spawned {
            Ok(worker) => Self {
                tx: Some(tx),
                worker: Some(worker),
                inline: None,
            },
            Err(e) => {
                tracing::warn!(error = %e, "no hashing thread; hashing inline");
                Self {
                    tx: None,
                    worker: None,
                    inline: Some(Sha256::new()),
                }
            }
        }
    }

    /// A pipe that hashes nothing and has no digest (what is left once one is taken).
    pub(crate) fn idle() -> Self {
        Self {
            tx: None,
            worker: None,
            inline: None,
        }
    }

    /// Adds the next segments, in order.
    pub(crate) fn update(&mut self, batch: Vec<Bytes>) {
        if let Some(h) = self.inline.as_mut() {
            for segment in &batch {
                h.update(segment);
            }
            return;
        }
        let Some(tx) = &self.tx else { return };
        // The worker only ends when the sender is dropped (or if it panicked, which
        // `finalize` reports): a failed send needs no handling here.
        let _ = tx.send(batch);
    }

    /// Returns the digest of every segment, `None` if the hashing thread failed.
    pub(crate) fn finalize(mut self) -> Option<[u8; 32]> {
        if let Some(h) = self.inline.take() {
            return Some(h.finalize().into());
        }
        drop(self.tx.take());
        self.worker.take()?.join().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_equals_sha256_of_all_segments_in_order() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut pipe = HashPipe::new();
        for batch in data.chunks(65_537) {
            let (a, b) = batch.split_at(batch.len() / 3);
            pipe.update(vec![Bytes::copy_from_slice(a), Bytes::copy_from_slice(b)]);
        }
        let expected: [u8; 32] = Sha256::digest(&data).into();
        assert_eq!(pipe.finalize(), Some(expected));
        let empty: [u8; 32] = Sha256::digest(b"").into();
        assert_eq!(HashPipe::new().finalize(), Some(empty));
    }
}
