//! The DeviceInfo dataset.
//!
//! # Spec
//! PTP 15740 §5.5.1 table 3 "DeviceInfo dataset"; MTP 1.1 §5.1.1.

use bytes::BufMut;

use crate::codec::array::{parse_u16_array, put_u16_array};
use crate::codec::string::{parse_string, put_string};
use crate::codec::{ParseResult, le};

/// DeviceInfo as sent in response to GetDeviceInfo.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInfo {
    /// StandardVersion (100 = 1.00).
    pub standard_version: u16,
    /// VendorExtensionID (6 = Microsoft, which MTP uses).
    pub vendor_extension_id: u32,
    /// VendorExtensionVersion (100).
    pub vendor_extension_version: u16,
    /// VendorExtensionDesc, e.g. `microsoft.com: 1.0;`.
    pub vendor_extension_desc: String,
    /// FunctionalMode.
    pub functional_mode: u16,
    /// OperationsSupported.
    pub operations: Vec<u16>,
    /// EventsSupported.
    pub events: Vec<u16>,
    /// DevicePropertiesSupported.
    pub device_properties: Vec<u16>,
    /// CaptureFormats.
    pub capture_formats: Vec<u16>,
    /// PlaybackFormats.
    pub playback_formats: Vec<u16>,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// DeviceVersion.
    pub device_version: String,
    /// SerialNumber.
    pub serial_number: String,
}

impl DeviceInfo {
    /// Encodes the dataset.
    pub fn put(&self, b: &mut impl BufMut) {
        b.put_u16_le(self.standard_version);
        b.put_u32_le(self.vendor_extension_id);
        b.put_u16_le(self.vendor_extension_version);
        put_string(b, &self.vendor_extension_desc);
        b.put_u16_le(self.functional_mode);
        for list in [
            &self.operations,
            &self.events,
            &self.device_properties,
            &self.capture_formats,
            &self.playback_formats,
        ] {
            put_u16_array(b, list.iter().copied());
        }
        for s in [
            &self.manufacturer,
            &self.model,
            &self.device_version,
            &self.serial_number,
        ] {
            put_string(b, s);
        }
    }

    /// Parses the dataset.
    ///
    /// # Errors
    /// Truncation, bad strings, oversized arrays.
    pub fn parse(i: &[u8]) -> ParseResult<'_, Self> {
        let (i, standard_version) = le::u16(i)?;
        let (i, vendor_extension_id) = le::u32(i)?;
        let (i, vendor_extension_version) = le::u16(i)?;
        let (i, vendor_extension_desc) = parse_string(i)?;
        let (i, functional_mode) = le::u16(i)?;
        let (i, operations) = parse_u16_array(i)?;
        let (i, events) = parse_u16_array(i)?;
        let (i, device_properties) = parse_u16_array(i)?;
        let (i, capture_formats) = parse_u16_array(i)?;
        let (i, playback_formats) = parse_u16_array(i)?;
        let (i, manufacturer) = parse_string(i)?;
        let (i, model) = parse_string(i)?;
        let (i, device_version) = parse_string(i)?;
        let (i, serial_number) = parse_string(i)?;
        Ok((
            i,
            Self {
                standard_version,
                vendor_extension_id,
                vendor_extension_version,
                vendor_extension_desc,
                functional_mode,
                operations,
                events,
                device_properties,
                capture_formats,
                playback_formats,
                manufacturer,
                model,
                device_version,
                serial_number,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::parse_all;

    #[test]
    fn device_info_round_trips_with_spec_layout() {
        let di = DeviceInfo {
            standard_version: 100,
            vendor_extension_id: 6,
            vendor_extension_version: 100,
            vendor_extension_desc: "m".into(),
            functional_mode: 0,
            operations: vec![0x1001],
            events: vec![],
            device_properties: vec![0xD402],
            capture_formats: vec![],
            playback_formats: vec![0x3000],
            manufacturer: String::new(),
            model: "M".into(),
            device_version: String::new(),
            serial_number: String::new(),
        };
        let mut b = Vec::new();
        di.put(&mut b);
        #[rustfmt::skip]
        let expect: Vec<u8> = vec![
            100, 0, 6, 0, 0, 0, 100, 0,           // StandardVersion, VendorExtensionID, Version
            2, b'm', 0, 0, 0,                     // VendorExtensionDesc "m"
            0, 0,                                 // FunctionalMode
            1, 0, 0, 0, 0x01, 0x10,               // OperationsSupported [0x1001]
            0, 0, 0, 0,                           // EventsSupported []
            1, 0, 0, 0, 0x02, 0xD4,               // DevicePropertiesSupported [0xD402]
            0, 0, 0, 0,                           // CaptureFormats []
            1, 0, 0, 0, 0x00, 0x30,               // PlaybackFormats [0x3000]
            0, 2, b'M', 0, 0, 0, 0, 0,            // Manufacturer "", Model "M", Version "", Serial ""
        ];
        assert_eq!(b, expect);
        assert_eq!(parse_all(&b, DeviceInfo::parse), Ok(di));
    }
}
