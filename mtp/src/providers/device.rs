//! The device provider: the identity strings of DeviceInfo and the device properties
//! (DeviceFriendlyName and SynchronizationPartner settable, BatteryLevel when the board has
//! a battery).
//!
//! # Spec
//! PTP 15740 §13 device properties; MTP 1.1 appendix C. BatteryLevel is UINT8 with a
//! range form 0..=100 (libmtp reads the range maximum as UINT8).

use crate::codec::dataset::{DevicePropDesc, Form};
use crate::codec::value::PropValue;
use crate::codec::{DataType, DevicePropCode, ResponseCode};

/// The strings DeviceInfo reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// DeviceVersion (firmware version).
    pub version: String,
    /// SerialNumber.
    pub serial: String,
}

type BatteryFn = Box<dyn FnMut() -> Option<u8> + Send>;
type NameHook = Box<dyn FnMut(&str) + Send>;

/// Identity plus device properties.
pub struct DeviceProvider {
    identity: DeviceIdentity,
    friendly_name: String,
    default_friendly_name: String,
    sync_partner: String,
    battery: Option<BatteryFn>,
    on_name_change: Option<NameHook>,
}

impl std::fmt::Debug for DeviceProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceProvider")
            .field("identity", &self.identity)
            .field("friendly_name", &self.friendly_name)
            .field("battery", &self.battery.is_some())
            .finish_non_exhaustive()
    }
}

impl DeviceProvider {
    /// Creates the provider; the friendly name starts as (and resets to) the model name.
    pub fn new(identity: DeviceIdentity) -> Self {
        let name = identity.model.clone();
        Self {
            identity,
            friendly_name: name.clone(),
            default_friendly_name: name,
            sync_partner: String::new(),
            battery: None,
            on_name_change: None,
        }
    }

    /// Sets the current friendly name (e.g. one restored from a previous run).
    pub fn with_friendly_name(mut self, name: impl Into<String>) -> Self {
        self.friendly_name = name.into();
        self
    }

    /// Adds BatteryLevel, read from `read` (percent; `None` = unknown, reported as 0).
    pub fn with_battery(mut self, read: impl FnMut() -> Option<u8> + Send + 'static) -> Self {
        self.battery = Some(Box::new(read));
        self
    }

    /// Calls `hook` whenever the host changes the friendly name (to persist it).
    pub fn on_friendly_name_change(mut self, hook: impl FnMut(&str) + Send + 'static) -> Self {
        self.on_name_change = Some(Box::new(hook));
        self
    }

    /// Returns the identity strings.
    pub fn identity(&self) -> &DeviceIdentity {
        &self.identity
    }

    /// Returns the current friendly name.
    pub fn friendly_name(&self) -> &str {
        &self.friendly_name
    }

    /// Returns the supported device properties, in DeviceInfo order.
    pub fn supported(&self) -> Vec<DevicePropCode> {
        let mut v = Vec::new();
        if self.battery.is_some() {
            v.push(DevicePropCode::BatteryLevel);
        }
        v.push(DevicePropCode::SynchronizationPartner);
        v.push(DevicePropCode::DeviceFriendlyName);
        v
    }

    /// Returns the DevicePropDesc of `code`.
    ///
    /// # Errors
    /// DevicePropNotSupported.
    pub fn desc(&mut self, code: DevicePropCode) -> Result<DevicePropDesc, ResponseCode> {
        let current = self.value(code)?;
        Ok(match code {
            DevicePropCode::BatteryLevel => DevicePropDesc {
                code: code.to_u16(),
                data_type: DataType::Uint8,
                writable: false,
                factory_default: PropValue::U8(100),
                current,
                form: Form::Range {
                    min: PropValue::U8(0),
                    max: PropValue::U8(100),
                    step: PropValue::U8(1),
                },
            },
            DevicePropCode::DeviceFriendlyName => DevicePropDesc {
                code: code.to_u16(),
                data_type: DataType::Str,
                writable: true,
                factory_default: PropValue::Str(self.default_friendly_name.clone()),
                current,
                form: Form::None,
            },
            _ => DevicePropDesc {
                code: code.to_u16(),
                data_type: DataType::Str,
                writable: true,
                factory_default: PropValue::Str(String::new()),
                current,
                form: Form::None,
            },
        })
    }

    /// Returns the current value of `code`.
    ///
    /// # Errors
    /// DevicePropNotSupported.
    pub fn value(&mut self, code: DevicePropCode) -> Result<PropValue, ResponseCode> {
        match code {
            DevicePropCode::BatteryLevel => match self.battery.as_mut() {
                Some(read) => Ok(PropValue::U8(read().unwrap_or(0).min(100))),
                None => Err(ResponseCode::DevicePropNotSupported),
            },
            DevicePropCode::DeviceFriendlyName => Ok(PropValue::Str(self.friendly_name.clone())),
            DevicePropCode::SynchronizationPartner => Ok(PropValue::Str(self.sync_partner.clone())),
            _ => Err(ResponseCode::DevicePropNotSupported),
        }
    }

    /// Returns the datatype of `code`, for decoding SetDevicePropValue data.
    ///
    /// # Errors
    /// DevicePropNotSupported.
    pub fn data_type(&self, code: DevicePropCode) -> Result<DataType, ResponseCode> {
        match code {
            DevicePropCode::BatteryLevel if self.battery.is_some() => Ok(DataType::Uint8),
            DevicePropCode::DeviceFriendlyName | DevicePropCode::SynchronizationPartner => {
                Ok(DataType::Str)
            }
            _ => Err(ResponseCode::DevicePropNotSupported),
        }
    }

    /// Sets `code` to `value`.
    ///
    /// # Errors
    /// DevicePropNotSupported, AccessDenied (read-only), InvalidDevicePropFormat.
    pub fn set(&mut self, code: DevicePropCode, value: PropValue) -> Result<(), ResponseCode> {
        self.data_type(code)?;
        let PropValue::Str(s) = value else {
            return Err(match code {
                DevicePropCode::BatteryLevel => ResponseCode::AccessDenied,
                _ => ResponseCode::InvalidDevicePropFormat,
            });
        };
        match code {
            DevicePropCode::DeviceFriendlyName => {
                if s.is_empty() || s.chars().any(char::is_control) {
                    return Err(ResponseCode::InvalidDevicePropValue);
                }
                self.friendly_name = s;
                if let Some(hook) = self.on_name_change.as_mut() {
                    hook(&self.friendly_name);
                }
                Ok(())
            }
            DevicePropCode::SynchronizationPartner => {
                self.sync_partner = s;
                Ok(())
            }
            _ => Err(ResponseCode::AccessDenied),
        }
    }

    /// Resets `code` (or every property for 0xFFFFFFFF, given as `None`) to its default.
    ///
    /// # Errors
    /// DevicePropNotSupported, AccessDenied.
    pub fn reset(&mut self, code: Option<DevicePropCode>) -> Result<(), ResponseCode> {
        let codes = match code {
            Some(c) => vec![c],
            None => vec![
                DevicePropCode::DeviceFriendlyName,
                DevicePropCode::SynchronizationPartner,
            ],
        };
        for c in codes {
            match c {
                DevicePropCode::DeviceFriendlyName => {
                    let name = self.default_friendly_name.clone();
                    self.set(c, PropValue::Str(name))?;
                }
                DevicePropCode::SynchronizationPartner => self.sync_partner.clear(),
                DevicePropCode::BatteryLevel if self.battery.is_some() => {
                    return Err(ResponseCode::AccessDenied);
                }
                _ => return Err(ResponseCode::DevicePropNotSupported),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn device() -> DeviceProvider {
        DeviceProvider::new(DeviceIdentity {
            manufacturer: "M".into(),
            model: "Board".into(),
            version: "1".into(),
            serial: "S".into(),
        })
    }

    #[test]
    fn friendly_name_is_settable_resettable_and_persisted_through_the_hook() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let mut d =
            device().on_friendly_name_change(move |n| s2.lock().unwrap().push(n.to_string()));
        d.set(
            DevicePropCode::DeviceFriendlyName,
            PropValue::Str("Kitchen".into()),
        )
        .unwrap();
        assert_eq!(d.friendly_name(), "Kitchen");
        d.reset(Some(DevicePropCode::DeviceFriendlyName)).unwrap();
        assert_eq!(d.friendly_name(), "Board");
        assert_eq!(*seen.lock().unwrap(), ["Kitchen", "Board"]);
        assert_eq!(
            d.set(DevicePropCode::DeviceFriendlyName, PropValue::U8(1)),
            Err(ResponseCode::InvalidDevicePropFormat)
        );
        assert_eq!(
            d.set(
                DevicePropCode::DeviceFriendlyName,
                PropValue::Str(String::new())
            ),
            Err(ResponseCode::InvalidDevicePropValue)
        );
    }

    #[test]
    fn battery_level_is_only_advertised_with_a_battery_and_is_read_only() {
        let mut d = device();
        assert!(!d.supported().contains(&DevicePropCode::BatteryLevel));
        assert_eq!(
            d.value(DevicePropCode::BatteryLevel),
            Err(ResponseCode::DevicePropNotSupported)
        );
        let mut d = device().with_battery(|| Some(150));
        assert!(d.supported().contains(&DevicePropCode::BatteryLevel));
        assert_eq!(
            d.value(DevicePropCode::BatteryLevel),
            Ok(PropValue::U8(100))
        );
        assert_eq!(
            d.set(DevicePropCode::BatteryLevel, PropValue::U8(5)),
            Err(ResponseCode::AccessDenied)
        );
        assert_eq!(
            d.desc(DevicePropCode::BatteryLevel).unwrap().data_type,
            DataType::Uint8
        );
    }
}
