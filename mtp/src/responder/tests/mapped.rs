//! Mapped object data (`ObjectSource::map_next`): handed to the endpoint as it is, never
//! copied; and a write the kernel could not read ends the data phase, not the device.

use super::*;

#[test]
fn mapped_pieces_go_out_as_they_are_after_the_first_request() {
    let (mut h, handle) = Harness::with_object(20_000);
    h.shared.lock().unwrap().mapping = true;
    h.cmd(Op::GetObject, &[handle]);
    let writes = h.writes();
    let mapped = h.shared.lock().unwrap().mapped.clone();
    // The first request carries the container header, so it is read and copied; every
    // later one is a mapped piece, the very bytes the source handed out.
    assert!(!mapped.is_empty());
    let sent: Vec<(usize, usize)> = writes[1..]
        .iter()
        .filter(|w| w.len() > 12 || parse_container(w).is_err())
        .map(|w| (w.as_ptr() as usize, w.len()))
        .collect();
    assert_eq!(sent, mapped);
    assert!(mapped.iter().all(|(_, len)| *len <= 4096));
    let all: Vec<u8> = writes[..writes.len() - 1]
        .iter()
        .flat_map(|b| b.iter().copied())
        .collect();
    let want: Vec<u8> = (0..20_000).map(|i| (i % 251) as u8).collect();
    assert_eq!(&all[12..], &want[..]);
    let resp = parse_container(writes.last().unwrap()).unwrap();
    assert_eq!(code(&resp), ResponseCode::Ok);
}

#[test]
fn an_unreadable_write_ends_the_data_phase_with_incomplete_transfer() {
    let (mut h, handle) = Harness::with_object(40_000);
    h.shared.lock().unwrap().mapping = true;
    h.cmd(Op::GetObject, &[handle]);
    let first = h.r.poll_bulk_in().unwrap();
    assert_eq!(first.len(), 4096);
    assert!(h.r.poll_bulk_in().is_some());
    // The shell reports that the kernel could not read the last write (EFAULT).
    h.r.handle_send_fault();
    let rest = h.writes();
    assert_eq!(rest.len(), 2, "a zero-length packet, then the response");
    assert!(rest[0].is_empty());
    let resp = parse_container(&rest[1]).unwrap();
    assert_eq!(code(&resp), ResponseCode::IncompleteTransfer);
    // The device carries on: the same object is sent whole on the next request.
    h.shared.lock().unwrap().mapping = false;
    h.cmd(Op::GetObject, &[handle]);
    let (data, resp) = h.data_in();
    assert_eq!(code(&resp), ResponseCode::Ok);
    assert_eq!(data.len(), 40_000);
    // A fault reported after the response is queued changes nothing.
    h.r.handle_send_fault();
    assert!(h.writes().is_empty());
}
