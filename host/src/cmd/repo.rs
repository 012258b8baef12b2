//! `list`, `verify`, `extract` and `forget`: the repository, without a device.

use std::path::Path;

use engine::registration::Sid;
use engine::spool::SpoolSet;

use crate::extract::{Extracted, extract};
use crate::keep::{Policy, plan};
use crate::output::{Exit, Failure, Outcome, fail, size};
use crate::repo::{DeviceRepo, Repo, SetInfo};

/// One set as `list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SetLine {
    /// Device folder.
    pub device: String,
    /// Set name.
    pub set: String,
    /// Creation time.
    pub created: String,
    /// `base` or `incremental`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The set it builds on.
    pub previous: Option<String>,
    /// Owners in it.
    pub owners: usize,
    /// Owners that failed.
    pub failed: usize,
    /// Unit bytes.
    pub bytes: u64,
    /// Whether its chain is whole in the repository.
    pub restorable: bool,
}

/// The devices to look at: `serial`'s, or all.
fn devices(repo: &Repo, serial: Option<&str>) -> Outcome<Vec<DeviceRepo>> {
    match serial {
        Some(s) => Ok(vec![repo.device(s, false).map_err(fail(Exit::Failed))?]),
        None => repo.devices().map_err(fail(Exit::Failed)),
    }
}

/// `list`.
///
/// # Errors
/// The repository cannot be read.
pub fn list(repo: &Repo, serial: Option<&str>) -> Outcome<(Vec<SetLine>, Vec<String>)> {
    let mut lines = Vec::new();
    let mut bad = Vec::new();
    for d in devices(repo, serial)? {
        let (sets, unreadable) = d.sets().map_err(fail(Exit::Failed))?;
        bad.extend(
            unreadable
                .into_iter()
                .map(|b| format!("{}/{b}", d.serial())),
        );
        for s in &sets {
            lines.push(SetLine {
                device: d.serial().to_owned(),
                set: s.name.clone(),
                created: s.manifest.created.clone(),
                kind: if s.is_incremental() {
                    "incremental"
                } else {
                    "base"
                }
                .into(),
                previous: s.manifest.previous.clone(),
                owners: s.manifest.owners.len(),
                failed: s.failed_owners().len(),
                bytes: s.size,
                restorable: crate::repo::chain_of(&sets, &s.name).is_ok(),
            });
        }
    }
    Ok((lines, bad))
}

/// `list` in words.
pub fn list_text(lines: &[SetLine], bad: &[String]) -> String {
    let mut t = String::new();
    for l in lines {
        t.push_str(&format!(
            "{}  {:40} {:11} {:>10}  {} owners{}{}{}\n",
            l.device,
            l.set,
            l.kind,
            size(l.bytes),
            l.owners,
            if l.failed > 0 {
                format!(" ({} failed)", l.failed)
            } else {
                String::new()
            },
            l.previous
                .as_ref()
                .map(|p| format!("  <- {p}"))
                .unwrap_or_default(),
            if l.restorable { "" } else { "  [chain broken]" }
        ));
    }
    for b in bad {
        t.push_str(&format!("unreadable: {b}\n"));
    }
    if lines.is_empty() && bad.is_empty() {
        t.push_str("no sets\n");
    }
    t
}

/// One set's verification.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verified {
    /// Device folder.
    pub device: String,
    /// Set name.
    pub set: String,
    /// Units read.
    pub units: usize,
    /// Bytes read.
    pub bytes: u64,
    /// What is wrong (empty: sound).
    pub problems: Vec<String>,
}

/// `verify`: reads every byte of every unit (or of one set's chain) and checks it against
/// the manifests, and checks each chain is whole.
///
/// # Errors
/// The repository cannot be read.
pub fn verify(repo: &Repo, serial: Option<&str>, set: Option<&str>) -> Outcome<Vec<Verified>> {
    let mut out = Vec::new();
    for d in devices(repo, serial)? {
        let (sets, unreadable) = d.sets().map_err(fail(Exit::Failed))?;
        for u in unreadable {
            let (name, why) = u.split_once(": ").unwrap_or((&u, ""));
            out.push(Verified {
                device: d.serial().into(),
                set: name.into(),
                units: 0,
                bytes: 0,
                problems: vec![why.into()],
            });
        }
        let chosen: Vec<&SetInfo> = match set {
            Some(name) => {
                let Some(s) = sets.iter().find(|s| s.name == name) else {
                    if serial.is_some() {
                        return Err(Failure::new(
                            Exit::Failed,
                            format!("there is no set {name:?}"),
                        ));
                    }
                    continue;
                };
                vec![s]
            }
            None => sets.iter().collect(),
        };
        for s in chosen {
            let mut problems: Vec<String> =
                match SpoolSet::open(d.set_dir(&s.name)).verify(|_| true) {
                    Ok((_, p)) => p.iter().map(ToString::to_string).collect(),
                    Err(e) => vec![e.to_string()],
                };
            if let Err(e) = crate::repo::chain_of(&sets, &s.name) {
                problems.push(e);
            }
            out.push(Verified {
                device: d.serial().into(),
                set: s.name.clone(),
                units: s.manifest.units.len(),
                bytes: s.size,
                problems,
            });
        }
    }
    if out.is_empty() {
        return Err(Failure::new(Exit::Failed, "no sets to verify"));
    }
    Ok(out)
}

/// `verify` in words.
pub fn verify_text(v: &[Verified]) -> String {
    let mut t = String::new();
    for s in v {
        if s.problems.is_empty() {
            t.push_str(&format!(
                "{}/{}: ok ({} units, {})\n",
                s.device,
                s.set,
                s.units,
                size(s.bytes)
            ));
        } else {
            for p in &s.problems {
                t.push_str(&format!("{}/{}: {p}\n", s.device, s.set));
            }
        }
    }
    t
}

/// `extract`.
///
/// # Errors
/// No such set or owner, damage, or the output cannot be written.
pub fn extract_owner(
    repo: &Repo,
    serial: Option<&str>,
    set: &str,
    owner: &str,
    out: &Path,
) -> Outcome<Extracted> {
    let sid = Sid::parse_hex(owner.trim_start_matches("0x")).ok_or_else(|| {
        Failure::new(
            Exit::Usage,
            format!("{owner:?} is not a SID (up to 8 hex digits)"),
        )
    })?;
    let mut found = None;
    for d in devices(repo, serial)? {
        if d.set_dir(set)
            .join(engine::manifest::MANIFEST_FILE)
            .is_file()
        {
            if found.is_some() {
                return Err(Failure::new(
                    Exit::Usage,
                    format!("several devices have a set {set:?}: say --serial"),
                ));
            }
            found = Some(d);
        }
    }
    let d = found.ok_or_else(|| Failure::new(Exit::Failed, format!("there is no set {set:?}")))?;
    let chain = d.chain(set).map_err(fail(Exit::Failed))?;
    // The password is asked for once, if a set of the chain is encrypted.
    let encrypted = chain
        .iter()
        .any(|s| SpoolSet::open(d.set_dir(&s.name)).is_encrypted());
    let password = if encrypted {
        Some(crate::password::ask("backup password", false).map_err(fail(Exit::Failed))?)
    } else {
        None
    };
    let mut unlocker = password.as_ref().map(engine::crypto::Unlocker::new);
    let mut sets = Vec::new();
    for s in chain {
        let dir = d.set_dir(&s.name);
        let set = SpoolSet::open(dir.clone());
        let key = match unlocker.as_mut().filter(|_| set.is_encrypted()) {
            Some(unlocker) => {
                let wrapped = set.wrapped_key().map_err(fail(Exit::Damaged))?;
                let key = unlocker
                    .open(&wrapped)
                    .map_err(|e| Failure::new(Exit::Failed, format!("{}: {e}", s.name)))?;
                set.authenticate(&key)
                    .map_err(|e| Failure::new(Exit::Damaged, format!("{}: {e}", s.name)))?;
                Some(key)
            }
            None => None,
        };
        sets.push((s, dir, key));
    }
    let chain = sets;
    extract(&chain, sid, out).map_err(|e| {
        let exit = if e.contains("SHA-256") || e.contains("checksum") || e.contains("truncated") {
            Exit::Damaged
        } else {
            Exit::Failed
        };
        Failure::new(exit, e)
    })
}

/// `forget`: removes the sets the policy picks (only with `prune`; otherwise says which).
///
/// # Errors
/// The policy would break a chain, or a set cannot be removed.
pub fn forget(
    repo: &Repo,
    serial: Option<&str>,
    policy: &Policy,
    prune: bool,
) -> Outcome<Vec<String>> {
    let mut gone = Vec::new();
    for d in devices(repo, serial)? {
        let _lock = d.lock().map_err(fail(Exit::Failed))?;
        let (sets, _) = d.sets().map_err(fail(Exit::Failed))?;
        let names = plan(&sets, policy).map_err(fail(Exit::Failed))?;
        for n in names {
            if prune {
                d.remove_set(&n).map_err(fail(Exit::Failed))?;
            }
            gone.push(format!("{}/{n}", d.serial()));
        }
        if prune {
            d.clean_leftovers().map_err(fail(Exit::Failed))?;
            d.write_index().map_err(fail(Exit::Failed))?;
        }
    }
    Ok(gone)
}
