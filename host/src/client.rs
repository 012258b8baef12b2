//! A synchronous MTP initiator over a [`Link`]: one transaction at a time, data phases
//! streamed in both directions (never a whole object in memory), datasets decoded with
//! the `mtp` crate's codec, the one the firmware's responder uses.

use std::io::{self, Read, Write};
use std::time::Duration;

use bytes::BytesMut;
pub use mtp::codec::EventCode;
use mtp::codec::array::parse_u32_array;
use mtp::codec::container::{
    Container, ContainerKind, HEADER_LEN, LENGTH_UNKNOWN, data_header, parse_container,
    parse_header,
};
use mtp::codec::dataset::{DeviceInfo, ObjectInfo, ObjectPropList, StorageInfo};
use mtp::codec::parse_all;
use mtp::{OperationCode, ResponseCode};

use crate::link::Link;

/// Bytes read from or written to the link in one call.
const PIECE: usize = 256 * 1024;

/// What went wrong in a transaction.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The device answered with a response code other than OK.
    #[error("{op:?} answered {code:?}")]
    Refused {
        /// The operation.
        op: OperationCode,
        /// The device's answer.
        code: ResponseCode,
    },
    /// The device broke the protocol.
    #[error("the device broke the MTP protocol: {0}")]
    Protocol(String),
    /// The USB link or a local file failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The client's result type.
pub type Result<T> = std::result::Result<T, ClientError>;

/// An event the device sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The event code.
    pub code: EventCode,
    /// Its first parameter (the object handle, for object events).
    pub param: u32,
}

/// One MTP session with a device.
#[derive(Debug)]
pub struct Client<L: Link> {
    link: L,
    next_tx: u32,
    buf: Vec<u8>,
}

impl<L: Link> Client<L> {
    /// Resets the device's MTP state (a session left open by a killed host, a half-done
    /// transaction) and opens a new session.
    ///
    /// # Errors
    /// The device refuses or the link fails.
    pub fn connect(mut link: L) -> Result<Self> {
        link.device_reset()?;
        let mut client = Self {
            link,
            next_tx: 0,
            buf: vec![0; PIECE],
        };
        client.drain_events();
        match client.call(OperationCode::OpenSession, &[1]) {
            Ok(_) => {}
            Err(ClientError::Refused {
                code: ResponseCode::SessionAlreadyOpen,
                ..
            }) => {
                client.call(OperationCode::CloseSession, &[])?;
                client.call(OperationCode::OpenSession, &[1])?;
            }
            Err(e) => return Err(e),
        }
        client.next_tx = 1;
        Ok(client)
    }

    /// Closes the session (best effort: the device may be gone).
    pub fn close(mut self) {
        let _ = self.call(OperationCode::CloseSession, &[]);
    }

    /// GetDeviceInfo.
    ///
    /// # Errors
    /// As every transaction.
    pub fn device_info(&mut self) -> Result<DeviceInfo> {
        let data = self.call_in(OperationCode::GetDeviceInfo, &[])?;
        decode(&data, DeviceInfo::parse)
    }

    /// GetStorageIDs.
    ///
    /// # Errors
    /// As every transaction.
    pub fn storage_ids(&mut self) -> Result<Vec<u32>> {
        let data = self.call_in(OperationCode::GetStorageIds, &[])?;
        decode(&data, parse_u32_array)
    }

    /// GetStorageInfo.
    ///
    /// # Errors
    /// As every transaction.
    pub fn storage_info(&mut self, storage: u32) -> Result<StorageInfo> {
        let data = self.call_in(OperationCode::GetStorageInfo, &[storage])?;
        decode(&data, StorageInfo::parse)
    }

    /// GetObjectHandles of the objects directly in `parent` (0xFFFFFFFF: the root).
    ///
    /// # Errors
    /// As every transaction.
    pub fn handles(&mut self, storage: u32, parent: u32) -> Result<Vec<u32>> {
        let data = self.call_in(OperationCode::GetObjectHandles, &[storage, 0, parent])?;
        decode(&data, parse_u32_array)
    }

    /// GetObjectInfo.
    ///
    /// # Errors
    /// As every transaction.
    pub fn object_info(&mut self, handle: u32) -> Result<ObjectInfo> {
        let data = self.call_in(OperationCode::GetObjectInfo, &[handle])?;
        decode(&data, ObjectInfo::parse)
    }

    /// GetObjectPropList of every property of one object (format 0, property
    /// 0xFFFFFFFF, group 0, depth 0): the single-object query libmtp sends after each
    /// GetObjectInfo when the device supports the operation.
    ///
    /// # Errors
    /// As every transaction.
    pub fn object_prop_list(&mut self, handle: u32) -> Result<ObjectPropList> {
        let data = self.call_in(
            OperationCode::GetObjectPropList,
            &[handle, 0, 0xFFFF_FFFF, 0, 0],
        )?;
        decode(&data, ObjectPropList::parse)
    }

    /// GetObject, streamed into `sink`; returns the object's length.
    ///
    /// # Errors
    /// As every transaction, and a failing sink.
    pub fn get_object(&mut self, handle: u32, sink: &mut dyn Write) -> Result<u64> {
        let (code, got) = self.transact(OperationCode::GetObject, &[handle], sink)?;
        check(OperationCode::GetObject, code)?;
        got.ok_or_else(|| ClientError::Protocol("GetObject without a data phase".into()))
    }

    /// SendObjectInfo then SendObject: creates `info.filename` in `parent` (0xFFFFFFFF:
    /// the root) and streams `len` bytes from `reader` into it; returns its handle.
    ///
    /// # Errors
    /// As every transaction, and a failing reader.
    pub fn send_object(
        &mut self,
        storage: u32,
        parent: u32,
        info: &ObjectInfo,
        len: u64,
        reader: &mut dyn Read,
    ) -> Result<u32> {
        let mut dataset = BytesMut::new();
        info.put(&mut dataset);
        let op = OperationCode::SendObjectInfo;
        let (code, params) = self.transact_out(
            op,
            &[storage, parent],
            dataset.len() as u64,
            &mut &dataset[..],
        )?;
        check(op, code)?;
        let handle = params.get(2).copied().unwrap_or(0);
        if info.format != mtp::ObjectFormat::Association.to_u16() {
            let op = OperationCode::SendObject;
            let (code, _) = self.transact_out(op, &[], len, reader)?;
            check(op, code)?;
        }
        Ok(handle)
    }

    /// DeleteObject.
    ///
    /// # Errors
    /// As every transaction.
    pub fn delete_object(&mut self, handle: u32) -> Result<()> {
        self.call(OperationCode::DeleteObject, &[handle, 0])
            .map(drop)
    }

    /// Every event that has arrived, without waiting.
    pub fn drain_events(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        while let Ok(Some(raw)) = self.link.event(Duration::ZERO) {
            if let Ok(c) = parse_container(&raw)
                && c.kind == ContainerKind::Event
            {
                events.push(Event {
                    code: EventCode::from_u16(c.code),
                    param: c.param(0),
                });
            }
        }
        events
    }

    /// Waits up to `wait` for events; returns those that arrived.
    pub fn wait_events(&mut self, wait: Duration) -> Vec<Event> {
        let mut events = Vec::new();
        if let Ok(Some(raw)) = self.link.event(wait)
            && let Ok(c) = parse_container(&raw)
            && c.kind == ContainerKind::Event
        {
            events.push(Event {
                code: EventCode::from_u16(c.code),
                param: c.param(0),
            });
        }
        events.extend(self.drain_events());
        events
    }

    fn call(&mut self, op: OperationCode, params: &[u32]) -> Result<Vec<u32>> {
        let (code, params) = self.transact_params(op, params)?;
        check(op, code)?;
        Ok(params)
    }

    fn call_in(&mut self, op: OperationCode, params: &[u32]) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        let (code, _) = self.transact(op, params, &mut data)?;
        check(op, code)?;
        Ok(data)
    }

    fn transact_params(
        &mut self,
        op: OperationCode,
        params: &[u32],
    ) -> Result<(ResponseCode, Vec<u32>)> {
        let tx = self.command(op, params)?;
        let mut sink = io::sink();
        let (code, params, _) = self.read_answer(tx, &mut sink)?;
        Ok((code, params))
    }

    fn transact(
        &mut self,
        op: OperationCode,
        params: &[u32],
        sink: &mut dyn Write,
    ) -> Result<(ResponseCode, Option<u64>)> {
        let tx = self.command(op, params)?;
        let (code, _, got) = self.read_answer(tx, sink)?;
        Ok((code, got))
    }

    fn transact_out(
        &mut self,
        op: OperationCode,
        params: &[u32],
        len: u64,
        reader: &mut dyn Read,
    ) -> Result<(ResponseCode, Vec<u32>)> {
        let tx = self.command(op, params)?;
        self.link.write(&data_header(op.to_u16(), tx, len))?;
        let mut left = len;
        while left > 0 {
            let n = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(self.buf.len());
            reader.read_exact(&mut self.buf[..n])?;
            self.link.write(&self.buf[..n])?;
            left -= n as u64;
        }
        self.link.end_transfer()?;
        let mut sink = io::sink();
        let (code, params, _) = self.read_answer(tx, &mut sink)?;
        Ok((code, params))
    }

    fn command(&mut self, op: OperationCode, params: &[u32]) -> Result<u32> {
        let tx = self.next_tx;
        self.next_tx = self.next_tx.wrapping_add(1).max(1);
        let c = Container::new(ContainerKind::Command, op.to_u16(), tx, params);
        self.link.write(&c.encode())?;
        self.link.end_transfer()?;
        Ok(tx)
    }

    /// Reads the answer to `tx`: an optional data phase into `sink`, then the response.
    fn read_answer(
        &mut self,
        tx: u32,
        sink: &mut dyn Write,
    ) -> Result<(ResponseCode, Vec<u32>, Option<u64>)> {
        let mut head = [0u8; HEADER_LEN];
        let n = self.read_up_to(&mut head)?;
        let (_, h) = parse_header(&head[..n])
            .map_err(|_| ClientError::Protocol(format!("a container of {n} bytes")))?;
        let mut got = None;
        if h.kind == ContainerKind::Data {
            if h.tx_id != tx {
                return Err(ClientError::Protocol(format!(
                    "data for transaction {} while {tx} runs",
                    h.tx_id
                )));
            }
            let mut total = 0u64;
            loop {
                let n = self.link.read_to(sink)?;
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
            self.link.next_transfer()?;
            if h.length != LENGTH_UNKNOWN && u64::from(h.length) - HEADER_LEN as u64 != total {
                return Err(ClientError::Protocol(format!(
                    "a data phase of {total} bytes whose header said {}",
                    u64::from(h.length) - HEADER_LEN as u64
                )));
            }
            got = Some(total);
            let n = self.read_up_to(&mut head)?;
            parse_header(&head[..n])
                .map_err(|_| ClientError::Protocol(format!("a response of {n} bytes")))?;
        } else if h.kind != ContainerKind::Response {
            return Err(ClientError::Protocol(format!(
                "unexpected {:?} container",
                h.kind
            )));
        }
        // The response: the header read so far, then the rest of its transfer.
        let mut whole = head.to_vec();
        loop {
            let n = self.link.read(&mut self.buf)?;
            if n == 0 {
                break;
            }
            whole.extend_from_slice(&self.buf[..n]);
            if whole.len() > 1024 {
                return Err(ClientError::Protocol("a response longer than 1 KiB".into()));
            }
        }
        self.link.next_transfer()?;
        let c = parse_container(&whole).map_err(|e| ClientError::Protocol(e.to_string()))?;
        if c.kind != ContainerKind::Response || c.tx_id != tx {
            return Err(ClientError::Protocol(format!(
                "{:?} for transaction {} while {tx} runs",
                c.kind, c.tx_id
            )));
        }
        Ok((ResponseCode::from_u16(c.code), c.params.to_vec(), got))
    }

    /// Reads the first bytes of a transfer (a container header).
    fn read_up_to(&mut self, head: &mut [u8; HEADER_LEN]) -> Result<usize> {
        let mut n = 0;
        while n < HEADER_LEN {
            let k = self.link.read(&mut head[n..])?;
            if k == 0 {
                self.link.next_transfer()?;
                break;
            }
            n += k;
        }
        Ok(n)
    }
}

fn check(op: OperationCode, code: ResponseCode) -> Result<()> {
    if code == ResponseCode::Ok {
        Ok(())
    } else {
        Err(ClientError::Refused { op, code })
    }
}

fn decode<'a, T>(data: &'a [u8], f: fn(&'a [u8]) -> mtp::codec::ParseResult<'a, T>) -> Result<T> {
    parse_all(data, f).map_err(|e| ClientError::Protocol(e.to_string()))
}
