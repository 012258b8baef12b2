//! The ceiling server over the in-memory loopback (which ends transfers as USB does).

use bytes::Bytes;
use mtp::transport::{ControlEvent, HostPort, loopback};

use super::*;

fn command(op: u32, len: u64) -> Bytes {
    let mut c = MAGIC.to_vec();
    c.extend_from_slice(&op.to_le_bytes());
    c.extend_from_slice(&len.to_le_bytes());
    Bytes::from(c)
}

async fn started() -> HostPort {
    let (ep, host) = loopback(512, 4);
    tokio::spawn(serve(ep, 256));
    assert!(host.control.send(ControlEvent::Enabled).await);
    host
}

async fn transfer(host: &HostPort) -> Vec<Bytes> {
    let mut pieces = Vec::new();
    loop {
        let p = host.bulk_in.pop().await.expect("piece");
        let short = p.len() < 256;
        pieces.push(p);
        if short {
            return pieces;
        }
    }
}

#[test]
fn commands_parse_only_in_their_exact_form() {
    assert_eq!(Command::parse(&command(1, 7)), Some(Command::Source(7)));
    assert_eq!(
        Command::parse(&command(2, 1 << 40)),
        Some(Command::Sink(1 << 40))
    );
    assert_eq!(Command::parse(&command(3, 0)), Some(Command::RoundTrip(0)));
    assert_eq!(Command::parse(&command(4, 0)), None);
    // The bytes mtpbur-host's `cmd::ceiling::command(2, 0x0102)` writes (its test pins them).
    assert_eq!(
        Command::parse(b"CEIL\x02\0\0\0\x02\x01\0\0\0\0\0\0"),
        Some(Command::Sink(0x0102))
    );
    assert_eq!(Command::parse(&command(1, 0)[..15]), None);
    let mut bad = command(1, 0).to_vec();
    bad[0] = b'X';
    assert_eq!(Command::parse(&bad), None);
}

#[tokio::test]
async fn source_sends_one_transfer_in_buffers_with_a_zlp_on_a_packet_multiple() {
    let host = started().await;
    assert!(host.bulk_out.send((command(1, 1000), true)).await);
    let lens: Vec<usize> = transfer(&host).await.iter().map(Bytes::len).collect();
    assert_eq!(lens, [256, 256, 256, 232]);
    assert!(host.bulk_out.send((command(1, 1024), true)).await);
    let lens: Vec<usize> = transfer(&host).await.iter().map(Bytes::len).collect();
    assert_eq!(lens, [256, 256, 256, 256, 0]);
}

#[tokio::test]
async fn sink_takes_a_transfer_and_answers_its_length() {
    let host = started().await;
    assert!(host.bulk_out.send((command(2, 600), true)).await);
    assert!(
        host.bulk_out
            .send((Bytes::from(vec![1u8; 256]), false))
            .await
    );
    assert!(
        host.bulk_out
            .send((Bytes::from(vec![1u8; 256]), false))
            .await
    );
    assert!(host.bulk_out.send((Bytes::from(vec![1u8; 88]), true)).await);
    let answer = host.bulk_in.pop().await.expect("response");
    assert_eq!(answer, response(600));
}

#[tokio::test]
async fn round_trip_sends_its_data_then_the_response() {
    let host = started().await;
    assert!(host.bulk_out.send((command(3, 0), true)).await);
    assert_eq!(host.bulk_in.pop().await.expect("response"), response(0));
    assert!(host.bulk_out.send((command(3, 100), true)).await);
    assert_eq!(host.bulk_in.pop().await.expect("data").len(), 100);
    assert_eq!(host.bulk_in.pop().await.expect("response"), response(100));
}
