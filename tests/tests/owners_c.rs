//! The C reference owner (`data-owners/c/reference/c-journal.c`, linked against
//! `libmtpbur_owner`) against the engine: base and increments, a rewritten journal, the
//! restore of the chain, its mode watcher and deferred readiness, and the application's
//! own writes paused during an operation and resumed after it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use engine::registration::Sid;
use engine::unit::UnitKind;

mod owners;
use owners::*;

const JOURNAL: Sid = Sid(0x2000_0060);

fn crate_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data-owners/c")
}

/// Compiles the C owner with the system's C compiler (`$CC`, else `cc`), warnings as
/// errors, against `lib` (the static library, or `-lmtpbur_owner` for the shared one).
fn compile(out: &Path, shared: bool) {
    // Built as a dependency of this crate, the libraries stay in deps/ (only the rlib is
    // copied up).
    let exe = std::env::current_exe().expect("test exe");
    let lib_dir = exe.parent().expect("deps dir").to_owned();
    let mut cc = Command::new(std::env::var_os("CC").unwrap_or_else(|| "cc".into()));
    cc.args(["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(crate_dir().join("include"))
        .arg(crate_dir().join("reference/c-journal.c"))
        .arg("-o")
        .arg(out);
    if shared {
        cc.arg("-L").arg(&lib_dir).arg("-lmtpbur_owner");
        cc.arg(format!("-Wl,-rpath,{}", lib_dir.display()));
    } else {
        cc.arg(lib_dir.join("libmtpbur_owner.a"));
    }
    cc.args(["-lpthread", "-ldl", "-lm"]);
    let status = cc.status().expect("run the C compiler (cc)");
    assert!(status.success(), "compiling c-journal.c failed: {cc:?}");
}

fn journal(rig: &Rig) -> Vec<u8> {
    fs::read(rig.cage(JOURNAL).join("journal.log")).unwrap_or_default()
}

fn append(rig: &Rig, text: &str) {
    use std::io::Write as _;
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(rig.cage(JOURNAL).join("journal.log"))
        .expect("journal");
    f.write_all(text.as_bytes()).expect("append");
}

fn lines(seed: u64, n: usize) -> String {
    (0..n)
        .map(|i| format!("entry {seed}-{i}: {:?}\n", noise(seed + i as u64, 24)))
        .collect()
}

fn c_rig(bin: &Path, first: &str) -> Rig {
    let first = first.to_owned();
    rig_in(bin.to_owned(), move |c| {
        install(c, JOURNAL, "c-journal");
        fs::write(c.cage(JOURNAL).join("journal.log"), first).expect("journal");
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_owner_backs_up_base_and_increments_and_restores_the_chain() {
    let bin = tempfile::tempdir().expect("bin");
    compile(&bin.path().join("c-journal"), false);
    let v0 = lines(1, 2000);
    let mut rig = c_rig(bin.path(), &v0);

    let base = rig.backup("base", None, None).await;
    assert_eq!(
        kinds(&base, JOURNAL),
        vec![UnitKind::ActiveBase, UnitKind::ActiveSnapshot]
    );
    let added = lines(2, 20);
    append(&rig, &added);
    let inc1 = rig.backup("inc1", Some("base"), None).await;
    assert_eq!(
        kinds(&inc1, JOURNAL),
        vec![UnitKind::ActiveIncrement, UnitKind::ActiveSnapshot]
    );
    // The increment carries the appended lines, not the journal.
    let inc_size = unit_size(&inc1, JOURNAL, UnitKind::ActiveIncrement);
    let base_size = unit_size(&base, JOURNAL, UnitKind::ActiveBase);
    assert!(
        inc_size * 10 < base_size,
        "increment {inc_size} of base {base_size}"
    );

    // Rewritten, not appended: the next increment carries all of it.
    let v2 = lines(3, 500);
    fs::write(rig.cage(JOURNAL).join("journal.log"), &v2).expect("rewrite");
    append(&rig, &lines(4, 3));
    let expected = journal(&rig);
    rig.backup("inc2", Some("inc1"), None).await;

    fs::write(rig.cage(JOURNAL).join("journal.log"), b"lost").expect("damage");
    rig.restore(&["base", "inc1", "inc2"], None).await;
    assert_eq!(journal(&rig), expected);

    rig.restore(&["base", "inc1"], None).await;
    assert_eq!(journal(&rig), [v0.as_bytes(), added.as_bytes()].concat());
    assert!(
        !rig.cage(JOURNAL).join("journal.log.restore").exists(),
        "staged file left behind"
    );

    // The watcher thread saw each operation and confirmed readiness (the engine would
    // have timed the owner out otherwise) and saw Normal again after it.
    let modes = fs::read_to_string(rig.cage(JOURNAL).join("modes.log")).expect("modes.log");
    let seen: Vec<&str> = modes.lines().collect();
    assert!(
        seen.contains(&"part=2 inc=256 drives=c affects_me=1"),
        "{modes}"
    );
    assert!(
        seen.contains(&"part=2 inc=512 drives=c affects_me=1"),
        "{modes}"
    );
    assert!(
        seen.contains(&"part=8 inc=0 drives=c affects_me=1"),
        "{modes}"
    );
    assert!(seen.iter().any(|l| l.starts_with("part=1 ")), "{modes}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_owners_application_writes_resume_after_an_operation() {
    let bin = tempfile::tempdir().expect("bin");
    compile(&bin.path().join("c-journal"), false);
    let rig = c_rig(bin.path(), "first\n");
    rig.backup("base", None, None).await;

    // The owner keeps running after the session; in Normal mode it takes its inbox.
    // The file is written and given to the owner before it appears in the inbox: an
    // owner that took it while it was still root's could append it but not remove it,
    // and would append it again at its next poll.
    let inbox = rig.cage(JOURNAL).join("inbox");
    fs::create_dir_all(&inbox).expect("inbox");
    let staged = rig.cage(JOURNAL).join("incoming");
    fs::write(&staged, "second\n").expect("inbox file");
    hand_cages_to_owners_again(&rig);
    fs::rename(&staged, inbox.join("1")).expect("into the inbox");
    let deadline = Instant::now() + Duration::from_secs(10);
    while journal(&rig) != b"first\nsecond\n" && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(journal(&rig), b"first\nsecond\n");
    assert!(!inbox.join("1").exists());
}

/// As root, the inbox made by the test belongs to the owner like the rest of its cage.
fn hand_cages_to_owners_again(rig: &Rig) {
    use std::os::unix::fs::MetadataExt;
    let cage = rig.cage(JOURNAL);
    let uid = fs::metadata(&cage).expect("cage").uid();
    for p in [cage.join("inbox"), cage.join("incoming")] {
        std::os::unix::fs::lchown(&p, Some(uid), Some(uid)).expect("chown");
    }
}

#[test]
fn c_owner_links_against_the_shared_library_too() {
    let bin = tempfile::tempdir().expect("bin");
    let exe = bin.path().join("c-journal");
    compile(&exe, true);
    // Started without the engine's environment, it loads the library and says why not.
    let out = Command::new(&exe).env_clear().output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SBE_CAGE is not set"));
}
