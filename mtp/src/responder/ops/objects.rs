//! Object enumeration and management: GetNumObjects, GetObjectHandles, GetObjectInfo,
//! DeleteObject, MoveObject, CopyObject, Get/SetObjectReferences.
//!
//! # Spec
//! PTP 15740 §10.4.6–§10.4.8, §10.4.11, §10.4.25–§10.4.26; MTP 1.1 §D.2.31–32.
//! GetObjectHandles: storage 0xFFFFFFFF = all storages; parent 0 = all objects,
//! 0xFFFFFFFF = the root (as libmtp and Android use them).

use bytes::BytesMut;
use tracing::warn;

use super::reply::{done, handle, rc, receive_dataset};
use crate::codec::array::{parse_u32_array, put_u32_array};
use crate::codec::{Container, ObjectFormat, ResponseCode, parse_all};
use crate::lengths::saturating_count;
use crate::provider::{ObjectHandle, ParentFilter, Placement, StorageId};
use crate::responder::references::{ReferenceError, distinct};
use crate::responder::{Context, Reply};

/// Lists handles for GetObjectHandles / GetNumObjects parameters.
pub(crate) fn list_handles(
    ctx: &mut Context,
    storage: u32,
    format: u32,
    parent: u32,
) -> Result<Vec<ObjectHandle>, ResponseCode> {
    let format = (format != 0).then(|| ObjectFormat::from_u16(format as u16));
    let filter = match parent {
        0 => ParentFilter::All,
        u32::MAX => ParentFilter::Root,
        h => ParentFilter::Children(ObjectHandle(h)),
    };
    if let ParentFilter::Children(h) = filter {
        let p = ctx
            .router
            .by_handle(h)
            .map_err(|_| ResponseCode::InvalidParentObject)?;
        let rec = p.object(h).map_err(|_| ResponseCode::InvalidParentObject)?;
        if storage != u32::MAX && storage != rec.storage.0 {
            return Err(ResponseCode::InvalidParentObject);
        }
        if !rec.is_folder() {
            return Err(ResponseCode::InvalidParentObject);
        }
        return p.object_handles(rec.storage, format, filter);
    }
    let storages = if storage == u32::MAX {
        ctx.router.storage_ids()
    } else {
        vec![StorageId(storage)]
    };
    let mut all = Vec::new();
    for s in storages {
        all.extend(
            ctx.router
                .by_storage(s)?
                .object_handles(s, format, filter)?,
        );
    }
    Ok(all)
}

pub(crate) fn get_num_objects(ctx: &mut Context, cmd: &Container) -> Reply {
    match list_handles(ctx, cmd.param(0), cmd.param(1), cmd.param(2)) {
        Ok(h) => Reply::Response(ResponseCode::Ok, vec![saturating_count(h.len())]),
        Err(code) => rc(code),
    }
}

pub(crate) fn get_object_handles(ctx: &mut Context, cmd: &Container) -> Reply {
    match list_handles(ctx, cmd.param(0), cmd.param(1), cmd.param(2)) {
        Ok(h) => {
            let mut b = BytesMut::with_capacity(4 + 4 * h.len());
            put_u32_array(&mut b, h.iter().map(|h| h.0));
            Reply::Data(b.freeze())
        }
        Err(code) => rc(code),
    }
}

pub(crate) fn get_object_info(ctx: &mut Context, cmd: &Container) -> Reply {
    let rec = handle(cmd.param(0)).and_then(|h| ctx.router.by_handle(h)?.object(h));
    match rec {
        Ok(rec) => {
            let mut b = BytesMut::with_capacity(256);
            rec.to_object_info().put(&mut b);
            Reply::Data(b.freeze())
        }
        Err(code) => rc(code),
    }
}

pub(crate) fn delete_object(ctx: &mut Context, cmd: &Container) -> Reply {
    if cmd.param(0) == u32::MAX {
        return delete_all(ctx);
    }
    let result = handle(cmd.param(0)).and_then(|h| {
        ctx.references.remove(h);
        ctx.router.by_handle(h)?.delete_object(h)
    });
    done(result)
}

fn delete_all(ctx: &mut Context) -> Reply {
    let roots = match list_handles(ctx, u32::MAX, 0, u32::MAX) {
        Ok(r) => r,
        Err(code) => return rc(code),
    };
    let mut failed = 0usize;
    for h in &roots {
        let ok = ctx
            .router
            .by_handle(*h)
            .and_then(|p| p.delete_object(*h))
            .is_ok();
        failed += usize::from(!ok);
    }
    ctx.references.clear();
    match failed {
        0 => rc(ResponseCode::Ok),
        n if n == roots.len() => rc(ResponseCode::ObjectWriteProtected),
        _ => rc(ResponseCode::PartialDeletion),
    }
}

/// Resolves a move/copy destination within the provider owning `h`.
fn destination(
    ctx: &mut Context,
    h: ObjectHandle,
    storage: u32,
    parent: u32,
) -> Result<Placement, ResponseCode> {
    let storage = StorageId(storage);
    let owner = ctx
        .router
        .index_of_storage(storage)
        .ok_or(ResponseCode::InvalidStorageId)?;
    if owner + 1 != usize::from(h.provider().0) {
        return Err(ResponseCode::SpecificationOfDestinationUnsupported);
    }
    let parent = match parent {
        0 | u32::MAX => None,
        p => Some(ObjectHandle(p)),
    };
    Ok(Placement { storage, parent })
}

pub(crate) fn move_object(ctx: &mut Context, cmd: &Container) -> Reply {
    let result = handle(cmd.param(0)).and_then(|h| {
        let to = destination(ctx, h, cmd.param(1), cmd.param(2))?;
        ctx.router.by_handle(h)?.move_object(h, to)
    });
    done(result)
}

pub(crate) fn copy_object(ctx: &mut Context, cmd: &Container) -> Reply {
    let result = handle(cmd.param(0)).and_then(|h| {
        let to = destination(ctx, h, cmd.param(1), cmd.param(2))?;
        ctx.router.by_handle(h)?.copy_object(h, to)
    });
    match result {
        Ok(new) => Reply::Response(ResponseCode::Ok, vec![new.0]),
        Err(code) => rc(code),
    }
}

fn exists(ctx: &mut Context, h: ObjectHandle) -> bool {
    ctx.router.by_handle(h).and_then(|p| p.object(h)).is_ok()
}

pub(crate) fn get_object_references(ctx: &mut Context, cmd: &Container) -> Reply {
    let h = match handle(cmd.param(0)) {
        Ok(h) if exists(ctx, h) => h,
        _ => return rc(ResponseCode::InvalidObjectHandle),
    };
    let stored = ctx.references.get(h).to_vec();
    let live: Vec<u32> = stored
        .into_iter()
        .filter(|r| exists(ctx, ObjectHandle(*r)))
        .collect();
    let mut b = BytesMut::new();
    put_u32_array(&mut b, live.iter().copied());
    Reply::Data(b.freeze())
}

pub(crate) fn set_object_references(ctx: &mut Context, cmd: &Container) -> Reply {
    let err = match handle(cmd.param(0)) {
        Ok(h) if exists(ctx, h) => None,
        _ => Some(ResponseCode::InvalidObjectHandle),
    };
    receive_dataset(ctx, err)
}

pub(crate) fn complete_set_object_references(
    ctx: &mut Context,
    cmd: &Container,
    data: &[u8],
) -> Reply {
    let Ok(refs) = parse_all(data, parse_u32_array) else {
        return rc(ResponseCode::InvalidDataset);
    };
    // Bounded before any provider lookup: a host's 100k handles cost one pass, not 100k.
    let refs = match distinct(&refs) {
        Ok(refs) => refs,
        Err(e) => return refused(e, refs.len()),
    };
    if refs.iter().any(|r| !exists(ctx, ObjectHandle(*r))) {
        return rc(ResponseCode::InvalidObjectReference);
    }
    let count = refs.len();
    match ctx.references.set(ObjectHandle(cmd.param(0)), refs) {
        Ok(()) => rc(ResponseCode::Ok),
        Err(e) => refused(e, count),
    }
}

fn refused(e: ReferenceError, count: usize) -> Reply {
    warn!(error = %e, count, "SetObjectReferences refused");
    rc(e.response_code())
}
