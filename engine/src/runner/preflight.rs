//! The checks of what a restore would write, made before anything changes: a set is
//! verified byte for byte (`SpoolSet::verify`), but its SHA-256 values are written by
//! whoever wrote the set, so a host can upload a consistent set that asks for anything.
//! Here every unit is held against the device's rules: system data only as the board
//! profile allows ([`crate::system::SystemPolicy`]), proxy data only for a proxy manager the
//! owner declares, and every path of a system unit is read and checked.

use crate::manifest::Manifest;
use crate::passive::archive::{ArchiveDecoder, ArchiveEvent};
use crate::registration::Sid;
use crate::spool::SpoolSet;
use crate::system::SystemRestore;
use crate::unit::{UnitId, UnitKind};

use super::engine::Engine;

impl Engine {
    /// Returns every reason the restore of `manifests` (from `sets`) must be refused;
    /// only the units of owners `restored` accepts are held against the rules (the others
    /// are not written).
    pub(super) fn preflight(
        &self,
        sets: &[SpoolSet],
        manifests: &[Manifest],
        restored: &dyn Fn(Sid) -> bool,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        for (set, manifest) in sets.iter().zip(manifests) {
            for unit in manifest.units.iter().filter(|u| restored(u.id.sid)) {
                if let Err(why) = self.check_unit(set, unit.id) {
                    problems.push(format!("{}: {}: {why}", set.dir().display(), unit.id));
                }
            }
        }
        problems
    }

    fn check_unit(&self, set: &SpoolSet, id: UnitId) -> Result<(), String> {
        let installed = self.registrations.contains_key(&id.sid);
        match id.kind {
            UnitKind::System => self.check_system_unit(set, id, installed),
            UnitKind::Proxy(proxy) => match self.registrations.get(&id.sid) {
                Some(reg) if !reg.proxies.contains(&proxy) => Err(format!(
                    "proxy data of {proxy}, which {} does not declare as a proxy data manager",
                    id.sid
                )),
                None if self.config.system.restore != SystemRestore::Any => {
                    Err(format!("{} is not installed", id.sid))
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Reads the paths of a system unit (its data is skipped) and checks each one.
    fn check_system_unit(&self, set: &SpoolSet, id: UnitId, installed: bool) -> Result<(), String> {
        let mut reader = set.unit_file(id).open().map_err(|e| e.to_string())?;
        let mut decoder = ArchiveDecoder::new();
        while let Some(block) = reader.next_block().map_err(|e| e.to_string())? {
            decoder.handle_input(&block);
            while let Some(event) = decoder.poll_event().map_err(|e| e.to_string())? {
                if let ArchiveEvent::File { path, .. } = event {
                    self.config.system.check(&path, id.sid, installed)?;
                }
            }
        }
        decoder.finish().map_err(|e| e.to_string())
    }

    /// Returns true if `sid`, not registered now, may still come back with its package.
    pub(super) fn may_reinstall(&self, sid: Sid) -> bool {
        self.config.system.restore == SystemRestore::Any && !self.registrations.contains_key(&sid)
    }
}
