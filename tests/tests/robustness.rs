//! Bad input from the host, cancels, resets and unplugs: each gets the right answer and the
//! device keeps working with nothing lost or written where it must not be.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;

use bytes::Bytes;
use common::*;
use mtp::codec::container::{Container, ContainerKind, data_header};
use mtp::codec::value::PropValue;
use mtp::codec::{OperationCode as Op, ResponseCode};

struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bulk IN whose `fault_at`-th data write fails the way FunctionFS fails a request whose
/// mapped file was cut under it: EFAULT, nothing sent (`mtp::mapped`).
struct CutIn {
    inner: mtp::transport::LoopbackIn,
    writes: usize,
    fault_at: usize,
}

impl mtp::transport::BulkIn for CutIn {
    fn max_packet_size(&mut self) -> Result<usize, mtp::transport::TransportError> {
        self.inner.max_packet_size()
    }
    async fn ready(&mut self) -> Result<(), mtp::transport::TransportError> {
        self.inner.ready().await
    }
    fn submit(&mut self, data: Bytes) -> Result<(), mtp::transport::TransportError> {
        if data.len() > 12 {
            self.writes += 1;
            if self.writes == self.fault_at {
                return Err(mtp::transport::TransportError::Unreadable);
            }
        }
        self.inner.submit(data)
    }
    async fn abort(&mut self) {
        self.inner.abort().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_kernel_cannot_read_fails_the_transfer_not_the_link() {
    let big: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut d = start_over(
        |internal, _| std::fs::write(internal.join("big.bin"), &big).unwrap(),
        |inner| CutIn {
            inner,
            writes: 0,
            fault_at: 6,
        },
    )
    .await;
    let h = d.find(INTERNAL, 0, "big.bin").await.unwrap();
    let mut got = Counter(0);
    // The data phase ends short: the host sees fewer bytes than the header announced,
    // then the response says why.
    let short = d
        .host
        .transact_in_stream(Op::GetObject, &[h], &mut got)
        .await
        .unwrap_err();
    assert!(short.to_string().contains("header said"), "{short}");
    let r = d.host.read_response().await.unwrap();
    assert_eq!(r.code, ResponseCode::IncompleteTransfer);
    // The same link serves the next transfer whole.
    let mut again = Vec::new();
    let (r, _) = d
        .host
        .transact_in_stream(Op::GetObject, &[h], &mut again)
        .await
        .unwrap();
    assert_eq!(r.code, ResponseCode::Ok);
    assert!(again == big, "second transfer differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_in_the_middle_of_get_object_then_the_next_transaction_works() {
    let mut d = start().await;
    let big = vec![7u8; 8 * 1024 * 1024];
    let h = d.upload(INTERNAL, 0, "big.bin", &big).await;
    let tx = d.host.command(Op::GetObject, &[h]).await.unwrap();
    // Read a few pieces of the data phase, then cancel like libmtp does.
    for _ in 0..4 {
        d.host.port().bulk_in.pop().await.unwrap();
    }
    let status = d.host.cancel(tx).await.unwrap();
    assert_eq!(status.0, ResponseCode::Ok);
    // No response for the cancelled transaction arrives; the next one is answered.
    let info = d.info(h).await;
    assert_eq!(info.compressed_size, big.len() as u32);
    assert_eq!(d.download(h).await.len(), big.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_in_the_middle_of_send_object_leaves_no_partial_file() {
    let mut d = start().await;
    let size = 4 * 1024 * 1024u64;
    let r = d
        .send_object_info(INTERNAL, 0, &file_info("partial.bin", size))
        .await;
    assert_eq!(r.code, ResponseCode::Ok);
    let tx = d.host.command(Op::SendObject, &[]).await.unwrap();
    let mut first = data_header(Op::SendObject.to_u16(), tx, size).to_vec();
    first.extend(vec![1u8; 65536 - 12]);
    d.host
        .port()
        .bulk_out
        .send((Bytes::from(first), false))
        .await;
    d.host
        .port()
        .bulk_out
        .send((Bytes::from(vec![1u8; 65536]), false))
        .await;
    let status = d.host.cancel(tx).await.unwrap();
    assert_eq!(status.0, ResponseCode::Ok);
    // Stale pieces of the cancelled transfer still arriving are skipped.
    d.host
        .port()
        .bulk_out
        .send((Bytes::from(vec![1u8; 65536]), false))
        .await;
    assert_eq!(d.handles(INTERNAL, u32::MAX).await, Vec::<u32>::new());
    let names: Vec<_> = std::fs::read_dir(&d.internal)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(names.is_empty(), "nothing left behind: {names:?}");
    let h = d.upload(INTERNAL, 0, "after.bin", b"works").await;
    assert_eq!(d.download(h).await, b"works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_containers_are_answered_and_the_session_keeps_working() {
    let mut d = start().await;
    // Too short to be a container.
    d.host
        .send_transfer(Bytes::from_static(&[9, 9, 9, 9, 9]))
        .await
        .unwrap();
    assert_eq!(
        d.host.read_response().await.unwrap().code,
        ResponseCode::GeneralError
    );
    // Length field larger than what was sent.
    let tx = d.host.next_tx_id();
    let mut c = Container::new(ContainerKind::Command, Op::GetStorageIds.to_u16(), tx, &[])
        .encode()
        .to_vec();
    c[0..4].copy_from_slice(&1_000_000u32.to_le_bytes());
    d.host.send_transfer(Bytes::from(c)).await.unwrap();
    let r = d.host.read_response().await.unwrap();
    assert_eq!((r.code, r.tx_id), (ResponseCode::InvalidParameter, tx));
    d.host.set_next_tx_id(tx + 1);
    // An unknown operation code.
    assert_eq!(
        d.code(Op::Unknown(0x9F9F), &[]).await,
        ResponseCode::OperationNotSupported
    );
    // A bad dataset.
    let r = d
        .host
        .transact_out(Op::SendObjectInfo, &[INTERNAL, 0], &[0xAA; 20])
        .await
        .unwrap();
    assert_eq!(r.code, ResponseCode::InvalidDataset);
    // A stale handle and a bad storage.
    assert_eq!(
        d.code(Op::GetObjectInfo, &[0x0100_9999]).await,
        ResponseCode::InvalidObjectHandle
    );
    assert_eq!(
        d.code(Op::GetObjectHandles, &[0x0042_0001, 0, u32::MAX])
            .await,
        ResponseCode::InvalidStorageId
    );
    // Still fine.
    let h = d.upload(INTERNAL, 0, "ok.txt", b"fine").await;
    assert_eq!(d.download(h).await, b"fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_escapes_are_refused_and_nothing_is_written_outside_the_storage() {
    let mut d = start().await;
    let outside_before: Vec<_> = std::fs::read_dir(d.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for name in [
        "../x",
        "..",
        "/etc/evil",
        "a/b",
        "sub/../../x",
        "nul\0name",
        ".",
    ] {
        let r = d.send_object_info(INTERNAL, 0, &file_info(name, 4)).await;
        assert_ne!(r.code, ResponseCode::Ok, "{name:?} must be refused");
        let r = d
            .host
            .transact_out(Op::SendObject, &[], b"evil")
            .await
            .unwrap();
        assert_ne!(
            r.code,
            ResponseCode::Ok,
            "no upload follows a refused {name:?}"
        );
    }
    let h = d.upload(INTERNAL, 0, "legit.txt", b"ok").await;
    for name in ["../escaped.txt", "/tmp/escaped.txt", "x/y"] {
        let mut v = Vec::new();
        PropValue::Str(name.into()).put(&mut v);
        let r = d
            .host
            .transact_out(Op::SetObjectPropValue, &[h, 0xDC07], &v)
            .await
            .unwrap();
        assert_ne!(
            r.code,
            ResponseCode::Ok,
            "rename to {name:?} must be refused"
        );
    }
    let outside_after: Vec<_> = std::fs::read_dir(d.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside_before, outside_after);
    let inside: Vec<_> = std::fs::read_dir(&d.internal)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(inside, ["legit.txt"]);
    assert!(!std::path::Path::new("/etc/evil").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplug_in_the_middle_of_a_transfer_then_the_device_works_again() {
    let mut d = start().await;
    let h = d
        .upload(INTERNAL, 0, "u.bin", &vec![3u8; 4 * 1024 * 1024])
        .await;
    d.host.command(Op::GetObject, &[h]).await.unwrap();
    d.host.port().bulk_in.pop().await.unwrap();
    d.host.port().unplug();
    d.host.port().replug();
    // The session was closed by the unplug: libmtp opens a new one.
    d.host.set_next_tx_id(0);
    let (r, _) = d.host.transact(Op::OpenSession, &[1]).await.unwrap();
    assert_eq!(r.code, ResponseCode::Ok);
    let mut c = Counter(0);
    let (r, n) = d
        .host
        .transact_in_stream(Op::GetObject, &[h], &mut c)
        .await
        .unwrap();
    assert_eq!((r.code, n), (ResponseCode::Ok, Some(4 * 1024 * 1024)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_reset_closes_the_session_and_a_new_one_opens() {
    let mut d = start().await;
    let status = d.host.device_reset().await.unwrap();
    assert_eq!(status.0, ResponseCode::Ok);
    assert_eq!(
        d.code(Op::GetStorageIds, &[]).await,
        ResponseCode::SessionNotOpen
    );
    d.host.set_next_tx_id(0);
    let (r, _) = d.host.transact(Op::OpenSession, &[1]).await.unwrap();
    assert_eq!(r.code, ResponseCode::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_added_and_removed_events_reach_the_interrupt_endpoint() {
    let mut d = start().await;
    let h = d.upload(INTERNAL, 0, "ev.txt", b"e").await;
    let ev = d
        .host
        .next_event(std::time::Duration::from_secs(2))
        .await
        .expect("ObjectAdded");
    assert_eq!((ev.code, ev.param(0)), (0x4002, h));
    d.ok(Op::DeleteObject, &[h]).await;
    let ev = d
        .host
        .next_event(std::time::Duration::from_secs(2))
        .await
        .expect("ObjectRemoved");
    assert_eq!((ev.code, ev.param(0)), (0x4003, h));
}
