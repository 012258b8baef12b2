//! The ep0 task: FunctionFS events and the Still Image class requests, answered at once
//! even while a bulk transfer runs.
//!
//! # Spec
//! USB Still Image Capture Device Definition §5.2: Cancel Request 0x64 (6-byte data stage:
//! code 0x4001 and the transaction id), Get Extended Event Data 0x65 (not supported:
//! stalled), Device Reset 0x66 (no data), Get Device Status 0x67 (wLength, code).

use std::sync::Arc;

use mtp::ResponseCode;
use mtp::responder::{ControlRequest, DeviceStatus};
use mtp::transport::{ControlEvent, StatusCell};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use usb_gadget::function::custom::{Custom, Event};

use super::Link;

const CANCEL: u8 = 0x64;
const DEVICE_RESET: u8 = 0x66;
const GET_DEVICE_STATUS: u8 = 0x67;
const CLASS_INTERFACE_OUT: u8 = 0x21;
const CLASS_INTERFACE_IN: u8 = 0xA1;

/// The parts the ep0 task owns.
#[derive(Debug)]
pub struct Ep0 {
    pub(super) custom: Custom,
    pub(super) events: mpsc::UnboundedSender<ControlEvent>,
    pub(super) status: StatusCell,
    pub(super) link: Arc<Link>,
}

/// Parses a Cancel Request data stage into the transaction id.
pub(crate) fn parse_cancel(data: &[u8]) -> Option<u32> {
    let code = u16::from_le_bytes([*data.first()?, *data.get(1)?]);
    let tx = data.get(2..6)?;
    (code == 0x4001).then(|| u32::from_le_bytes([tx[0], tx[1], tx[2], tx[3]]))
}

/// Serves ep0 until its file fails (the function was torn down).
///
/// # Errors
/// Reading ep0 failed.
pub async fn run_ep0(mut ep0: Ep0) -> std::io::Result<()> {
    loop {
        ep0.custom.wait_event().await?;
        while let Some(ev) = ep0.custom.try_event()? {
            handle(ev, &ep0.events, &ep0.status, &ep0.link).await;
        }
    }
}

// Longer than 60 lines on purpose: one match with an arm per FunctionFS event, each
// arm short; split up, the event handling would be harder to read as a whole.
async fn handle(
    ev: Event<'_>,
    tx: &mpsc::UnboundedSender<ControlEvent>,
    status: &StatusCell,
    link: &Link,
) {
    let send = |e| {
        let _ = tx.send(e);
    };
    match ev {
        Event::Enable => {
            info!("host configured the device");
            link.enable();
            send(ControlEvent::Enabled);
        }
        Event::Disable | Event::Unbind | Event::Bind => {
            info!(event = ?ev, "endpoints unusable until the next Enable");
            link.disable();
            send(ControlEvent::Disabled);
        }
        Event::SetupHostToDevice(req) => {
            let r = req.ctrl_req().clone();
            match (r.request_type, r.request) {
                (CLASS_INTERFACE_OUT, CANCEL) => match req.recv_all_async().await {
                    Ok(data) => match parse_cancel(&data) {
                        Some(tx_id) => {
                            status.set(DeviceStatus(ResponseCode::DeviceBusy));
                            send(ControlEvent::Request(ControlRequest::Cancel { tx_id }));
                        }
                        None => warn!(?data, "malformed cancel request ignored"),
                    },
                    Err(e) => warn!(error = %e, "cancel request data stage failed"),
                },
                (CLASS_INTERFACE_OUT, DEVICE_RESET) => {
                    if let Err(e) = req.recv_all_async().await {
                        warn!(error = %e, "device reset status stage failed");
                    }
                    status.set(DeviceStatus(ResponseCode::DeviceBusy));
                    send(ControlEvent::Request(ControlRequest::DeviceReset));
                }
                _ => {
                    debug!(?r, "unsupported control request stalled");
                    let _ = req.halt();
                }
            }
        }
        Event::SetupDeviceToHost(req) => {
            let r = req.ctrl_req().clone();
            if (r.request_type, r.request) == (CLASS_INTERFACE_IN, GET_DEVICE_STATUS) {
                let bytes = status.get().encode();
                let n = usize::from(r.length).min(bytes.len());
                if let Err(e) = req.send_async(&bytes[..n]).await {
                    warn!(error = %e, "get device status reply failed");
                }
            } else {
                debug!(?r, "unsupported control request stalled");
                let _ = req.halt();
            }
        }
        other => debug!(event = ?other, "ep0 event"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_data_stage_gives_the_transaction_id() {
        assert_eq!(parse_cancel(&[0x01, 0x40, 7, 0, 0, 0]), Some(7));
        assert_eq!(parse_cancel(&[0x02, 0x40, 7, 0, 0, 0]), None);
        assert_eq!(parse_cancel(&[0x01, 0x40, 7]), None);
    }
}
