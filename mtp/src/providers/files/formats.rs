//! Object formats of files, chosen from the file name extension.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::codec::ObjectFormat as F;

/// Extensions (lowercase) and their formats.
const BY_EXTENSION: &[(&str, F)] = &[
    ("txt", F::Text),
    ("htm", F::Html),
    ("html", F::Html),
    ("wav", F::Wav),
    ("mp3", F::Mp3),
    ("avi", F::Avi),
    ("mpg", F::Mpeg),
    ("mpeg", F::Mpeg),
    ("asf", F::Asf),
    ("aif", F::Aiff),
    ("aiff", F::Aiff),
    ("jpg", F::ExifJpeg),
    ("jpeg", F::ExifJpeg),
    ("bmp", F::Bmp),
    ("gif", F::Gif),
    ("png", F::Png),
    ("tif", F::Tiff),
    ("tiff", F::Tiff),
    ("dng", F::Dng),
    ("heic", F::Heif),
    ("heif", F::Heif),
    ("wma", F::Wma),
    ("ogg", F::Ogg),
    ("oga", F::Ogg),
    ("aac", F::Aac),
    ("flac", F::Flac),
    ("wmv", F::Wmv),
    ("mp4", F::Mp4Container),
    ("m4a", F::Mp4Container),
    ("m4v", F::Mp4Container),
    ("3gp", F::ThreeGpContainer),
    ("m3u", F::M3uPlaylist),
    ("pls", F::PlsPlaylist),
    ("xml", F::XmlDocument),
    ("doc", F::MsWordDocument),
    ("xls", F::MsExcelSpreadsheet),
    ("ppt", F::MsPowerpointPresentation),
    ("vcf", F::VCard2),
];

/// An extension of up to four bytes as one number, a byte per place (file names hold no
/// NUL, so no two extensions share one).
const fn key(ext: &[u8]) -> u32 {
    let mut k = 0;
    let mut i = 0;
    while i < ext.len() {
        k = k << 8 | ext[i] as u32;
        i += 1;
    }
    k
}

/// The table's extensions as keys, in its order.
const KEYS: [u32; BY_EXTENSION.len()] = {
    let mut keys = [0; BY_EXTENSION.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = key(BY_EXTENSION[i].0.as_bytes());
        i += 1;
    }
    keys
};

/// Returns the format of a file named `name` (Undefined for unknown extensions).
///
/// Asked for every object record, so the extension is found in the name's bytes (as
/// `Path::extension` would: after the last dot, not a leading one), lowercased once and
/// compared as a number.
pub(super) fn of_file(name: &OsStr) -> F {
    let name = name.as_bytes();
    let ext = match name.iter().rposition(|&c| c == b'.') {
        Some(dot) if dot > 0 => &name[dot + 1..],
        _ => return F::Undefined,
    };
    if ext.is_empty() || ext.len() > 4 {
        return F::Undefined; // no extension, or longer than every one in the table
    }
    let want = ext
        .iter()
        .fold(0, |k, c| k << 8 | u32::from(c.to_ascii_lowercase()));
    KEYS.iter()
        .position(|k| *k == want)
        .map_or(F::Undefined, |i| BY_EXTENSION[i].1)
}

/// Returns every format the provider reports: Undefined, Association and the table's.
pub(super) fn all() -> Vec<F> {
    let mut v = vec![F::Undefined, F::Association];
    for (_, f) in BY_EXTENSION {
        if !v.contains(f) {
            v.push(*f);
        }
    }
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn format_comes_from_the_extension_case_insensitively() {
        assert_eq!(of_file(OsStr::new("a.JPG")), F::ExifJpeg);
        assert_eq!(of_file(OsStr::new("song.flac")), F::Flac);
        assert_eq!(of_file(OsStr::new("noext")), F::Undefined);
        assert_eq!(of_file(OsStr::new("x.unknown")), F::Undefined);
    }

    #[test]
    fn the_extension_is_found_as_path_extension_finds_it() {
        use std::os::unix::ffi::OsStrExt;
        let slow = |name: &OsStr| {
            let ext = std::path::Path::new(name)
                .extension()
                .and_then(OsStr::to_str);
            ext.and_then(|x| BY_EXTENSION.iter().find(|(e, _)| e.eq_ignore_ascii_case(x)))
                .map_or(F::Undefined, |(_, f)| *f)
        };
        let names: [&[u8]; 13] = [
            b".txt",
            b"a.tar.TXT",
            b"x.",
            b"x.html",
            b"x.jpegs",
            b"x..Png",
            b"..",
            b".",
            b"a.b.c",
            b"\xff.txt",
            b"x.t\xffxt",
            b"x.mp4",
            b"x.M4a",
        ];
        for n in names {
            let n = OsStr::from_bytes(n);
            assert_eq!(of_file(n), slow(n), "{n:?}");
        }
        assert_eq!(of_file(OsStr::new("a.tar.TXT")), F::Text);
        assert_eq!(of_file(OsStr::new(".txt")), F::Undefined);
        for (e, f) in BY_EXTENSION {
            assert_eq!(
                of_file(OsStr::new(&format!("x.{}", e.to_uppercase()))),
                *f,
                "{e}"
            );
        }
    }

    #[test]
    fn all_formats_start_with_undefined_and_association_without_duplicates() {
        let all = all();
        assert_eq!(&all[..2], &[F::Undefined, F::Association]);
        let mut dedup = all.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), all.len());
    }
}
