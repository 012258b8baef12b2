//! The upload of a request file: kept in memory (up to the request size limit) until it
//! is checked, then written to disk with its passwords blanked (`redact_secrets`), so a
//! password never reaches the spool; then the session starts.

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};
use engine::registration::Sid;
use mtp::ResponseCode;
use mtp::provider::{ObjectSink, ProviderResult};
use tracing::{info, warn};

use crate::backup::intake::{Checked, Intake, RequestKind};
use crate::backup::request::{MAX_REQUEST_LEN, redact_secrets};

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
            self.buf.clear();
        } else if !self.too_long {
            self.buf.extend_from_slice(&data);
        }
        Ok(())
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
        let checked = match this
            .intake
            .check(this.kind, &this.buf, (this.now)(), &this.registered)
        {
            Ok(checked) => checked,
            Err(refusal) => {
                warn!(reason = %refusal.reason, code = %refusal.code, "request refused");
                this.inner.abort();
                this.intake.refuse(refusal.reason);
                return Err(refusal.code);
            }
        };
        let mut inner = this.inner;
        inner.write(Bytes::from(redact_secrets(&this.buf)))?;
        inner.finish(received)?;
        let plan = match checked {
            Checked::Session(plan) => plan,
            Checked::Done(what) => {
                info!(kind = ?this.kind, %what, "request carried out");
                return Ok(());
            }
        };
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
