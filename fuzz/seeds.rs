//! Writes the seed corpora into `fuzz/corpus/<target>/seed-*` from the crates' own
//! encoders, the registration files of the reference owners and the documented examples.
//!
//! Run from the workspace root: `cargo +nightly run --manifest-path fuzz/Cargo.toml
//! --example seeds` (see fuzz/README.md). Existing `seed-*` files are replaced; inputs the
//! fuzzer added are left alone.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use data_owners::wire::{Callback, DriveLetter, EngineMsg, ModeInfo, OwnerMsg, Reply, WireMessage};
use engine::manifest::{BackupType, Manifest, OwnerOutcome, OwnerRecord, UnitRecord};
use engine::mode::{BackupIncType, BurMode, BurPartType};
use engine::passive::archive;
use engine::passive::{FileMeta, Snapshot};
use engine::registration::{CagePath, Sid};
use engine::stream::encode_unit;
use engine::unit::{UnitId, UnitKind};
use mtp::codec::array::{put_u16_array, put_u32_array};
use mtp::codec::container::{Container, ContainerKind, data_header};
use mtp::codec::dataset::{
    DeviceInfo, DevicePropDesc, Form, ObjectInfo, ObjectPropDesc, ObjectPropList, PropListEntry,
    StorageInfo,
};
use mtp::codec::string::put_string;
use mtp::codec::value::PropValue;
use mtp::codec::{DataType, OperationCode as Op};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = root.parent().expect("workspace");
    let corpus = root.join("corpus");
    let mut out = Seeds { corpus, written: 0 };
    mtp_container(&mut out);
    mtp_datasets(&mut out);
    mtp_responder(&mut out);
    registration(&mut out, workspace);
    manifest(&mut out);
    unit_stream(&mut out);
    passive_archive(&mut out);
    snapshot(&mut out);
    owner_wire(&mut out);
    backup_request(&mut out);
    println!("wrote {} seeds", out.written);
}

struct Seeds {
    corpus: PathBuf,
    written: usize,
}

impl Seeds {
    fn put(&mut self, target: &str, name: &str, data: &[u8]) {
        let dir = self.corpus.join(target);
        fs::create_dir_all(&dir).expect("corpus dir");
        fs::write(dir.join(format!("seed-{name}")), data).expect("write seed");
        self.written += 1;
    }

    fn put_with(&mut self, target: &str, name: &str, first: u8, data: &[u8]) {
        let mut v = vec![first];
        v.extend_from_slice(data);
        self.put(target, name, &v);
    }
}

fn encoded(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = Vec::new();
    f(&mut b);
    b
}

fn mtp_container(s: &mut Seeds) {
    let t = "mtp_container";
    let cmd = |op: Op, tx, p: &[u32]| Container::new(ContainerKind::Command, op.to_u16(), tx, p);
    s.put(t, "open-session", &cmd(Op::OpenSession, 0, &[1]).encode());
    s.put(
        t,
        "get-handles",
        &cmd(Op::GetObjectHandles, 3, &[0xFFFF_FFFF, 0, 0xFFFF_FFFF]).encode(),
    );
    s.put(
        t,
        "five-params",
        &cmd(Op::GetPartialObject64, 9, &[1, 2, 3, 4, 5]).encode(),
    );
    s.put(
        t,
        "response",
        &Container::new(ContainerKind::Response, 0x2001, 7, &[0x0100_0001]).encode(),
    );
    s.put(
        t,
        "event",
        &Container::new(ContainerKind::Event, 0x4002, 0, &[0x0100_0005]).encode(),
    );
    let mut data = data_header(Op::SendObject.to_u16(), 4, 5).to_vec();
    data.extend_from_slice(b"hello");
    s.put(t, "data", &data);
    s.put(
        t,
        "data-unknown-length",
        &data_header(Op::GetObject.to_u16(), 4, 0xFFFF_FFFF),
    );
}

fn object_info(name: &str, size: u32, format: u16) -> ObjectInfo {
    ObjectInfo {
        storage_id: 0x0001_0001,
        format,
        compressed_size: size,
        parent: 0,
        association_type: if format == 0x3001 { 1 } else { 0 },
        filename: name.into(),
        date_created: "20261118T110640".into(),
        date_modified: "20261118T130640+0200".into(),
        ..ObjectInfo::default()
    }
}

fn mtp_datasets(s: &mut Seeds) {
    let t = "mtp_datasets";
    let di = DeviceInfo {
        standard_version: 100,
        vendor_extension_id: 6,
        vendor_extension_version: 100,
        vendor_extension_desc: "microsoft.com: 1.0; android.com: 1.0;".into(),
        functional_mode: 0,
        operations: vec![
            0x1001, 0x1002, 0x1003, 0x1004, 0x1007, 0x1009, 0x95C1, 0x9805,
        ],
        events: vec![0x4002, 0x4003],
        device_properties: vec![0xD402, 0x5001],
        capture_formats: vec![0x3000, 0x3001],
        playback_formats: vec![0x3000, 0x3001, 0x3004],
        manufacturer: "Fuzz".into(),
        model: "mtpbur".into(),
        device_version: "0.1.0".into(),
        serial_number: "0001".into(),
    };
    s.put_with(t, "device-info", 0, &encoded(|b| di.put(b)));
    let si = StorageInfo {
        storage_type: 3,
        filesystem_type: 2,
        access_capability: 0,
        max_capacity: 8 << 30,
        free_space_bytes: 1 << 30,
        free_space_objects: 0xFFFF_FFFF,
        description: "Store".into(),
        volume_identifier: "Store".into(),
    };
    s.put_with(t, "storage-info", 1, &encoded(|b| si.put(b)));
    let oi = object_info("photo ü.jpg", 1234, 0x3801);
    s.put_with(t, "object-info", 2, &encoded(|b| oi.put(b)));
    let short = encoded(|b| object_info("a", 5, 0x3000).put(b));
    s.put_with(t, "object-info-no-dates", 2, &short[..short.len() - 3]);
    let descs = [
        (
            0xDC07,
            DataType::Str,
            PropValue::Str(String::new()),
            Form::None,
        ),
        (0xDC04, DataType::Uint64, PropValue::U64(0), Form::None),
        (
            0xDC02,
            DataType::Uint16,
            PropValue::U16(0x3000),
            Form::Enumeration(vec![PropValue::U16(0x3000), PropValue::U16(0x3001)]),
        ),
        (
            0xDC09,
            DataType::Str,
            PropValue::Str(String::new()),
            Form::DateTime,
        ),
        (0xDC41, DataType::Uint128, PropValue::U128(7), Form::None),
        (
            0xDC44,
            DataType::Auint16,
            PropValue::Array(DataType::Auint16, vec![PropValue::U16(0x41)]),
            Form::LongString(4096),
        ),
        (
            0xDC45,
            DataType::Str,
            PropValue::Str("x".into()),
            Form::RegularExpression("[a-z]+".into()),
        ),
    ];
    for (i, (code, data_type, default, form)) in descs.into_iter().enumerate() {
        let d = ObjectPropDesc {
            code,
            data_type,
            writable: i == 0,
            default,
            group: 0,
            form,
        };
        s.put_with(
            t,
            &format!("object-prop-desc-{i}"),
            3,
            &encoded(|b| d.put(b)),
        );
    }
    let battery = DevicePropDesc {
        code: 0x5001,
        data_type: DataType::Uint8,
        writable: false,
        factory_default: PropValue::U8(100),
        current: PropValue::U8(80),
        form: Form::Range {
            min: PropValue::U8(0),
            max: PropValue::U8(100),
            step: PropValue::U8(1),
        },
    };
    s.put_with(t, "device-prop-desc", 4, &encoded(|b| battery.put(b)));
    let list = ObjectPropList(vec![
        PropListEntry {
            handle: 0x0100_0001,
            code: 0xDC01,
            value: PropValue::U32(0x0001_0001),
        },
        PropListEntry {
            handle: 0x0100_0001,
            code: 0xDC07,
            value: PropValue::Str("a.txt".into()),
        },
        PropListEntry {
            handle: 0x0100_0001,
            code: 0xDC04,
            value: PropValue::U64(13),
        },
        PropListEntry {
            handle: 0x0100_0001,
            code: 0xDC41,
            value: PropValue::U128(1 << 70),
        },
    ]);
    s.put_with(t, "object-prop-list", 5, &encoded(|b| list.put(b)));
    s.put_with(t, "string", 6, &encoded(|b| put_string(b, "Hi 😀")));
    s.put_with(
        t,
        "u16-array",
        7,
        &encoded(|b| put_u16_array(b, [0x1001u16, 0x1002].into_iter())),
    );
    s.put_with(
        t,
        "u32-array",
        8,
        &encoded(|b| put_u32_array(b, [1u32, 2, 3].into_iter())),
    );
    let values = [
        (0x02, PropValue::U8(7)),
        (0x04, PropValue::U16(0x3000)),
        (0x05, PropValue::I32(-5)),
        (0x08, PropValue::U64(1 << 40)),
        (0x0A, PropValue::U128(1)),
        (
            0x84,
            PropValue::Array(
                DataType::Auint16,
                vec![PropValue::U16(1), PropValue::U16(2)],
            ),
        ),
        (0xFF, PropValue::Str("name.txt".into())),
    ];
    for (i, (dt, v)) in values.into_iter().enumerate() {
        s.put_with(
            t,
            &format!("value-{i}"),
            9,
            &encoded(|b| {
                b.push(dt);
                v.put(b);
            }),
        );
    }
    for (i, d) in [
        "20261118T110640",
        "20261118T130640.5+0200",
        "19700101T000000Z",
    ]
    .into_iter()
    .enumerate()
    {
        s.put_with(t, &format!("datetime-{i}"), 10, d.as_bytes());
    }
}

/// A host byte stream for the `mtp_responder` target (see its module documentation).
struct Host {
    bytes: Vec<u8>,
    tx: u32,
}

const STORE: u32 = 0x0001_0001;
const READ_ONLY: u32 = 0x0002_0001;
const ALL: u32 = 0xFFFF_FFFF;
const ROOT: u32 = 0xFFFF_FFFF;
/// Handles the files provider gives the seed tree (provider 1, locals from 1).
const H: [u32; 8] = [
    0x0100_0001,
    0x0100_0002,
    0x0100_0003,
    0x0100_0004,
    0x0100_0005,
    0x0100_0006,
    0x0100_0007,
    0x0100_0008,
];

impl Host {
    fn new(cfg: u8) -> Self {
        Self {
            bytes: vec![cfg],
            tx: 0,
        }
    }

    /// Opens a session and lists every object, so that the handles `H` exist.
    fn session(cfg: u8) -> Self {
        let mut h = Self::new(cfg);
        h.op(Op::OpenSession, &[1])
            .op(Op::GetObjectHandles, &[ALL, 0, 0]);
        h
    }

    fn raw_cmd(&mut self, op: u16, tx: u32, p: &[u32]) {
        let c = Container::new(ContainerKind::Command, op, tx, p);
        self.bytes.extend_from_slice(&c.encode());
    }

    fn cmd(&mut self, op: Op, p: &[u32]) -> u32 {
        let tx = self.tx;
        self.tx += 1;
        self.raw_cmd(op.to_u16(), tx, p);
        tx
    }

    fn op(&mut self, op: Op, p: &[u32]) -> &mut Self {
        self.cmd(op, p);
        self
    }

    fn data(&mut self, op: Op, tx: u32, payload: &[u8]) {
        self.bytes
            .extend_from_slice(&data_header(op.to_u16(), tx, payload.len() as u64));
        self.bytes.extend_from_slice(payload);
    }

    fn op_data(&mut self, op: Op, p: &[u32], payload: &[u8]) -> &mut Self {
        let tx = self.cmd(op, p);
        self.data(op, tx, payload);
        self
    }

    fn ctl(&mut self, code: u16, tx: u32, param: Option<u32>) -> &mut Self {
        let len = if param.is_some() { 16u32 } else { 12 };
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(&0xFFFFu16.to_le_bytes());
        self.bytes.extend_from_slice(&code.to_le_bytes());
        self.bytes.extend_from_slice(&tx.to_le_bytes());
        if let Some(p) = param {
            self.bytes.extend_from_slice(&p.to_le_bytes());
        }
        self
    }

    fn upload(&mut self, storage: u32, parent: u32, info: &ObjectInfo, data: &[u8]) -> &mut Self {
        self.op_data(
            Op::SendObjectInfo,
            &[storage, parent],
            &encoded(|b| info.put(b)),
        );
        self.op_data(Op::SendObject, &[], data)
    }
}

fn string_value(s: &str) -> Vec<u8> {
    encoded(|b| put_string(b, s))
}

fn mtp_responder(s: &mut Seeds) {
    let t = "mtp_responder";
    let mut h = Host::new(0);
    h.op(Op::GetDeviceInfo, &[])
        .op(Op::OpenSession, &[1])
        .op(Op::GetStorageIds, &[]);
    h.op(Op::GetStorageInfo, &[STORE])
        .op(Op::GetStorageInfo, &[READ_ONLY]);
    h.op(Op::GetNumObjects, &[ALL, 0, ROOT])
        .op(Op::GetObjectHandles, &[ALL, 0, 0]);
    h.op(Op::GetObjectHandles, &[STORE, 0, ROOT])
        .op(Op::GetObjectHandles, &[STORE, 0, H[2]]);
    for handle in H {
        h.op(Op::GetObjectInfo, &[handle]);
    }
    h.op(Op::GetObject, &[H[0]])
        .op(Op::GetObject, &[H[3]])
        .op(Op::GetObject, &[H[4]]);
    h.op(Op::GetPartialObject, &[H[4], 10, 100]);
    h.op(Op::GetPartialObject64, &[H[4], 500, 0, 600]);
    h.op(Op::CloseSession, &[]);
    s.put(t, "browse", &h.bytes);

    let mut h = Host::session(0);
    h.op(Op::GetObjectPropsSupported, &[0x3000]);
    h.op(Op::GetObjectPropDesc, &[0xDC07, 0x3000])
        .op(Op::GetObjectPropDesc, &[0xDC04, 0x3001]);
    h.op(Op::GetObjectPropValue, &[H[0], 0xDC07])
        .op(Op::GetObjectPropValue, &[H[0], 0xDC04]);
    h.op(Op::GetObjectPropList, &[H[0], 0, ALL, 0, 0]);
    h.op(Op::GetObjectPropList, &[ROOT, 0, 0xDC07, 0, 1]);
    h.op(Op::GetObjectPropList, &[0, 0x3000, 0xDC41, 0, ALL]);
    h.op(Op::GetDevicePropDesc, &[0xD402])
        .op(Op::GetDevicePropValue, &[0x5001]);
    h.op(Op::GetDevicePropDesc, &[0x5001])
        .op(Op::GetObjectReferences, &[H[0]]);
    s.put(t, "properties", &h.bytes);

    let mut h = Host::session(0);
    h.upload(STORE, ROOT, &object_info("new.txt", 5, 0x3000), b"hello");
    h.upload(STORE, 0, &object_info("folder", 0, 0x3001), b"");
    h.op(Op::SendObjectInfo, &[STORE, ROOT]);
    let tx = h.tx - 1;
    h.data(
        Op::SendObjectInfo,
        tx,
        &encoded(|b| object_info("folder", 0, 0x3001).put(b)),
    );
    h.upload(
        STORE,
        H[2],
        &object_info("big.bin", 600, 0x3000),
        &[7u8; 600],
    );
    h.upload(
        STORE,
        ROOT,
        &object_info("exact.bin", 500, 0x3000),
        &[9u8; 500],
    );
    h.op_data(
        Op::SetObjectPropValue,
        &[H[0], 0xDC07],
        &string_value("renamed.txt"),
    );
    h.op(Op::MoveObject, &[H[0], STORE, H[2]])
        .op(Op::CopyObject, &[H[3], STORE, ROOT]);
    h.op(Op::CopyObject, &[H[3], STORE, ROOT])
        .op(Op::DeleteObject, &[H[1], 0]);
    h.op(Op::DeleteObject, &[H[2], 0]);
    s.put(t, "modify", &h.bytes);

    let mut h = Host::session(0);
    h.op(Op::BeginEditObject, &[H[0]]);
    h.op_data(Op::SendPartialObject, &[H[0], 4, 0, 6], b"EDITED");
    h.op(Op::TruncateObject, &[H[0], 3, 0])
        .op(Op::EndEditObject, &[H[0]]);
    h.op(Op::GetObject, &[H[0]])
        .op(Op::SendPartialObject, &[H[0], 0, 0, 1]);
    s.put(t, "edit", &h.bytes);

    let mut h = Host::session(0);
    h.op_data(
        Op::SetDevicePropValue,
        &[0xD402],
        &string_value("Fuzzed phone"),
    );
    h.op(Op::GetDevicePropValue, &[0xD402])
        .op(Op::ResetDevicePropValue, &[0xD402]);
    h.op_data(Op::SetDevicePropValue, &[0xD401], &string_value("partner"));
    h.op_data(
        Op::SetObjectReferences,
        &[H[0]],
        &encoded(|b| put_u32_array(b, [H[1]].into_iter())),
    );
    h.op(Op::GetObjectReferences, &[H[0]]);
    s.put(t, "device-props-references", &h.bytes);

    // Uploads that must not land outside the writable storage.
    let mut h = Host::session(0);
    for name in [
        "../outside/x",
        "..",
        ".",
        "a/b",
        "escape",
        "/abs",
        "con\\x",
        ".mtp-upload-1-1.tmp",
    ] {
        h.upload(STORE, ROOT, &object_info(name, 1, 0x3000), b"x");
    }
    h.upload(READ_ONLY, ROOT, &object_info("ro.txt", 1, 0x3000), b"x");
    h.op(Op::DeleteObject, &[H[7], 0]);
    h.op_data(
        Op::SetObjectPropValue,
        &[H[0], 0xDC07],
        &string_value("../escape"),
    );
    h.op(Op::MoveObject, &[H[0], READ_ONLY, ROOT]);
    h.op(Op::CopyObject, &[H[2], STORE, H[2]])
        .op(Op::MoveObject, &[H[2], STORE, H[5]]);
    s.put(t, "escape-attempts", &h.bytes);

    // Cancels: during a data-in phase, during an upload's data phase, ahead of a command.
    let mut h = Host::session(0);
    h.ctl(9, 0, None);
    let tx = h.cmd(Op::GetObject, &[H[4]]);
    h.ctl(1, tx, None).op(Op::GetStorageIds, &[]);
    h.op_data(
        Op::SendObjectInfo,
        &[STORE, ROOT],
        &encoded(|b| object_info("c.bin", 1000, 0x3000).put(b)),
    );
    let tx = h.cmd(Op::SendObject, &[]);
    h.ctl(6, 0, Some(112)).ctl(7, 0, None);
    let mut partial = data_header(Op::SendObject.to_u16(), tx, 1000).to_vec();
    partial.extend_from_slice(&[1u8; 100]);
    h.bytes.extend_from_slice(&partial);
    h.ctl(1, tx, None)
        .ctl(8, 0, None)
        .op(Op::GetObjectHandles, &[ALL, 0, ROOT]);
    h.ctl(1, h.tx + 1, None)
        .op(Op::GetStorageIds, &[])
        .op(Op::GetStorageIds, &[]);
    h.ctl(2, 0, None)
        .op(Op::OpenSession, &[2])
        .op(Op::GetStorageIds, &[]);
    s.put(t, "cancel", &h.bytes);

    // Protocol misuse: no session, wrong ids, data without command, odd pieces.
    let mut h = Host::new(0);
    h.op(Op::GetStorageIds, &[])
        .op(Op::OpenSession, &[0])
        .op(Op::OpenSession, &[1]);
    h.op(Op::OpenSession, &[1]);
    h.raw_cmd(Op::GetStorageIds.to_u16(), 77, &[]);
    h.data(Op::SendObject, 3, b"stray");
    h.raw_cmd(0x1234, 5, &[1, 2, 3, 4, 5]);
    h.op(Op::ResetDevice, &[]).op(Op::GetStorageIds, &[]);
    h.op(Op::SendObject, &[]);
    h.ctl(3, 0, None)
        .op(Op::OpenSession, &[1])
        .op(Op::GetDeviceInfo, &[]);
    s.put(t, "misuse", &h.bytes);

    // The same session read in small pieces, with 64-byte and 1024-byte packets.
    let mut h = Host::session(1 | (2 << 2));
    h.upload(STORE, ROOT, &object_info("p.bin", 200, 0x3000), &[3u8; 200]);
    h.op(Op::GetObject, &[H[4]]).op(Op::GetDeviceInfo, &[]);
    s.put(t, "small-packets", &h.bytes);
    let mut h = Host::session(2 | (1 << 2));
    h.upload(
        STORE,
        ROOT,
        &object_info("q.bin", 2036, 0x3000),
        &[4u8; 2036],
    );
    h.ctl(4, 0, Some(512))
        .ctl(5, 0, Some(100))
        .op(Op::GetObject, &[H[3]]);
    s.put(t, "large-packets", &h.bytes);
}

fn registration(s: &mut Seeds, workspace: &Path) {
    let t = "registration";
    let owners = workspace.join("data-owners/owners");
    let mut files: Vec<PathBuf> = fs::read_dir(&owners)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|d| fs::read_dir(d.path()).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    for p in files {
        let owner = p
            .parent()
            .and_then(Path::file_name)
            .expect("owner")
            .to_string_lossy();
        let file = p.file_stem().expect("stem").to_string_lossy();
        let xml = fs::read(&p).expect("registration file");
        s.put_with(t, &format!("{owner}-{file}"), 0, &xml);
    }
    // docs/engine.md, "Registration format": every element in one file.
    let doc = r#"<?xml version="1.0" standalone="yes"?>
<backup_registration version="1.0">
  <passive_backup supports_selective="no" delete_before_restore="no" base_backup_only="no">
    <include_directory name="\"/>
    <include_file name="settings.ini"/>
    <exclude name="cache"/>
  </passive_backup>
  <public_backup delete_before_restore="no">
    <include_directory name="c:\public\0ab7e58c\"/>
    <include_file name="!:\shared\notes.txt"/>
  </public_backup>
  <active_backup process_name="recordstore" active_type="activeonly"
                 requires_delay_to_prepare_data="no" supports_selective="no"
                 supports_incremental="yes" callback_delay_time="200000000"/>
  <proxy_data_manager SID="0x10202BE9"/>
  <cenrep_backup/>
  <dbms_backup policy="AABBCCDD"/>
  <system_backup/>
  <restore requires_reboot="no"/>
</backup_registration>
"#;
    for role in 0..3u8 {
        s.put_with(t, &format!("engine-md-role{role}"), role, doc.as_bytes());
    }
    let odd = r#"<BACKUP_REGISTRATION>
  <PASSIVE_BACKUP><include_directory name="c:\private\0ab7e58c\data\"><exclude name="\data\tmp"/></include_directory></PASSIVE_BACKUP>
  <midlet_suite/><java_backup_midlet/>
</BACKUP_REGISTRATION>"#;
    s.put_with(t, "case-and-nesting", 0, odd.as_bytes());
}

fn manifest(s: &mut Seeds) {
    let t = "manifest";
    let mode = |p, i| BurMode::new(p, i).expect("mode");
    let m = Manifest {
        session: "20261124T210000Z-nightly".into(),
        created: "2026-11-24T21:00:00Z".into(),
        mode: mode(BurPartType::BackupPartial, BackupIncType::Increment),
        backup_type: BackupType::Incremental,
        previous: Some("20261123T210000Z".into()),
        owners: vec![
            OwnerRecord {
                sid: Sid(0x0AB7_E58C),
                outcome: OwnerOutcome::Ok,
                requires_reboot: true,
            },
            OwnerRecord {
                sid: Sid(0x1020_2BE9),
                outcome: OwnerOutcome::Failed {
                    code: -33,
                    reason: "callback timed out".into(),
                },
                requires_reboot: false,
            },
        ],
        units: [
            (0x0AB7_E58C, 'c', UnitKind::Registration),
            (0x0AB7_E58C, 'c', UnitKind::PassiveIncrement),
            (0x0AB7_E58C, 'c', UnitKind::PassiveSnapshot),
            (0x0AB7_E58C, 'e', UnitKind::ActiveIncrement),
            (0x0AB7_E58C, 'c', UnitKind::Proxy(Sid(0x1020_2BE9))),
            (0x1020_2BE9, 'c', UnitKind::Dbms),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, (sid, drive, kind))| UnitRecord {
            id: UnitId {
                sid: Sid(sid),
                drive,
                kind,
            },
            size: 120 + i as u64,
            raw_size: 100,
            sha256: [i as u8 * 17; 32],
            compressed: i % 2 == 0,
        })
        .collect(),
    };
    s.put(t, "incremental", m.to_toml().as_bytes());
    let base = Manifest {
        session: "20261123T210000Z".into(),
        mode: mode(BurPartType::BackupFull, BackupIncType::Base),
        backup_type: BackupType::Base,
        previous: None,
        units: vec![UnitRecord {
            id: UnitId {
                sid: Sid(0x0AB7_E58C),
                drive: 'c',
                kind: UnitKind::System,
            },
            size: 33,
            raw_size: 0,
            sha256: [0; 32],
            compressed: false,
        }],
        ..m
    };
    s.put(t, "base", base.to_toml().as_bytes());
}

fn unit_stream(s: &mut Seeds) {
    let t = "unit_stream";
    s.put_with(t, "empty", 0, &encode_unit(b"", false));
    s.put_with(t, "plain", 0, &encode_unit(b"some unit data\n", false));
    s.put_with(
        t,
        "plain-pieces",
        3,
        &encode_unit(b"some unit data\n", false),
    );
    s.put_with(
        t,
        "lz4",
        0,
        &encode_unit(&b"abcabcabcabc-".repeat(40), true),
    );
    let big: Vec<u8> = (0..70_000u32).map(|i| (i / 1000) as u8).collect();
    s.put_with(t, "lz4-two-blocks", 0, &encode_unit(&big, true));
    s.put_with(t, "lz4-pieces", 7, &encode_unit(b"0123456789", true));
}

fn cage(p: &str) -> CagePath {
    CagePath::parse_relative(p).expect("cage path")
}

fn passive_archive(s: &mut Seeds) {
    let t = "passive_archive";
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    archive::file_header(
        &mut out,
        &cage("settings.ini"),
        12,
        1_795_000_000_000_000_000,
        0o644,
    );
    out.extend_from_slice(b"[main]\nx=1\n\n");
    archive::file_header(&mut out, &cage("data/empty"), 0, 0, 0o600);
    archive::deleted(&mut out, &cage("cache/old.bin"));
    archive::file_header(&mut out, &cage("data/ü.txt"), 3, -1, 0o755);
    out.extend_from_slice(b"abc");
    archive::end(&mut out);
    s.put_with(t, "files", 0, &out);
    s.put_with(t, "files-pieces", 5, &out);
    let mut out = BytesMut::new();
    archive::begin(&mut out);
    archive::end(&mut out);
    s.put_with(t, "empty", 0, &out);
}

fn snapshot(s: &mut Seeds) {
    let t = "snapshot";
    let mut snap = Snapshot::default();
    for (i, p) in ["settings.ini", "data/a.db", "data/ü/b"]
        .into_iter()
        .enumerate()
    {
        let meta = FileMeta {
            size: 10 * i as u64,
            mtime_ns: 1_795_000_000_000_000_000,
            hash: [i as u8; 16],
        };
        snap.files.insert(cage(p), meta);
    }
    s.put(t, "three-files", &snap.encode());
    s.put(t, "empty", &Snapshot::default().encode());
}

fn owner_wire(s: &mut Seeds) {
    let t = "owner_wire";
    let c = DriveLetter::new('c').expect("c");
    let e = DriveLetter::new('e').expect("e");
    let mut owner = BytesMut::new();
    let owner_msgs = [
        OwnerMsg::Hello {
            version: 1,
            sid: 0x0AB7_E58C,
        },
        OwnerMsg::ConfirmReady { error: 0 },
        OwnerMsg::Reply {
            id: 1,
            reply: Reply::Done,
        },
        OwnerMsg::Reply {
            id: 2,
            reply: Reply::Data {
                finished: false,
                data: "section".into(),
            },
        },
        OwnerMsg::Reply {
            id: 3,
            reply: Reply::Value(1 << 33),
        },
        OwnerMsg::Reply {
            id: 4,
            reply: Reply::Error {
                code: -5,
                message: "no space".into(),
            },
        },
    ];
    for m in &owner_msgs {
        m.encode(&mut owner);
    }
    s.put_with(t, "owner-conversation", 0, &owner);
    let mode = ModeInfo {
        mode: data_owners::mode::BurMode::from_bits(0x0000_0202).expect("mode"),
        drives: vec![c, e],
        affects_me: true,
    };
    let calls = [
        Callback::AllSnapshotsSupplied,
        Callback::ReceiveSnapshotData {
            drive: c,
            last: true,
            data: "snap".into(),
        },
        Callback::GetExpectedDataSize { drive: c },
        Callback::GetSnapshotData {
            drive: c,
            max_len: 65_536,
        },
        Callback::InitialiseGetBackupData { drive: e },
        Callback::GetBackupDataSection { max_len: 1 << 20 },
        Callback::InitialiseRestoreBaseData { drive: c },
        Callback::RestoreBaseDataSection {
            last: false,
            data: "base".into(),
        },
        Callback::InitialiseRestoreIncrementData { drive: c },
        Callback::RestoreIncrementDataSection {
            last: true,
            data: "inc".into(),
        },
        Callback::RestoreComplete { drive: c },
        Callback::InitialiseGetProxyBackupData {
            sid: 0x1020_2BE9,
            drive: c,
        },
        Callback::InitialiseRestoreProxyBaseData {
            sid: 0x1020_2BE9,
            drive: c,
        },
        Callback::TerminateMultiStageOperation,
        Callback::GetDataChecksum { drive: c },
    ];
    let mut engine = BytesMut::new();
    EngineMsg::Welcome(mode.clone()).encode(&mut engine);
    EngineMsg::ModeChanged(mode).encode(&mut engine);
    for (id, call) in calls.into_iter().enumerate() {
        EngineMsg::Call {
            id: id as u32,
            call,
        }
        .encode(&mut engine);
    }
    EngineMsg::Refused {
        reason: "unknown SID".into(),
    }
    .encode(&mut engine);
    s.put_with(t, "engine-conversation", 1, &engine);
}

fn backup_request(s: &mut Seeds) {
    let t = "backup_request";
    // The examples of firmware/src/backup/request.rs.
    s.put(
        t,
        "backup-partial",
        br#"scope = "partial"
type = "incremental"
owners = ["0x0ab7e58c"]
drives = ["c"]
compress = true
label = "before-update"
snapshots = "20261123T210000Z"
"#,
    );
    s.put(t, "backup-full", b"scope = \"full\"\ntype = \"base\"\n");
    s.put(
        t,
        "restore-chain",
        br#"source = "20261123T210000Z"
increments = ["20261124T210000Z", "/20261125T210000Z/"]
scope = "partial"
owners = ["0x0ab7e58c", "10202be9"]
"#,
    );
    s.put(
        t,
        "restore-full",
        b"source = \"/20261123T210000Z\"\nscope = \"full\"\n",
    );
}
