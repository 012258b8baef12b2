//! The async shell around [`Responder`]: it moves bytes between the endpoints and the
//! state machine and makes no protocol decisions of its own.

use std::time::Duration;

use tracing::{debug, info, warn};

use crate::responder::Responder;
use crate::transport::{
    BulkIn, BulkOut, ControlEvent, ControlIn, Endpoints, InterruptIn, TransportError,
};

/// How long to wait before asking a not-ready source again.
const RETRY: Duration = Duration::from_millis(2);
/// How often provider events are collected while idle.
const EVENT_TICK: Duration = Duration::from_millis(50);

/// Serves the responder over the endpoints until the control side ends; returns the
/// responder (with its providers) for reuse or inspection.
// Longer than 60 lines on purpose: one `select!` over every event source (control, IN
// readiness, OUT pieces, the retry and event ticks) with a short arm each.
pub async fn serve<I, O, E, C>(mut responder: Responder, mut ep: Endpoints<I, O, E, C>) -> Responder
where
    I: BulkIn,
    O: BulkOut,
    E: InterruptIn,
    C: ControlIn,
{
    let mut enabled = false;
    // Publish the status only when it changes: the control side marks the device busy the
    // moment a Cancel arrives, and that must stand until the responder has aborted.
    let mut published = responder.device_status();
    let mut tick = tokio::time::interval(EVENT_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // One timer for the retry, armed when a source first says it is not ready: `select!`
    // builds every branch's future at every turn, even a disabled one, and a fresh
    // `sleep` reads the clock, a system call on boards whose clock source has no vDSO
    // reader (docs/BENCHMARKS.md, "One libmtp transaction on the wire").
    let retry_timer = tokio::time::sleep(RETRY);
    tokio::pin!(retry_timer);
    let mut retry_armed = false;
    loop {
        if responder.poll_abort() {
            ep.bulk_in.abort().await;
            responder.handle_abort_done();
        }
        if responder.device_status() != published {
            published = responder.device_status();
            ep.status.set(published);
        }
        let sending = enabled && responder.has_bulk_in();
        let retry = enabled && responder.wants_retry();
        if retry && !retry_armed {
            retry_timer
                .as_mut()
                .reset(tokio::time::Instant::now() + RETRY);
        }
        retry_armed = retry;
        tokio::select! {
            biased;
            ev = ep.control.recv() => match ev {
                None => {
                    info!("transport closed; responder stops");
                    return responder;
                }
                Some(ev) => {
                    on_control(&mut responder, &mut ep.bulk_in, &mut enabled, ev).await;
                    if responder.poll_abort() {
                        ep.bulk_in.abort().await;
                        responder.handle_abort_done();
                    }
                    published = responder.device_status();
                    ep.status.set(published);
                }
            },
            r = ep.bulk_in.ready(), if sending => {
                let sent = match r {
                    Ok(()) => match responder.poll_bulk_in() {
                        Some(data) => ep.bulk_in.submit(data),
                        None => Ok(()),
                    },
                    Err(e) => Err(e),
                };
                match sent {
                    Ok(()) => {}
                    Err(TransportError::Unreadable) => {
                        warn!("a data request could not be read (its file was cut); transfer ends");
                        responder.handle_send_fault();
                    }
                    Err(e) => disconnect(&mut responder, &mut enabled, &e),
                }
            },
            r = ep.bulk_out.recv(), if enabled => match r {
                Ok((data, end)) => responder.handle_bulk_out(data, end),
                Err(e) => disconnect(&mut responder, &mut enabled, &e),
            },
            () = &mut retry_timer, if retry => {
                retry_armed = false;
                responder.handle_retry();
            }
            _ = tick.tick() => {}
        }
        while let Some(ev) = responder.poll_event() {
            if enabled && !ep.interrupt.try_send(ev) {
                debug!("interrupt endpoint busy (host not polling); event dropped");
            }
        }
    }
}

async fn on_control<I: BulkIn>(
    r: &mut Responder,
    bulk_in: &mut I,
    enabled: &mut bool,
    ev: ControlEvent,
) {
    debug!(?ev, "control event");
    match ev {
        ControlEvent::Enabled => match bulk_in.max_packet_size() {
            Ok(mps) => {
                info!(max_packet_size = mps, "endpoints enabled");
                r.set_max_packet_size(mps);
                *enabled = true;
            }
            Err(e) => warn!(error = %e, "enabled, but the endpoint is unusable"),
        },
        ControlEvent::Disabled => {
            *enabled = false;
            r.handle_disconnect();
            bulk_in.abort().await;
        }
        ControlEvent::Request(req) => r.handle_control(req),
    }
}

fn disconnect(r: &mut Responder, enabled: &mut bool, e: &crate::transport::TransportError) {
    warn!(error = %e, "endpoint lost; waiting for the host to enable the device again");
    *enabled = false;
    r.handle_disconnect();
}
