//! The StorageInfo dataset.
//!
//! # Spec
//! PTP 15740 §5.5.3 table 8 "StorageInfo dataset"; MTP-NOTES §5.9 for the enums.

use bytes::BufMut;

use crate::codec::string::{parse_string, put_string};
use crate::codec::{ParseResult, le};

/// StorageType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
#[allow(missing_docs)]
pub enum StorageType {
    Undefined = 0,
    FixedRom = 1,
    RemovableRom = 2,
    FixedRam = 3,
    RemovableRam = 4,
}

/// FilesystemType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
#[allow(missing_docs)]
pub enum FilesystemType {
    Undefined = 0,
    GenericFlat = 1,
    GenericHierarchical = 2,
    Dcf = 3,
}

/// AccessCapability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
#[allow(missing_docs)]
pub enum AccessCapability {
    ReadWrite = 0,
    ReadOnly = 1,
    ReadOnlyWithDelete = 2,
}

/// StorageInfo as sent in response to GetStorageInfo. Enum fields are kept raw so a
/// dataset from any device parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageInfo {
    /// StorageType (see [`StorageType`]).
    pub storage_type: u16,
    /// FilesystemType (see [`FilesystemType`]).
    pub filesystem_type: u16,
    /// AccessCapability (see [`AccessCapability`]).
    pub access_capability: u16,
    /// MaxCapacity in bytes.
    pub max_capacity: u64,
    /// FreeSpaceInBytes.
    pub free_space_bytes: u64,
    /// FreeSpaceInObjects (0xFFFFFFFF = not used).
    pub free_space_objects: u32,
    /// StorageDescription.
    pub description: String,
    /// VolumeIdentifier.
    pub volume_identifier: String,
}

impl StorageInfo {
    /// Encodes the dataset.
    pub fn put(&self, b: &mut impl BufMut) {
        b.put_u16_le(self.storage_type);
        b.put_u16_le(self.filesystem_type);
        b.put_u16_le(self.access_capability);
        b.put_u64_le(self.max_capacity);
        b.put_u64_le(self.free_space_bytes);
        b.put_u32_le(self.free_space_objects);
        put_string(b, &self.description);
        put_string(b, &self.volume_identifier);
    }

    /// Parses the dataset.
    ///
    /// # Errors
    /// Truncation or bad strings.
    pub fn parse(i: &[u8]) -> ParseResult<'_, Self> {
        let (i, storage_type) = le::u16(i)?;
        let (i, filesystem_type) = le::u16(i)?;
        let (i, access_capability) = le::u16(i)?;
        let (i, max_capacity) = le::u64(i)?;
        let (i, free_space_bytes) = le::u64(i)?;
        let (i, free_space_objects) = le::u32(i)?;
        let (i, description) = parse_string(i)?;
        let (i, volume_identifier) = parse_string(i)?;
        Ok((
            i,
            Self {
                storage_type,
                filesystem_type,
                access_capability,
                max_capacity,
                free_space_bytes,
                free_space_objects,
                description,
                volume_identifier,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::parse_all;

    #[test]
    fn storage_info_round_trips_with_spec_layout() {
        let si = StorageInfo {
            storage_type: StorageType::FixedRam as u16,
            filesystem_type: FilesystemType::GenericHierarchical as u16,
            access_capability: AccessCapability::ReadWrite as u16,
            max_capacity: 0x1_0000_0000,
            free_space_bytes: 512,
            free_space_objects: 0xFFFF_FFFF,
            description: "D".into(),
            volume_identifier: String::new(),
        };
        let mut b = Vec::new();
        si.put(&mut b);
        #[rustfmt::skip]
        let expect: Vec<u8> = vec![
            3, 0, 2, 0, 0, 0,                 // FixedRAM, GenericHierarchical, RW
            0, 0, 0, 0, 1, 0, 0, 0,           // MaxCapacity 4 GiB
            0, 2, 0, 0, 0, 0, 0, 0,           // FreeSpaceInBytes 512
            0xFF, 0xFF, 0xFF, 0xFF,           // FreeSpaceInObjects unused
            2, b'D', 0, 0, 0, 0,              // "D", ""
        ];
        assert_eq!(b, expect);
        assert_eq!(parse_all(&b, StorageInfo::parse), Ok(si));
    }
}
