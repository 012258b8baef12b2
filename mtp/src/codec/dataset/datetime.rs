//! The MTP DateTime string `YYYYMMDDThhmmss[.s][Z|±hhmm]`, converted to and from Unix
//! seconds (UTC).
//!
//! # Spec
//! PTP 15740 §5.5.5 "DateTime"; MTP 1.1 §3.2.5.

/// The first instant a DateTime can name: 0000-01-01T00:00:00 UTC.
pub const MIN_SECS: i64 = -62_167_219_200;
/// The last instant a DateTime can name: 9999-12-31T23:59:59 UTC.
pub const MAX_SECS: i64 = 253_402_300_799;

/// Formats Unix seconds as `YYYYMMDDThhmmss` (UTC, no zone suffix: what most hosts parse).
///
/// Instants outside years 0000 to 9999 (a file's mtime can be anything) are clamped to
/// [`MIN_SECS`] or [`MAX_SECS`], so the string always has the four-digit year it must.
pub fn format(unix_secs: i64) -> String {
    let unix_secs = unix_secs.clamp(MIN_SECS, MAX_SECS);
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    // Digits by hand: `format!` cost about half of a GetObjectInfo's instructions (two
    // dates per object; callgrind, docs/BENCHMARKS.md "The ceiling").
    let mut out = [b'T'; 15];
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, y);
    put(4, 2, m);
    put(6, 2, d);
    put(9, 2, secs / 3600);
    put(11, 2, (secs % 3600) / 60);
    put(13, 2, secs % 60);
    std::str::from_utf8(&out).map_or_else(|_| String::new(), str::to_owned)
}

/// Parses a DateTime string into Unix seconds; a zone offset is applied, no zone is UTC.
/// Returns `None` for anything malformed, and for an offset that moves the instant out of
/// years 0000 to 9999 (no DateTime could name it back).
pub fn parse(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 15 || b[8] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[15..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &r[n..];
    }
    let offset = match rest.as_bytes() {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), ..] if rest.len() == 5 => {
            let hh: i64 = rest.get(1..3)?.parse().ok()?;
            let mm: i64 = rest.get(3..5)?.parse().ok()?;
            let o = hh * 3600 + mm * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    (MIN_SECS..=MAX_SECS).contains(&secs).then_some(secs)
}

// Howard Hinnant's civil calendar algorithms (public domain description).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_known_instants() {
        assert_eq!(format(0), "19700101T000000");
        assert_eq!(format(1_795_000_000), "20261118T110640");
        assert_eq!(parse("19700101T000000"), Some(0));
        assert_eq!(parse("20261118T110640Z"), Some(1_795_000_000));
        assert_eq!(parse("20261118T110640.5"), Some(1_795_000_000));
        assert_eq!(parse("20261118T130640+0200"), Some(1_795_000_000));
        assert_eq!(parse("20000229T120000"), Some(951_825_600));
    }

    #[test]
    fn format_clamps_instants_outside_years_0000_to_9999() {
        assert_eq!(format(MIN_SECS), "00000101T000000");
        assert_eq!(format(MAX_SECS), "99991231T235959");
        assert_eq!(format(MIN_SECS - 1), "00000101T000000");
        assert_eq!(format(i64::MIN), "00000101T000000");
        assert_eq!(format(i64::MAX), "99991231T235959");
    }

    #[test]
    fn parse_rejects_offsets_that_leave_years_0000_to_9999() {
        // The mtp_datasets fuzz target's round-trip check: these parsed, but formatted
        // as "-0001…" and "10000…", which do not parse.
        assert_eq!(parse("00000101T000000+0100"), None);
        assert_eq!(parse("99991231T235959-2359"), None);
        assert_eq!(parse("00000101T000000Z"), Some(MIN_SECS));
        assert_eq!(parse("99991231T235959Z"), Some(MAX_SECS));
    }

    #[test]
    fn rejects_malformed_strings() {
        for s in [
            "",
            "2026",
            "20261119 075320",
            "20261319T000000",
            "2026111xT000000",
            "20261119T000000Q",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
    }
}
