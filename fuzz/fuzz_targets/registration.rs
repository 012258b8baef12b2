//! `backup_registration*.xml`: `engine::registration::parse_registration`.
//!
//! The first byte picks the file role (primary, secondary, package); the rest is the XML
//! (invalid UTF-8 is replaced, as a reader of the file would see it). Oracle: no panic;
//! an error has a 1-based position; every accepted path stays inside its root, public
//! paths never name a cage or system folder, and the process name is a plain file name.
#![no_main]

use engine::registration::{
    CENTRAL_REPOSITORY_SID, CagePath, FileRole, ProxyRef, Selection, Sid, merge, parse_registration,
};
use libfuzzer_sys::fuzz_target;

const OWNER: Sid = Sid(0x0AB7_E58C);

fn check_cage_path(p: &CagePath) {
    assert_eq!(
        CagePath::parse_relative(p.as_str()).as_ref(),
        Some(p),
        "{p:?}"
    );
    for c in p.components() {
        assert!(
            c != ".." && c != "." && !c.contains(['\0', ':', '/', '\\']),
            "{p:?}"
        );
    }
}

fn check_selections(includes: &[Selection<CagePath>], excludes: &[CagePath]) {
    includes
        .iter()
        .map(Selection::path)
        .chain(excludes)
        .for_each(check_cage_path);
}

fuzz_target!(|data: &[u8]| {
    let Some((&role, xml)) = data.split_first() else {
        return;
    };
    let role = match role % 3 {
        0 => FileRole::Primary,
        1 => FileRole::Secondary,
        _ => FileRole::Package,
    };
    let xml = String::from_utf8_lossy(xml);
    let file = match parse_registration(&xml, OWNER, role) {
        Ok(file) => file,
        Err(e) => {
            assert!(e.line >= 1 && e.col >= 1, "{e:?}");
            return;
        }
    };
    if let Some(p) = &file.passive {
        check_selections(&p.includes, &p.excludes);
    }
    if let Some(p) = &file.public {
        let paths = p.includes.iter().map(Selection::path).chain(&p.excludes);
        for pp in paths {
            check_cage_path(&pp.path);
            let first = pp.path.components().next().map(str::to_ascii_lowercase);
            assert!(
                !matches!(
                    first.as_deref(),
                    Some("private" | "sys" | "system" | "resource")
                ),
                "{pp:?}"
            );
        }
    }
    if let Some(a) = &file.active {
        let n = a.process_name.as_str();
        assert!(!n.is_empty() && n != "." && n != ".." && !n.contains(['/', '\\', '\0']));
        assert!(a.callback_delay <= engine::registration::MAX_CALLBACK_DELAY);
    }
    assert!(!file.proxies.contains(&ProxyRef::Sid(OWNER)));
    let merged = merge(OWNER, file.clone(), vec![file], CENTRAL_REPOSITORY_SID);
    assert!(!merged.proxies.contains(&OWNER));
});
