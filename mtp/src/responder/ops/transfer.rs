//! Object data in both directions: GetObject, GetPartialObject(64), SendObjectInfo,
//! SendObject, and Android's edit extensions (SendPartialObject, TruncateObject,
//! Begin/EndEditObject).
//!
//! # Spec
//! PTP 15740 §10.4.9, §10.4.12–§10.4.13, §10.4.27; Android `PTP_OC_ANDROID_*` (95C1–95C5).
//! SendObjectInfo accepts parent 0 and 0xFFFFFFFF as the root and storage 0 as "device
//! chooses"; ObjectCompressedSize 0xFFFFFFFF means 4 GiB or more (size unknown).

use super::reply::{done, handle, rc, receive_dataset};
use crate::codec::dataset::ObjectInfo;
use crate::codec::{Container, ResponseCode, parse_prefix};
use crate::lengths::saturating_u32;
use crate::provider::{ObjectHandle, Placement, StorageId};
use crate::responder::transaction::OutTarget;
use crate::responder::{Context, PendingUpload, Reply};

fn stream(ctx: &mut Context, h: u32, offset: u64, max: u64, report_len: bool) -> Reply {
    let result = handle(h).and_then(|h| ctx.router.by_handle(h)?.open_read(h, offset, max));
    match result {
        Ok(src) => {
            let params = if report_len {
                vec![saturating_u32(src.len())]
            } else {
                vec![]
            };
            Reply::Stream(src, params)
        }
        Err(code) => rc(code),
    }
}

pub(crate) fn get_object(ctx: &mut Context, cmd: &Container) -> Reply {
    stream(ctx, cmd.param(0), 0, u64::MAX, false)
}

pub(crate) fn get_partial_object(ctx: &mut Context, cmd: &Container) -> Reply {
    stream(
        ctx,
        cmd.param(0),
        u64::from(cmd.param(1)),
        u64::from(cmd.param(2)),
        true,
    )
}

pub(crate) fn get_partial_object64(ctx: &mut Context, cmd: &Container) -> Reply {
    let offset = u64::from(cmd.param(1)) | (u64::from(cmd.param(2)) << 32);
    stream(ctx, cmd.param(0), offset, u64::from(cmd.param(3)), true)
}

pub(crate) fn send_object_info(ctx: &mut Context) -> Reply {
    receive_dataset(ctx, None)
}

/// Resolves SendObjectInfo's storage and parent parameters.
fn placement(
    ctx: &mut Context,
    storage: u32,
    parent: u32,
) -> Result<(usize, Placement), ResponseCode> {
    let parent = match parent {
        0 | u32::MAX => None,
        p => Some(ObjectHandle(p)),
    };
    let storage = match (storage, parent) {
        (0, Some(p)) => {
            ctx.router
                .by_handle(p)?
                .object(p)
                .map_err(|_| ResponseCode::InvalidParentObject)?
                .storage
        }
        (0, None) => *ctx
            .router
            .storage_ids()
            .first()
            .ok_or(ResponseCode::StoreNotAvailable)?,
        (s, _) => StorageId(s),
    };
    let index = ctx
        .router
        .index_of_storage(storage)
        .ok_or(ResponseCode::InvalidStorageId)?;
    if parent.is_some_and(|p| usize::from(p.provider().0) != index + 1) {
        return Err(ResponseCode::InvalidParentObject);
    }
    Ok((index, Placement { storage, parent }))
}

pub(crate) fn complete_send_object_info(ctx: &mut Context, cmd: &Container, data: &[u8]) -> Reply {
    ctx.upload = None;
    let Ok(info) = parse_prefix(data, ObjectInfo::parse) else {
        return rc(ResponseCode::InvalidDataset);
    };
    let (index, at) = match placement(ctx, cmd.param(0), cmd.param(1)) {
        Ok(p) => p,
        Err(code) => return rc(code),
    };
    let size = (info.compressed_size != u32::MAX).then_some(u64::from(info.compressed_size));
    let Some(provider) = ctx.router.at(index) else {
        return rc(ResponseCode::InvalidStorageId);
    };
    match provider.send_object_info(at, &info, size) {
        Ok(h) => {
            if info.format != crate::codec::ObjectFormat::Association.to_u16() {
                ctx.upload = Some(PendingUpload { handle: h, size });
            }
            Reply::Response(
                ResponseCode::Ok,
                vec![at.storage.0, at.parent.map_or(0, |p| p.0), h.0],
            )
        }
        Err(code) => rc(code),
    }
}

pub(crate) fn send_object(ctx: &mut Context) -> Reply {
    let Some(up) = ctx.upload.take() else {
        return Reply::Receive(
            OutTarget::Discard(ResponseCode::NoValidObjectInfo),
            Some(None),
        );
    };
    let sink = ctx
        .router
        .by_handle(up.handle)
        .and_then(|p| p.send_object(up.handle));
    match sink {
        Ok(sink) => Reply::Receive(OutTarget::Sink { sink, failed: None }, Some(up.size)),
        Err(code) => Reply::Receive(OutTarget::Discard(code), Some(up.size)),
    }
}

pub(crate) fn send_partial_object(ctx: &mut Context, cmd: &Container) -> Reply {
    let offset = u64::from(cmd.param(1)) | (u64::from(cmd.param(2)) << 32);
    let len = cmd.param(3);
    let sink =
        handle(cmd.param(0)).and_then(|h| ctx.router.by_handle(h)?.send_partial(h, offset, len));
    let target = match sink {
        Ok(sink) => OutTarget::Sink { sink, failed: None },
        Err(code) => OutTarget::Discard(code),
    };
    Reply::Receive(target, None)
}

pub(crate) fn truncate_object(ctx: &mut Context, cmd: &Container) -> Reply {
    let size = u64::from(cmd.param(1)) | (u64::from(cmd.param(2)) << 32);
    done(handle(cmd.param(0)).and_then(|h| ctx.router.by_handle(h)?.truncate(h, size)))
}

pub(crate) fn begin_edit_object(ctx: &mut Context, cmd: &Container) -> Reply {
    done(handle(cmd.param(0)).and_then(|h| ctx.router.by_handle(h)?.begin_edit(h)))
}

pub(crate) fn end_edit_object(ctx: &mut Context, cmd: &Container) -> Reply {
    done(handle(cmd.param(0)).and_then(|h| ctx.router.by_handle(h)?.end_edit(h)))
}
