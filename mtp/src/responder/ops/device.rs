//! Device and session operations: GetDeviceInfo, Open/CloseSession, storages, device
//! properties.
//!
//! # Spec
//! PTP 15740 §10.4.1–§10.4.5, §10.4.20–§10.4.23.

use bytes::BytesMut;

use super::reply::{done, rc};
use crate::codec::array::put_u32_array;
use crate::codec::dataset::DeviceInfo;
use crate::codec::value::parse_value;
use crate::codec::{Container, DevicePropCode, ResponseCode, parse_all};
use crate::provider::StorageId;
use crate::responder::{Context, Reply};

/// The vendor extension string: Microsoft's MTP extension only. `android.com` would make
/// libmtp assume Android's bugs (no GetObjectPropList, USB reset on every close).
pub(crate) const VENDOR_EXTENSION_DESC: &str = "microsoft.com: 1.0;";

/// Builds DeviceInfo from the device provider and the providers' declarations.
pub(crate) fn device_info(ctx: &mut Context) -> DeviceInfo {
    let id = ctx.device.identity().clone();
    DeviceInfo {
        standard_version: 100,
        vendor_extension_id: 6,
        vendor_extension_version: 100,
        vendor_extension_desc: VENDOR_EXTENSION_DESC.into(),
        functional_mode: 0,
        operations: ctx.router.operations.iter().map(|o| o.to_u16()).collect(),
        events: ctx.router.events.iter().map(|e| e.to_u16()).collect(),
        device_properties: ctx.device.supported().iter().map(|p| p.to_u16()).collect(),
        capture_formats: ctx
            .router
            .capture_formats
            .iter()
            .map(|f| f.to_u16())
            .collect(),
        playback_formats: ctx
            .router
            .playback_formats
            .iter()
            .map(|f| f.to_u16())
            .collect(),
        manufacturer: id.manufacturer,
        model: id.model,
        device_version: id.version,
        serial_number: id.serial,
    }
}

pub(crate) fn get_device_info(ctx: &mut Context) -> Reply {
    let mut b = BytesMut::new();
    device_info(ctx).put(&mut b);
    Reply::Data(b.freeze())
}

pub(crate) fn open_session(ctx: &mut Context, cmd: &Container) -> Reply {
    let (code, params) = ctx.session.open(cmd.param(0), cmd.tx_id);
    if code.is_ok() {
        for p in ctx.router.all() {
            p.on_session_open();
        }
    }
    Reply::Response(code, params)
}

pub(crate) fn close_session(ctx: &mut Context) -> Reply {
    ctx.end_session();
    rc(ResponseCode::Ok)
}

pub(crate) fn get_storage_ids(ctx: &mut Context) -> Reply {
    let ids = ctx.router.storage_ids();
    let mut b = BytesMut::new();
    put_u32_array(&mut b, ids.iter().map(|s| s.0));
    Reply::Data(b.freeze())
}

pub(crate) fn get_storage_info(ctx: &mut Context, cmd: &Container) -> Reply {
    let id = StorageId(cmd.param(0));
    let info = ctx.router.by_storage(id).and_then(|p| p.storage_info(id));
    match info {
        Ok(info) => {
            let mut b = BytesMut::new();
            info.put(&mut b);
            Reply::Data(b.freeze())
        }
        Err(code) => rc(code),
    }
}

fn prop_code(cmd: &Container) -> DevicePropCode {
    DevicePropCode::from_u16(cmd.param(0) as u16)
}

pub(crate) fn get_device_prop_desc(ctx: &mut Context, cmd: &Container) -> Reply {
    match ctx.device.desc(prop_code(cmd)) {
        Ok(d) => {
            let mut b = BytesMut::new();
            d.put(&mut b);
            Reply::Data(b.freeze())
        }
        Err(code) => rc(code),
    }
}

pub(crate) fn get_device_prop_value(ctx: &mut Context, cmd: &Container) -> Reply {
    match ctx.device.value(prop_code(cmd)) {
        Ok(v) => {
            let mut b = BytesMut::new();
            v.put(&mut b);
            Reply::Data(b.freeze())
        }
        Err(code) => rc(code),
    }
}

pub(crate) fn set_device_prop_value(ctx: &mut Context, cmd: &Container) -> Reply {
    super::reply::receive_dataset(ctx, ctx.device.data_type(prop_code(cmd)).err())
}

pub(crate) fn complete_set_device_prop_value(
    ctx: &mut Context,
    cmd: &Container,
    data: &[u8],
) -> Reply {
    let code = prop_code(cmd);
    let dt = match ctx.device.data_type(code) {
        Ok(dt) => dt,
        Err(e) => return rc(e),
    };
    match parse_all(data, |i| parse_value(i, dt)) {
        Ok(v) => done(ctx.device.set(code, v)),
        Err(_) => rc(ResponseCode::InvalidDevicePropFormat),
    }
}

pub(crate) fn reset_device_prop_value(ctx: &mut Context, cmd: &Container) -> Reply {
    let code = if cmd.param(0) == u32::MAX {
        None
    } else {
        Some(prop_code(cmd))
    };
    done(ctx.device.reset(code))
}
