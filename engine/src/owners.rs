//! What the backup server sees of the data owners: capability flags and status
//! (Symbian `CDataOwnerInfo`, `TDataOwnerStatus`). The flag values are the reference's.

use crate::ipc::OwnerStatus;
use crate::registration::{ActiveType, BackupRegistration, Sid};

/// `TCommonBURSettings`: the owner has active data or proxies.
pub const ACTIVE_BUR: u32 = 0x01;
/// `TCommonBURSettings`: the owner has passive files or DBMS databases.
pub const PASSIVE_BUR: u32 = 0x02;
/// `TCommonBURSettings`: `system_backup`.
pub const HAS_SYSTEM_FILES: u32 = 0x04;
/// `TCommonBURSettings`: active and passive parts both support selective operation.
pub const SUPPORTS_SELECTIVE: u32 = 0x08;
/// `TCommonBURSettings`: `restore requires_reboot="yes"`.
pub const REQUIRES_REBOOT: u32 = 0x10;
/// `TPassiveBURSettings`: `public_backup`.
pub const HAS_PUBLIC_FILES: u32 = 0x01;
/// `TPassiveBURSettings`: passive `delete_before_restore="yes"`.
pub const DELETE_BEFORE_RESTORE: u32 = 0x02;
/// `TPassiveBURSettings`: passive increments supported.
pub const PASSIVE_SUPPORTS_INC: u32 = 0x04;
/// `TActiveBURSettings`: `requires_delay_to_prepare_data="yes"`.
pub const DELAY_TO_PREPARE_DATA: u32 = 0x01;
/// `TActiveBURSettings`: active increments supported.
pub const ACTIVE_SUPPORTS_INC: u32 = 0x02;

/// The three settings words of an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Common settings.
    pub common: u32,
    /// Passive settings.
    pub passive: u32,
    /// Active settings.
    pub active: u32,
}

/// Returns the settings an owner's registration implies.
pub fn capabilities(reg: &BackupRegistration) -> Capabilities {
    let mut c = Capabilities::default();
    let flag = |on: bool, bit: u32| if on { bit } else { 0 };
    c.common |= flag(reg.is_active(), ACTIVE_BUR);
    c.common |= flag(reg.is_passive(), PASSIVE_BUR);
    c.common |= flag(reg.system_backup, HAS_SYSTEM_FILES);
    let selective = reg.active.as_ref().is_some_and(|a| a.supports_selective)
        && reg.passive.as_ref().is_some_and(|p| p.supports_selective);
    c.common |= flag(selective, SUPPORTS_SELECTIVE);
    c.common |= flag(reg.restore.requires_reboot, REQUIRES_REBOOT);
    c.passive |= flag(reg.public.is_some(), HAS_PUBLIC_FILES);
    c.passive |= flag(
        reg.passive
            .as_ref()
            .is_some_and(|p| p.delete_before_restore),
        DELETE_BEFORE_RESTORE,
    );
    c.passive |= flag(reg.passive_supports_incremental(), PASSIVE_SUPPORTS_INC);
    c.active |= flag(
        reg.active
            .as_ref()
            .is_some_and(|a| a.requires_delay_to_prepare_data),
        DELAY_TO_PREPARE_DATA,
    );
    c.active |= flag(reg.active_supports_incremental(), ACTIVE_SUPPORTS_INC);
    c
}

/// `TDataOwnerStatus` with the reference's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum DataOwnerStatus {
    /// `EUnset` (0): nothing to report (public-only owners).
    Unset = 0,
    /// `EDataOwnerNotFound` (1): no such registered owner.
    NotFound = 1,
    /// `EDataOwnerReady` (2).
    Ready = 2,
    /// `EDataOwnerNotReady` (3): connected, not confirmed.
    NotReady = 3,
    /// `EDataOwnerFailed` (4): confirmed with an error, or misbehaved.
    Failed = 4,
    /// `EDataOwnerNotConnected` (5).
    NotConnected = 5,
    /// `EDataOwnerReadyNoImpl` (6): a proxy-only owner that confirmed.
    ReadyNoImpl = 6,
}

/// Returns an owner's status from its registration and (for active owners) the status of
/// its connection, if any. Owners served only through proxies take the first non-ready
/// proxy status (`proxy_status`).
pub fn status(
    reg: Option<&BackupRegistration>,
    connection: Option<OwnerStatus>,
    proxy_status: impl Fn(Sid) -> DataOwnerStatus,
) -> DataOwnerStatus {
    let Some(reg) = reg else {
        return DataOwnerStatus::NotFound;
    };
    if let Some(active) = &reg.active {
        return match connection {
            None | Some(OwnerStatus::Gone) => DataOwnerStatus::NotConnected,
            Some(OwnerStatus::NotReady) => DataOwnerStatus::NotReady,
            Some(OwnerStatus::Ready) if active.active_type == ActiveType::ProxyOnly => {
                DataOwnerStatus::ReadyNoImpl
            }
            Some(OwnerStatus::Ready) => DataOwnerStatus::Ready,
            Some(_) => DataOwnerStatus::Failed,
        };
    }
    let ready = |s| matches!(s, DataOwnerStatus::Ready | DataOwnerStatus::ReadyNoImpl);
    if let Some(blocked) = reg
        .proxies
        .iter()
        .map(|p| proxy_status(*p))
        .find(|s| !ready(*s))
    {
        return blocked;
    }
    if reg.is_passive() || reg.system_backup || !reg.proxies.is_empty() {
        DataOwnerStatus::Ready
    } else {
        DataOwnerStatus::Unset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registration::{CENTRAL_REPOSITORY_SID, FileRole, merge, parse_registration};

    fn reg(body: &str) -> BackupRegistration {
        let xml = format!("<backup_registration>{body}</backup_registration>");
        let file = parse_registration(&xml, Sid(1), FileRole::Primary).expect("parses");
        merge(Sid(1), file, vec![], CENTRAL_REPOSITORY_SID)
    }

    #[test]
    fn capability_flags_follow_the_reference() {
        let hybrid = reg(
            r#"<active_backup process_name="x" supports_selective="yes" requires_delay_to_prepare_data="yes"/>
            <passive_backup supports_selective="yes" delete_before_restore="yes"/><public_backup/><system_backup/>
            <restore requires_reboot="yes"/>"#,
        );
        assert_eq!(
            capabilities(&hybrid),
            Capabilities {
                common: ACTIVE_BUR
                    | PASSIVE_BUR
                    | HAS_SYSTEM_FILES
                    | SUPPORTS_SELECTIVE
                    | REQUIRES_REBOOT,
                passive: HAS_PUBLIC_FILES | DELETE_BEFORE_RESTORE | PASSIVE_SUPPORTS_INC,
                active: DELAY_TO_PREPARE_DATA | ACTIVE_SUPPORTS_INC,
            }
        );
        // Selective needs both parts; proxies make an owner active but never incremental.
        let passive_only =
            reg(r#"<passive_backup supports_selective="yes" base_backup_only="yes"/>"#);
        assert_eq!(
            capabilities(&passive_only),
            Capabilities {
                common: PASSIVE_BUR,
                passive: 0,
                active: 0
            }
        );
        let proxied = reg(r#"<proxy_data_manager sid="2"/>"#);
        assert_eq!(
            capabilities(&proxied),
            Capabilities {
                common: ACTIVE_BUR,
                passive: 0,
                active: 0
            }
        );
        let dbms = reg(r#"<dbms_backup policy="1"/>"#);
        assert_eq!(capabilities(&dbms).common, PASSIVE_BUR);
    }

    #[test]
    fn status_comes_from_the_connection_and_proxies() {
        let active = reg(r#"<active_backup process_name="x"/>"#);
        let none = |_| DataOwnerStatus::NotFound;
        assert_eq!(status(None, None, none), DataOwnerStatus::NotFound);
        assert_eq!(
            status(Some(&active), None, none),
            DataOwnerStatus::NotConnected
        );
        assert_eq!(
            status(Some(&active), Some(OwnerStatus::NotReady), none),
            DataOwnerStatus::NotReady
        );
        assert_eq!(
            status(Some(&active), Some(OwnerStatus::Ready), none),
            DataOwnerStatus::Ready
        );
        assert_eq!(
            status(Some(&active), Some(OwnerStatus::ReadyFailed(-4)), none),
            DataOwnerStatus::Failed
        );
        assert_eq!(
            status(Some(&active), Some(OwnerStatus::Gone), none),
            DataOwnerStatus::NotConnected
        );
        let proxy_only = reg(r#"<active_backup process_name="x" active_type="proxyonly"/>"#);
        assert_eq!(
            status(Some(&proxy_only), Some(OwnerStatus::Ready), none),
            DataOwnerStatus::ReadyNoImpl
        );
        let proxied = reg(r#"<proxy_data_manager sid="2"/>"#);
        assert_eq!(
            status(Some(&proxied), None, none),
            DataOwnerStatus::NotFound,
            "unknown proxy"
        );
        assert_eq!(
            status(Some(&proxied), None, |_| DataOwnerStatus::ReadyNoImpl),
            DataOwnerStatus::Ready
        );
        let passive = reg(r#"<passive_backup/>"#);
        assert_eq!(status(Some(&passive), None, none), DataOwnerStatus::Ready);
        let public_only = reg(r#"<public_backup/>"#);
        assert_eq!(
            status(Some(&public_only), None, none),
            DataOwnerStatus::Unset
        );
    }
}
