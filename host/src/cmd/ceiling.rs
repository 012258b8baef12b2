//! `bench-raw`: what the USB path itself carries, measured against a device that runs
//! `mtpbur ceiling` (the `board::ceiling` source and sink: the responder's endpoints,
//! buffers and queue, no protocol work, no files), with the same transfers as the MTP
//! client uses. tests/vm/bench.sh sets GetObject, SendObject and a listing's
//! transactions against these figures.
//!
//! Wire format (the device's `board::ceiling`): a 16-byte command transfer
//! `"CEIL" op:u32le len:u64le`; op 1 the device sends `len` bytes, op 2 the host sends
//! `len` bytes and the device answers 16 bytes, op 3 the device sends `len` bytes (none
//! if 0) and then 16 bytes.

use std::io;
use std::time::Instant;

use serde::Serialize;

use crate::link::Link;

/// What `bench-raw` measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Bytes moved each way.
    pub bytes: u64,
    /// Seconds to read them from the device (one transfer).
    pub source_s: f64,
    /// Seconds to write them to the device (one transfer and the answer).
    pub sink_s: f64,
    /// Round trips timed.
    pub rounds: u32,
    /// Data bytes in each round trip (besides the command and the response).
    pub round_trip_data: u64,
    /// Mean time of one round trip, microseconds.
    pub round_trip_us: f64,
}

const SOURCE: u32 = 1;
const SINK: u32 = 2;
const ROUND_TRIP: u32 = 3;
const CHUNK: usize = 1 << 20;

/// The command transfer of `op` with `len`.
pub fn command(op: u32, len: u64) -> [u8; 16] {
    let mut c = [0u8; 16];
    c[..4].copy_from_slice(b"CEIL");
    c[4..8].copy_from_slice(&op.to_le_bytes());
    c[8..].copy_from_slice(&len.to_le_bytes());
    c
}

fn send_command<L: Link>(link: &mut L, op: u32, len: u64) -> io::Result<()> {
    link.write(&command(op, len))?;
    link.end_transfer()
}

/// What passes through: counted, and its first 16 bytes kept.
#[derive(Default)]
struct Head {
    total: u64,
    head: [u8; 16],
}

impl io::Write for Head {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let from = usize::try_from(self.total).unwrap_or(16).min(16);
        let take = (16 - from).min(buf.len());
        self.head[from..from + take].copy_from_slice(&buf[..take]);
        self.total += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads one IN transfer to its end, from the link's own buffers (as the MTP client
/// reads a data phase); returns its length and its first 16 bytes.
fn read_transfer<L: Link>(link: &mut L) -> io::Result<(u64, [u8; 16])> {
    let mut seen = Head::default();
    while link.read_to(&mut seen)? > 0 {}
    link.next_transfer()?;
    Ok((seen.total, seen.head))
}

fn expect(what: &str, got: u64, want: u64) -> io::Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what}: {got} bytes instead of {want} (is the device running `mtpbur ceiling`?)"
        )))
    }
}

fn answer_count(head: &[u8; 16]) -> u64 {
    let mut n = [0u8; 8];
    n.copy_from_slice(&head[8..]);
    u64::from_le_bytes(n)
}

/// Measures `bytes` each way and `rounds` round trips carrying `data` bytes.
///
/// # Errors
/// The link failed, or the device answered as no ceiling server would.
pub fn run<L: Link>(link: &mut L, bytes: u64, rounds: u32, data: u64) -> io::Result<Figures> {
    let buf = vec![0u8; CHUNK];
    let t = Instant::now();
    send_command(link, SOURCE, bytes)?;
    let (got, _) = read_transfer(link)?;
    let source_s = t.elapsed().as_secs_f64();
    expect("source", got, bytes)?;

    let t = Instant::now();
    send_command(link, SINK, bytes)?;
    let mut left = bytes;
    while left > 0 {
        let n = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
        link.write(&buf[..n])?;
        left -= n as u64;
    }
    link.end_transfer()?;
    let (len, head) = read_transfer(link)?;
    let sink_s = t.elapsed().as_secs_f64();
    expect("sink answer", len, 16)?;
    expect("sink", answer_count(&head), bytes)?;

    let t = Instant::now();
    for _ in 0..rounds {
        send_command(link, ROUND_TRIP, data)?;
        if data > 0 {
            let (got, _) = read_transfer(link)?;
            expect("round trip data", got, data)?;
        }
        let (len, _) = read_transfer(link)?;
        expect("round trip answer", len, 16)?;
    }
    let round_trip_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(rounds.max(1));
    Ok(Figures {
        bytes,
        source_s,
        sink_s,
        rounds,
        round_trip_data: data,
        round_trip_us,
    })
}

/// The figures in words.
pub fn text(f: &Figures) -> String {
    let mib = f.bytes as f64 / 1048576.0;
    let rate = |s: f64| if s > 0.0 { mib / s } else { 0.0 };
    format!(
        "raw USB path: read {mib:.0} MiB in {:.2} s ({:.1} MiB/s), wrote it in {:.2} s ({:.1} MiB/s)\n\
         round trip (command, {} data bytes, response): {:.0} us over {} rounds\n",
        f.source_s,
        rate(f.source_s),
        f.sink_s,
        rate(f.sink_s),
        f.round_trip_data,
        f.round_trip_us,
        f.rounds
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout `board::ceiling::Command::parse` reads (board's own test pins the same
    /// bytes).
    #[test]
    fn command_layout() {
        assert_eq!(command(2, 0x0102), *b"CEIL\x02\0\0\0\x02\x01\0\0\0\0\0\0");
    }

    /// A transfer read in pieces of any size: counted whole, its first 16 bytes kept.
    #[test]
    fn head_keeps_the_first_16_bytes_across_pieces() {
        use std::io::Write;
        let data: Vec<u8> = (0..40).collect();
        for cut in [1, 5, 16, 17, 40] {
            let mut seen = Head::default();
            for piece in data.chunks(cut) {
                seen.write_all(piece).unwrap();
            }
            assert_eq!(seen.total, 40, "pieces of {cut}");
            assert_eq!(seen.head[..], data[..16], "pieces of {cut}");
        }
        let mut short = Head::default();
        short.write_all(b"0123").unwrap();
        assert_eq!((short.total, &short.head[..5]), (4, &b"0123\0"[..]));
    }
}
