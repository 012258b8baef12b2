//! Read buffers that come back.
//!
//! The capture reads each chunk of a file into a buffer of its own and hands it on as
//! [`Bytes`]: the unit file and the hashing thread keep slices of it, and the last of them
//! to let go frees it, usually on the hashing thread. Freed that way, a stream of 64 KiB
//! buffers makes the allocator return memory to the kernel and take it back again: every
//! page faults in anew (about 53,000 faults and 6 CPU-seconds per 768 MiB in the VM). The
//! pool keeps a handle on each buffer it lends and takes the oldest back once nobody else
//! holds it, so a long unit cycles through the same few megabytes.

use std::collections::VecDeque;

use bytes::Bytes;

/// Buffers lent and not yet taken back, at most: enough for the hashing pipe's depth
/// and the batch being gathered; older ones are let go (freed by their last holder).
const MAX_LENT: usize = 128;

/// Lends read buffers of one size and takes them back when their last reader is done.
#[derive(Debug)]
pub(crate) struct BufferPool {
    size: usize,
    lent: VecDeque<Bytes>,
}

impl BufferPool {
    /// A pool of buffers with room for `size` bytes each.
    pub(crate) fn new(size: usize) -> Self {
        Self {
            size,
            lent: VecDeque::new(),
        }
    }

    /// An empty buffer with room for at least `want` bytes: for a full-size read, the
    /// oldest one lent if nobody holds it any more, else a new one. A smaller read (a
    /// small file, a file's tail) gets a buffer of its own size: a batch may hold
    /// thousands of small files, and each must cost what it holds, not a whole buffer.
    pub(crate) fn take(&mut self, want: usize) -> Vec<u8> {
        if want != self.size {
            return Vec::with_capacity(want);
        }
        if self.lent.front().is_some_and(Bytes::is_unique) {
            if let Some(Ok(mut back)) = self.lent.pop_front().map(Bytes::try_into_mut) {
                back.clear();
                let buf = Vec::from(back);
                if buf.capacity() >= want {
                    return buf;
                }
            }
        }
        Vec::with_capacity(want)
    }

    /// Freezes a filled buffer for the readers and keeps a handle on it if it is one of
    /// the pool's size.
    pub(crate) fn lend(&mut self, buf: Vec<u8>) -> Bytes {
        let pooled = buf.capacity() == self.size;
        let bytes = Bytes::from(buf);
        if !pooled {
            return bytes;
        }
        if self.lent.len() == MAX_LENT {
            self.lent.pop_front();
        }
        self.lent.push_back(bytes.clone());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_once_its_readers_let_go() {
        let mut pool = BufferPool::new(4096);
        let mut buf = pool.take(4096);
        buf.extend_from_slice(&[7; 100]);
        let first = buf.as_ptr();
        let lent = pool.lend(buf);
        let slice = lent.slice(10..20);
        drop(lent);
        // A reader still holds a slice: the next buffer is a new one.
        let other = pool.take(4096);
        assert_ne!(other.as_ptr(), first);
        drop(slice);
        let _ = pool.lend(other);
        // The first buffer, free now, comes back empty with its room.
        let again = pool.take(4096);
        assert_eq!(again.as_ptr(), first);
        assert!(again.is_empty());
        assert!(again.capacity() >= 4096);
    }

    #[test]
    fn what_is_lent_reads_as_written() {
        let mut pool = BufferPool::new(8);
        for round in 0..200u8 {
            let mut buf = pool.take(8);
            buf.extend_from_slice(&[round; 8]);
            let bytes = pool.lend(buf);
            assert_eq!(&bytes[..], &[round; 8]);
        }
        assert!(pool.lent.len() <= MAX_LENT);
    }

    #[test]
    fn other_sizes_get_buffers_of_their_own_and_are_not_kept() {
        let mut pool = BufferPool::new(4096);
        let buf = pool.take(4096);
        drop(pool.lend(buf));
        // A small read does not take (and pin) a whole free buffer.
        let small = pool.take(10);
        assert_eq!(small.capacity(), 10);
        drop(pool.lend(small));
        assert_eq!(pool.lent.len(), 1);
        assert!(pool.take(8192).capacity() >= 8192);
        // The free full-size buffer is still there for the next full-size read.
        let full = pool.take(4096);
        assert!(full.capacity() >= 4096);
        assert!(pool.lent.is_empty());
    }
}
