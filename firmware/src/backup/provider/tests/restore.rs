//! Restores of uploaded sets; whole uploads only.

use super::*;

#[test]
fn restore_of_an_uploaded_set_and_refusal_of_a_tampered_one() {
    let mut fx = fixture();
    fx.request(
        "backup.request",
        "scope = \"full\"\ntype = \"base\"\nlabel = \"one\"\n",
    )
    .unwrap();
    assert_eq!(fx.wait_done().state, State::Done);
    let set = fx.only_set();
    assert!(set.ends_with("-one"), "{set}");
    // The host copies the set out, then "uploads" it again under another name.
    let copy = fx.spool.join("uploaded");
    copy_tree(&fx.spool.join(&set), &copy);
    std::fs::write(fx.cage.join("notes.txt"), b"changed").unwrap();

    // A tampered copy is refused after verification and nothing changes.
    let tampered = fx.spool.join("tampered");
    copy_tree(&fx.spool.join(&set), &tampered);
    let unit = find_unit(&tampered);
    let mut bytes = std::fs::read(&unit).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    std::fs::write(&unit, bytes).unwrap();
    fx.request(
        "restore.request",
        "source = \"tampered\"\nscope = \"full\"\n",
    )
    .unwrap();
    let s = fx.wait_done();
    assert_eq!(s.state, State::Failed);
    assert!(s.last_error.unwrap().contains("does not verify"));
    assert_eq!(
        std::fs::read(fx.cage.join("notes.txt")).unwrap(),
        b"changed"
    );

    fx.request(
        "restore.request",
        "source = \"uploaded\"\nscope = \"full\"\n",
    )
    .unwrap();
    let s = fx.wait_done();
    assert_eq!(s.state, State::Done, "{s:?}");
    assert_eq!(
        std::fs::read(fx.cage.join("notes.txt")).unwrap(),
        b"the first notes"
    );
    let result =
        fx.p.files
            .handle_at(STORAGE, Path::new("uploaded/restore-result.toml"))
            .unwrap();
    assert!(fx.events.contains(&(EventCode::ObjectAdded, result.0)));
    let text = String::from_utf8(fx.read(result)).unwrap();
    assert!(text.contains("outcome = \"ok\""), "{text}");
}
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
fn find_unit(dir: &Path) -> PathBuf {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            let found = find_unit(&e.path());
            if !found.as_os_str().is_empty() {
                return found;
            }
        } else if e.path().extension().is_some_and(|x| x == "unit") {
            return e.path();
        }
    }
    PathBuf::new()
}
#[test]
fn the_storage_offers_whole_uploads_but_no_in_place_edits() {
    use mtp::codec::OperationCode as Op;
    let fx = fixture();
    let ops = fx.p.capabilities().operations;
    for op in [
        Op::GetObject,
        Op::SendObjectInfo,
        Op::SendObject,
        Op::DeleteObject,
    ] {
        assert!(ops.contains(&op), "{op:?} missing");
    }
    for op in [
        Op::BeginEditObject,
        Op::SendPartialObject,
        Op::TruncateObject,
    ] {
        assert!(!ops.contains(&op), "{op:?} offered");
    }
}
