//! No-panic tests over random host input.

use bytes::Bytes;

use super::*;
use crate::codec::OperationCode as Op;
use crate::codec::container::{ContainerKind, data_header};

/// A small deterministic generator (xorshift) for the no-panic tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() as usize) % (max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_host_bytes_never_panic_and_the_responder_still_answers() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let ops = [
        0x1001u16, 0x1002, 0x1004, 0x1007, 0x1008, 0x1009, 0x100C, 0x100D, 0x1016, 0x9804, 0x9805,
        0x9811,
    ];
    let mut h = Harness::in_session();
    h.upload("seed", b"some data");
    for i in 0..20_000 {
        let bytes = match rng.next() % 4 {
            // Plausible commands with random parameters and transaction ids.
            0 | 1 => {
                let op = ops[(rng.next() as usize) % ops.len()];
                let params: Vec<u32> = (0..rng.next() % 6)
                    .map(|_| rng.next() as u32 % 0x0200_0000)
                    .collect();
                Container::new(ContainerKind::Command, op, rng.next() as u32 % 64, &params)
                    .encode()
                    .to_vec()
            }
            // Data containers with random payloads (datasets, values, garbage).
            2 => {
                let mut d = data_header(
                    ops[(rng.next() as usize) % ops.len()],
                    rng.next() as u32 % 64,
                    0,
                )
                .to_vec();
                let payload = rng.bytes(300);
                d[..4].copy_from_slice(&((12 + payload.len()) as u32).to_le_bytes());
                d.extend(payload);
                d
            }
            _ => rng.bytes(64),
        };
        let end = rng.next() % 8 != 0;
        h.r.handle_bulk_out(Bytes::from(bytes), end);
        if rng.next() % 50 == 0 {
            h.r.handle_control(ControlRequest::Cancel { tx_id: i });
            h.r.poll_abort();
            h.r.handle_abort_done();
        }
        for _ in 0..64 {
            if h.r.poll_bulk_in().is_none() {
                break;
            }
        }
        while h.r.poll_event().is_some() {}
    }
    // Whatever state the garbage left, a reset and a fresh session work.
    h.r.handle_control(ControlRequest::DeviceReset);
    h.r.poll_abort();
    h.r.handle_abort_done();
    h.r.handle_bulk_out(Bytes::new(), true);
    h.cmd_raw(Op::OpenSession, 0, &[3]);
    assert_eq!(code(&h.response()), ResponseCode::Ok);
    h.cmd_raw(Op::GetStorageIds, 1, &[]);
    assert_eq!(code(&h.data_in().1), ResponseCode::Ok);
}

#[test]
fn random_bytes_never_panic_any_parser() {
    use crate::codec::dataset::*;
    use crate::codec::{DataType, parse_prefix};
    let mut rng = Rng(12345);
    for _ in 0..50_000 {
        let b = rng.bytes(200);
        let _ = crate::codec::container::parse_container(&b);
        let _ = parse_prefix(&b, DeviceInfo::parse);
        let _ = parse_prefix(&b, StorageInfo::parse);
        let _ = parse_prefix(&b, ObjectInfo::parse);
        let _ = parse_prefix(&b, ObjectPropDesc::parse);
        let _ = parse_prefix(&b, DevicePropDesc::parse);
        let _ = parse_prefix(&b, ObjectPropList::parse);
        let dt = DataType::from_u16(rng.next() as u16 & 0x400F);
        let _ = parse_prefix(&b, |i| crate::codec::value::parse_value(i, dt));
        let _ = crate::codec::dataset::datetime::parse(&String::from_utf8_lossy(&b));
    }
}
