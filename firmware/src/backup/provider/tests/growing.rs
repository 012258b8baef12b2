//! Units served while they are written.

use super::*;

#[test]
fn a_unit_still_being_written_is_listed_with_its_final_size_and_read_as_it_grows() {
    use std::io::Write as _;
    let mut fx = fixture();
    let dir = fx.spool.join("20261125T000000Z");
    std::fs::create_dir_all(&dir).unwrap();
    let mut unit = std::fs::File::create(dir.join("u.unit")).unwrap();
    unit.write_all(&[1; 100]).unwrap();
    let path = dir.join("u.unit");
    let opened = |size| {
        News::Progress(ProgressEvent::UnitOpened {
            path: path.clone(),
            size,
        })
    };
    let closed = |ok| {
        News::Progress(ProgressEvent::UnitClosed {
            path: path.clone(),
            ok,
        })
    };
    fx.service.tell(opened(300));
    let folder = fx.find(ParentFilter::Root, "20261125T000000Z").unwrap();
    let h = fx.find(ParentFilter::Children(folder), "u.unit").unwrap();
    assert_eq!(fx.p.object(h).unwrap().size, 300);

    let mut src = fx.p.open_read(h, 0, u64::MAX).unwrap();
    assert_eq!(src.len(), 300);
    assert_eq!(src.read(64).unwrap(), Chunk::Data(Bytes::from(vec![1; 64])));
    // 36 bytes are on disk, 200 asked for: wait rather than send a short piece.
    assert_eq!(src.read(200).unwrap(), Chunk::NotReady);
    unit.write_all(&[2; 200]).unwrap();
    fx.service.tell(closed(true));
    fx.drain_events();
    let Chunk::Data(rest) = src.read(4096).unwrap() else {
        panic!("complete unit not ready")
    };
    assert_eq!(rest.len(), 236);
    assert_eq!(fx.p.object(h).unwrap().size, 300);

    // Abandoned while read (its owner failed): the read fails, a new one is refused.
    fx.service.tell(opened(1000));
    let mut src = fx.p.open_read(h, 0, u64::MAX).unwrap();
    assert_eq!(src.read(4096).unwrap(), Chunk::NotReady);
    fx.service.tell(closed(false));
    fx.drain_events();
    assert_eq!(src.read(4096), Err(ResponseCode::IncompleteTransfer));
    assert_eq!(
        fx.p.open_read(h, 0, u64::MAX).err(),
        Some(ResponseCode::InvalidObjectHandle)
    );
}
/// The engine reports a growing unit just before it renames it to its final name: the
/// ObjectAdded waits until the name exists, and is sent once.
#[test]
fn a_growing_unit_is_announced_once_its_final_name_exists() {
    let mut fx = fixture();
    fx.drain_events();
    let dir = fx.spool.join("20261125T000000Z");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("u.unit");
    fx.service.tell(News::Accepted(Claim {
        folder: "20261125T000000Z".into(),
        in_use: ["20261125T000000Z".to_owned()].into(),
        restoring: false,
    }));
    fx.service.tell(News::Progress(ProgressEvent::UnitOpened {
        path: path.clone(),
        size: 10,
    }));
    fx.drain_events();
    let added = |fx: &Fx| {
        fx.events
            .iter()
            .filter(|e| e.0 == EventCode::ObjectAdded)
            .count()
    };
    assert_eq!(added(&fx), 1, "the folder only: {:?}", fx.events);
    std::fs::write(&path, b"01234").unwrap();
    fx.drain_events();
    assert_eq!(added(&fx), 2);
    let h = fx.events.last().unwrap().1;
    assert_eq!(
        fx.p.path_of(ObjectHandle(h)).unwrap(),
        Path::new("20261125T000000Z/u.unit")
    );
    assert_eq!(fx.p.object(ObjectHandle(h)).unwrap().size, 10);
    fx.drain_events();
    assert_eq!(added(&fx), 2, "once");
}
