//! The upload of a request file: written to disk like any file, and also kept in memory
//! (up to the request size limit) so that the request can be checked before the file is
//! committed and the session started after.

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};
use engine::registration::Sid;
use mtp::ResponseCode;
use mtp::provider::{ObjectSink, ProviderResult};
use tracing::{info, warn};

use crate::backup::intake::{Intake, RequestKind};
use crate::backup::request::MAX_REQUEST_LEN;

/// Wraps the files provider's sink of a request upload.
pub(crate) struct RequestSink {
    inner: Box<dyn ObjectSink>,
    kind: RequestKind,
    intake: Intake,
    /// The owners registered when the upload began.
    registered: BTreeSet<Sid>,
    buf: BytesMut,
    too_long: bool,
    now: fn() -> i64,
}

impl RequestSink {
    pub(crate) fn new(
        inner: Box<dyn ObjectSink>,
        kind: RequestKind,
        intake: Intake,
        registered: BTreeSet<Sid>,
        now: fn() -> i64,
    ) -> Self {
        Self {
            inner,
            kind,
            intake,
            registered,
            buf: BytesMut::new(),
            too_long: false,
            now,
        }
    }
}

impl ObjectSink for RequestSink {
    fn write(&mut self, data: Bytes) -> ProviderResult<()> {
        if self.buf.len() + data.len() > MAX_REQUEST_LEN {
            self.too_long = true;
        } else {
            self.buf.extend_from_slice(&data);
        }
        self.inner.write(data)
    }

    fn finish(self: Box<Self>, received: u64) -> ProviderResult<()> {
        let this = *self;
        if received == 0 {
            // File managers create an empty file first and write it afterwards: an
            // empty request is stored and asks for nothing.
            info!(kind = ?this.kind, "empty request file stored; nothing to do");
            return this.inner.finish(received);
        }
        if this.too_long {
            let reason = format!(
                "the request is {received} bytes long, more than the {MAX_REQUEST_LEN} allowed"
            );
            warn!(%reason, "request refused");
            this.inner.abort();
            this.intake.refuse(reason);
            return Err(ResponseCode::InvalidParameter);
        }
        let plan = match this
            .intake
            .check(this.kind, &this.buf, (this.now)(), &this.registered)
        {
            Ok(plan) => plan,
            Err(refusal) => {
                warn!(reason = %refusal.reason, code = %refusal.code, "request refused");
                this.inner.abort();
                this.intake.refuse(refusal.reason);
                return Err(refusal.code);
            }
        };
        this.inner.finish(received)?;
        match this.intake.start(plan) {
            Ok(folder) => {
                info!(%folder, kind = ?this.kind, "request accepted; session started");
                Ok(())
            }
            Err(refusal) => {
                warn!(reason = %refusal.reason, "request accepted but not started");
                Err(refusal.code)
            }
        }
    }

    fn abort(self: Box<Self>) {
        self.inner.abort();
    }
}
