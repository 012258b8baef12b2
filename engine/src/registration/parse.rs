//! quick-xml parser of one `backup_registration*.xml` file into a [`RegistrationFile`].
//!
//! What Symbian tolerated, this parser tolerates too, but never silently (see
//! `docs/engine.md`): an element below the root that is unknown, misplaced, repeated,
//! lacks a required attribute, has an unparsable value or a path that would leave its
//! root is left out (with everything inside it) and recorded as a warning naming the line
//! and column ([`RegistrationFile::warnings`]); the rest of the file counts. Only a file
//! that is not well-formed XML, has no `backup_registration` root or another version is
//! an error, and the caller leaves that owner out. Unknown attributes are ignored (real
//! files carry some).

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

pub use super::problem::{ParseError, ParseErrorKind};

use super::model::{
    ActiveBackup, ActiveType, CagePath, DEFAULT_CALLBACK_DELAY, DbmsPolicy, DriveSpec,
    MAX_CALLBACK_DELAY, PassiveBackup, ProxyRef, PublicBackup, PublicPath, RegistrationFile,
    RestoreOptions, Selection, Sid,
};

/// Which kind of registration file is parsed; decides which elements count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// `backup_registration.xml` in a cage: every element.
    Primary,
    /// `backup_registration<x>.xml` in a cage: no `active_backup` or `restore`.
    Secondary,
    /// An import-package file: only `public_backup` and `system_backup` are used, other
    /// known elements are ignored (as in Symbian).
    Package,
}

/// The section that path elements attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Passive,
    Public,
}

/// Parses one registration file of the owner `sid`. Elements with a problem are left out
/// and listed in [`RegistrationFile::warnings`].
///
/// # Errors
/// A [`ParseError`] for a file that is not well-formed, has no `backup_registration`
/// root or an unsupported version; the file (and so the owner) is then unusable.
pub fn parse_registration(
    xml: &str,
    sid: Sid,
    role: FileRole,
) -> Result<RegistrationFile, ParseError> {
    let mut parser = Parser {
        xml,
        sid,
        role,
        out: RegistrationFile::default(),
        stack: Vec::new(),
    };
    parser.run()
}

struct Parser<'a> {
    xml: &'a str,
    sid: Sid,
    role: FileRole,
    out: RegistrationFile,
    /// Open elements (lower-case names) with the section each opened, if any; `None` as
    /// section and `true` for an element left out (its content is skipped).
    stack: Vec<(String, Option<Section>, bool)>,
}

impl Parser<'_> {
    fn run(&mut self) -> Result<RegistrationFile, ParseError> {
        let mut reader = Reader::from_str(self.xml);
        reader.config_mut().trim_text(true);
        let mut seen_root = false;
        loop {
            let start = self.skip_ws(usize::try_from(reader.buffer_position()).unwrap_or(0));
            let event = reader.read_event().map_err(|e| {
                let at = usize::try_from(reader.error_position()).unwrap_or(start);
                self.error_at(at, ParseErrorKind::Xml(e.to_string()))
            })?;
            match event {
                Event::Start(e) => {
                    let (section, dropped) = if self.inside_dropped() {
                        (None, true)
                    } else {
                        self.element(&e, start, &mut seen_root)?
                    };
                    self.stack.push((lower_name(&e), section, dropped));
                }
                Event::Empty(e) if !self.inside_dropped() => {
                    self.element(&e, start, &mut seen_root)?;
                }
                Event::End(_) => {
                    self.stack.pop();
                }
                Event::Text(t) if !t.iter().all(u8::is_ascii_whitespace) => {
                    return Err(self.error_at(start, ParseErrorKind::Xml("unexpected text".into())));
                }
                Event::Eof => {
                    if let Some((name, _, _)) = self.stack.last() {
                        let kind = ParseErrorKind::Xml(format!("<{name}> is not closed"));
                        return Err(self.error_at(self.xml.len(), kind));
                    }
                    break;
                }
                _ => {}
            }
        }
        if !seen_root {
            return Err(self.error_at(self.xml.len(), ParseErrorKind::NoRoot));
        }
        Ok(std::mem::take(&mut self.out))
    }

    /// True inside an element that was left out.
    fn inside_dropped(&self) -> bool {
        self.stack.iter().any(|(_, _, dropped)| *dropped)
    }

    /// Handles one start or empty element; returns the section it opens, if any, and
    /// whether it was left out (a problem below the root, recorded as a warning).
    fn element(
        &mut self,
        e: &BytesStart<'_>,
        at: usize,
        seen_root: &mut bool,
    ) -> Result<(Option<Section>, bool), ParseError> {
        let name = lower_name(e);
        if self.stack.is_empty() {
            if name != "backup_registration" || *seen_root {
                return Err(self.error_at(at, ParseErrorKind::MisplacedElement(name)));
            }
            *seen_root = true;
            return self
                .root(e)
                .map(|()| (None, false))
                .map_err(|kind| self.error_at(at, kind));
        }
        match self.inner_element(&name, e) {
            Ok(section) => Ok((section, false)),
            Err(kind) => {
                let problem = self.error_at(at, kind);
                tracing::debug!(%problem, "registration element left out");
                self.out.warnings.push(problem);
                Ok((None, true))
            }
        }
    }

    /// Handles an element below the root.
    fn inner_element(
        &mut self,
        name: &str,
        e: &BytesStart<'_>,
    ) -> Result<Option<Section>, ParseErrorKind> {
        let name = name.to_owned();
        let section = self.stack.iter().rev().find_map(|(_, s, _)| *s);
        match name.as_str() {
            "include_file" | "include_directory" | "exclude" => {
                self.path_element(&name, e, section).map(|()| None)
            }
            "passive_backup" | "public_backup" if section.is_some() => {
                Err(ParseErrorKind::MisplacedElement(name.clone()))
            }
            _ if self.stack.len() > 1 => Err(ParseErrorKind::MisplacedElement(name.clone())),
            _ => self.top_level(&name, e),
        }
    }

    fn root(&mut self, e: &BytesStart<'_>) -> Result<(), ParseErrorKind> {
        if let Some(version) = attr(e, "version")? {
            if version != "1.0" {
                return Err(ParseErrorKind::UnsupportedVersion(version.into_owned()));
            }
            self.out.version = Some(version.into_owned());
        }
        Ok(())
    }

    fn top_level(
        &mut self,
        name: &str,
        e: &BytesStart<'_>,
    ) -> Result<Option<Section>, ParseErrorKind> {
        let package_ignores =
            self.role == FileRole::Package && !matches!(name, "public_backup" | "system_backup");
        match name {
            "midlet_suite" | "java_include_directory" | "java_backup_midlet" => return Ok(None),
            "passive_backup" | "active_backup" | "restore" | "proxy_data_manager"
            | "cenrep_backup" | "dbms_backup"
                if package_ignores =>
            {
                // Package files only use public and system data; their passive paths would
                // not resolve anyway, so the section opens nothing.
                return Ok(None);
            }
            _ => {}
        }
        match name {
            "passive_backup" => self.passive(e).map(|()| Some(Section::Passive)),
            "public_backup" => self.public(e).map(|()| Some(Section::Public)),
            "active_backup" => self.active(e).map(|()| None),
            "system_backup" => {
                self.out.system_backup = true;
                Ok(None)
            }
            "restore" => self.restore(e).map(|()| None),
            "proxy_data_manager" => self.proxy(e).map(|()| None),
            "cenrep_backup" => {
                push_unique(&mut self.out.proxies, ProxyRef::CentralRepository);
                Ok(None)
            }
            "dbms_backup" => self.dbms(e).map(|()| None),
            _ => Err(ParseErrorKind::UnknownElement(name.to_owned())),
        }
    }

    fn passive(&mut self, e: &BytesStart<'_>) -> Result<(), ParseErrorKind> {
        const EL: &str = "passive_backup";
        if self.out.passive.is_some() {
            return Err(ParseErrorKind::DuplicateElement(EL.into()));
        }
        self.out.passive = Some(PassiveBackup {
            supports_selective: yes_no(e, EL, "supports_selective", false)?,
            delete_before_restore: yes_no(e, EL, "delete_before_restore", false)?,
            base_backup_only: yes_no(e, EL, "base_backup_only", false)?,
            includes: Vec::new(),
            excludes: Vec::new(),
        });
        Ok(())
    }

    fn public(&mut self, e: &BytesStart<'_>) -> Result<(), ParseErrorKind> {
        const EL: &str = "public_backup";
        if self.out.public.is_some() {
            return Err(ParseErrorKind::DuplicateElement(EL.into()));
        }
        self.out.public = Some(PublicBackup {
            delete_before_restore: yes_no(e, EL, "delete_before_restore", false)?,
            includes: Vec::new(),
            excludes: Vec::new(),
        });
        Ok(())
    }

    fn active(&mut self, e: &BytesStart<'_>) -> Result<(), ParseErrorKind> {
        const EL: &str = "active_backup";
        if self.role != FileRole::Primary {
            return Err(ParseErrorKind::MisplacedElement(EL.into()));
        }
        if self.out.active.is_some() {
            return Err(ParseErrorKind::DuplicateElement(EL.into()));
        }
        let process_name = required(e, EL, "process_name")?;
        if process_name.contains(['/', '\\', '\0']) || process_name == ".." || process_name == "." {
            return Err(bad(EL, "process_name", &process_name));
        }
        let active_type = match attr(e, "active_type")? {
            None => ActiveType::default(),
            Some(v) => ActiveType::parse(&v).ok_or_else(|| bad(EL, "active_type", &v))?,
        };
        let callback_delay = match attr(e, "callback_delay_time")? {
            None => DEFAULT_CALLBACK_DELAY,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(us) if us > 0 => std::time::Duration::from_micros(us).min(MAX_CALLBACK_DELAY),
                _ => return Err(bad(EL, "callback_delay_time", &v)),
            },
        };
        self.out.active = Some(ActiveBackup {
            process_name: process_name.into_owned(),
            active_type,
            requires_delay_to_prepare_data: yes_no(e, EL, "requires_delay_to_prepare_data", false)?,
            supports_selective: yes_no(e, EL, "supports_selective", false)?,
            supports_incremental: yes_no(e, EL, "supports_incremental", true)?,
            callback_delay,
        });
        Ok(())
    }

    fn restore(&mut self, e: &BytesStart<'_>) -> Result<(), ParseErrorKind> {
        const EL: &str = "restore";
        if self.role == FileRole::Secondary {
            return Err(ParseErrorKind::MisplacedElement(EL.into()));
        }
        if self.out.restore.is_some() {
            return Err(ParseErrorKind::DuplicateElement(EL.into()));
        }
        self.out.restore = Some(RestoreOptions {
            requires_reboot: yes_no(e, EL, "requires_reboot", false)?,
        });
        Ok(())
    }

    fn proxy(&mut self, e: &BytesStart<'_>) -> Result<(), ParseErrorKind> {
        let value = required(e, "proxy_data_manager", "sid")?;
        let sid =
            Sid::parse_hex(&value).ok_or_else(|| ParseErrorKind::BadSid(value.into_owned()))?;
        if sid != self.sid {
            push_unique(&mut self.out.proxies, ProxyRef::Sid(sid));
        }
        Ok(())
    }

    fn dbms(&mut self, e: &BytesStart<'_>) -> Result<(), ParseErrorKind> {
        let value = required(e, "dbms_backup", "policy")?;
        let policy = Sid::parse_hex(&value).ok_or_else(|| bad("dbms_backup", "policy", &value))?;
        push_unique(&mut self.out.dbms, DbmsPolicy(policy.0));
        Ok(())
    }

    fn path_element(
        &mut self,
        name: &str,
        e: &BytesStart<'_>,
        section: Option<Section>,
    ) -> Result<(), ParseErrorKind> {
        let el: &'static str = match name {
            "include_file" => "include_file",
            "include_directory" => "include_directory",
            _ => "exclude",
        };
        let value = required(e, el, "name")?;
        match section {
            None => Err(ParseErrorKind::MisplacedElement(name.to_owned())),
            Some(Section::Passive) => {
                let path = passive_path(&value, self.sid)?;
                if let Some(p) = self.out.passive.as_mut() {
                    push_selection(el, path, &mut p.includes, &mut p.excludes);
                }
                Ok(())
            }
            Some(Section::Public) => {
                let path = public_path(&value)?;
                if let Some(p) = self.out.public.as_mut() {
                    push_selection(el, path, &mut p.includes, &mut p.excludes);
                }
                Ok(())
            }
        }
    }

    fn skip_ws(&self, mut at: usize) -> usize {
        let bytes = self.xml.as_bytes();
        while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        at
    }

    fn error_at(&self, at: usize, kind: ParseErrorKind) -> ParseError {
        let (line, col) = line_col(self.xml, at);
        ParseError { line, col, kind }
    }
}

fn push_selection<P>(el: &str, path: P, includes: &mut Vec<Selection<P>>, excludes: &mut Vec<P>) {
    match el {
        "include_file" => includes.push(Selection::File(path)),
        "include_directory" => includes.push(Selection::Directory(path)),
        _ => excludes.push(path),
    }
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// Resolves a passive path to a path relative to the owner's cage.
///
/// Accepted: a relative path (`data`, `\data\`), the own cage written out
/// (`\private\<sid>\data`, `c:\private\<sid>\data`). Anything else is a bad path.
pub(crate) fn passive_path(value: &str, sid: Sid) -> Result<CagePath, ParseErrorKind> {
    let bad = || ParseErrorKind::BadPath(value.to_owned());
    let unified = value.replace('\\', "/");
    let rest = match unified.split_once(':') {
        Some((drive, rest)) if drive.len() == 1 => rest,
        Some(_) => return Err(bad()),
        None => unified.as_str(),
    };
    let path = CagePath::parse_relative(rest).ok_or_else(bad)?;
    let comps: Vec<&str> = path.components().collect();
    if comps
        .first()
        .is_some_and(|c| c.eq_ignore_ascii_case("private"))
    {
        let own = comps
            .get(1)
            .is_some_and(|c| Sid::parse_hex(c) == Some(sid) && c.len() == 8);
        if !own {
            return Err(bad());
        }
        return CagePath::parse_relative(&comps[2..].join("/")).ok_or_else(bad);
    }
    if rest.len() != unified.len() {
        // A drive-qualified path outside the own cage.
        return Err(bad());
    }
    Ok(path)
}

/// Resolves a public path: `<letter>:\…` or `!:\…`, never into a cage.
pub(crate) fn public_path(value: &str) -> Result<PublicPath, ParseErrorKind> {
    let bad = || ParseErrorKind::BadPath(value.to_owned());
    let unified = value.replace('\\', "/");
    let (drive, rest) = unified.split_once(':').ok_or_else(bad)?;
    let mut chars = drive.chars();
    let drive = match (chars.next(), chars.next()) {
        (Some('!'), None) => DriveSpec::Current,
        (Some(c), None) if c.is_ascii_alphabetic() => DriveSpec::Letter(c.to_ascii_lowercase()),
        _ => return Err(bad()),
    };
    let path = CagePath::parse_relative(rest).ok_or_else(bad)?;
    let first = path.components().next().map(str::to_ascii_lowercase);
    if matches!(
        first.as_deref(),
        Some("private" | "sys" | "system" | "resource")
    ) {
        return Err(bad());
    }
    Ok(PublicPath { drive, path })
}

fn lower_name(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.name().as_ref()).to_ascii_lowercase()
}

/// Returns the value of the attribute named `name` (case-insensitive), if present.
fn attr<'a>(e: &'a BytesStart<'_>, name: &str) -> Result<Option<Cow<'a, str>>, ParseErrorKind> {
    for a in e.attributes() {
        let a = a.map_err(|err| ParseErrorKind::Xml(err.to_string()))?;
        if a.key.as_ref().eq_ignore_ascii_case(name.as_bytes()) {
            let value = a
                .unescape_value()
                .map_err(|err| ParseErrorKind::Xml(err.to_string()))?;
            return Ok(Some(Cow::Owned(value.trim().to_owned())));
        }
    }
    Ok(None)
}

fn required<'a>(
    e: &'a BytesStart<'_>,
    element: &'static str,
    attribute: &'static str,
) -> Result<Cow<'a, str>, ParseErrorKind> {
    match attr(e, attribute)? {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ParseErrorKind::MissingAttribute { element, attribute }),
    }
}

fn yes_no(
    e: &BytesStart<'_>,
    element: &'static str,
    attribute: &'static str,
    default: bool,
) -> Result<bool, ParseErrorKind> {
    match attr(e, attribute)? {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("yes") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("no") => Ok(false),
        Some(v) => Err(bad(element, attribute, &v)),
    }
}

fn bad(element: &'static str, attribute: &'static str, value: &str) -> ParseErrorKind {
    ParseErrorKind::BadValue {
        element,
        attribute,
        value: value.to_owned(),
    }
}

/// Returns the 1-based line and column of byte offset `at`.
fn line_col(text: &str, at: usize) -> (u32, u32) {
    let before = text.as_bytes().get(..at).unwrap_or(text.as_bytes());
    let at = before.len();
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (to_u32(line), to_u32(at - line_start + 1))
}
