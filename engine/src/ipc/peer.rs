//! The peer check: may a connecting process speak for the SID it claims? (pure)

use std::path::PathBuf;

use crate::registration::Sid;

/// A cage of the claimed SID on one drive, with its owner uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CageInfo {
    /// The cage directory.
    pub path: PathBuf,
    /// The uid that owns it.
    pub uid: u32,
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The hello was not the first message or not well-formed.
    #[error("expected a hello")]
    BadHello,
    /// An unsupported protocol version.
    #[error("unsupported protocol version {0}")]
    Version(u16),
    /// No registration declares this SID an active owner.
    #[error("sid {0} is not a registered active owner")]
    NotRegistered(Sid),
    /// The SID has no cage on any drive.
    #[error("sid {0} has no cage")]
    NoCage(Sid),
    /// The peer's uid does not own the SID's cage.
    #[error("uid {peer_uid} does not own the cage of {sid} (owned by uid {cage_uid})")]
    UidMismatch {
        /// The claimed SID.
        sid: Sid,
        /// The peer's uid (SO_PEERCRED).
        peer_uid: u32,
        /// The cage owner.
        cage_uid: u32,
    },
    /// Another connection already speaks for this SID.
    #[error("sid {0} is already connected")]
    AlreadyConnected(Sid),
}

/// Decides whether a peer with `peer_uid` may speak for `sid`.
///
/// The SID must be a registered active owner, have at least one cage, and every cage of
/// it must be owned by `peer_uid`.
///
/// # Errors
/// The [`Refusal`] to send and log.
pub fn check_claim(
    sid: Sid,
    peer_uid: u32,
    registered_active: bool,
    cages: &[CageInfo],
) -> Result<(), Refusal> {
    if !registered_active {
        return Err(Refusal::NotRegistered(sid));
    }
    if cages.is_empty() {
        return Err(Refusal::NoCage(sid));
    }
    match cages.iter().find(|c| c.uid != peer_uid) {
        Some(c) => Err(Refusal::UidMismatch {
            sid,
            peer_uid,
            cage_uid: c.uid,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cage(uid: u32) -> CageInfo {
        CageInfo {
            path: PathBuf::from("/c/private/00000001"),
            uid,
        }
    }

    #[test]
    fn owner_of_every_cage_is_accepted() {
        assert_eq!(
            check_claim(Sid(1), 1000, true, &[cage(1000), cage(1000)]),
            Ok(())
        );
    }

    #[test]
    fn uid_mismatch_on_any_cage_is_refused() {
        assert_eq!(
            check_claim(Sid(1), 1000, true, &[cage(1000), cage(1001)]),
            Err(Refusal::UidMismatch {
                sid: Sid(1),
                peer_uid: 1000,
                cage_uid: 1001
            })
        );
        // Root gets no exception: it must own the cage like anyone else.
        assert!(matches!(
            check_claim(Sid(1), 0, true, &[cage(1000)]),
            Err(Refusal::UidMismatch { .. })
        ));
    }

    #[test]
    fn unregistered_or_cageless_sids_are_refused() {
        assert_eq!(
            check_claim(Sid(1), 1000, false, &[cage(1000)]),
            Err(Refusal::NotRegistered(Sid(1)))
        );
        assert_eq!(
            check_claim(Sid(1), 1000, true, &[]),
            Err(Refusal::NoCage(Sid(1)))
        );
    }
}
