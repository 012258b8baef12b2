//! A folder swapped for a symlink while the provider works in it (what a local user who
//! can write in a storage can do at any moment): nothing outside the root is read,
//! written or deleted, however the swaps fall between the provider's system calls.
//!
//! An attacker thread exchanges `rw/d` with `rw/d.swap`, a symlink to `outside`, in a
//! tight loop (`renameat2(RENAME_EXCHANGE)`, atomic) while the provider reads, uploads
//! into or deletes below `d`. Between operations the attacker parks with `d` the real
//! folder, so the test's own setup never goes through the link.

use std::os::unix::fs::symlink;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::fs::{CWD, RenameFlags, renameat_with};

use super::*;

/// How long each test keeps racing (the old path-based code lost within milliseconds)...
const RACE_FOR: Duration = Duration::from_millis(1500);
/// ... and how many swaps it waits for at least, on a loaded machine up to [`RACE_MAX`].
const MIN_SWAPS: u32 = 2000;
/// The longest a test races.
const RACE_MAX: Duration = Duration::from_secs(30);

struct Attacker {
    armed: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Number of exchanges made; even means `d` is the real folder.
    swaps: Arc<AtomicU32>,
    parked: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Attacker {
    fn start(rw: &Path, outside: &Path) -> Self {
        symlink(outside, rw.join("d.swap")).unwrap();
        let (a, b) = (rw.join("d"), rw.join("d.swap"));
        let armed = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU32::new(0));
        let parked = Arc::new(AtomicBool::new(true));
        let (ar, st, sw, pk) = (armed.clone(), stop.clone(), swaps.clone(), parked.clone());
        let thread = std::thread::spawn(move || {
            let exchange = || {
                renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE).unwrap();
                sw.fetch_add(1, Ordering::SeqCst);
            };
            while !st.load(Ordering::SeqCst) {
                if ar.load(Ordering::SeqCst) {
                    pk.store(false, Ordering::SeqCst);
                    exchange();
                } else if sw.load(Ordering::SeqCst) % 2 == 1 {
                    exchange();
                } else {
                    pk.store(true, Ordering::SeqCst);
                    std::hint::spin_loop();
                }
            }
            if sw.load(Ordering::SeqCst) % 2 == 1 {
                exchange();
            }
        });
        Self {
            armed,
            stop,
            swaps,
            parked,
            thread: Some(thread),
        }
    }

    /// True while the race should go on.
    fn racing(&self, t0: Instant) -> bool {
        let elapsed = t0.elapsed();
        elapsed < RACE_FOR || (self.swaps.load(Ordering::SeqCst) < MIN_SWAPS && elapsed < RACE_MAX)
    }

    fn arm(&self) {
        self.parked.store(false, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Stops swapping and waits until `d` is the real folder again.
    fn park(&self) {
        self.armed.store(false, Ordering::SeqCst);
        while !self.parked.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Finds `path` without panicking (the table forgets objects it saw swapped away).
fn try_find(fx: &mut Fx, path: &str) -> Option<ObjectHandle> {
    let mut parent = ParentFilter::Root;
    let mut found = None;
    for part in path.split('/') {
        let hs = fx.p.object_handles(RW, None, parent).ok()?;
        let h = hs
            .into_iter()
            .find(|h| fx.p.object(*h).is_ok_and(|o| o.name == part))?;
        parent = ParentFilter::Children(h);
        found = Some(h);
    }
    found
}

/// Reads all of an object, or `None` if the provider refuses.
fn try_read(fx: &mut Fx, h: ObjectHandle) -> Option<Vec<u8>> {
    let mut src = fx.p.open_read(h, 0, u64::MAX).ok()?;
    let mut out = Vec::new();
    while (out.len() as u64) < src.len() {
        match src.read(4096).ok()? {
            Chunk::Data(b) => out.extend_from_slice(&b),
            Chunk::NotReady => return None,
        }
    }
    Some(out)
}

#[test]
fn a_folder_swapped_for_a_link_while_reading_never_yields_a_file_outside() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    fs::write(fx.rw().join("d/f"), b"inside").unwrap();
    fs::write(fx.outside().join("f"), b"outside: secret").unwrap();
    let attacker = Attacker::start(&fx.rw(), &fx.outside());
    let (mut tries, mut inside, mut leaks) = (0, 0, Vec::new());
    let t0 = Instant::now();
    while attacker.racing(t0) {
        attacker.park();
        let f = try_find(&mut fx, "d/f").expect("d/f is listed while d is real");
        attacker.arm();
        tries += 1;
        if let Ok(o) = fx.p.object(f) {
            if o.size != 6 {
                leaks.push(format!("GetObjectInfo size {}", o.size));
            }
        }
        match try_read(&mut fx, f) {
            Some(data) if data == b"inside" => inside += 1,
            Some(data) => leaks.push(String::from_utf8_lossy(&data).into_owned()),
            None => {}
        }
    }
    attacker.park();
    let swaps = attacker.swaps.load(Ordering::SeqCst);
    drop(attacker);
    assert!(swaps > 100, "the attacker swapped only {swaps} times");
    assert!(
        leaks.is_empty(),
        "{} of {tries} reads leaked: {leaks:?}",
        leaks.len()
    );
    assert!(inside > 0, "no read succeeded in {tries} tries");
}

#[test]
fn a_folder_swapped_for_a_link_during_uploads_never_gets_a_file_written_outside() {
    let mut fx = fixture();
    fs::create_dir(fx.rw().join("d")).unwrap();
    let attacker = Attacker::start(&fx.rw(), &fx.outside());
    let (mut tries, mut stored) = (0, 0);
    let t0 = Instant::now();
    while attacker.racing(t0) {
        attacker.park();
        let d = try_find(&mut fx, "d").expect("d is listed while it is real");
        attacker.arm();
        tries += 1;
        let name = format!("n{tries}");
        if fx.upload(RW, Some(d), &name, b"upload").is_ok() {
            stored += 1;
        }
        let folder = fx.p.send_object_info(
            at(RW, Some(d)),
            &info(&format!("m{tries}"), ObjectFormat::Association, 0),
            Some(0),
        );
        attacker.park();
        assert!(
            tree_of(&fx.outside()).is_empty(),
            "try {tries} wrote outside the root (folder: {folder:?}): {:?}",
            tree_of(&fx.outside())
        );
    }
    drop(attacker);
    assert!(stored > 0, "no upload succeeded in {tries} tries");
}

#[test]
fn a_folder_swapped_for_a_link_during_a_delete_never_loses_a_file_outside() {
    let mut fx = fixture();
    fs::create_dir_all(fx.rw().join("d")).unwrap();
    let victims = fx.outside().join("sub");
    fs::create_dir(&victims).unwrap();
    let names = ["a", "b", "c", "e", "g"];
    for n in names {
        fs::write(victims.join(n), b"keep").unwrap();
    }
    let attacker = Attacker::start(&fx.rw(), &fx.outside());
    let (mut tries, mut deleted) = (0, 0);
    let t0 = Instant::now();
    while attacker.racing(t0) {
        attacker.park();
        let sub = fx.rw().join("d/sub");
        if !sub.exists() {
            fs::create_dir(&sub).unwrap();
            for n in names {
                fs::write(sub.join(n), b"mine").unwrap();
            }
        }
        let h = try_find(&mut fx, "d/sub").expect("d/sub is listed while d is real");
        attacker.arm();
        tries += 1;
        if fx.p.delete_object(h).is_ok() {
            deleted += 1;
        }
        attacker.park();
        let left: Vec<_> = names.iter().filter(|n| victims.join(n).exists()).collect();
        assert_eq!(
            left.len(),
            names.len(),
            "try {tries} deleted outside the root"
        );
    }
    drop(attacker);
    assert!(deleted > 0, "no delete succeeded in {tries} tries");
}
