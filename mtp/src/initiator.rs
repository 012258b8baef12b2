//! A small MTP initiator (the host role) over the loopback, used by tests to drive the
//! responder the way a PC does: containers in whole USB transfers, data streamed in
//! bounded pieces, cancel through the control endpoint.

use std::io::{Read, Write};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::container::{
    Container, ContainerKind, HEADER_LEN, LENGTH_UNKNOWN, data_header, parse_container,
    parse_header,
};
use crate::codec::{OperationCode, ResponseCode};
use crate::lengths::capped_usize;
use crate::responder::{ControlRequest, DeviceStatus};
use crate::transport::{ControlEvent, HostPort};

/// A failure seen by the initiator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitiatorError {
    /// The device side went away.
    #[error("device disconnected")]
    Disconnected,
    /// The device broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// Nothing arrived in time.
    #[error("timed out")]
    Timeout,
    /// A local reader or writer failed.
    #[error("local i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// The initiator's result type.
pub type Result<T> = std::result::Result<T, InitiatorError>;

/// A response container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Response code.
    pub code: ResponseCode,
    /// Transaction id it answers.
    pub tx_id: u32,
    /// Parameters.
    pub params: Vec<u32>,
}

/// The host side of an MTP connection.
#[derive(Debug)]
pub struct Initiator {
    port: HostPort,
    next_tx: u32,
    chunk: usize,
    timeout: Duration,
}

impl Initiator {
    /// Creates an initiator on the host end of a loopback.
    pub fn new(port: HostPort) -> Self {
        let chunk = (64 * 1024 / port.max_packet_size).max(1) * port.max_packet_size;
        Self {
            port,
            next_tx: 0,
            chunk,
            timeout: Duration::from_secs(10),
        }
    }

    /// Returns the host port (for raw access in tests).
    pub fn port(&self) -> &HostPort {
        &self.port
    }

    /// Returns the transaction id the next command will use.
    pub fn next_tx_id(&self) -> u32 {
        self.next_tx
    }

    /// Sets the transaction id of the next command.
    pub fn set_next_tx_id(&mut self, tx: u32) {
        self.next_tx = tx;
    }

    /// Sends one USB transfer: pieces of at most the chunk size, a zero-length packet when
    /// the length is a multiple of the max packet size.
    pub async fn send_transfer(&self, bytes: Bytes) -> Result<()> {
        let mps = self.port.max_packet_size;
        let mut at = 0;
        loop {
            let n = self.chunk.min(bytes.len() - at);
            let piece = bytes.slice(at..at + n);
            at += n;
            let last = at == bytes.len();
            let end = last && n % mps != 0;
            self.put(piece, end).await?;
            if last {
                if !end {
                    self.put(Bytes::new(), true).await?;
                }
                return Ok(());
            }
        }
    }

    async fn put(&self, piece: Bytes, end: bool) -> Result<()> {
        if self.port.bulk_out.send((piece, end)).await {
            Ok(())
        } else {
            Err(InitiatorError::Disconnected)
        }
    }

    /// Sends a command container with the next transaction id; returns that id.
    pub async fn command(&mut self, op: OperationCode, params: &[u32]) -> Result<u32> {
        let tx = self.next_tx;
        self.next_tx = self.next_tx.wrapping_add(1);
        let c = Container::new(ContainerKind::Command, op.to_u16(), tx, params);
        self.send_transfer(c.encode()).await?;
        Ok(tx)
    }

    /// Sends a data container for transaction `tx`, streaming `len` bytes from `reader`.
    pub async fn send_data(
        &self,
        op: OperationCode,
        tx: u32,
        len: u64,
        reader: &mut dyn Read,
    ) -> Result<()> {
        let mps = self.port.max_packet_size;
        let mut first = BytesMut::with_capacity(self.chunk);
        first.put_slice(&data_header(op.to_u16(), tx, len));
        let mut left = len;
        let mut pending = first;
        loop {
            let room = self.chunk.saturating_sub(pending.len());
            let n = capped_usize(left, room);
            let start = pending.len();
            pending.resize(start + n, 0);
            reader.read_exact(&mut pending[start..])?;
            left -= n as u64;
            let last = left == 0;
            let piece = pending.split().freeze();
            let full = piece.len() % mps == 0;
            self.put(piece, last && !full).await?;
            if last {
                if full {
                    self.put(Bytes::new(), true).await?;
                }
                return Ok(());
            }
        }
    }

    async fn take(&self) -> Result<Bytes> {
        match tokio::time::timeout(self.timeout, self.port.bulk_in.pop()).await {
            Ok(Some(b)) => Ok(b),
            Ok(None) => Err(InitiatorError::Disconnected),
            Err(_) => Err(InitiatorError::Timeout),
        }
    }

    /// Reads one whole USB transfer (until a short or zero-length packet).
    pub async fn read_transfer(&self) -> Result<Bytes> {
        let mps = self.port.max_packet_size;
        let mut all = BytesMut::new();
        loop {
            let piece = self.take().await?;
            let short = piece.len() % mps != 0 || piece.is_empty();
            all.put_slice(&piece);
            if short {
                return Ok(all.freeze());
            }
        }
    }

    /// Reads a response container.
    pub async fn read_response(&self) -> Result<Response> {
        let t = self.read_transfer().await?;
        let c = parse_container(&t)
            .map_err(|e| InitiatorError::Protocol(format!("bad response: {e}")))?;
        if c.kind != ContainerKind::Response {
            return Err(InitiatorError::Protocol(format!(
                "expected a response, got {:?}",
                c.kind
            )));
        }
        Ok(Response {
            code: ResponseCode::from_u16(c.code),
            tx_id: c.tx_id,
            params: c.params.to_vec(),
        })
    }

    /// Reads the device's answer to `tx`: an optional data phase streamed into `sink`
    /// (returning its length), then the response.
    pub async fn read_data_and_response(
        &self,
        tx: u32,
        sink: &mut dyn Write,
    ) -> Result<(Response, Option<u64>)> {
        let mps = self.port.max_packet_size;
        let first = self.take().await?;
        let (_, h) =
            parse_header(&first).map_err(|_| InitiatorError::Protocol("short container".into()))?;
        if h.kind == ContainerKind::Response {
            let mut t = BytesMut::from(&first[..]);
            if first.len() % mps == 0 && !first.is_empty() {
                t.put_slice(&self.read_transfer().await?);
            }
            let c = parse_container(&t).map_err(|e| InitiatorError::Protocol(e.to_string()))?;
            let r = Response {
                code: ResponseCode::from_u16(c.code),
                tx_id: c.tx_id,
                params: c.params.to_vec(),
            };
            return Ok((r, None));
        }
        if h.kind != ContainerKind::Data || h.tx_id != tx {
            return Err(InitiatorError::Protocol(format!(
                "unexpected container {h:?}"
            )));
        }
        let mut got = (first.len() - HEADER_LEN) as u64;
        sink.write_all(&first[HEADER_LEN..])?;
        let mut short = first.len() % mps != 0;
        while !short {
            let piece = self.take().await?;
            short = piece.len() % mps != 0 || piece.is_empty();
            got += piece.len() as u64;
            sink.write_all(&piece)?;
        }
        if h.length != LENGTH_UNKNOWN && u64::from(h.length) - HEADER_LEN as u64 != got {
            return Err(InitiatorError::Protocol(format!(
                "data phase of {got} bytes, header said {}",
                h.length
            )));
        }
        let r = self.read_response().await?;
        Ok((r, Some(got)))
    }

    /// Runs a transaction without data out; returns the response and any data in.
    pub async fn transact(
        &mut self,
        op: OperationCode,
        params: &[u32],
    ) -> Result<(Response, Bytes)> {
        let tx = self.command(op, params).await?;
        let mut data = Vec::new();
        let (r, _) = self.read_data_and_response(tx, &mut data).await?;
        check_tx(&r, tx)?;
        Ok((r, Bytes::from(data)))
    }

    /// Runs a transaction with an in-memory data phase from host to device.
    pub async fn transact_out(
        &mut self,
        op: OperationCode,
        params: &[u32],
        data: &[u8],
    ) -> Result<Response> {
        let tx = self.command(op, params).await?;
        self.send_data(op, tx, data.len() as u64, &mut &data[..])
            .await?;
        let r = self.read_response().await?;
        check_tx(&r, tx)?;
        Ok(r)
    }

    /// Runs a transaction streaming `len` bytes from `reader` to the device.
    pub async fn transact_out_stream(
        &mut self,
        op: OperationCode,
        params: &[u32],
        len: u64,
        reader: &mut dyn Read,
    ) -> Result<Response> {
        let tx = self.command(op, params).await?;
        self.send_data(op, tx, len, reader).await?;
        let r = self.read_response().await?;
        check_tx(&r, tx)?;
        Ok(r)
    }

    /// Runs a transaction whose data in is streamed into `sink`.
    pub async fn transact_in_stream(
        &mut self,
        op: OperationCode,
        params: &[u32],
        sink: &mut dyn Write,
    ) -> Result<(Response, Option<u64>)> {
        let tx = self.command(op, params).await?;
        let r = self.read_data_and_response(tx, sink).await?;
        check_tx(&r.0, tx)?;
        Ok(r)
    }

    /// Sends Cancel Request for `tx` the way libmtp does: marks the device busy as the
    /// control side would, sends the request, polls Get Device Status until it is no
    /// longer busy, then drains the IN pipe.
    pub async fn cancel(&self, tx: u32) -> Result<DeviceStatus> {
        self.port.status.set(DeviceStatus(ResponseCode::DeviceBusy));
        self.port
            .control
            .push(ControlEvent::Request(ControlRequest::Cancel { tx_id: tx }));
        let status = self.wait_not_busy().await?;
        while self.port.bulk_in.try_pop().is_some() {}
        Ok(status)
    }

    /// Sends Device Reset Request and waits until the device is no longer busy.
    pub async fn device_reset(&self) -> Result<DeviceStatus> {
        self.port.status.set(DeviceStatus(ResponseCode::DeviceBusy));
        self.port
            .control
            .push(ControlEvent::Request(ControlRequest::DeviceReset));
        let status = self.wait_not_busy().await?;
        while self.port.bulk_in.try_pop().is_some() {}
        Ok(status)
    }

    /// Polls Get Device Status every 5 ms until it is not DeviceBusy.
    pub async fn wait_not_busy(&self) -> Result<DeviceStatus> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let s = self.port.status.get();
            if s.0 != ResponseCode::DeviceBusy {
                return Ok(s);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(InitiatorError::Timeout);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits up to `wait` for the next event container.
    pub async fn next_event(&self, wait: Duration) -> Option<Container> {
        let b = tokio::time::timeout(wait, self.port.interrupt.pop())
            .await
            .ok()??;
        parse_container(&b).ok()
    }
}

fn check_tx(r: &Response, tx: u32) -> Result<()> {
    if r.tx_id == tx {
        Ok(())
    } else {
        Err(InitiatorError::Protocol(format!(
            "response for transaction {} while {tx} runs",
            r.tx_id
        )))
    }
}
