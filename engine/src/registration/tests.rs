use std::time::Duration;

use super::*;

const OWN: Sid = Sid(0x0AB7_E58C);

fn parse(xml: &str) -> Result<RegistrationFile, ParseError> {
    parse_registration(xml, OWN, FileRole::Primary)
}

/// The problem with `xml`: its error, or else its first warning (an element left out).
fn kind(xml: &str) -> ParseErrorKind {
    match parse(xml) {
        Ok(r) => match r.warnings.first() {
            Some(w) => w.kind.clone(),
            None => panic!("expected a problem, got {r:?}"),
        },
        Err(e) => e.kind,
    }
}

fn cp(s: &str) -> CagePath {
    CagePath::parse_relative(s).expect("valid path")
}

#[test]
fn seed_001_example_parses_with_spaces_around_equals() {
    let xml = r#"<?xml version="1.0" standalone="yes"?>
<backup_registration version="1.0">
    <active_backup process_name = "referencetestdataowner.exe"
             active_type = "activeonly"
             requires_delay_to_prepare_data = "yes"
             supports_incremental = "yes"/>
    <restore requires_reboot = "no"/>
</backup_registration>"#;
    let r = parse(xml).expect("parses");
    assert_eq!(r.version.as_deref(), Some("1.0"));
    let a = r.active.expect("active");
    assert_eq!(a.process_name, "referencetestdataowner.exe");
    assert_eq!(a.active_type, ActiveType::ActiveOnly);
    assert!(a.requires_delay_to_prepare_data);
    assert!(a.supports_incremental);
    assert!(!a.supports_selective);
    assert_eq!(a.callback_delay, DEFAULT_CALLBACK_DELAY);
    assert_eq!(
        r.restore,
        Some(RestoreOptions {
            requires_reboot: false
        })
    );
}

#[test]
fn every_element_and_attribute_is_modelled() {
    let xml = r#"<backup_registration>
  <passive_backup supports_selective="YES" delete_before_restore="yes" base_backup_only="yes">
    <include_directory name="\"/>
    <include_directory name="data\">
      <exclude name="data\cache\"/>
    </include_directory>
    <include_file name="\private\0ab7e58c\settings.ini"/>
    <include_file name="c:\private\0AB7E58C\db\main.db"/>
    <exclude name="tmp"/>
  </passive_backup>
  <public_backup delete_before_restore="yes">
    <include_directory name="c:\public\0ab7e58c\"/>
    <include_file name="!:\shared\notes.txt"/>
    <exclude name="C:\public\0ab7e58c\junk"/>
  </public_backup>
  <active_backup process_name="owner" active_type="ActiveAndProxy"
      requires_delay_to_prepare_data="no" supports_selective="yes"
      supports_incremental="no" callback_delay_time="5000000" test="ignored"/>
  <system_backup/>
  <proxy_data_manager SID="0x10202BE9"/>
  <proxy_data_manager sid="0AB7E58C"/>
  <proxy_data_manager SID="10202be9"/>
  <cenrep_backup/>
  <dbms_backup policy="AABBCCDD" database="ignored"/>
  <dbms_backup policy="0x00000010"/>
  <dbms_backup policy="aabbccdd"/>
  <restore requires_reboot="yes"/>
  <midlet_suite/>
</backup_registration>"#;
    let r = parse(xml).expect("parses");
    let p = r.passive.expect("passive");
    assert!(p.supports_selective && p.delete_before_restore && p.base_backup_only);
    assert_eq!(
        p.includes,
        vec![
            Selection::Directory(CagePath::root()),
            Selection::Directory(cp("data")),
            Selection::File(cp("settings.ini")),
            Selection::File(cp("db/main.db")),
        ]
    );
    assert_eq!(p.excludes, vec![cp("data/cache"), cp("tmp")]);
    let public = r.public.expect("public");
    assert!(public.delete_before_restore);
    assert_eq!(
        public.includes,
        vec![
            Selection::Directory(PublicPath {
                drive: DriveSpec::Letter('c'),
                path: cp("public/0ab7e58c")
            }),
            Selection::File(PublicPath {
                drive: DriveSpec::Current,
                path: cp("shared/notes.txt")
            }),
        ]
    );
    assert_eq!(public.excludes.len(), 1);
    let a = r.active.expect("active");
    assert_eq!(a.active_type, ActiveType::ActiveAndProxy);
    assert!(a.supports_selective && !a.supports_incremental && !a.requires_delay_to_prepare_data);
    assert_eq!(a.callback_delay, Duration::from_secs(5));
    assert!(r.system_backup);
    // Own SID dropped, duplicates dropped, order kept.
    assert_eq!(
        r.proxies,
        vec![
            ProxyRef::Sid(CENTRAL_REPOSITORY_SID),
            ProxyRef::CentralRepository
        ]
    );
    assert_eq!(r.dbms, vec![DbmsPolicy(0xAABB_CCDD), DbmsPolicy(0x10)]);
    assert_eq!(
        r.restore,
        Some(RestoreOptions {
            requires_reboot: true
        })
    );
}

#[test]
fn active_defaults_match_symbian() {
    let r =
        parse(r#"<backup_registration><active_backup process_name="x"/></backup_registration>"#)
            .expect("parses");
    let a = r.active.expect("active");
    assert_eq!(a.active_type, ActiveType::ActiveOnly);
    assert!(a.supports_incremental);
    assert!(!a.requires_delay_to_prepare_data);
}

#[test]
fn every_active_type_value_parses() {
    for (text, want) in [
        ("activeonly", ActiveType::ActiveOnly),
        ("activeandproxy", ActiveType::ActiveAndProxy),
        ("proxyonly", ActiveType::ProxyOnly),
        ("activeandpassive", ActiveType::ActiveAndPassive),
        ("PassiveOnly", ActiveType::PassiveOnly),
    ] {
        let xml = format!(
            r#"<backup_registration><active_backup process_name="x" active_type="{text}"/></backup_registration>"#
        );
        assert_eq!(
            parse(&xml).expect("parses").active.map(|a| a.active_type),
            Some(want)
        );
    }
}

#[test]
fn not_xml_is_reported_with_position() {
    let e = parse("<backup_registration>\n  <passive_backup>\n</backup_registration>")
        .expect_err("mismatched end tag");
    assert!(matches!(e.kind, ParseErrorKind::Xml(_)), "{e:?}");
    assert_eq!(e.line, 3);
    assert!(matches!(
        kind("just text"),
        ParseErrorKind::Xml(_) | ParseErrorKind::NoRoot
    ));
    assert_eq!(kind(""), ParseErrorKind::NoRoot);
}

#[test]
fn an_unknown_element_is_left_out_with_line_and_column() {
    let r = parse(
        "<backup_registration>\n\n    <frobnicate><passive_backup/></frobnicate>\n    <system_backup/>\n</backup_registration>",
    )
    .expect("the rest counts");
    assert_eq!(
        r.warnings.len(),
        1,
        "its content is skipped: {:?}",
        r.warnings
    );
    let w = &r.warnings[0];
    assert_eq!(w.kind, ParseErrorKind::UnknownElement("frobnicate".into()));
    assert_eq!((w.line, w.col), (3, 5));
    assert!(r.system_backup);
    assert!(
        r.passive.is_none(),
        "nothing inside a left-out element counts"
    );
}

/// The SBE tests' stress registration (`passive_backup_registration.xml`, SBE-REFERENCE)
/// carries what Symbian tolerated: `name2=`, `<dbms_backup/>` without a policy, paths on
/// another drive, a proxy with a wrong attribute. Each such element is left out with a
/// warning; the owner keeps everything else (before, the whole owner was left out).
#[test]
fn what_symbian_tolerated_leaves_out_only_the_element() {
    let xml = r#"<?xml version="1.0" standalone="yes"?>
<backup_registration version="1.0">
  <passive_backup supports_selective="no" delete_before_restore="no" base_backup_only="yes">
    <include_directory name="data"/>
    <include_file name2="other.txt"/>
    <include_directory name="e:\elsewhere\"/>
    <include_file name="\private\0ab7e58c\settings.ini"/>
    <exclude name="data\cache"/>
  </passive_backup>
  <dbms_backup/>
  <dbms_backup policy="AABBCCDD"/>
  <proxy_data_manager test2="0x10202be9"/>
  <system_backup/>
  <restore requires_reboot="no"/>
</backup_registration>"#;
    let r = parse(xml).expect("the owner stays");
    let passive = r.passive.expect("passive");
    assert_eq!(
        passive.includes,
        vec![
            Selection::Directory(cp("data")),
            Selection::File(cp("settings.ini"))
        ]
    );
    assert_eq!(passive.excludes, vec![cp("data/cache")]);
    assert_eq!(r.dbms, vec![DbmsPolicy(0xAABB_CCDD)]);
    assert!(r.system_backup && r.proxies.is_empty());
    let lines: Vec<u32> = r.warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, [5, 6, 10, 12], "{:?}", r.warnings);
}

#[test]
fn wrong_root_is_misplaced() {
    assert_eq!(
        kind("<registration/>"),
        ParseErrorKind::MisplacedElement("registration".into())
    );
}

#[test]
fn unsupported_version_is_an_error() {
    assert_eq!(
        kind(r#"<backup_registration version="2.0"/>"#),
        ParseErrorKind::UnsupportedVersion("2.0".into())
    );
}

#[test]
fn missing_required_attributes_are_errors() {
    let cases = [
        ("<active_backup/>", "active_backup", "process_name"),
        (
            r#"<active_backup process_name=""/>"#,
            "active_backup",
            "process_name",
        ),
        (
            "<proxy_data_manager test2=\"0x1\"/>",
            "proxy_data_manager",
            "sid",
        ),
        ("<dbms_backup database=\"x\"/>", "dbms_backup", "policy"),
        (
            "<passive_backup><include_file name2=\"a\"/></passive_backup>",
            "include_file",
            "name",
        ),
        (
            "<passive_backup><include_directory/></passive_backup>",
            "include_directory",
            "name",
        ),
        (
            "<passive_backup><exclude name=\"\"/></passive_backup>",
            "exclude",
            "name",
        ),
    ];
    for (body, element, attribute) in cases {
        let xml = format!("<backup_registration>{body}</backup_registration>");
        assert_eq!(
            kind(&xml),
            ParseErrorKind::MissingAttribute { element, attribute },
            "{body}"
        );
    }
}

#[test]
fn bad_values_are_errors() {
    let cases = [
        r#"<passive_backup supports_selective="maybe"/>"#,
        r#"<active_backup process_name="x" active_type="sometimes"/>"#,
        r#"<active_backup process_name="x" callback_delay_time="0"/>"#,
        r#"<active_backup process_name="x" callback_delay_time="soon"/>"#,
        r#"<active_backup process_name="../bin/sh"/>"#,
        r#"<restore requires_reboot="1"/>"#,
        r#"<dbms_backup policy="xyz"/>"#,
    ];
    for body in cases {
        let xml = format!("<backup_registration>{body}</backup_registration>");
        assert!(
            matches!(kind(&xml), ParseErrorKind::BadValue { .. }),
            "{body}"
        );
    }
}

#[test]
fn bad_sid_is_an_error() {
    for value in ["0xxxxx2BE9", "123456789", ""] {
        let xml = format!(
            r#"<backup_registration><proxy_data_manager SID="{value}"/></backup_registration>"#
        );
        let k = kind(&xml);
        assert!(
            matches!(
                k,
                ParseErrorKind::BadSid(_) | ParseErrorKind::MissingAttribute { .. }
            ),
            "{value}: {k:?}"
        );
    }
}

#[test]
fn paths_can_never_leave_their_root() {
    let passive_bad = [
        "..\\..\\etc\\passwd",
        "data\\..\\..\\x",
        "\\private\\0ab7e58d\\stolen",
        "c:\\other\\file",
        "c:\\private\\12345678\\x",
        "zz:\\x",
        "\\private\\",
    ];
    for value in passive_bad {
        let xml = format!(
            r#"<backup_registration><passive_backup><include_file name="{value}"/></passive_backup></backup_registration>"#
        );
        assert_eq!(kind(&xml), ParseErrorKind::BadPath(value.into()), "{value}");
    }
    let public_bad = [
        "\\logs",
        "c:\\..\\x",
        "c:\\private\\0ab7e58c\\x",
        "c:\\sys\\bin",
        "?:\\x",
    ];
    for value in public_bad {
        let xml = format!(
            r#"<backup_registration><public_backup><include_directory name="{value}"/></public_backup></backup_registration>"#
        );
        assert_eq!(kind(&xml), ParseErrorKind::BadPath(value.into()), "{value}");
    }
}

#[test]
fn path_elements_outside_a_section_are_misplaced() {
    assert_eq!(
        kind(r#"<backup_registration><include_file name="a"/></backup_registration>"#),
        ParseErrorKind::MisplacedElement("include_file".into())
    );
    assert_eq!(
        kind(
            r#"<backup_registration><passive_backup><system_backup/></passive_backup></backup_registration>"#
        ),
        ParseErrorKind::MisplacedElement("system_backup".into())
    );
}

#[test]
fn duplicate_sections_are_errors() {
    assert_eq!(
        kind("<backup_registration><passive_backup/><passive_backup/></backup_registration>"),
        ParseErrorKind::DuplicateElement("passive_backup".into())
    );
}

#[test]
fn secondary_files_may_not_declare_active_or_restore() {
    let xml = r#"<backup_registration><active_backup process_name="x"/></backup_registration>"#;
    let r = parse_registration(xml, OWN, FileRole::Secondary).expect("parses");
    assert!(r.active.is_none());
    assert_eq!(
        r.warnings[0].kind,
        ParseErrorKind::MisplacedElement("active_backup".into())
    );
    let xml = r#"<backup_registration><restore requires_reboot="yes"/></backup_registration>"#;
    let r = parse_registration(xml, OWN, FileRole::Secondary).expect("parses");
    assert!(r.restore.is_none() && r.warnings.len() == 1);
}

#[test]
fn package_files_use_only_public_and_system_data() {
    let xml = r#"<backup_registration>
  <public_backup><include_directory name="c:\public\81113002\"/></public_backup>
  <proxy_data_manager sid="0x1"/>
  <active_backup process_name="x"/>
  <system_backup/>
  <restore/>
</backup_registration>"#;
    let r = parse_registration(xml, Sid(0x8111_3002), FileRole::Package).expect("parses");
    assert!(r.system_backup);
    assert!(r.public.is_some());
    assert!(r.active.is_none() && r.proxies.is_empty() && r.restore.is_none());
}

#[test]
fn merge_takes_flags_from_primary_and_paths_from_all() {
    let primary = parse(
        r#"<backup_registration><passive_backup base_backup_only="yes"><include_file name="a"/></passive_backup>
        <cenrep_backup/><restore requires_reboot="yes"/></backup_registration>"#,
    )
    .expect("primary");
    let secondary = parse_registration(
        r#"<backup_registration><passive_backup><include_file name="b"/><exclude name="c"/></passive_backup>
        <proxy_data_manager sid="0ab7e58c"/><dbms_backup policy="1"/><system_backup/></backup_registration>"#,
        OWN,
        FileRole::Secondary,
    )
    .expect("secondary");
    let reg = merge(OWN, primary, vec![secondary], CENTRAL_REPOSITORY_SID);
    let p = reg.passive.as_ref().expect("passive");
    assert!(p.base_backup_only);
    assert_eq!(
        p.includes,
        vec![Selection::File(cp("a")), Selection::File(cp("b"))]
    );
    assert_eq!(p.excludes, vec![cp("c")]);
    assert_eq!(reg.proxies, vec![CENTRAL_REPOSITORY_SID]);
    assert_eq!(reg.dbms, vec![DbmsPolicy(1)]);
    assert!(reg.system_backup && reg.restore.requires_reboot);
    assert!(reg.is_active() && reg.is_passive() && !reg.needs_process());
    assert!(!reg.passive_supports_incremental());
}

#[test]
fn cage_path_contains_only_whole_components() {
    assert!(cp("data").contains(&cp("data/x")));
    assert!(cp("data").contains(&cp("data")));
    assert!(!cp("data").contains(&cp("database")));
    assert!(CagePath::root().contains(&cp("anything")));
    assert_eq!(CagePath::parse_relative("a/./b//c/"), Some(cp("a/b/c")));
    assert_eq!(CagePath::parse_relative("a/../b"), None);
}

#[test]
fn sid_parses_hex_with_optional_prefix() {
    assert_eq!(Sid::parse_hex("0x10202BE9"), Some(Sid(0x1020_2BE9)));
    assert_eq!(Sid::parse_hex("0ab7e58c"), Some(Sid(0x0AB7_E58C)));
    assert_eq!(Sid::parse_hex("0x"), None);
    assert_eq!(Sid::parse_hex("-1"), None);
    assert_eq!(Sid(0xAB).to_string(), "000000ab");
}

mod discovery {
    use super::*;
    use std::fs;

    fn write(path: &std::path::Path, text: &str) {
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    #[test]
    fn left_out_elements_are_reported_with_their_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Drive::new('c', dir.path().join("c"));
        let cage = c.cage(Sid(0x1111_1111));
        write(
            &cage.join("backup_registration.xml"),
            "<backup_registration>\n<passive_backup><include_file name2=\"x\"/></passive_backup>\n</backup_registration>",
        );
        write(
            &cage.join("backup_registration_2.xml"),
            "<backup_registration>\n\n<dbms_backup/></backup_registration>",
        );
        let found = discover(&[c], CENTRAL_REPOSITORY_SID);
        assert!(found.errors.is_empty(), "{:?}", found.errors);
        let w = &found.owners[&Sid(0x1111_1111)].registration.warnings;
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("backup_registration.xml: line 2")
                && w[0].contains("needs attribute name"),
            "{w:?}"
        );
        assert!(
            w[1].contains("backup_registration_2.xml: line 3") && w[1].contains("policy"),
            "{w:?}"
        );
    }

    #[test]
    fn discovers_owners_on_every_drive_and_leaves_out_only_broken_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = Drive::new('C', dir.path().join("c"));
        let e = Drive::new('e', dir.path().join("e"));
        let good = r#"<backup_registration><passive_backup><include_directory name="\"/></passive_backup></backup_registration>"#;
        write(
            &c.cage(Sid(0x1111_1111)).join("backup_registration.xml"),
            good,
        );
        write(
            &e.cage(Sid(0x1111_1111))
                .join("backup_registration_extra.xml"),
            r#"<backup_registration><system_backup/></backup_registration>"#,
        );
        write(
            &e.cage(Sid(0x2222_2222)).join("backup_registration.xml"),
            "<backup_registration>\n<oops/>",
        );
        write(
            &e.cage(Sid(0x3333_3333)).join("backup_registration2.xml"),
            good,
        );
        write(
            &c.root.join("private/not-a-sid/backup_registration.xml"),
            good,
        );
        write(&c.cage(Sid(0x4444_4444)).join("other.xml"), "garbage");
        // A symlinked "cage" is not a cage.
        write(&dir.path().join("elsewhere/backup_registration.xml"), good);
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), c.cage(Sid(0x5555_5555)))
            .expect("symlink");
        write(
            &c.cage(ENGINE_SID)
                .join("import/packages/81113002/backup_registration.xml"),
            r#"<backup_registration><public_backup><include_file name="c:\public\a.txt"/></public_backup><system_backup/></backup_registration>"#,
        );
        write(
            &c.cage(ENGINE_SID)
                .join("import/packages/81113003/backup_registration.xml"),
            "<x",
        );

        let found = discover(&[c, e], CENTRAL_REPOSITORY_SID);
        // The package belongs to no owner: it is backed up on its own.
        assert_eq!(
            found.owners.keys().copied().collect::<Vec<_>>(),
            vec![Sid(0x1111_1111), Sid(0x8111_3002)]
        );
        let package = &found.owners[&Sid(0x8111_3002)].registration;
        assert!(package.system_backup && package.public.is_some());
        assert!(package.active.is_none() && package.passive.is_none());
        let owner = &found.owners[&Sid(0x1111_1111)];
        assert_eq!(owner.files.len(), 2);
        assert!(
            owner.registration.system_backup,
            "secondary file on drive e merged"
        );
        assert_eq!(found.packages.len(), 1);
        assert_eq!(found.packages[0].package_id, 0x8111_3002);

        let mut reasons: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        reasons.sort();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            reasons.iter().any(
                |r| r.contains("22222222") && r.contains("<backup_registration> is not closed")
            )
        );
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("33333333") && r.contains("no primary"))
        );
        assert!(reasons.iter().any(|r| r.contains("81113003")));
    }
}

#[test]
fn mutated_registration_files_never_panic() {
    let xml = r#"<?xml version="1.0"?>
<backup_registration version="1.0">
  <passive_backup supports_selective="yes"><include_directory name="\"/><exclude name="c"/></passive_backup>
  <public_backup><include_file name="!:\p\x"/></public_backup>
  <active_backup process_name="p" active_type="proxyonly" callback_delay_time="5"/>
  <proxy_data_manager SID="0x1"/><dbms_backup policy="2"/><system_backup/><restore requires_reboot="no"/>
</backup_registration>"#;
    assert!(parse(xml).is_ok());
    let bytes = xml.as_bytes();
    for at in 0..bytes.len() {
        for replacement in [b'<', b'>', b'"', b'/', b'\\', b'.', b'x', b' ', 0xC3] {
            let mut mutated = bytes.to_vec();
            mutated[at] = replacement;
            let text = String::from_utf8_lossy(&mutated);
            let _ = parse(&text);
        }
        if xml.is_char_boundary(at) {
            let _ = parse(&xml[..at]);
        }
    }
}

#[test]
fn a_huge_callback_delay_is_capped() {
    let xml = r#"<backup_registration><active_backup process_name="x" callback_delay_time="18446744073709551615"/></backup_registration>"#;
    let reg = parse_registration(xml, Sid(1), FileRole::Primary).expect("parses");
    assert_eq!(
        reg.active.expect("active").callback_delay,
        crate::registration::MAX_CALLBACK_DELAY
    );
}

#[test]
fn a_removable_drive_is_present_only_while_mounted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let card = tmp.path().join("card");
    std::fs::create_dir(&card).expect("mkdir");
    assert!(
        Drive::new('e', &card).is_present(),
        "a fixed drive is always there"
    );
    let removable = Drive::new('e', &card).on_removable_media();
    assert!(
        !removable.is_present(),
        "an empty mount point directory is not the card"
    );
    assert!(
        !Drive::new('e', tmp.path().join("gone"))
            .on_removable_media()
            .is_present()
    );
    // /proc is always a mount point of its own.
    assert!(Drive::new('e', "/proc").on_removable_media().is_present());
}
