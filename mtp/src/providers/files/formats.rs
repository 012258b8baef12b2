//! Object formats of files, chosen from the file name extension.

use std::ffi::OsStr;
use std::path::Path;

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

/// Returns the format of a file named `name` (Undefined for unknown extensions).
pub(super) fn of_file(name: &OsStr) -> F {
    let Some(ext) = Path::new(name).extension().and_then(OsStr::to_str) else {
        return F::Undefined;
    };
    BY_EXTENSION
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map_or(F::Undefined, |(_, f)| *f)
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
    fn all_formats_start_with_undefined_and_association_without_duplicates() {
        let all = all();
        assert_eq!(&all[..2], &[F::Undefined, F::Association]);
        let mut dedup = all.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), all.len());
    }
}
