//! One function per operation, and the one table ([`OPS`]) that says who answers each,
//! how it is dispatched and what its data phase is.

pub(crate) mod device;
pub(crate) mod objects;
pub(crate) mod prop_list;
pub(crate) mod props;
pub(crate) mod reply;
pub(crate) mod transfer;

use bytes::Bytes;

use super::{Context, Reply};
use crate::codec::{Container, OperationCode as Op, ResponseCode};
use crate::lengths::saturating_u32;
use crate::provider::ObjectSink;

/// Who answers an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The responder itself, always advertised.
    Responder,
    /// A provider: advertised only if one declares it in its capabilities.
    Provider,
}

/// What an operation's host-to-device data phase is, if it has one.
#[derive(Clone, Copy)]
pub(crate) enum DataOut {
    /// No data from the host.
    None,
    /// A dataset, buffered whole, then handed to this completion.
    Dataset(fn(&mut Context, &Container, &[u8]) -> Reply),
    /// Object data, streamed into a sink ([`complete_sink`]).
    Object,
}

/// One operation: everything the responder needs to advertise, dispatch and drain it.
pub(crate) struct OpSpec {
    /// The operation.
    pub(crate) code: Op,
    /// Who answers it.
    pub(crate) owner: Owner,
    /// Its command phase.
    pub(crate) handler: fn(&mut Context, &Container) -> Reply,
    /// Its data phase from the host.
    pub(crate) data_out: DataOut,
}

const fn op(code: Op, owner: Owner, handler: fn(&mut Context, &Container) -> Reply) -> OpSpec {
    OpSpec {
        code,
        owner,
        handler,
        data_out: DataOut::None,
    }
}

const fn with_data(spec: OpSpec, data_out: DataOut) -> OpSpec {
    OpSpec { data_out, ..spec }
}

use DataOut::{Dataset, Object};
use Owner::{Provider, Responder};

/// Every operation the responder knows: DeviceInfo's list, dispatch and the data phases
/// all follow from this one table.
pub(crate) const OPS: &[OpSpec] = &[
    op(Op::GetDeviceInfo, Responder, |c, _| {
        device::get_device_info(c)
    }),
    op(Op::OpenSession, Responder, device::open_session),
    op(Op::CloseSession, Responder, |c, _| device::close_session(c)),
    op(Op::GetStorageIds, Responder, |c, _| {
        device::get_storage_ids(c)
    }),
    op(Op::GetStorageInfo, Responder, device::get_storage_info),
    op(Op::GetNumObjects, Responder, objects::get_num_objects),
    op(Op::GetObjectHandles, Responder, objects::get_object_handles),
    op(Op::GetObjectInfo, Responder, objects::get_object_info),
    op(Op::ResetDevice, Responder, |c, _| device::close_session(c)),
    op(
        Op::GetDevicePropDesc,
        Responder,
        device::get_device_prop_desc,
    ),
    op(
        Op::GetDevicePropValue,
        Responder,
        device::get_device_prop_value,
    ),
    with_data(
        op(
            Op::SetDevicePropValue,
            Responder,
            device::set_device_prop_value,
        ),
        Dataset(device::complete_set_device_prop_value),
    ),
    op(
        Op::ResetDevicePropValue,
        Responder,
        device::reset_device_prop_value,
    ),
    op(
        Op::GetObjectPropsSupported,
        Responder,
        props::get_object_props_supported,
    ),
    op(
        Op::GetObjectPropDesc,
        Responder,
        props::get_object_prop_desc,
    ),
    op(
        Op::GetObjectPropValue,
        Responder,
        props::get_object_prop_value,
    ),
    op(
        Op::GetObjectPropList,
        Responder,
        prop_list::get_object_prop_list,
    ),
    op(
        Op::GetObjectReferences,
        Responder,
        objects::get_object_references,
    ),
    with_data(
        op(
            Op::SetObjectReferences,
            Responder,
            objects::set_object_references,
        ),
        Dataset(objects::complete_set_object_references),
    ),
    op(Op::GetObject, Provider, transfer::get_object),
    op(Op::GetPartialObject, Provider, transfer::get_partial_object),
    op(
        Op::GetPartialObject64,
        Provider,
        transfer::get_partial_object64,
    ),
    op(Op::DeleteObject, Provider, objects::delete_object),
    with_data(
        op(Op::SendObjectInfo, Provider, |c, _| {
            transfer::send_object_info(c)
        }),
        Dataset(transfer::complete_send_object_info),
    ),
    with_data(
        op(Op::SendObject, Provider, |c, _| transfer::send_object(c)),
        Object,
    ),
    op(Op::MoveObject, Provider, objects::move_object),
    op(Op::CopyObject, Provider, objects::copy_object),
    with_data(
        op(
            Op::SetObjectPropValue,
            Provider,
            props::set_object_prop_value,
        ),
        Dataset(props::complete_set_object_prop_value),
    ),
    with_data(
        op(
            Op::SendPartialObject,
            Provider,
            transfer::send_partial_object,
        ),
        Object,
    ),
    op(Op::TruncateObject, Provider, transfer::truncate_object),
    op(Op::BeginEditObject, Provider, transfer::begin_edit_object),
    op(Op::EndEditObject, Provider, transfer::end_edit_object),
];

/// Returns the table row of `op`.
pub(crate) fn spec(op: Op) -> Option<&'static OpSpec> {
    OPS.iter().find(|s| s.code == op)
}

/// Returns true for operations whose data phase goes from host to device.
pub(crate) fn has_data_out(op: Op) -> bool {
    spec(op).is_some_and(|s| !matches!(s.data_out, DataOut::None))
}

/// Runs the command phase of an advertised operation inside an admitted session.
pub(crate) fn dispatch(ctx: &mut Context, cmd: &Container, op: Op) -> Reply {
    match spec(op) {
        Some(s) => (s.handler)(ctx, cmd),
        None => reply::rc(ResponseCode::OperationNotSupported),
    }
}

/// Runs the response phase of an operation whose dataset has arrived.
pub(crate) fn complete_dataset(ctx: &mut Context, cmd: &Container, data: Bytes) -> Reply {
    match spec(Op::from_u16(cmd.code)).map(|s| s.data_out) {
        Some(DataOut::Dataset(complete)) => complete(ctx, cmd, &data),
        _ => reply::rc(ResponseCode::GeneralError),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_one_row() {
        for (i, a) in OPS.iter().enumerate() {
            assert!(
                OPS[i + 1..].iter().all(|b| b.code != a.code),
                "{:?} twice",
                a.code
            );
        }
        assert!(spec(Op::GetDeviceInfo).is_some_and(|s| s.owner == Owner::Responder));
        assert!(spec(Op::GetObject).is_some_and(|s| s.owner == Owner::Provider));
        assert!(spec(Op::Unknown(0x9999)).is_none());
    }

    #[test]
    fn data_phases_from_the_host_follow_the_table() {
        let with_data: Vec<Op> = OPS
            .iter()
            .filter(|s| has_data_out(s.code))
            .map(|s| s.code)
            .collect();
        assert_eq!(
            with_data,
            [
                Op::SetDevicePropValue,
                Op::SetObjectReferences,
                Op::SendObjectInfo,
                Op::SendObject,
                Op::SetObjectPropValue,
                Op::SendPartialObject,
            ]
        );
    }
}
