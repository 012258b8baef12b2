//! `bench-mtp`: the bench workload (tests/vm/bench.sh) through this program's own MTP
//! client, where we control both ends: a listing of the first storage's root (one
//! GetObjectHandles, one GetObjectInfo per object), the same listing as libmtp's
//! `mtp-files` asks for it (a GetObjectInfo and a single-object GetObjectPropList per
//! object), a GetObject into nothing and a SendObject from memory. Set against
//! `bench-raw` on the same path, it shows what the device costs per byte and per
//! transaction when the host tool is not the limit (libmtp reads 16 KiB per synchronous
//! USB transfer, and makes three synchronous transfers per transaction). With
//! [`Transfers::None`] it lists only, which is how the bench sets umtprd's transactions
//! against ours with the same client.

use std::io::{self, Read};
use std::time::Instant;

use serde::Serialize;

use crate::client::Client;
use crate::link::Link;
use crate::storage::ROOT;
use mtp::OperationCode;

/// What `bench-mtp` measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Objects in the storage's root.
    pub listed: u64,
    /// Transactions of the listing (GetObjectHandles and every GetObjectInfo).
    pub list_transactions: u64,
    /// Seconds of the listing.
    pub list_s: f64,
    /// Transactions of the listing as `mtp-files` asks for it (GetObjectHandles, then a
    /// GetObjectInfo and a GetObjectPropList per object).
    pub pair_list_transactions: u64,
    /// Seconds of that listing.
    pub pair_list_s: f64,
    /// Bytes of the object read.
    pub get_bytes: u64,
    /// Seconds of its GetObject.
    pub get_s: f64,
    /// Bytes sent.
    pub send_bytes: u64,
    /// Seconds of SendObjectInfo and SendObject.
    pub send_s: f64,
}

/// A reader of `left` pattern bytes, copied from one block made once (a per-byte loop
/// would charge the host's CPU to the upload in an emulated machine).
struct Pattern {
    left: u64,
    block: Vec<u8>,
}

impl Pattern {
    fn new(left: u64) -> Self {
        Self {
            left,
            block: (0..1usize << 16).map(|i| (i % 251) as u8).collect(),
        }
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len())
            .min(self.block.len());
        buf[..n].copy_from_slice(&self.block[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

/// What `run` does after the listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfers {
    /// Read the object and send this many bytes (then delete them again).
    Both {
        /// Bytes to send.
        send_bytes: u64,
    },
    /// Only the listings: for a device whose upload spoils later runs (umtprd).
    None,
}

/// Lists the first storage's root (a second time with `mtp-files`' two transactions
/// per object, when the device supports GetObjectPropList), then, as `transfers` says,
/// reads the object called `get`, sends bytes as `bench-send.bin` and deletes it again.
///
/// # Errors
/// A failed transaction, a property list that is empty or names another object, or no
/// object called `get`.
pub fn run<L: Link>(
    client: &mut Client<L>,
    get: &str,
    transfers: Transfers,
) -> Result<Figures, String> {
    let err = |e: crate::client::ClientError| e.to_string();
    let storage = *client
        .storage_ids()
        .map_err(err)?
        .first()
        .ok_or("the device has no storage")?;
    let lists = client
        .device_info()
        .map_err(err)?
        .operations
        .contains(&OperationCode::GetObjectPropList.to_u16());
    let t = Instant::now();
    let handles = client.handles(storage, ROOT).map_err(err)?;
    let mut target = None;
    for h in &handles {
        let info = client.object_info(*h).map_err(err)?;
        if info.filename == get {
            target = Some(*h);
        }
    }
    let list_s = t.elapsed().as_secs_f64();
    let target = target.ok_or_else(|| format!("no {get} in the first storage's root"))?;

    let (mut pair_list_transactions, mut pair_list_s) = (0, 0.0);
    if lists {
        let t = Instant::now();
        let again = client.handles(storage, ROOT).map_err(err)?;
        for h in &again {
            client.object_info(*h).map_err(err)?;
            let props = client.object_prop_list(*h).map_err(err)?;
            if props.0.is_empty() || props.0.iter().any(|e| e.handle != *h) {
                return Err(format!(
                    "the property list of {h:#x} is empty or names another object"
                ));
            }
        }
        pair_list_s = t.elapsed().as_secs_f64();
        pair_list_transactions = 2 * again.len() as u64 + 1;
    }
    let mut figures = Figures {
        listed: handles.len() as u64,
        list_transactions: handles.len() as u64 + 1,
        list_s,
        pair_list_transactions,
        pair_list_s,
        get_bytes: 0,
        get_s: 0.0,
        send_bytes: 0,
        send_s: 0.0,
    };
    let Transfers::Both { send_bytes } = transfers else {
        return Ok(figures);
    };

    let t = Instant::now();
    figures.get_bytes = client.get_object(target, &mut io::sink()).map_err(err)?;
    figures.get_s = t.elapsed().as_secs_f64();

    let info = mtp::codec::dataset::ObjectInfo {
        storage_id: storage,
        format: mtp::ObjectFormat::Undefined.to_u16(),
        compressed_size: u32::try_from(send_bytes).unwrap_or(u32::MAX),
        filename: "bench-send.bin".into(),
        ..Default::default()
    };
    let t = Instant::now();
    let sent = client
        .send_object(
            storage,
            ROOT,
            &info,
            send_bytes,
            &mut Pattern::new(send_bytes),
        )
        .map_err(err)?;
    figures.send_s = t.elapsed().as_secs_f64();
    figures.send_bytes = send_bytes;
    client.delete_object(sent).map_err(err)?;
    Ok(figures)
}

/// The figures in words.
pub fn text(f: &Figures) -> String {
    let mib = |b: u64| b as f64 / 1048576.0;
    format!(
        "listing: {} objects, {} transactions in {:.2} s ({:.0} us each)\n\
         listing as mtp-files asks: {} transactions in {:.2} s ({:.0} us each)\n\
         GetObject: {:.0} MiB in {:.2} s\nSendObject: {:.0} MiB in {:.2} s\n",
        f.listed,
        f.list_transactions,
        f.list_s,
        f.list_s * 1e6 / f.list_transactions.max(1) as f64,
        f.pair_list_transactions,
        f.pair_list_s,
        f.pair_list_s * 1e6 / f.pair_list_transactions.max(1) as f64,
        mib(f.get_bytes),
        f.get_s,
        mib(f.send_bytes),
        f.send_s
    )
}
