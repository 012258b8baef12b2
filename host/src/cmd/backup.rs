//! `mtpbur-host backup`: one session that asks for a backup, copies each unit while the
//! device is still writing the others, checks every byte against the manifest, and makes
//! the copy a set of the repository only when all of it is right.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use engine::manifest::{MANIFEST_FILE, OwnerOutcome};
use engine::spool::SpoolSet;
use indicatif::ProgressBar;

use crate::check::{Checked, CheckingWriter};
use crate::device::{BackupRequest, to_toml};
use crate::link::Link;
use crate::output::{Counting, Exit, Failure, Outcome, Ui, fail, size};
use crate::remote::{Remote, link_failure};
use crate::repo::{DeviceRepo, PartialSet, set_file};

/// Base or increment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An increment on the newest set in the repository if there is one, else a base.
    Auto,
    /// A base.
    Full,
    /// An increment; refused without an earlier set.
    Incremental,
}

/// What `backup` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// Owners of a partial backup (empty: every owner).
    pub owners: Vec<String>,
    /// Base or increment.
    pub kind: Kind,
    /// Leave the set on the device too.
    pub keep: bool,
    /// Appended to the set's name.
    pub label: Option<String>,
}

/// What `backup` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The new set.
    pub set: String,
    /// `base` or `incremental`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The set it builds on.
    pub previous: Option<String>,
    /// Owners backed up.
    pub owners_ok: usize,
    /// Owners that failed, with the reason.
    pub owners_failed: Vec<String>,
    /// Unit files copied.
    pub units: usize,
    /// Bytes copied.
    pub bytes: u64,
    /// Seconds from request to a complete set.
    pub seconds: f64,
    /// Where the set is on the PC.
    pub path: PathBuf,
    /// Whether the set is still on the device.
    pub kept_on_device: bool,
    /// Things that went wrong after the set was safe (cleanup on the device).
    pub warnings: Vec<String>,
}

/// Runs a backup into `repo`.
///
/// # Errors
/// The device refused, the backup failed, or the copy did not match its manifest.
pub fn run<L: Link>(
    remote: &mut Remote<L>,
    repo: &DeviceRepo,
    opts: &Options,
    ui: &Ui,
) -> Outcome<Report> {
    let started = Instant::now();
    let status = remote.ready()?;
    let mut tip = match opts.kind {
        Kind::Full => None,
        Kind::Auto | Kind::Incremental => repo.tip().map_err(fail(Exit::Failed))?,
    };
    // The device builds an increment only on a set as encrypted as its new ones: after
    // encryption was turned on or off, the automatic choice is a base.
    let device_encrypts = status.encryption.as_deref() == Some("on");
    if opts.kind == Kind::Auto
        && let Some(t) = &tip
        && engine::spool::SpoolSet::open(repo.set_dir(&t.name)).is_encrypted() != device_encrypts
    {
        ui.note(&format!(
            "encryption is {} on the device since {}: taking a base",
            if device_encrypts { "on" } else { "off" },
            t.name
        ));
        tip = None;
    }
    if opts.kind == Kind::Incremental && tip.is_none() {
        return Err(Failure::new(
            Exit::Failed,
            format!(
                "{}: no earlier set of this device; take a full backup first",
                repo.dir().display()
            ),
        ));
    }
    let mut warnings = Vec::new();
    // The earlier set's snapshots: on the device already, or uploaded for this backup.
    let mut uploaded = None;
    if let Some(tip) = &tip {
        match remote.folder(&tip.name)? {
            Some(h) if has_manifest(remote, h)? => {}
            found => {
                if let Some(h) = found {
                    // A folder without a manifest: an upload a killed run left.
                    remote.st.delete(h).map_err(link_failure)?;
                }
                let bar = ui.bar(0, "snapshots");
                let dir = repo.set_dir(&tip.name);
                let h = remote.upload_set(&tip.name, &dir, |u| u.id.kind.is_snapshot(), &bar)?;
                bar.finish_and_clear();
                uploaded = Some(h);
            }
        }
    }
    let request = BackupRequest {
        scope: if opts.owners.is_empty() {
            "full"
        } else {
            "partial"
        },
        kind: if tip.is_some() { "incremental" } else { "base" },
        owners: opts.owners.clone(),
        snapshots: tip.as_ref().map(|t| t.name.clone()),
        label: opts.label.clone(),
    };
    let result = capture(remote, repo, &request, ui);
    if let Some(h) = uploaded
        && let Some(e) = remote.delete_quietly(h)
    {
        warnings.push(format!("the uploaded snapshots stay on the device: {e}"));
    }
    let (set, path, copied, manifest) = result?;
    let mut kept = opts.keep;
    if !opts.keep {
        match remote.folder(&set)? {
            Some(h) => {
                if let Some(e) = remote.delete_quietly(h) {
                    kept = true;
                    warnings.push(format!("the set stays on the device: {e}"));
                }
            }
            None => kept = false,
        }
    }
    let owners_failed: Vec<String> = manifest
        .owners
        .iter()
        .filter_map(|o| match &o.outcome {
            OwnerOutcome::Ok => None,
            OwnerOutcome::Failed { code, reason } => {
                Some(format!("{} (error {code}: {reason})", o.sid))
            }
        })
        .collect();
    Ok(Report {
        set,
        kind: request.kind.into(),
        previous: manifest.previous.clone(),
        owners_ok: manifest.owners.len() - owners_failed.len(),
        owners_failed,
        units: copied.len(),
        bytes: copied.values().map(|c| c.size).sum(),
        seconds: started.elapsed().as_secs_f64(),
        path,
        kept_on_device: kept,
        warnings,
    })
}

type Captured = (
    String,
    PathBuf,
    BTreeMap<String, Checked>,
    engine::manifest::Manifest,
);

fn capture<L: Link>(
    remote: &mut Remote<L>,
    repo: &DeviceRepo,
    request: &BackupRequest,
    ui: &Ui,
) -> Outcome<Captured> {
    let status = remote.send_request("backup.request", &to_toml(request))?;
    let set = status
        .session
        .clone()
        .filter(|s| engine::manifest::is_session_name(s))
        .ok_or_else(|| {
            Failure::new(
                Exit::Failed,
                "the device accepted the request but names no usable set",
            )
        })?;
    let partial = repo.begin(&set).map_err(fail(Exit::Failed))?;
    let bar = ui.bar(status.bytes_total, &set);
    let mut copier = Copier {
        partial: &partial,
        copied: BTreeMap::new(),
        bar: bar.clone(),
    };
    let end = remote.follow(&set, |r, s, scan| {
        bar.set_length(s.bytes_total.max(bar.position()));
        if scan {
            copier.scan(r, &set, matches!(s.state.as_str(), "done"))?;
        }
        Ok(())
    });
    let end = match end {
        Ok(s) => s,
        Err(e) => {
            partial.abandon();
            return Err(e);
        }
    };
    if end.state != "done" {
        partial.abandon();
        let why = end.last_error.unwrap_or_else(|| "no reason given".into());
        return Err(Failure::new(
            Exit::Failed,
            format!("the backup failed on the device: {why}"),
        ));
    }
    bar.finish_and_clear();
    let copied = copier.copied;
    let manifest = match check_against_manifest(&partial, &copied) {
        Ok(m) => m,
        Err(e) => {
            partial.abandon();
            return Err(e);
        }
    };
    let path = partial.commit().map_err(fail(Exit::Failed))?;
    repo.write_index().map_err(fail(Exit::Failed))?;
    ui.note(&format!(
        "{set}: {} units, {} copied and checked",
        copied.len(),
        size(copied.values().map(|c| c.size).sum())
    ));
    Ok((set, path, copied, manifest))
}

fn has_manifest<L: Link>(remote: &mut Remote<L>, folder: u32) -> Outcome<bool> {
    Ok(remote
        .st
        .lookup(folder, MANIFEST_FILE)
        .map_err(link_failure)?
        .is_some())
}

/// Copies the set's files as they appear.
struct Copier<'a> {
    partial: &'a PartialSet,
    copied: BTreeMap<String, Checked>,
    bar: ProgressBar,
}

impl Copier<'_> {
    /// Lists the set on the device and copies every unit not yet copied; the manifest
    /// too once the backup is done (it is written last).
    fn scan<L: Link>(&mut self, remote: &mut Remote<L>, set: &str, done: bool) -> Outcome<()> {
        let Some(top) = remote.folder(set)? else {
            return Ok(());
        };
        let mut files = Vec::new();
        for owner in remote.st.list(top).map_err(link_failure)? {
            if !owner.is_folder {
                let key = owner.name == engine::crypto::SET_KEY_FILE;
                if done && (owner.name == MANIFEST_FILE || key) {
                    files.push((owner.name.clone(), owner.handle));
                }
                continue;
            }
            for drive in remote.st.list(owner.handle).map_err(link_failure)? {
                if !drive.is_folder {
                    continue;
                }
                for f in remote.st.list(drive.handle).map_err(link_failure)? {
                    if !f.is_folder {
                        files.push((
                            format!("{}/{}/{}", owner.name, drive.name, f.name),
                            f.handle,
                        ));
                    }
                }
            }
        }
        // Units first, the manifest last.
        files.sort_by_key(|(rel, _)| rel == MANIFEST_FILE);
        for (rel, handle) in files {
            if self.copied.contains_key(&rel) {
                continue;
            }
            let Some(path) = set_file(&rel) else { continue };
            let file = self.partial.create(&path).map_err(fail(Exit::Failed))?;
            let sink = Counting::new(BufWriter::with_capacity(256 * 1024, file), self.bar.clone());
            let mut w = CheckingWriter::new(sink);
            remote
                .st
                .client
                .get_object(handle, &mut w)
                .map_err(link_failure)?;
            w.flush().map_err(fail(Exit::Failed))?;
            let (checked, _) = w.finish();
            self.copied.insert(rel, checked);
        }
        Ok(())
    }
}

/// Every unit the manifest lists was copied and matches it; nothing else was copied.
fn check_against_manifest(
    partial: &PartialSet,
    copied: &BTreeMap<String, Checked>,
) -> Outcome<engine::manifest::Manifest> {
    if !copied.contains_key(MANIFEST_FILE) {
        return Err(Failure::new(
            Exit::Damaged,
            "the set on the device has no manifest.toml",
        ));
    }
    let manifest = SpoolSet::open(partial.dir().to_owned())
        .read_manifest()
        .map_err(|e| Failure::new(Exit::Damaged, format!("the copied manifest: {e}")))?;
    let mut problems = Vec::new();
    for unit in &manifest.units {
        match copied.get(&unit.id.relative_path()) {
            Some(c) => {
                if let Err(p) = c.matches(unit) {
                    problems.push(p);
                }
            }
            None => problems.push(format!(
                "{}: listed in the manifest, not on the device",
                unit.id
            )),
        }
    }
    let listed: std::collections::BTreeSet<String> = manifest
        .units
        .iter()
        .map(|u| u.id.relative_path())
        .collect();
    for rel in copied.keys().filter(|r| {
        *r != MANIFEST_FILE && *r != engine::crypto::SET_KEY_FILE && !listed.contains(*r)
    }) {
        problems.push(format!("{rel}: on the device, not in the manifest"));
    }
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(Failure::new(
            Exit::Damaged,
            format!(
                "the copy does not match its manifest: {}",
                problems.join("; ")
            ),
        ))
    }
}

/// The report in words.
pub fn text(r: &Report) -> String {
    let mut t = format!(
        "{} backup {} ({} owners ok{}): {} units, {} in {:.1} s{}\n  -> {}\n",
        r.kind,
        r.set,
        r.owners_ok,
        if r.owners_failed.is_empty() {
            String::new()
        } else {
            format!(", {} failed", r.owners_failed.len())
        },
        r.units,
        size(r.bytes),
        r.seconds,
        r.previous
            .as_ref()
            .map(|p| format!(", on top of {p}"))
            .unwrap_or_default(),
        r.path.display(),
    );
    for f in &r.owners_failed {
        t.push_str(&format!("  failed: {f}\n"));
    }
    for w in &r.warnings {
        t.push_str(&format!("  warning: {w}\n"));
    }
    t
}
