//! `mtpbur-host restore`: checks the chain on the PC, uploads it in one session (sets
//! the device already holds unchanged are not sent again), starts the restore, waits for
//! it and reports every owner's result.

use std::time::Instant;

use engine::manifest::MANIFEST_FILE;
use engine::spool::SpoolSet;

use crate::device::{RestoreRequest, RestoreResult, RestoredOwner, to_toml};
use crate::link::Link;
use crate::output::{Exit, Failure, Outcome, Ui, fail};
use crate::remote::{Remote, link_failure};
use crate::repo::DeviceRepo;

/// What `restore` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// The set to restore (with everything it builds on); the newest if `None`.
    pub set: Option<String>,
    /// Owners of a partial restore (empty: every owner in the chain).
    pub owners: Vec<String>,
    /// Leave the uploaded sets on the device.
    pub keep: bool,
    /// The backup password, for an encrypted chain (asked for when `None`).
    pub password: Option<engine::crypto::SecretString>,
}

/// What `restore` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The chain, base first.
    pub chain: Vec<String>,
    /// Sets uploaded for it (the others were on the device).
    pub uploaded: Vec<String>,
    /// Every owner's result.
    pub owners: Vec<RestoredOwner>,
    /// Whether the device should be rebooted now.
    pub reboot: bool,
    /// Seconds from the start to the result.
    pub seconds: f64,
    /// Of them, seconds spent checking the chain on the PC and uploading it.
    pub upload_seconds: f64,
    /// Cleanup problems.
    pub warnings: Vec<String>,
}

/// Restores a chain from `repo`.
///
/// # Errors
/// The chain is broken or damaged, the device refused, or the restore failed.
pub fn run<L: Link>(
    remote: &mut Remote<L>,
    repo: &DeviceRepo,
    opts: &Options,
    ui: &Ui,
) -> Outcome<Report> {
    let started = Instant::now();
    let name = match &opts.set {
        Some(n) => n.clone(),
        None => {
            repo.tip()
                .map_err(fail(Exit::Failed))?
                .ok_or_else(|| {
                    Failure::new(Exit::Failed, format!("{}: no sets", repo.dir().display()))
                })?
                .name
        }
    };
    let chain = repo.chain(&name).map_err(fail(Exit::Failed))?;
    // Nothing damaged leaves the PC.
    let mut total = 0;
    for s in &chain {
        let (_, problems) = SpoolSet::open(repo.set_dir(&s.name))
            .verify(|_| true)
            .map_err(fail(Exit::Damaged))?;
        if !problems.is_empty() {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(Failure::new(
                Exit::Damaged,
                format!("{}: {}", s.name, list.join("; ")),
            ));
        }
        total += s.size;
    }
    // An encrypted chain needs the password: checked here against the first set's
    // wrapped key before anything is uploaded.
    let encrypted = chain
        .iter()
        .any(|s| SpoolSet::open(repo.set_dir(&s.name)).is_encrypted());
    let password = if encrypted {
        let pw = match &opts.password {
            Some(p) => p.clone(),
            None => crate::password::ask("backup password", false).map_err(fail(Exit::Failed))?,
        };
        for s in &chain {
            let set = SpoolSet::open(repo.set_dir(&s.name));
            if let Ok(wrapped) = set.wrapped_key() {
                engine::crypto::Unlocked::from_wrapped(&wrapped, &pw)
                    .map_err(|e| Failure::new(Exit::Failed, format!("{}: {e}", s.name)))?;
                break;
            }
        }
        Some(pw)
    } else {
        None
    };
    remote.ready()?;
    let mut uploaded = Vec::new();
    let mut handles = Vec::new();
    let bar = ui.bar(total, "upload");
    let mut upload_seconds = 0.0;
    let result = (|| {
        for s in &chain {
            let dir = repo.set_dir(&s.name);
            if let Some(h) = remote.folder(&s.name)? {
                let same = remote
                    .st
                    .lookup(h, MANIFEST_FILE)
                    .map_err(link_failure)?
                    .map(|m| remote.st.read(m.handle))
                    .transpose()
                    .map_err(link_failure)?;
                let ours = std::fs::read(dir.join(MANIFEST_FILE)).map_err(fail(Exit::Failed))?;
                match same {
                    Some(theirs) if theirs == ours => {
                        bar.inc(s.size);
                        continue;
                    }
                    Some(_) => {
                        return Err(Failure::new(
                            Exit::Failed,
                            format!(
                                "the device holds another set named {}: remove it there first",
                                s.name
                            ),
                        ));
                    }
                    // An incomplete upload a killed run left.
                    None => remote.st.delete(h).map_err(link_failure)?,
                }
            }
            let h = remote.upload_set(&s.name, &dir, |_| true, &bar)?;
            handles.push(h);
            uploaded.push(s.name.clone());
        }
        bar.finish_and_clear();
        upload_seconds = started.elapsed().as_secs_f64();
        let request = RestoreRequest {
            source: chain[0].name.clone(),
            increments: chain[1..].iter().map(|s| s.name.clone()).collect(),
            scope: if opts.owners.is_empty() {
                "full"
            } else {
                "partial"
            },
            owners: opts.owners.clone(),
        };
        let last = chain[chain.len() - 1].name.clone();
        let mut text = to_toml(&request);
        if let Some(pw) = &password {
            use engine::crypto::ExposeSecret;
            text.push_str(&format!(
                "password = {}\n",
                crate::password::toml_string(pw.expose_secret())
            ));
        }
        let status = remote.send_request("restore.request", &text)?;
        let bar = ui.bar(status.bytes_total, "restore");
        let end = remote.follow(&last, |_, s, _| {
            bar.set_length(s.bytes_total);
            bar.set_position(s.bytes_done);
            Ok(())
        })?;
        bar.finish_and_clear();
        if end.state != "done" {
            let why = end.last_error.unwrap_or_else(|| "no reason given".into());
            return Err(Failure::new(
                Exit::Failed,
                format!("the restore failed on the device: {why}"),
            ));
        }
        let folder = remote.folder(&last)?.ok_or_else(|| {
            Failure::new(Exit::Failed, format!("{last} vanished from the device"))
        })?;
        let result = remote
            .st
            .lookup(folder, "restore-result.toml")
            .map_err(link_failure)?
            .ok_or_else(|| Failure::new(Exit::Failed, "the device wrote no restore-result.toml"))?;
        let data = remote.st.read(result.handle).map_err(link_failure)?;
        RestoreResult::parse(&data).map_err(fail(Exit::Failed))
    })();
    let mut warnings = Vec::new();
    if !opts.keep {
        for h in handles {
            if let Some(e) = remote.delete_quietly(h) {
                warnings.push(format!("an uploaded set stays on the device: {e}"));
            }
        }
    }
    let result = result?;
    ui.note(&format!("restored from {} set(s)", chain.len()));
    let reboot = result
        .owners
        .iter()
        .any(|o| o.outcome == "ok" && o.requires_reboot);
    Ok(Report {
        chain: chain.iter().map(|s| s.name.clone()).collect(),
        uploaded,
        owners: result.owners,
        reboot,
        seconds: started.elapsed().as_secs_f64(),
        upload_seconds,
        warnings,
    })
}

/// The report in words.
pub fn text(r: &Report) -> String {
    let mut t = format!(
        "restored {} in {:.1} s ({:.1} s checking and uploading)\n",
        r.chain.join(" + "),
        r.seconds,
        r.upload_seconds
    );
    for o in &r.owners {
        match o.outcome.as_str() {
            "ok" => t.push_str(&format!(
                "  {}: ok{}\n",
                o.sid,
                if o.requires_reboot {
                    " (needs a reboot)"
                } else {
                    ""
                }
            )),
            _ => t.push_str(&format!(
                "  {}: FAILED (error {}: {})\n",
                o.sid,
                o.error_code.unwrap_or(0),
                o.error.as_deref().unwrap_or("?")
            )),
        }
    }
    if r.reboot {
        t.push_str("Reboot the device now: an owner asked for it.\n");
    }
    for w in &r.warnings {
        t.push_str(&format!("  warning: {w}\n"));
    }
    t
}

/// True when any owner failed.
pub fn any_failed(r: &Report) -> bool {
    r.owners.iter().any(|o| o.outcome != "ok")
}
