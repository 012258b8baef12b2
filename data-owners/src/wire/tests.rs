use super::*;

fn c() -> DriveLetter {
    DriveLetter::new('C').expect("drive")
}

fn frame<M: WireMessage>(m: &M) -> Vec<u8> {
    let mut b = BytesMut::new();
    m.encode(&mut b);
    b.to_vec()
}

fn round_trip<M: WireMessage + PartialEq + std::fmt::Debug>(m: M) {
    let bytes = frame(&m);
    let (back, used) = decode_frame::<M>(&bytes)
        .expect("decodes")
        .expect("complete");
    assert_eq!(used, bytes.len());
    assert_eq!(back, m);
    // Every strict prefix is incomplete, never an error or a message.
    for cut in 0..bytes.len() {
        assert_eq!(decode_frame::<M>(&bytes[..cut]), Ok(None), "prefix {cut}");
    }
}

#[test]
fn hello_has_the_documented_bytes() {
    let bytes = frame(&OwnerMsg::Hello {
        version: 1,
        sid: 0x0AB7_E58C,
    });
    assert_eq!(bytes, [7, 0, 0, 0, 0x01, 1, 0, 0x8C, 0xE5, 0xB7, 0x0A]);
}

#[test]
fn reply_data_has_the_documented_bytes() {
    let m = OwnerMsg::Reply {
        id: 2,
        reply: Reply::Data {
            finished: true,
            data: Bytes::from_static(b"ab"),
        },
    };
    assert_eq!(
        frame(&m),
        [13, 0, 0, 0, 0x03, 2, 0, 0, 0, 1, 1, 2, 0, 0, 0, b'a', b'b']
    );
}

#[test]
fn call_has_the_documented_bytes() {
    let m = EngineMsg::Call {
        id: 1,
        call: Callback::InitialiseGetProxyBackupData {
            sid: 0x10,
            drive: c(),
        },
    };
    assert_eq!(
        frame(&m),
        [11, 0, 0, 0, 0x84, 1, 0, 0, 0, 12, 0x10, 0, 0, 0, b'c']
    );
}

#[test]
fn every_message_round_trips() {
    let data = Bytes::from_static(b"payload");
    let mode = ModeInfo {
        mode: crate::mode::BurMode::from_bits(0x102).expect("mode"),
        drives: vec![c(), DriveLetter::new('e').expect("e")],
        affects_me: true,
    };
    round_trip(EngineMsg::Welcome(mode.clone()));
    round_trip(EngineMsg::ModeChanged(ModeInfo {
        drives: vec![],
        ..mode
    }));
    round_trip(EngineMsg::Refused {
        reason: "uid 1000 does not own 0ab7e58c".into(),
    });
    let calls = [
        Callback::AllSnapshotsSupplied,
        Callback::ReceiveSnapshotData {
            drive: c(),
            last: true,
            data: data.clone(),
        },
        Callback::GetExpectedDataSize { drive: c() },
        Callback::GetSnapshotData {
            drive: c(),
            max_len: 4096,
        },
        Callback::InitialiseGetBackupData { drive: c() },
        Callback::GetBackupDataSection {
            max_len: MAX_SECTION,
        },
        Callback::InitialiseRestoreBaseData { drive: c() },
        Callback::RestoreBaseDataSection {
            last: false,
            data: data.clone(),
        },
        Callback::InitialiseRestoreIncrementData { drive: c() },
        Callback::RestoreIncrementDataSection {
            last: true,
            data: Bytes::new(),
        },
        Callback::RestoreComplete { drive: c() },
        Callback::InitialiseGetProxyBackupData { sid: 7, drive: c() },
        Callback::InitialiseRestoreProxyBaseData { sid: 8, drive: c() },
        Callback::TerminateMultiStageOperation,
        Callback::GetDataChecksum { drive: c() },
    ];
    for (id, call) in calls.into_iter().enumerate() {
        round_trip(EngineMsg::Call {
            id: u32::try_from(id).expect("small"),
            call,
        });
    }
    round_trip(OwnerMsg::Hello {
        version: PROTOCOL_VERSION,
        sid: 0xFFFF_FFFF,
    });
    round_trip(OwnerMsg::ConfirmReady { error: -18 });
    for reply in [
        Reply::Done,
        Reply::Data {
            finished: false,
            data,
        },
        Reply::Value(u64::MAX),
        Reply::Error {
            code: -2,
            message: "disk full: ü".into(),
        },
    ] {
        round_trip(OwnerMsg::Reply { id: 9, reply });
    }
}

#[test]
fn two_frames_in_one_buffer_are_read_one_at_a_time() {
    let mut b = BytesMut::new();
    OwnerMsg::ConfirmReady { error: 0 }.encode(&mut b);
    OwnerMsg::Reply {
        id: 1,
        reply: Reply::Done,
    }
    .encode(&mut b);
    let (first, used) = decode_frame::<OwnerMsg>(&b).expect("ok").expect("complete");
    assert_eq!(first, OwnerMsg::ConfirmReady { error: 0 });
    let (second, _) = decode_frame::<OwnerMsg>(&b[used..])
        .expect("ok")
        .expect("complete");
    assert_eq!(
        second,
        OwnerMsg::Reply {
            id: 1,
            reply: Reply::Done
        }
    );
}

#[test]
fn malformed_bodies_are_errors_not_panics() {
    let cases: [(&[u8], WireError); 8] = [
        (&[0x7F], WireError::UnknownTag(0x7F)),
        (&[0x01, 1, 0], WireError::Truncated),
        (&[0x02, 0, 0, 0, 0, 9], WireError::TrailingBytes),
        (&[0x03, 1, 0, 0, 0, 9], WireError::UnknownTag(9)),
        (&[0x03, 1, 0, 0, 0, 1, 2, 0, 0, 0, 0], WireError::BadBool(2)),
        (
            &[0x03, 1, 0, 0, 0, 1, 1, 5, 0, 0, 0, b'a'],
            WireError::Truncated,
        ),
        (
            &[0x03, 1, 0, 0, 0, 3, 0, 0, 0, 0, 1, 0, 0xFF],
            WireError::BadUtf8,
        ),
        (
            &[0x03, 1, 0, 0, 0, 1, 1, 0xFF, 0xFF, 0xFF, 0xFF],
            WireError::Truncated,
        ),
    ];
    for (body, want) in cases {
        assert_eq!(OwnerMsg::decode_body(body), Err(want), "{body:?}");
    }
    assert_eq!(
        EngineMsg::decode_body(&[0x84, 0, 0, 0, 0, 3, b'C']),
        Err(WireError::BadDrive(b'C'))
    );
    assert_eq!(EngineMsg::decode_body(&[]), Err(WireError::Truncated));
}

#[test]
fn oversized_frame_is_refused_from_the_header() {
    let header = (MAX_BODY + 1).to_le_bytes();
    assert_eq!(
        decode_frame::<OwnerMsg>(&header),
        Err(WireError::TooLarge(MAX_BODY + 1))
    );
}

#[test]
fn mode_info_with_more_drives_than_letters_is_refused() {
    // The owner_wire fuzz target's round trip: 27 drives decoded, but re-encoded as 26.
    let mut body = vec![0x81, 0x02, 0x02, 0, 0, 27];
    body.extend([b'c'; 27]);
    body.push(1);
    assert_eq!(
        EngineMsg::decode_body(&body),
        Err(WireError::TooManyDrives(27))
    );
    let all: Vec<DriveLetter> = ('a'..='z').filter_map(DriveLetter::new).collect();
    round_trip(EngineMsg::ModeChanged(ModeInfo {
        mode: crate::mode::BurMode::from_bits(0x0202).expect("mode"),
        drives: all,
        affects_me: false,
    }));
}

#[test]
fn a_mode_value_the_seeds_do_not_define_is_a_decode_error() {
    // ModeChanged with part type 0x03 (no such TBURPartType), then with Normal + Base.
    for (bits, e) in [
        (0x0000_0003u32, crate::mode::ModeError::UnknownValue(3)),
        (
            0x0000_0101,
            crate::mode::ModeError::BadCombination {
                part: crate::mode::BurPartType::Normal,
                inc: crate::mode::BackupIncType::Base,
            },
        ),
    ] {
        let mut body = vec![0x81];
        body.extend(bits.to_le_bytes());
        body.extend([0, 1]);
        assert_eq!(EngineMsg::decode_body(&body), Err(WireError::Mode(e)));
    }
}

#[test]
fn drive_letters_are_normalised() {
    assert_eq!(DriveLetter::new('E').map(DriveLetter::letter), Some('e'));
    assert_eq!(DriveLetter::new('1'), None);
    assert_eq!(DriveLetter::new('é'), None);
}

#[test]
fn mutated_frames_never_panic() {
    let mut b = BytesMut::new();
    EngineMsg::Welcome(ModeInfo {
        mode: crate::mode::BurMode::from_bits(0x102).expect("mode"),
        drives: vec![c()],
        affects_me: true,
    })
    .encode(&mut b);
    EngineMsg::Call {
        id: 3,
        call: Callback::ReceiveSnapshotData {
            drive: c(),
            last: true,
            data: Bytes::from_static(b"xy"),
        },
    }
    .encode(&mut b);
    OwnerMsg::Reply {
        id: 3,
        reply: Reply::Error {
            code: -1,
            message: "m".into(),
        },
    }
    .encode(&mut b);
    for at in 0..b.len() {
        for value in [0x00, 0x01, 0x7F, 0x80, 0xFF] {
            let mut m = b.to_vec();
            m[at] = value;
            let mut rest: &[u8] = &m;
            while let Ok(Some((_, used))) = decode_frame::<EngineMsg>(rest) {
                rest = &rest[used..];
            }
            let _ = decode_frame::<OwnerMsg>(&m);
        }
    }
}
