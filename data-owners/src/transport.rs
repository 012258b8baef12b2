//! Async framing over a byte stream (both the engine and the owners use it).

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::wire::{WireError, WireMessage, decode_frame};

/// A failure of the connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The socket failed.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent a malformed frame; the connection must be closed.
    #[error("malformed frame: {0}")]
    Wire(#[from] WireError),
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed inside a frame")]
    UnexpectedEof,
}

/// Reads whole frames from `R`.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: BytesMut::with_capacity(8192),
        }
    }

    /// Returns the next message, or `None` when the peer closed between frames.
    ///
    /// Cancel-safe: bytes already read stay buffered.
    ///
    /// # Errors
    /// [`TransportError`] on I/O failure, a malformed frame, or EOF inside a frame.
    pub async fn recv<M: WireMessage>(&mut self) -> Result<Option<M>, TransportError> {
        loop {
            if let Some((msg, used)) = decode_frame::<M>(&self.buf)? {
                let _ = self.buf.split_to(used);
                return Ok(Some(msg));
            }
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(TransportError::UnexpectedEof)
                };
            }
        }
    }
}

/// Writes one whole frame to `w` and flushes it.
///
/// # Errors
/// [`TransportError::Io`] if the socket fails.
pub async fn send<M: WireMessage, W: AsyncWrite + Unpin>(
    w: &mut W,
    msg: &M,
) -> Result<(), TransportError> {
    let mut buf = BytesMut::new();
    msg.encode(&mut buf);
    w.write_all(&buf).await?;
    w.flush().await?;
    Ok(())
}
