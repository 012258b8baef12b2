//! The passive file stream: `engine::passive::archive::ArchiveDecoder`.
//!
//! The first byte sets the piece size (1..=256, 0 = whole input). Oracle: no panic; each
//! file's data adds up to its announced size; every path is a valid cage path; the
//! events re-encode to a stream that decodes to the same events.
#![no_main]

use bytes::BytesMut;
use engine::passive::archive::{self, ArchiveDecoder, ArchiveError, ArchiveEvent};
use engine::registration::CagePath;
use libfuzzer_sys::fuzz_target;

fn decode(data: &[u8], piece: usize) -> Result<Vec<ArchiveEvent>, ArchiveError> {
    let mut dec = ArchiveDecoder::new();
    let mut events: Vec<ArchiveEvent> = Vec::new();
    let mut remaining: Option<u64> = None;
    for chunk in data.chunks(piece.max(1)) {
        dec.handle_input(chunk);
        while let Some(ev) = dec.poll_event()? {
            match &ev {
                ArchiveEvent::File { path, size, .. } => {
                    assert!(remaining.is_none(), "file inside a file");
                    check_path(path);
                    remaining = Some(*size);
                }
                ArchiveEvent::Data(d) => {
                    let left = remaining.as_mut().expect("data outside a file");
                    *left = left
                        .checked_sub(d.len() as u64)
                        .expect("more data than announced");
                }
                ArchiveEvent::FileEnd => {
                    assert_eq!(remaining.take(), Some(0), "file ended early");
                }
                ArchiveEvent::Deleted(path) | ArchiveEvent::EmptyDir { path, .. } => {
                    check_path(path)
                }
                ArchiveEvent::End => assert!(remaining.is_none()),
            }
            // Keep the events small: merge data pieces.
            match (events.last_mut(), ev) {
                (Some(ArchiveEvent::Data(prev)), ArchiveEvent::Data(d)) => {
                    let mut joined = BytesMut::from(&prev[..]);
                    joined.extend_from_slice(&d);
                    *prev = joined.freeze();
                }
                (_, ev) => events.push(ev),
            }
        }
    }
    dec.finish()?;
    Ok(events)
}

fn check_path(p: &CagePath) {
    assert!(!p.is_root());
    assert_eq!(
        CagePath::parse_native(p.as_str()).as_ref(),
        Some(p),
        "{p:?}"
    );
}

fn encode(events: &[ArchiveEvent]) -> BytesMut {
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    for ev in events {
        match ev {
            ArchiveEvent::File {
                path,
                size,
                mtime_ns,
                mode,
            } => {
                archive::file_header(&mut out, path, *size, *mtime_ns, *mode);
            }
            ArchiveEvent::Data(d) => out.extend_from_slice(d),
            ArchiveEvent::FileEnd => {}
            ArchiveEvent::Deleted(path) => archive::deleted(&mut out, path),
            ArchiveEvent::EmptyDir { path, mode } => archive::empty_dir(&mut out, path, *mode),
            ArchiveEvent::End => archive::end(&mut out),
        }
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let Some((&p, data)) = input.split_first() else {
        return;
    };
    let piece = if p == 0 { data.len() } else { usize::from(p) };
    let whole = decode(data, data.len());
    let pieces = decode(data, piece);
    assert_eq!(whole, pieces);
    if let Ok(events) = whole {
        let again = encode(&events);
        assert_eq!(decode(&again, again.len()), Ok(events));
    }
});
