//! The MTP responder fed whole host byte streams, with the files provider over a small
//! tree in a temporary directory (tmpfs when there is one).
//!
//! # Input
//! One configuration byte (bits 0–1: max packet size 512/64/1024/8; bits 2–3: read piece
//! size whole/512/64/1), then the bytes the host writes to bulk OUT. The stream is cut
//! into USB transfers at each container's length field (a length below 12 takes that many
//! bytes, at least one; 0xFFFFFFFF takes the rest), so a recorded host session is a valid
//! input as it is. Each transfer reaches `handle_bulk_out` in pieces; the last one ends
//! with a short packet, or with a zero-length packet when it is a multiple of the max
//! packet size, as a real host sends it.
//!
//! A container of type 0xFFFF is not sent: it drives the harness, with its code:
//! 1 Cancel(tx id), 2 Device Reset, 3 disconnect and re-enable, 4 max packet size =
//! param, 5 piece size = param, 6 next transfer length = param, 7 next transfer without
//! short or zero-length packet, 8 a zero-length packet, 9 skip the next drain.
//! `fuzz/seeds.rs` writes the seeds in this format.
//!
//! # Oracles
//! No panic; while `has_bulk_in` is true `poll_bulk_in` yields a write or asks for a
//! retry (else the shell would spin); after a disconnect a fresh OpenSession answers OK;
//! nothing outside the writable storage changes (a read-only storage, a sibling
//! directory a symlink in the storage points to); no temporary upload file is left.
//! The host reads at most [`IN_BUDGET`] bytes of bulk IN per input, so that an input
//! which grows a sparse file and reads it back is not a timeout.
#![no_main]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mtp::codec::container::{Container, ContainerKind, HEADER_LEN, parse_container};
use mtp::providers::{DeviceIdentity, DeviceProvider, FilesProvider, StorageConfig};
use mtp::{ControlRequest, OperationCode, Responder, ResponderConfig, ResponseCode, StorageId};

/// Type field of a harness control container.
const CONTROL: u16 = 0xFFFF;
/// Most bulk IN writes drained after one step (a step yields far fewer).
const DRAIN_BUDGET: usize = 1024;
/// Most bulk IN bytes one input reads (and the final check again): a host may stream a
/// large sparse file the input made with TruncateObject, and reading gigabytes of zeros
/// finds nothing but a timeout. Past it the host reads no more, as a stalled host would.
const IN_BUDGET: usize = 4 << 20;
/// Most retries of a not-ready source in one drain.
const RETRIES: usize = 8;
const VICTIM: &[u8] = b"outside the storage";
const READ_ONLY: &[u8] = b"read-only content";

fuzz_target!(|data: &[u8]| {
    let dirs = dirs();
    reset_tree(dirs);
    let Some((&cfg, stream)) = data.split_first() else {
        return;
    };
    let mut host = Host::new(dirs, cfg);
    host.run(stream);
    host.check_still_answers();
    drop(host);
    check_outside_untouched(dirs);
});

struct Dirs {
    base: PathBuf,
    store: PathBuf,
    ro: PathBuf,
    outside: PathBuf,
}

fn dirs() -> &'static Dirs {
    static DIRS: OnceLock<Dirs> = OnceLock::new();
    DIRS.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let tmp = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        remove_stale(&tmp);
        let base = tmp.join(format!("{PREFIX}{}", std::process::id()));
        Dirs {
            store: base.join("store"),
            ro: base.join("ro"),
            outside: base.join("outside"),
            base,
        }
    })
}

const PREFIX: &str = "mtpbur-fuzz-";

/// Removes the trees of fuzzing processes that are gone.
fn remove_stale(tmp: &Path) {
    for e in fs::read_dir(tmp).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(PREFIX) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Recreates the tree every run so that runs do not depend on each other.
fn reset_tree(d: &Dirs) {
    let _ = fs::remove_dir_all(&d.base);
    fs::create_dir_all(d.store.join("dir/sub")).expect("create store");
    fs::create_dir_all(&d.ro).expect("create ro");
    fs::create_dir_all(&d.outside).expect("create outside");
    fs::write(d.store.join("a.txt"), b"hello, world\n").expect("a.txt");
    fs::write(d.store.join("empty"), b"").expect("empty");
    fs::write(d.store.join("dir/exact.bin"), [0x5Au8; 512]).expect("exact.bin");
    fs::write(d.store.join("dir/sub/odd.bin"), [0xA5u8; 1000]).expect("odd.bin");
    std::os::unix::fs::symlink("../outside", d.store.join("escape")).expect("symlink");
    fs::write(d.ro.join("r.txt"), READ_ONLY).expect("r.txt");
    fs::write(d.outside.join("victim.txt"), VICTIM).expect("victim");
}

fn responder(d: &Dirs) -> Responder {
    let files = FilesProvider::new(vec![
        StorageConfig {
            id: StorageId(0x0001_0001),
            description: "Store".into(),
            root: d.store.clone(),
            writable: true,
            private: true,
        },
        StorageConfig {
            id: StorageId(0x0002_0001),
            description: "Read-only".into(),
            root: d.ro.clone(),
            writable: false,
            private: false,
        },
    ])
    .expect("files provider");
    let device = DeviceProvider::new(DeviceIdentity {
        manufacturer: "Fuzz".into(),
        model: "mtpbur".into(),
        version: "0".into(),
        serial: "0001".into(),
    })
    .with_battery(|| Some(50));
    Responder::new(device, vec![Box::new(files)], ResponderConfig::default())
}

struct Host {
    r: Responder,
    mps: usize,
    piece: usize,
    next_len: Option<usize>,
    no_end: bool,
    hold: bool,
    /// Bulk IN bytes the host still reads (see [`IN_BUDGET`]).
    in_budget: usize,
}

impl Host {
    fn new(d: &Dirs, cfg: u8) -> Self {
        let mut h = Self {
            r: responder(d),
            mps: [512, 64, 1024, 8][usize::from(cfg & 3)],
            piece: [0, 512, 64, 1][usize::from((cfg >> 2) & 3)],
            next_len: None,
            no_end: false,
            hold: false,
            in_budget: IN_BUDGET,
        };
        h.r.set_max_packet_size(h.mps);
        h
    }

    fn run(&mut self, mut stream: &[u8]) {
        while !stream.is_empty() {
            let n = self.transfer_len(stream);
            let (transfer, rest) = stream.split_at(n);
            stream = rest;
            if !self.control(transfer) {
                self.send(transfer);
            }
            if !std::mem::take(&mut self.hold) {
                self.drain();
            }
        }
        self.drain();
    }

    /// Returns the length of the next transfer (a control container is never cut).
    fn transfer_len(&mut self, stream: &[u8]) -> usize {
        let is_control = stream.get(4..6) == Some(&CONTROL.to_le_bytes()[..]);
        let n = match (self.next_len.take_if(|_| !is_control), stream.get(..4)) {
            (Some(n), _) => n,
            (None, None) => stream.len(),
            (None, Some(h)) => match u32::from_le_bytes([h[0], h[1], h[2], h[3]]) {
                u32::MAX => stream.len(),
                len => (len as usize).max(1),
            },
        };
        n.clamp(1, stream.len())
    }

    /// Runs a harness control container; returns false if `t` is host data.
    fn control(&mut self, t: &[u8]) -> bool {
        if t.len() < HEADER_LEN || u16::from_le_bytes([t[4], t[5]]) != CONTROL {
            return false;
        }
        let code = u16::from_le_bytes([t[6], t[7]]);
        let tx_id = u32::from_le_bytes([t[8], t[9], t[10], t[11]]);
        let param =
            t.get(12..16)
                .map_or(0, |p| u32::from_le_bytes([p[0], p[1], p[2], p[3]])) as usize;
        if trace() {
            eprintln!("  control {code} tx {tx_id} param {param}");
        }
        match code {
            1 => self.r.handle_control(ControlRequest::Cancel { tx_id }),
            2 => self.r.handle_control(ControlRequest::DeviceReset),
            3 => {
                self.r.handle_disconnect();
                self.r.set_max_packet_size(self.mps);
            }
            4 => {
                self.mps = param.clamp(8, 1024);
                self.r.set_max_packet_size(self.mps);
            }
            5 => self.piece = param % 70_000,
            6 => self.next_len = Some(param),
            7 => self.no_end = true,
            8 => self.r.handle_bulk_out(Bytes::new(), true),
            9 => self.hold = true,
            _ => {}
        }
        true
    }

    /// Delivers one host transfer as the endpoint reads it.
    fn send(&mut self, transfer: &[u8]) {
        let end = !std::mem::take(&mut self.no_end);
        if trace() {
            eprintln!(
                "  out {} bytes{}",
                transfer.len(),
                if end { "" } else { " (no end)" }
            );
        }
        let piece = if self.piece == 0 {
            transfer.len()
        } else {
            self.piece
        };
        let mut chunks = transfer.chunks(piece.max(1)).peekable();
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            let short = chunk.len() % self.mps != 0;
            self.r
                .handle_bulk_out(Bytes::copy_from_slice(chunk), last && end && short);
            if last && end && !short {
                self.r.handle_bulk_out(Bytes::new(), true);
            }
        }
    }

    /// Acts as the shell: collects every write and event the responder has.
    fn drain(&mut self) -> Vec<Bytes> {
        let mut writes = Vec::new();
        let mut retries = 0;
        for _ in 0..DRAIN_BUDGET {
            if self.r.poll_abort() {
                writes.clear();
                self.r.handle_abort_done();
            }
            if self.in_budget == 0 {
                break;
            }
            let had = self.r.has_bulk_in();
            match self.r.poll_bulk_in() {
                Some(b) => {
                    self.in_budget = self.in_budget.saturating_sub(b.len());
                    if trace() {
                        trace_write(&b);
                    }
                    writes.push(b);
                }
                None if self.r.wants_retry() && retries < RETRIES => {
                    retries += 1;
                    self.r.handle_retry();
                }
                None => {
                    assert!(
                        !had || self.r.wants_retry(),
                        "has_bulk_in but poll_bulk_in gives nothing and no retry"
                    );
                    break;
                }
            }
        }
        for _ in 0..DRAIN_BUDGET {
            if self.r.poll_event().is_none() {
                break;
            }
        }
        writes
    }

    /// Replugs and checks that a new host gets a session.
    fn check_still_answers(&mut self) {
        self.r.handle_disconnect();
        self.r.set_max_packet_size(512);
        self.in_budget = IN_BUDGET;
        let open = Container::new(
            ContainerKind::Command,
            OperationCode::OpenSession.to_u16(),
            0,
            &[0x4242],
        );
        self.r.handle_bulk_out(open.encode(), true);
        let writes = self.drain();
        let last = writes.iter().rev().find(|w| !w.is_empty());
        let response = last.and_then(|w| parse_container(w).ok());
        let code = response.map(|c| (c.kind, ResponseCode::from_u16(c.code)));
        assert_eq!(
            code,
            Some((ContainerKind::Response, ResponseCode::Ok)),
            "OpenSession after a replug"
        );
    }
}

/// Returns true when `MTPBUR_FUZZ_TRACE` is set: responses are printed (to check seeds).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("MTPBUR_FUZZ_TRACE").is_some())
}

fn trace_write(b: &[u8]) {
    if let Ok(c) = parse_container(b) {
        if c.kind == ContainerKind::Response {
            let rc = ResponseCode::from_u16(c.code);
            eprintln!("tx {:>3} {rc:?} {:08x?}", c.tx_id, c.params);
        }
    } else if b.len() >= HEADER_LEN && b[4..6] == [2, 0] {
        eprintln!(
            "       data {} bytes",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        );
    }
}

fn check_outside_untouched(d: &Dirs) {
    let mut top: Vec<_> = names(&d.base);
    top.sort();
    assert_eq!(
        top,
        ["outside", "ro", "store"],
        "entries next to the storages"
    );
    assert_eq!(names(&d.outside), ["victim.txt"], "sibling directory");
    assert_eq!(
        fs::read(d.outside.join("victim.txt")).ok().as_deref(),
        Some(VICTIM)
    );
    assert_eq!(names(&d.ro), ["r.txt"], "read-only storage");
    assert_eq!(
        fs::read(d.ro.join("r.txt")).ok().as_deref(),
        Some(READ_ONLY)
    );
    assert_eq!(
        fs::read_link(d.store.join("escape")).ok(),
        Some(PathBuf::from("../outside")),
        "symlink in the storage"
    );
    check_no_temp_files(&d.store);
}

fn check_no_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // The files provider's temporary-name pattern (a host may upload other names).
        let temp = name.starts_with(".mtp-upload-") && name.ends_with(".tmp");
        assert!(!temp, "temporary upload file left: {name}");
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            check_no_temp_files(&e.path());
        }
    }
}

fn names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
