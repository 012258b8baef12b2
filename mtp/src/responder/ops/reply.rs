//! What every operation's handler shares: bare responses, object-handle parameters and
//! receiving a dataset. A leaf: the handler modules import it, it imports none of them.

use bytes::BytesMut;

use crate::codec::ResponseCode;
use crate::provider::ObjectHandle;
use crate::responder::transaction::OutTarget;
use crate::responder::{Context, Reply};

/// Shorthand for a bare response.
pub(crate) fn rc(code: ResponseCode) -> Reply {
    Reply::Response(code, vec![])
}

/// Shorthand for OK or the provider's failure.
pub(crate) fn done(result: Result<(), ResponseCode>) -> Reply {
    match result {
        Ok(()) => rc(ResponseCode::Ok),
        Err(code) => rc(code),
    }
}

/// Turns a handle parameter into a handle (0 and 0xFFFFFFFF are not handles).
pub(crate) fn handle(v: u32) -> Result<ObjectHandle, ResponseCode> {
    match v {
        0 | u32::MAX => Err(ResponseCode::InvalidObjectHandle),
        v => Ok(ObjectHandle(v)),
    }
}

/// Starts receiving a dataset, or drains the data phase when `err` already decided.
pub(crate) fn receive_dataset(ctx: &Context, err: Option<ResponseCode>) -> Reply {
    let target = match err {
        Some(code) => OutTarget::Discard(code),
        None => OutTarget::Buffer {
            buf: BytesMut::new(),
            max: ctx.max_dataset,
        },
    };
    Reply::Receive(target, None)
}
