//! Backup registration files: the typed model, the quick-xml parser, the merge of an
//! owner's files and the discovery of files on the configured drives.

mod discover;
mod model;
mod parse;
mod problem;

#[cfg(test)]
mod tests;

pub use discover::{
    Discovery, Drive, Owner, RegistrationError, RegistrationErrorKind, discover, owner_identity,
};
pub use model::{
    ActiveBackup, ActiveType, BackupRegistration, CENTRAL_REPOSITORY_SID, CagePath,
    DEFAULT_CALLBACK_DELAY, DbmsPolicy, DriveSpec, MAX_CALLBACK_DELAY, PackageRegistration,
    PassiveBackup, ProxyRef, PublicBackup, PublicPath, RegistrationFile, RestoreOptions, Selection,
    Sid,
};
pub use parse::{FileRole, ParseError, ParseErrorKind, parse_registration};

/// The engine's own SID (Symbian `sbengine.exe`), whose cage holds import packages.
pub const ENGINE_SID: Sid = Sid(0x1020_2D56);

/// Merges an owner's primary file with its secondary files.
///
/// Passive flags, active data and restore options come from the primary file only; path
/// selections, public data, system data, proxies and DBMS policies from every file. A
/// `<cenrep_backup/>` becomes a proxy on `cenrep`; a proxy naming the owner itself is
/// dropped.
pub fn merge(
    sid: Sid,
    primary: RegistrationFile,
    secondaries: Vec<RegistrationFile>,
    cenrep: Sid,
) -> BackupRegistration {
    let mut reg = BackupRegistration {
        sid,
        passive: primary.passive,
        active: primary.active,
        public: primary.public,
        system_backup: primary.system_backup,
        proxies: Vec::new(),
        dbms: Vec::new(),
        restore: primary.restore.unwrap_or_default(),
        warnings: Vec::new(),
    };
    let mut proxies = primary.proxies;
    let mut dbms = primary.dbms;
    for file in secondaries {
        if let (Some(p), Some(extra)) = (reg.passive.as_mut(), file.passive) {
            p.includes.extend(extra.includes);
            p.excludes.extend(extra.excludes);
        }
        match (reg.public.as_mut(), file.public) {
            (Some(p), Some(extra)) => {
                p.includes.extend(extra.includes);
                p.excludes.extend(extra.excludes);
            }
            (None, Some(extra)) => reg.public = Some(extra),
            _ => {}
        }
        reg.system_backup |= file.system_backup;
        proxies.extend(file.proxies);
        dbms.extend(file.dbms);
    }
    for proxy in proxies {
        let proxy_sid = match proxy {
            ProxyRef::Sid(s) => s,
            ProxyRef::CentralRepository => cenrep,
        };
        if proxy_sid != sid && !reg.proxies.contains(&proxy_sid) {
            reg.proxies.push(proxy_sid);
        }
    }
    for policy in dbms {
        if !reg.dbms.contains(&policy) {
            reg.dbms.push(policy);
        }
    }
    reg
}
