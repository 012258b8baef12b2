//! ObjectPropDesc and DevicePropDesc datasets with their forms.
//!
//! # Spec
//! MTP 1.1 §5.3.2.3 table 5-5 "ObjectPropDesc dataset" and table 5-6 (forms);
//! PTP 15740 §5.5.4 table 11 "DevicePropDesc dataset".

use bytes::BufMut;

use crate::codec::string::{parse_string, put_string};
use crate::codec::value::{PropValue, parse_value};
use crate::codec::{DataType, DecodeError, ParseResult, fail, le};

/// A property's form: what values it accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Form {
    /// 0x00: none.
    None,
    /// 0x01: a range (minimum, maximum, step), all of the property's datatype.
    Range {
        /// Minimum value.
        min: PropValue,
        /// Maximum value.
        max: PropValue,
        /// Step size.
        step: PropValue,
    },
    /// 0x02: one of a list of values.
    Enumeration(Vec<PropValue>),
    /// 0x03: a DateTime string.
    DateTime,
    /// 0x04: an array of fixed length.
    FixedLengthArray(u16),
    /// 0x05: a string matching a regular expression.
    RegularExpression(String),
    /// 0x06: a byte array of at most this length.
    ByteArray(u32),
    /// 0xFF: a long string of at most this many characters.
    LongString(u32),
}

impl Form {
    fn flag(&self) -> u8 {
        match self {
            Self::None => 0x00,
            Self::Range { .. } => 0x01,
            Self::Enumeration(_) => 0x02,
            Self::DateTime => 0x03,
            Self::FixedLengthArray(_) => 0x04,
            Self::RegularExpression(_) => 0x05,
            Self::ByteArray(_) => 0x06,
            Self::LongString(_) => 0xFF,
        }
    }

    fn put(&self, b: &mut impl BufMut) {
        b.put_u8(self.flag());
        match self {
            Self::None | Self::DateTime => {}
            Self::Range { min, max, step } => {
                min.put(b);
                max.put(b);
                step.put(b);
            }
            Self::Enumeration(values) => {
                b.put_u16_le(values.len() as u16);
                for v in values {
                    v.put(b);
                }
            }
            Self::FixedLengthArray(n) => b.put_u16_le(*n),
            Self::RegularExpression(s) => put_string(b, s),
            Self::ByteArray(n) | Self::LongString(n) => b.put_u32_le(*n),
        }
    }

    fn parse(i: &[u8], dt: DataType) -> ParseResult<'_, Self> {
        let (i, flag) = le::u8(i)?;
        match flag {
            0x00 => Ok((i, Self::None)),
            0x01 => {
                let (i, min) = parse_value(i, dt)?;
                let (i, max) = parse_value(i, dt)?;
                let (i, step) = parse_value(i, dt)?;
                Ok((i, Self::Range { min, max, step }))
            }
            0x02 => {
                let (mut i, n) = le::u16(i)?;
                let mut values = Vec::with_capacity(usize::from(n).min(i.len()));
                for _ in 0..n {
                    let (rest, v) = parse_value(i, dt)?;
                    values.push(v);
                    i = rest;
                }
                Ok((i, Self::Enumeration(values)))
            }
            0x03 => Ok((i, Self::DateTime)),
            0x04 => le::u16(i).map(|(i, n)| (i, Self::FixedLengthArray(n))),
            0x05 => parse_string(i).map(|(i, s)| (i, Self::RegularExpression(s))),
            0x06 => le::u32(i).map(|(i, n)| (i, Self::ByteArray(n))),
            0xFF => le::u32(i).map(|(i, n)| (i, Self::LongString(n))),
            other => fail(DecodeError::BadForm(other)),
        }
    }
}

/// ObjectPropDesc, sent for GetObjectPropDesc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPropDesc {
    /// PropertyCode.
    pub code: u16,
    /// Datatype.
    pub data_type: DataType,
    /// Get/Set: false = read-only, true = read-write.
    pub writable: bool,
    /// DefaultValue (of `data_type`).
    pub default: PropValue,
    /// GroupCode.
    pub group: u32,
    /// Form.
    pub form: Form,
}

impl ObjectPropDesc {
    /// Encodes the dataset.
    pub fn put(&self, b: &mut impl BufMut) {
        b.put_u16_le(self.code);
        b.put_u16_le(self.data_type.to_u16());
        b.put_u8(u8::from(self.writable));
        self.default.put(b);
        b.put_u32_le(self.group);
        self.form.put(b);
    }

    /// Parses the dataset.
    ///
    /// # Errors
    /// Truncation, undecodable datatypes, unknown form flags.
    pub fn parse(i: &[u8]) -> ParseResult<'_, Self> {
        let (i, code) = le::u16(i)?;
        let (i, dt) = le::u16(i)?;
        let data_type = DataType::from_u16(dt);
        let (i, get_set) = le::u8(i)?;
        let (i, default) = parse_value(i, data_type)?;
        let (i, group) = le::u32(i)?;
        let (i, form) = Form::parse(i, data_type)?;
        Ok((
            i,
            Self {
                code,
                data_type,
                writable: get_set != 0,
                default,
                group,
                form,
            },
        ))
    }
}

/// DevicePropDesc, sent for GetDevicePropDesc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePropDesc {
    /// DevicePropertyCode.
    pub code: u16,
    /// Datatype.
    pub data_type: DataType,
    /// Get/Set.
    pub writable: bool,
    /// FactoryDefaultValue.
    pub factory_default: PropValue,
    /// CurrentValue.
    pub current: PropValue,
    /// Form.
    pub form: Form,
}

impl DevicePropDesc {
    /// Encodes the dataset.
    pub fn put(&self, b: &mut impl BufMut) {
        b.put_u16_le(self.code);
        b.put_u16_le(self.data_type.to_u16());
        b.put_u8(u8::from(self.writable));
        self.factory_default.put(b);
        self.current.put(b);
        self.form.put(b);
    }

    /// Parses the dataset.
    ///
    /// # Errors
    /// Truncation, undecodable datatypes, unknown form flags.
    pub fn parse(i: &[u8]) -> ParseResult<'_, Self> {
        let (i, code) = le::u16(i)?;
        let (i, dt) = le::u16(i)?;
        let data_type = DataType::from_u16(dt);
        let (i, get_set) = le::u8(i)?;
        let (i, factory_default) = parse_value(i, data_type)?;
        let (i, current) = parse_value(i, data_type)?;
        let (i, form) = Form::parse(i, data_type)?;
        Ok((
            i,
            Self {
                code,
                data_type,
                writable: get_set != 0,
                factory_default,
                current,
                form,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::parse_all;

    #[test]
    fn object_size_desc_is_uint64_with_spec_layout() {
        let d = ObjectPropDesc {
            code: 0xDC04,
            data_type: DataType::Uint64,
            writable: false,
            default: PropValue::U64(0),
            group: 0,
            form: Form::None,
        };
        let mut b = Vec::new();
        d.put(&mut b);
        #[rustfmt::skip]
        let expect = [0x04, 0xDC, 0x08, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00];
        assert_eq!(b, expect);
        assert_eq!(parse_all(&b, ObjectPropDesc::parse), Ok(d));
    }

    #[test]
    fn every_form_round_trips() {
        let forms = [
            (
                DataType::Uint8,
                Form::Range {
                    min: PropValue::U8(0),
                    max: PropValue::U8(100),
                    step: PropValue::U8(1),
                },
            ),
            (
                DataType::Uint16,
                Form::Enumeration(vec![PropValue::U16(0), PropValue::U16(1)]),
            ),
            (DataType::Str, Form::DateTime),
            (DataType::Auint8, Form::FixedLengthArray(16)),
            (DataType::Str, Form::RegularExpression("[a-z]+".into())),
            (DataType::Auint8, Form::ByteArray(1024)),
            (DataType::Auint16, Form::LongString(4096)),
        ];
        for (dt, form) in forms {
            let default = match dt {
                DataType::Uint8 => PropValue::U8(0),
                DataType::Uint16 => PropValue::U16(0),
                DataType::Str => PropValue::Str(String::new()),
                other => PropValue::Array(other, vec![]),
            };
            let d = ObjectPropDesc {
                code: 0xDC44,
                data_type: dt,
                writable: true,
                default,
                group: 0,
                form,
            };
            let mut b = Vec::new();
            d.put(&mut b);
            assert_eq!(parse_all(&b, ObjectPropDesc::parse), Ok(d));
        }
    }

    #[test]
    fn battery_level_device_prop_desc_matches_spec_layout() {
        let d = DevicePropDesc {
            code: 0x5001,
            data_type: DataType::Uint8,
            writable: false,
            factory_default: PropValue::U8(100),
            current: PropValue::U8(80),
            form: Form::Range {
                min: PropValue::U8(0),
                max: PropValue::U8(100),
                step: PropValue::U8(1),
            },
        };
        let mut b = Vec::new();
        d.put(&mut b);
        assert_eq!(b, [0x01, 0x50, 0x02, 0x00, 0x00, 100, 80, 0x01, 0, 100, 1]);
        assert_eq!(parse_all(&b, DevicePropDesc::parse), Ok(d));
    }

    #[test]
    fn unknown_form_flag_is_an_error() {
        let b = [0x01, 0x50, 0x02, 0x00, 0x00, 1, 1, 0x07];
        assert_eq!(
            parse_all(&b, DevicePropDesc::parse),
            Err(DecodeError::BadForm(7))
        );
    }
}
