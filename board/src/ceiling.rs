//! The raw ceiling of the USB path: a device-side source and sink that moves bulk data
//! through the same FunctionFS endpoints, buffer size and queue depth as the MTP
//! responder, but with no protocol work and no files. `mtpbur ceiling` serves it and
//! `mtpbur-host bench-raw` drives it (tests/vm/bench.sh): GetObject and SendObject are
//! then measured as a fraction of what the path itself can carry, and a listing's
//! transactions against the bare command/data/response round trip.
//!
//! Every exchange starts with one 16-byte command transfer from the host:
//! `"CEIL" op:u32le len:u64le`.
//!
//! | op | Then |
//! |---|---|
//! | 1 source | the device sends one transfer of `len` bytes |
//! | 2 sink | the host sends one transfer of `len` bytes; the device answers 16 bytes |
//! | 3 round trip | the device sends `len` bytes (none if 0), then a 16-byte response |
//!
//! A transfer ends with a short packet, or a zero-length one when its length is a
//! multiple of the max packet size, as in MTP.

use bytes::Bytes;
use mtp::transport::{BulkIn, BulkOut, ControlEvent, ControlIn, Endpoints, TransportError};
use tracing::{info, warn};

/// The magic of commands and responses.
pub const MAGIC: &[u8; 4] = b"CEIL";

/// A host's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Send `len` bytes to the host.
    Source(u64),
    /// Take `len` bytes from the host, then answer.
    Sink(u64),
    /// Send `len` bytes (none if 0) and a response.
    RoundTrip(u64),
}

impl Command {
    /// Parses a command transfer.
    pub fn parse(data: &[u8]) -> Option<Self> {
        let (magic, rest) = data.split_first_chunk::<4>()?;
        let (op, rest) = rest.split_first_chunk::<4>()?;
        let (len, rest) = rest.split_first_chunk::<8>()?;
        if magic != MAGIC || !rest.is_empty() {
            return None;
        }
        let len = u64::from_le_bytes(*len);
        match u32::from_le_bytes(*op) {
            1 => Some(Self::Source(len)),
            2 => Some(Self::Sink(len)),
            3 => Some(Self::RoundTrip(len)),
            _ => None,
        }
    }
}

/// The 16-byte response: the magic, 0, and the byte count the device saw.
pub fn response(count: u64) -> Bytes {
    let mut r = Vec::with_capacity(16);
    r.extend_from_slice(MAGIC);
    r.extend_from_slice(&0u32.to_le_bytes());
    r.extend_from_slice(&count.to_le_bytes());
    Bytes::from(r)
}

/// Serves commands until the control channel ends. `chunk` is the transport's buffer
/// size (what the responder writes per request).
///
/// # Errors
/// Never today: a lost endpoint waits for the host to enable the device again.
pub async fn serve<I, O, N, C>(
    mut ep: Endpoints<I, O, N, C>,
    chunk: usize,
) -> Result<(), TransportError>
where
    I: BulkIn,
    O: BulkOut,
    C: ControlIn,
{
    let source = Bytes::from((0..chunk).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let mut mps = None;
    loop {
        tokio::select! {
            ev = ep.control.recv() => match ev {
                None => return Ok(()),
                Some(ControlEvent::Enabled) => match ep.bulk_in.max_packet_size() {
                    Ok(m) => {
                        info!(max_packet_size = m, "ceiling: endpoints enabled");
                        mps = Some(m);
                    }
                    Err(e) => warn!(error = %e, "ceiling: enabled, but unusable"),
                },
                Some(ControlEvent::Disabled) => {
                    mps = None;
                    ep.bulk_in.abort().await;
                }
                Some(_) => {} // class requests: nothing is in progress to cancel
            },
            r = ep.bulk_out.recv(), if mps.is_some() => {
                let Some(m) = mps else { continue };
                let done = match r {
                    Ok((data, _)) => match Command::parse(&data) {
                        Some(cmd) => exchange(&mut ep.bulk_in, &mut ep.bulk_out, cmd, &source, m).await,
                        None => {
                            warn!(len = data.len(), "ceiling: not a command");
                            Ok(())
                        }
                    },
                    Err(e) => Err(e),
                };
                if let Err(e) = done {
                    warn!(error = %e, "ceiling: endpoint lost");
                    mps = None;
                }
            }
        }
    }
}

async fn exchange<I: BulkIn, O: BulkOut>(
    bulk_in: &mut I,
    bulk_out: &mut O,
    cmd: Command,
    source: &Bytes,
    mps: usize,
) -> Result<(), TransportError> {
    match cmd {
        Command::Source(len) => send(bulk_in, source, len, mps).await,
        Command::Sink(len) => {
            // A read shorter than its buffer ends the transfer (a short or zero-length
            // packet completes it).
            let mut got = 0u64;
            loop {
                let (data, end) = bulk_out.recv().await?;
                got += data.len() as u64;
                if end {
                    break;
                }
            }
            if got != len {
                warn!(got, len, "ceiling: sink transfer of another length");
            }
            send_one(bulk_in, response(got)).await
        }
        Command::RoundTrip(len) => {
            if len > 0 {
                send(bulk_in, source, len, mps).await?;
            }
            send_one(bulk_in, response(len)).await
        }
    }
}

/// Sends one transfer of `len` bytes in buffers of the source's size.
async fn send<I: BulkIn>(
    bulk_in: &mut I,
    source: &Bytes,
    len: u64,
    mps: usize,
) -> Result<(), TransportError> {
    let mut left = len;
    while left > 0 {
        let take = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(source.len());
        bulk_in.ready().await?;
        bulk_in.submit(source.slice(..take))?;
        left -= take as u64;
    }
    if len % mps as u64 == 0 {
        bulk_in.ready().await?;
        bulk_in.submit(Bytes::new())?;
    }
    Ok(())
}

async fn send_one<I: BulkIn>(bulk_in: &mut I, data: Bytes) -> Result<(), TransportError> {
    bulk_in.ready().await?;
    bulk_in.submit(data)
}

#[cfg(test)]
mod tests;
