//! The queue over a regular file: the kernel runs a buffered file's AIO inside
//! io_submit, and reports it through the same ring and eventfd as an endpoint's.

use std::io::Write;
use std::os::fd::AsRawFd;

use bytes::{Bytes, BytesMut};

use super::{Buf, Queue};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap()
}

fn out(b: Buf) -> BytesMut {
    match b {
        Buf::Out(b) => b,
        Buf::In(_) => panic!("an IN buffer came back for a read"),
    }
}

#[test]
fn completions_come_back_in_order_with_what_was_read() {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"0123456789").unwrap();
    rt().block_on(async {
        let mut q = Queue::new(file.as_raw_fd(), 3).unwrap();
        assert!(q.is_empty());
        q.submit(Buf::Out(BytesMut::with_capacity(4))).unwrap();
        q.submit(Buf::Out(BytesMut::with_capacity(64))).unwrap();
        q.submit(Buf::In(Bytes::from_static(b"ab"))).unwrap();
        assert!(q.is_full());
        let full = q.submit(Buf::In(Bytes::from_static(b"x"))).unwrap_err();
        assert_eq!(full.kind(), std::io::ErrorKind::WouldBlock);
        // Each read starts at offset 0: the first fills its 4 bytes, the second takes
        // the whole file (a "short packet").
        assert_eq!(&out(q.next().await.unwrap().unwrap())[..], b"0123");
        assert!(!q.is_full());
        assert_eq!(&out(q.next().await.unwrap().unwrap())[..], b"0123456789");
        assert!(matches!(q.next().await, Some(Ok(Buf::In(_)))));
        assert!(q.next().await.is_none(), "nothing queued any more");
        assert!(q.is_empty());
    });
    let mut back = String::new();
    std::io::Read::read_to_string(
        &mut std::fs::File::open(format!("/proc/self/fd/{}", file.as_raw_fd())).unwrap(),
        &mut back,
    )
    .unwrap();
    assert_eq!(back, "ab23456789", "the IN buffer was written at offset 0");
}

#[test]
fn a_failed_request_reports_its_errno_and_cancel_forgets_completions() {
    // Opened read-only: a write fails in the kernel with EBADF.
    let file = tempfile::NamedTempFile::new().unwrap();
    let ro = std::fs::File::open(file.path()).unwrap();
    rt().block_on(async {
        let mut q = Queue::new(ro.as_raw_fd(), 2).unwrap();
        match q.submit(Buf::In(Bytes::from_static(b"data"))) {
            // Refused at submission...
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EBADF)),
            // ...or ended with the error.
            Ok(()) => {
                let e = q.next().await.unwrap().unwrap_err();
                assert_eq!(e.raw_os_error(), Some(libc::EBADF));
            }
        }
        q.submit(Buf::Out(BytesMut::with_capacity(8))).unwrap();
        q.submit(Buf::Out(BytesMut::with_capacity(8))).unwrap();
        q.cancel();
        assert!(q.is_empty(), "cancel hands nothing out afterwards");
        assert!(q.try_next().is_none());
        q.submit(Buf::Out(BytesMut::with_capacity(8))).unwrap();
        assert_eq!(
            out(q.next().await.unwrap().unwrap()).len(),
            0,
            "an empty file"
        );
    });
}

#[test]
fn the_ring_is_read_in_user_space_and_wraps() {
    let file = tempfile::tempfile().unwrap();
    rt().block_on(async {
        let mut q = Queue::new(file.as_raw_fd(), 4).unwrap();
        // A write into an empty queue signals nobody: the ring is where it is found.
        q.submit(Buf::In(Bytes::from_static(b"xy"))).unwrap();
        assert!(
            q.reap_ring(),
            "the kernel's ring is laid out as the module expects"
        );
        assert_eq!((q.in_flight, q.done.len()), (0, 1));
        assert!(matches!(q.try_next(), Some(Ok(Buf::In(_)))));
        // Far more completions than the ring has slots: its head wraps around.
        for _ in 0..1000 {
            q.submit(Buf::Out(BytesMut::with_capacity(8))).unwrap();
            assert_eq!(&out(q.next().await.unwrap().unwrap())[..], b"xy");
        }
        assert!(q.is_empty());
    });
}
