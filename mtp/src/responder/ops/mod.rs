//! One function per operation; this module only dispatches.

pub(crate) mod device;
pub(crate) mod objects;
pub(crate) mod props;
pub(crate) mod reply;
pub(crate) mod transfer;

use bytes::Bytes;

use super::{Context, Reply};
use crate::codec::{Container, OperationCode as Op, ResponseCode};
use crate::lengths::saturating_u32;
use crate::provider::ObjectSink;

/// Returns true for operations whose data phase goes from host to device.
pub(crate) fn has_data_out(op: Op) -> bool {
    matches!(
        op,
        Op::SendObjectInfo
            | Op::SendObject
            | Op::SetDevicePropValue
            | Op::SetObjectPropValue
            | Op::SetObjectReferences
            | Op::SendPartialObject
    )
}

/// Runs the command phase of an advertised operation inside an admitted session.
pub(crate) fn dispatch(ctx: &mut Context, cmd: &Container, op: Op) -> Reply {
    match op {
        Op::GetDeviceInfo => device::get_device_info(ctx),
        Op::OpenSession => device::open_session(ctx, cmd),
        Op::CloseSession | Op::ResetDevice => device::close_session(ctx),
        Op::GetStorageIds => device::get_storage_ids(ctx),
        Op::GetStorageInfo => device::get_storage_info(ctx, cmd),
        Op::GetDevicePropDesc => device::get_device_prop_desc(ctx, cmd),
        Op::GetDevicePropValue => device::get_device_prop_value(ctx, cmd),
        Op::SetDevicePropValue => device::set_device_prop_value(ctx, cmd),
        Op::ResetDevicePropValue => device::reset_device_prop_value(ctx, cmd),
        Op::GetNumObjects => objects::get_num_objects(ctx, cmd),
        Op::GetObjectHandles => objects::get_object_handles(ctx, cmd),
        Op::GetObjectInfo => objects::get_object_info(ctx, cmd),
        Op::DeleteObject => objects::delete_object(ctx, cmd),
        Op::MoveObject => objects::move_object(ctx, cmd),
        Op::CopyObject => objects::copy_object(ctx, cmd),
        Op::GetObjectReferences => objects::get_object_references(ctx, cmd),
        Op::SetObjectReferences => objects::set_object_references(ctx, cmd),
        Op::GetObjectPropsSupported => props::get_object_props_supported(ctx, cmd),
        Op::GetObjectPropDesc => props::get_object_prop_desc(ctx, cmd),
        Op::GetObjectPropValue => props::get_object_prop_value(ctx, cmd),
        Op::SetObjectPropValue => props::set_object_prop_value(ctx, cmd),
        Op::GetObjectPropList => props::get_object_prop_list(ctx, cmd),
        Op::GetObject => transfer::get_object(ctx, cmd),
        Op::GetPartialObject => transfer::get_partial_object(ctx, cmd),
        Op::GetPartialObject64 => transfer::get_partial_object64(ctx, cmd),
        Op::SendObjectInfo => transfer::send_object_info(ctx),
        Op::SendObject => transfer::send_object(ctx),
        Op::SendPartialObject => transfer::send_partial_object(ctx, cmd),
        Op::TruncateObject => transfer::truncate_object(ctx, cmd),
        Op::BeginEditObject => transfer::begin_edit_object(ctx, cmd),
        Op::EndEditObject => transfer::end_edit_object(ctx, cmd),
        _ => Reply::Response(ResponseCode::OperationNotSupported, vec![]),
    }
}

/// Runs the response phase of an operation whose dataset has arrived.
pub(crate) fn complete_dataset(ctx: &mut Context, cmd: &Container, data: Bytes) -> Reply {
    match Op::from_u16(cmd.code) {
        Op::SendObjectInfo => transfer::complete_send_object_info(ctx, cmd, &data),
        Op::SetDevicePropValue => device::complete_set_device_prop_value(ctx, cmd, &data),
        Op::SetObjectPropValue => props::complete_set_object_prop_value(ctx, cmd, &data),
        Op::SetObjectReferences => objects::complete_set_object_references(ctx, cmd, &data),
        _ => Reply::Response(ResponseCode::GeneralError, vec![]),
    }
}

/// Commits an object upload whose data has arrived.
pub(crate) fn complete_sink(
    ctx: &mut Context,
    cmd: &Container,
    sink: Box<dyn ObjectSink>,
    received: u64,
) -> Reply {
    let result = sink.finish(received);
    match (Op::from_u16(cmd.code), result) {
        (_, Err(rc)) => Reply::Response(rc, vec![]),
        (Op::SendPartialObject, Ok(())) => {
            Reply::Response(ResponseCode::Ok, vec![saturating_u32(received)])
        }
        (Op::SendObject, Ok(())) => {
            ctx.upload = None;
            Reply::Response(ResponseCode::Ok, vec![])
        }
        (_, Ok(())) => Reply::Response(ResponseCode::Ok, vec![]),
    }
}
