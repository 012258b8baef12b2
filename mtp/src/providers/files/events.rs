//! The bounded queue of events the provider raises.

use std::collections::VecDeque;

use crate::codec::EventCode;
use crate::provider::ProviderEvent;

/// Most events kept; the oldest is dropped beyond this.
const CAPACITY: usize = 256;

/// Events waiting for [`crate::provider::DataProvider::poll_event`].
#[derive(Debug, Default)]
pub(super) struct EventQueue(VecDeque<ProviderEvent>);

impl EventQueue {
    /// Queues `code` with one parameter, dropping the oldest event when full.
    pub(super) fn push(&mut self, code: EventCode, param: u32) {
        if self.0.len() >= CAPACITY {
            if let Some(old) = self.0.pop_front() {
                tracing::warn!(dropped = %old.code, "event queue full, oldest event dropped");
            }
        }
        self.0.push_back(ProviderEvent::with(code, param));
    }

    /// Takes the oldest event.
    pub(super) fn pop(&mut self) -> Option<ProviderEvent> {
        self.0.pop_front()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_the_oldest_event() {
        let mut q = EventQueue::default();
        for i in 0..=CAPACITY as u32 {
            q.push(EventCode::ObjectAdded, i);
        }
        assert_eq!(q.pop().map(|e| e.params[0]), Some(Some(1)));
    }
}
