//! Object properties, served for every provider from its [`ObjectRecord`]s:
//! GetObjectPropsSupported, GetObjectPropDesc, GetObjectPropValue, SetObjectPropValue,
//! GetObjectPropList (its data phase in [`super::prop_list`]).
//!
//! # Spec
//! MTP 1.1 appendix B (property codes) and §D.2.x. ObjectSize (0xDC04) is UINT64 for every
//! format (libmtp reads every advertised format's desc at open).
//! GetObjectPropList: handle 0xFFFFFFFF = every object; otherwise depth 0 = the object,
//! depth n = the object and n levels below it (0xFFFFFFFF = all levels; handle 0 = the
//! roots); property 0xFFFFFFFF = all, 0 = by group (not supported: 0xA807).

use bytes::BytesMut;

use super::reply::{done, handle, rc, receive_dataset};
use crate::codec::dataset::{Form, ObjectPropDesc};
use crate::codec::value::{PropValue, parse_value};
use crate::codec::{
    Container, DataType, ObjectFormat, ObjectPropCode as P, ResponseCode, parse_all,
};
use crate::provider::{ObjectHandle, ObjectRecord};
use crate::responder::{Context, Reply};

/// The properties every object has, in the order they are listed.
pub(crate) const OBJECT_PROPS: &[P] = &[
    P::StorageId,
    P::ObjectFormat,
    P::ProtectionStatus,
    P::ObjectSize,
    P::AssociationType,
    P::AssociationDesc,
    P::ObjectFileName,
    P::DateCreated,
    P::DateModified,
    P::ParentObject,
    P::PersistentUniqueObjectIdentifier,
    P::Name,
];

pub(super) fn data_type(p: P) -> DataType {
    match p {
        P::StorageId | P::AssociationDesc | P::ParentObject => DataType::Uint32,
        P::ObjectFormat | P::ProtectionStatus | P::AssociationType => DataType::Uint16,
        P::ObjectSize => DataType::Uint64,
        P::PersistentUniqueObjectIdentifier => DataType::Uint128,
        _ => DataType::Str,
    }
}

/// Returns the value of `p` for `rec` (`p` must be in [`OBJECT_PROPS`]).
pub(crate) fn value(rec: &ObjectRecord, p: P) -> PropValue {
    use crate::codec::dataset::datetime;
    match p {
        P::StorageId => PropValue::U32(rec.storage.0),
        P::ObjectFormat => PropValue::U16(rec.format.to_u16()),
        P::ProtectionStatus => PropValue::U16(u16::from(rec.read_only)),
        P::ObjectSize => PropValue::U64(rec.size),
        P::AssociationType => PropValue::U16(u16::from(rec.is_folder())),
        P::AssociationDesc => PropValue::U32(0),
        P::DateCreated => PropValue::Str(datetime::format(rec.created)),
        P::DateModified => PropValue::Str(datetime::format(rec.modified)),
        P::ParentObject => PropValue::U32(rec.parent.map_or(0, |h| h.0)),
        P::PersistentUniqueObjectIdentifier => PropValue::U128(rec.puid),
        _ => PropValue::Str(rec.name.clone()),
    }
}

fn desc(ctx: &Context, p: P) -> ObjectPropDesc {
    let dt = data_type(p);
    let default = match dt {
        DataType::Uint16 => PropValue::U16(0),
        DataType::Uint32 => PropValue::U32(0),
        DataType::Uint64 => PropValue::U64(0),
        DataType::Uint128 => PropValue::U128(0),
        _ => PropValue::Str(String::new()),
    };
    let form = match p {
        P::DateCreated | P::DateModified => Form::DateTime,
        P::ProtectionStatus => Form::Enumeration(vec![PropValue::U16(0), PropValue::U16(1)]),
        _ => Form::None,
    };
    ObjectPropDesc {
        code: p.to_u16(),
        data_type: dt,
        writable: ctx.router.writable_props.contains(&p),
        default,
        group: 0,
        form,
    }
}

fn format_param(ctx: &Context, v: u32) -> Result<ObjectFormat, ResponseCode> {
    let f = ObjectFormat::from_u16(v as u16);
    if v > 0xFFFF || !ctx.router.knows_format(f) {
        return Err(ResponseCode::InvalidObjectFormatCode);
    }
    Ok(f)
}

pub(super) fn prop_param(v: u32) -> Result<P, ResponseCode> {
    let p = P::from_u16(v as u16);
    if v > 0xFFFF || !OBJECT_PROPS.contains(&p) {
        return Err(ResponseCode::InvalidObjectPropCode);
    }
    Ok(p)
}

pub(crate) fn get_object_props_supported(ctx: &mut Context, cmd: &Container) -> Reply {
    if let Err(code) = format_param(ctx, cmd.param(0)) {
        return rc(code);
    }
    let mut b = BytesMut::new();
    crate::codec::array::put_u16_array(&mut b, OBJECT_PROPS.iter().map(|p| p.to_u16()));
    Reply::Data(b.freeze())
}

pub(crate) fn get_object_prop_desc(ctx: &mut Context, cmd: &Container) -> Reply {
    let p = match prop_param(cmd.param(0)).and_then(|p| format_param(ctx, cmd.param(1)).map(|_| p))
    {
        Ok(p) => p,
        Err(code) => return rc(code),
    };
    let mut b = BytesMut::new();
    desc(ctx, p).put(&mut b);
    Reply::Data(b.freeze())
}

pub(super) fn record(ctx: &mut Context, h: ObjectHandle) -> Result<ObjectRecord, ResponseCode> {
    ctx.router.by_handle(h)?.object(h)
}

pub(crate) fn get_object_prop_value(ctx: &mut Context, cmd: &Container) -> Reply {
    let result = handle(cmd.param(0))
        .and_then(|h| record(ctx, h))
        .and_then(|rec| prop_param(cmd.param(1)).map(|p| value(&rec, p)));
    match result {
        Ok(v) => {
            let mut b = BytesMut::new();
            v.put(&mut b);
            Reply::Data(b.freeze())
        }
        Err(code) => rc(code),
    }
}

pub(crate) fn set_object_prop_value(ctx: &mut Context, cmd: &Container) -> Reply {
    let check = handle(cmd.param(0))
        .and_then(|h| record(ctx, h))
        .and_then(|_| prop_param(cmd.param(1)))
        .and_then(|p| {
            if ctx.router.writable_props.contains(&p) {
                Ok(())
            } else {
                Err(ResponseCode::AccessDenied)
            }
        });
    receive_dataset(ctx, check.err())
}

pub(crate) fn complete_set_object_prop_value(
    ctx: &mut Context,
    cmd: &Container,
    data: &[u8],
) -> Reply {
    let h = ObjectHandle(cmd.param(0));
    let p = P::from_u16(cmd.param(1) as u16);
    let Ok(v) = parse_all(data, |i| parse_value(i, data_type(p))) else {
        return rc(ResponseCode::InvalidObjectPropFormat);
    };
    let result = ctx
        .router
        .by_handle(h)
        .and_then(|prov| prov.set_object_prop(h, p, &v));
    done(result)
}
