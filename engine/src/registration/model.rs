//! The typed model of `backup_registration*.xml` files.
//!
//! Everything past the parser trusts these types: a [`CagePath`] can never leave its root,
//! a [`Sid`] is a parsed 32-bit secure id, booleans are booleans.

use std::fmt;
use std::time::Duration;

/// A data owner's 32-bit secure id, written as 8 hex digits in paths (`private/0ab7e58c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(pub u32);

impl Sid {
    /// Parses a SID as hex with an optional `0x`/`0X` prefix (at most 8 digits).
    pub fn parse_hex(text: &str) -> Option<Self> {
        let text = text.trim();
        let digits = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok().map(Self)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// The SID of the Central Repository, the default target of `<cenrep_backup/>`.
pub const CENTRAL_REPOSITORY_SID: Sid = Sid(0x1020_2BE9);

/// The default per-callback watchdog (`callback_delay_time`), 200 s as in Symbian.
pub const DEFAULT_CALLBACK_DELAY: Duration = Duration::from_secs(200);

/// The longest watchdog an owner may ask for: a larger `callback_delay_time` is cut to
/// this, so one owner cannot hold a session (and the device) for hours.
pub const MAX_CALLBACK_DELAY: Duration = Duration::from_secs(600);

/// A normalised path relative to some root (a cage or a drive root).
///
/// Components are separated by `/`; there is no leading or trailing separator, no `.`, no
/// `..` and no empty component. The empty path means the root itself. By construction a
/// `CagePath` joined to its root stays inside the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct CagePath(String);

impl CagePath {
    /// Returns the root itself.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// Normalises a relative path (`\` or `/` separators, `.` dropped).
    ///
    /// Returns `None` if any component is `..`, contains a NUL or a drive colon.
    pub fn parse_relative(text: &str) -> Option<Self> {
        let mut parts: Vec<&str> = Vec::new();
        for part in text.split(['/', '\\']) {
            match part {
                "" | "." => {}
                ".." => return None,
                p if p.contains('\0') || p.contains(':') => return None,
                p => parts.push(p),
            }
        }
        Some(Self(parts.join("/")))
    }

    /// Returns the path as a `/`-separated string (empty for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns true if this is the root itself.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns the components of the path.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// Returns true if `other` is this path or lies below it.
    pub fn contains(&self, other: &Self) -> bool {
        self.is_root()
            || other.0 == self.0
            || (other.0.starts_with(&self.0) && other.0.as_bytes().get(self.0.len()) == Some(&b'/'))
    }

    /// Returns the path of the directory this path lies in (`None` for the root).
    pub fn parent(&self) -> Option<Self> {
        if self.is_root() {
            return None;
        }
        Some(Self(
            self.0.rsplit_once('/').map_or("", |(p, _)| p).to_owned(),
        ))
    }

    /// Returns the last component (empty for the root).
    pub fn file_name(&self) -> &str {
        self.0.rsplit_once('/').map_or(self.0.as_str(), |(_, n)| n)
    }

    /// Returns this path with `name` appended (registration text: `\` and `/` separate
    /// components, as in [`CagePath::parse_relative`]).
    pub fn join(&self, name: &str) -> Option<Self> {
        Self::parse_relative(&format!("{}/{}", self.0, name))
    }

    /// Returns this path with the file name `name` appended, as the file system gave it:
    /// one component, which on Linux may hold `:` and `\`. `None` for an empty name,
    /// `.`, `..`, or one with `/` or NUL.
    pub fn join_name(&self, name: &str) -> Option<Self> {
        if !is_native_name(name) {
            return None;
        }
        Some(Self(if self.is_root() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.0)
        }))
    }

    /// Parses a path as the engine writes it into units and snapshots: `/`-separated
    /// file-system names (which may hold `:` and `\`). `None` unless every component is
    /// a file name ([`CagePath::join_name`]) and the text is in that form exactly.
    pub fn parse_native(text: &str) -> Option<Self> {
        if text.is_empty() {
            return Some(Self::root());
        }
        text.split('/')
            .all(is_native_name)
            .then(|| Self(text.to_owned()))
    }
}

/// True for one file-system name: not empty, `.` or `..`, without `/` or NUL.
fn is_native_name(name: &str) -> bool {
    !matches!(name, "" | "." | "..") && !name.contains(['/', '\0'])
}

impl fmt::Display for CagePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One include selection of a passive or public section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection<P> {
    /// `<include_directory name=…/>`: the directory and everything below it.
    Directory(P),
    /// `<include_file name=…/>`: exactly one file.
    File(P),
}

impl<P> Selection<P> {
    /// Returns the selected path.
    pub fn path(&self) -> &P {
        match self {
            Self::Directory(p) | Self::File(p) => p,
        }
    }
}

/// Which drive a public path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveSpec {
    /// `c:\…`: one drive letter (lower case).
    Letter(char),
    /// `!:\…`: the drive currently being processed.
    Current,
}

/// A public path: a drive and a path relative to that drive's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicPath {
    /// The drive the path is on.
    pub drive: DriveSpec,
    /// The path below the drive root.
    pub path: CagePath,
}

/// `<passive_backup>`: files in the owner's cage copied by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PassiveBackup {
    /// `supports_selective` (default no).
    pub supports_selective: bool,
    /// `delete_before_restore` (default no): the cage is emptied before the first restore unit.
    pub delete_before_restore: bool,
    /// `base_backup_only` (default no): no passive increments.
    pub base_backup_only: bool,
    /// Include selections, relative to the cage.
    pub includes: Vec<Selection<CagePath>>,
    /// Exclusions, relative to the cage (a directory exclusion covers everything below it).
    pub excludes: Vec<CagePath>,
}

/// `active_type` of `<active_backup>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ActiveType {
    /// `activeonly` (default): the owner serves only its own data.
    #[default]
    ActiveOnly,
    /// `activeandproxy`: its own data and proxy data for other owners.
    ActiveAndProxy,
    /// `proxyonly`: only proxy data for other owners.
    ProxyOnly,
    /// `activeandpassive`: active data plus passive files it prepares.
    ActiveAndPassive,
    /// `passiveonly`: registered as active but transfers only passively.
    PassiveOnly,
}

impl ActiveType {
    /// Parses the attribute value (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "activeonly" => Some(Self::ActiveOnly),
            "activeandproxy" => Some(Self::ActiveAndProxy),
            "proxyonly" => Some(Self::ProxyOnly),
            "activeandpassive" => Some(Self::ActiveAndPassive),
            "passiveonly" => Some(Self::PassiveOnly),
            _ => None,
        }
    }

    /// Returns true if the owner serves its own active data.
    pub fn has_own_active_data(self) -> bool {
        matches!(
            self,
            Self::ActiveOnly | Self::ActiveAndProxy | Self::ActiveAndPassive
        )
    }
}

/// `<active_backup>`: an owner process that produces its data itself over IPC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveBackup {
    /// `process_name`: the executable the engine starts from its configured directory.
    pub process_name: String,
    /// `active_type` (default `activeonly`).
    pub active_type: ActiveType,
    /// `requires_delay_to_prepare_data` (default no): the owner gets
    /// `DELAYED_READY_FACTOR` times the readiness timeout.
    pub requires_delay_to_prepare_data: bool,
    /// `supports_selective` (default no).
    pub supports_selective: bool,
    /// `supports_incremental` (default yes).
    pub supports_incremental: bool,
    /// `callback_delay_time` in µs (default 200 s): the watchdog on every callback.
    pub callback_delay: Duration,
}

/// `<public_backup>`: public files listed by the engine and copied by the server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublicBackup {
    /// `delete_before_restore` (default no).
    pub delete_before_restore: bool,
    /// Include selections.
    pub includes: Vec<Selection<PublicPath>>,
    /// Exclusions.
    pub excludes: Vec<PublicPath>,
}

/// A proxy data manager named by `<proxy_data_manager SID=…/>` or `<cenrep_backup/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyRef {
    /// An explicit SID.
    Sid(Sid),
    /// `<cenrep_backup/>`: the configured Central Repository.
    CentralRepository,
}

/// `<dbms_backup policy=…/>`: SQLite databases of the owner under a policy id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DbmsPolicy(pub u32);

/// `<restore>` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestoreOptions {
    /// `requires_reboot` (default no): reported to the server after a restore.
    pub requires_reboot: bool,
}

/// One parsed registration file, before the files of an owner are merged.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistrationFile {
    /// `version` of `<backup_registration>` (only `1.0` is accepted).
    pub version: Option<String>,
    /// `<passive_backup>`.
    pub passive: Option<PassiveBackup>,
    /// `<active_backup>`.
    pub active: Option<ActiveBackup>,
    /// `<public_backup>`.
    pub public: Option<PublicBackup>,
    /// `<system_backup/>` present.
    pub system_backup: bool,
    /// Proxies in registration order, deduplicated.
    pub proxies: Vec<ProxyRef>,
    /// DBMS policies in registration order, deduplicated.
    pub dbms: Vec<DbmsPolicy>,
    /// `<restore>`; `None` when absent.
    pub restore: Option<RestoreOptions>,
    /// Elements left out, each with its line and column (the rest of the file counts).
    pub warnings: Vec<super::problem::ParseError>,
}

/// The merged registration of one data owner (primary file plus secondary files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupRegistration {
    /// The owner.
    pub sid: Sid,
    /// Passive data (from the primary file; includes/excludes from every file).
    pub passive: Option<PassiveBackup>,
    /// Active data (primary file only).
    pub active: Option<ActiveBackup>,
    /// Public files.
    pub public: Option<PublicBackup>,
    /// System (package) data requested.
    pub system_backup: bool,
    /// Proxy data managers, own SID removed.
    pub proxies: Vec<Sid>,
    /// DBMS policies.
    pub dbms: Vec<DbmsPolicy>,
    /// Restore options (primary file only).
    pub restore: RestoreOptions,
    /// Elements of its files that were left out, each with its file, line and column.
    pub warnings: Vec<String>,
}

impl BackupRegistration {
    /// Returns true if the owner has active data or proxies (Symbian `EActiveBUR`).
    pub fn is_active(&self) -> bool {
        self.active.is_some() || !self.proxies.is_empty()
    }

    /// Returns true if the engine must talk to an owner process (a real active owner).
    pub fn needs_process(&self) -> bool {
        self.active.is_some()
    }

    /// Returns true if the owner has passive data (Symbian `EPassiveBUR`).
    pub fn is_passive(&self) -> bool {
        self.passive.is_some() || !self.dbms.is_empty()
    }

    /// Returns true if the owner supports passive increments.
    pub fn passive_supports_incremental(&self) -> bool {
        self.passive.as_ref().is_some_and(|p| !p.base_backup_only)
    }

    /// Returns true if the owner supports active increments (proxies are base only).
    pub fn active_supports_incremental(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.supports_incremental)
    }
}

/// An import-package registration (`import/packages/<id>/backup_registration.xml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRegistration {
    /// The package id (parsed from the directory name).
    pub package_id: u32,
    /// Public files of the package.
    pub public: Option<PublicBackup>,
    /// System data requested.
    pub system_backup: bool,
}
