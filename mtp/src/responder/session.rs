//! Session and transaction-id bookkeeping.
//!
//! # Spec
//! PTP 15740 §9.2 "Sessions" and §9.3 "Transactions": OpenSession uses transaction id 0;
//! within a session ids increase. A second OpenSession answers SessionAlreadyOpen with the
//! open id (libmtp accepts that and carries on with fresh ids, so the id counter restarts).

use crate::codec::{OperationCode, ResponseCode};

/// The open session, if any, and the last transaction id seen in it.
#[derive(Debug, Default)]
pub(crate) struct Session {
    id: Option<u32>,
    last_tx: u32,
}

impl Session {
    /// Returns true while a session is open.
    pub(crate) fn is_open(&self) -> bool {
        self.id.is_some()
    }

    /// Checks that `op` with `tx_id` may run now.
    pub(crate) fn admit(&mut self, op: OperationCode, tx_id: u32) -> Result<(), ResponseCode> {
        match op {
            OperationCode::GetDeviceInfo | OperationCode::OpenSession => return Ok(()),
            _ if self.id.is_none() => return Err(ResponseCode::SessionNotOpen),
            _ => {}
        }
        if tx_id == 0 || tx_id == u32::MAX || tx_id <= self.last_tx {
            return Err(ResponseCode::InvalidTransactionId);
        }
        self.last_tx = tx_id;
        Ok(())
    }

    /// Opens a session; returns the response and its parameters.
    pub(crate) fn open(&mut self, id: u32, tx_id: u32) -> (ResponseCode, Vec<u32>) {
        if id == 0 {
            return (ResponseCode::InvalidParameter, vec![]);
        }
        self.last_tx = tx_id;
        match self.id {
            Some(open) => (ResponseCode::SessionAlreadyOpen, vec![open]),
            None => {
                self.id = Some(id);
                (ResponseCode::Ok, vec![])
            }
        }
    }

    /// Closes the session.
    pub(crate) fn close(&mut self) {
        self.id = None;
        self.last_tx = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_session() -> Session {
        let mut s = Session::default();
        assert_eq!(s.open(1, 0).0, ResponseCode::Ok);
        s
    }

    #[test]
    fn operations_other_than_device_info_need_a_session() {
        let mut s = Session::default();
        assert_eq!(
            s.admit(OperationCode::GetStorageIds, 1),
            Err(ResponseCode::SessionNotOpen)
        );
        assert_eq!(s.admit(OperationCode::GetDeviceInfo, 0), Ok(()));
    }

    #[test]
    fn repeated_or_zero_transaction_ids_are_invalid() {
        let mut s = in_session();
        assert_eq!(s.admit(OperationCode::GetStorageIds, 1), Ok(()));
        assert_eq!(
            s.admit(OperationCode::GetStorageIds, 1),
            Err(ResponseCode::InvalidTransactionId)
        );
        assert_eq!(
            s.admit(OperationCode::GetStorageIds, 0),
            Err(ResponseCode::InvalidTransactionId)
        );
        assert_eq!(s.admit(OperationCode::GetStorageIds, 12), Ok(()));
    }

    #[test]
    fn second_open_reports_the_open_id_and_restarts_ids() {
        let mut s = in_session();
        s.admit(OperationCode::GetStorageIds, 40).unwrap();
        assert_eq!(s.open(2, 0), (ResponseCode::SessionAlreadyOpen, vec![1]));
        assert_eq!(s.admit(OperationCode::GetStorageIds, 1), Ok(()));
        assert_eq!(s.open(0, 0).0, ResponseCode::InvalidParameter);
    }
}
