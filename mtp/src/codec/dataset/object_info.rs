//! The ObjectInfo dataset.
//!
//! # Spec
//! PTP 15740 §5.5.2 table 6 "ObjectInfo dataset"; MTP 1.1 §5.3.1.

use bytes::BufMut;

use crate::codec::string::{parse_string, put_string};
use crate::codec::{ParseResult, le};

/// ObjectInfo, sent for GetObjectInfo and received in SendObjectInfo.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectInfo {
    /// StorageID.
    pub storage_id: u32,
    /// ObjectFormat.
    pub format: u16,
    /// ProtectionStatus.
    pub protection_status: u16,
    /// ObjectCompressedSize (0xFFFFFFFF for 4 GiB or more).
    pub compressed_size: u32,
    /// ThumbFormat.
    pub thumb_format: u16,
    /// ThumbCompressedSize.
    pub thumb_compressed_size: u32,
    /// ThumbPixWidth.
    pub thumb_pix_width: u32,
    /// ThumbPixHeight.
    pub thumb_pix_height: u32,
    /// ImagePixWidth.
    pub image_pix_width: u32,
    /// ImagePixHeight.
    pub image_pix_height: u32,
    /// ImageBitDepth.
    pub image_bit_depth: u32,
    /// ParentObject (0 for objects in the storage root).
    pub parent: u32,
    /// AssociationType (1 = GenericFolder).
    pub association_type: u16,
    /// AssociationDesc.
    pub association_desc: u32,
    /// SequenceNumber.
    pub sequence_number: u32,
    /// Filename.
    pub filename: String,
    /// DateCreated (DateTime string, may be empty).
    pub date_created: String,
    /// DateModified (DateTime string, may be empty).
    pub date_modified: String,
    /// Keywords.
    pub keywords: String,
}

impl ObjectInfo {
    /// Encodes the dataset.
    pub fn put(&self, b: &mut impl BufMut) {
        b.put_u32_le(self.storage_id);
        b.put_u16_le(self.format);
        b.put_u16_le(self.protection_status);
        b.put_u32_le(self.compressed_size);
        b.put_u16_le(self.thumb_format);
        for v in [
            self.thumb_compressed_size,
            self.thumb_pix_width,
            self.thumb_pix_height,
            self.image_pix_width,
            self.image_pix_height,
            self.image_bit_depth,
            self.parent,
        ] {
            b.put_u32_le(v);
        }
        b.put_u16_le(self.association_type);
        b.put_u32_le(self.association_desc);
        b.put_u32_le(self.sequence_number);
        for s in [
            &self.filename,
            &self.date_created,
            &self.date_modified,
            &self.keywords,
        ] {
            put_string(b, s);
        }
    }

    /// Parses the dataset. Hosts may omit trailing strings (some send no Keywords); missing
    /// trailing strings parse as empty.
    ///
    /// # Errors
    /// Truncation in the fixed part or the filename, bad strings.
    pub fn parse(i: &[u8]) -> ParseResult<'_, Self> {
        let (i, storage_id) = le::u32(i)?;
        let (i, format) = le::u16(i)?;
        let (i, protection_status) = le::u16(i)?;
        let (i, compressed_size) = le::u32(i)?;
        let (i, thumb_format) = le::u16(i)?;
        let (i, thumb_compressed_size) = le::u32(i)?;
        let (i, thumb_pix_width) = le::u32(i)?;
        let (i, thumb_pix_height) = le::u32(i)?;
        let (i, image_pix_width) = le::u32(i)?;
        let (i, image_pix_height) = le::u32(i)?;
        let (i, image_bit_depth) = le::u32(i)?;
        let (i, parent) = le::u32(i)?;
        let (i, association_type) = le::u16(i)?;
        let (i, association_desc) = le::u32(i)?;
        let (i, sequence_number) = le::u32(i)?;
        let (i, filename) = parse_string(i)?;
        let (i, date_created) = optional_string(i)?;
        let (i, date_modified) = optional_string(i)?;
        let (i, keywords) = optional_string(i)?;
        Ok((
            i,
            Self {
                storage_id,
                format,
                protection_status,
                compressed_size,
                thumb_format,
                thumb_compressed_size,
                thumb_pix_width,
                thumb_pix_height,
                image_pix_width,
                image_pix_height,
                image_bit_depth,
                parent,
                association_type,
                association_desc,
                sequence_number,
                filename,
                date_created,
                date_modified,
                keywords,
            },
        ))
    }
}

fn optional_string(i: &[u8]) -> ParseResult<'_, String> {
    if i.is_empty() {
        Ok((i, String::new()))
    } else {
        parse_string(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{DecodeError, parse_all};

    fn sample() -> ObjectInfo {
        ObjectInfo {
            storage_id: 0x0001_0001,
            format: 0x3000,
            compressed_size: 5,
            parent: 0,
            filename: "a".into(),
            date_modified: "19700101T000000".into(),
            ..ObjectInfo::default()
        }
    }

    #[test]
    fn object_info_round_trips_with_spec_layout() {
        let oi = sample();
        let mut b = Vec::new();
        oi.put(&mut b);
        assert_eq!(&b[..4], &[1, 0, 1, 0]);
        assert_eq!(&b[4..6], &[0x00, 0x30]);
        assert_eq!(&b[8..12], &[5, 0, 0, 0]);
        // 52 bytes fixed, then Filename "a" = count 2 + "a\0".
        assert_eq!(&b[52..57], &[2, b'a', 0, 0, 0]);
        assert_eq!(parse_all(&b, ObjectInfo::parse), Ok(oi));
    }

    #[test]
    fn missing_trailing_strings_parse_as_empty_but_truncated_fixed_part_fails() {
        let mut b = Vec::new();
        sample().put(&mut b);
        let upto_name = &b[..57];
        let oi = parse_all(upto_name, ObjectInfo::parse).unwrap();
        assert_eq!(oi.filename, "a");
        assert_eq!(oi.date_modified, "");
        assert_eq!(
            parse_all(&b[..30], ObjectInfo::parse),
            Err(DecodeError::Truncated)
        );
    }
}
