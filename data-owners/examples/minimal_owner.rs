//! The minimum an application needs to take part in backup and restore as an active
//! owner: back up one file, `<cage>/data.txt`, base only.
//!
//! Registration (`<cage>/backup_registration.xml`):
//!
//! ```xml
//! <backup_registration version="1.0">
//!   <active_backup process_name="minimal_owner" supports_incremental="no"/>
//! </backup_registration>
//! ```
//!
//! The engine starts the binary with `SBE_SOCKET`, `SBE_SID` and `SBE_CAGE` set.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use data_owners::client::{
    ActiveBackupClient, ActiveBackupDataClient, OwnerEnv, OwnerError, Section,
};
use data_owners::wire::{DriveLetter, ModeInfo};

struct Minimal {
    cage: PathBuf,
    out: Vec<u8>,
    pos: usize,
    restored: Vec<u8>,
}

fn io(e: std::io::Error) -> OwnerError {
    OwnerError::new(-2, e.to_string())
}

impl ActiveBackupDataClient for Minimal {
    fn bur_mode_changed(&mut self, mode: &ModeInfo) -> Option<i32> {
        // Here a real app stops writing and closes its files when a backup or restore
        // starts, and reopens them when the mode is normal again.
        mode.is_bur_running().then_some(0)
    }
    fn initialise_get_backup_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        self.out = std::fs::read(self.cage.join("data.txt")).map_err(io)?;
        self.pos = 0;
        Ok(())
    }
    fn get_backup_data_section(&mut self, max_len: usize) -> Result<Section, OwnerError> {
        let end = (self.pos + max_len).min(self.out.len());
        let section = self.out[self.pos..end].to_vec();
        self.pos = end;
        Ok((section, end == self.out.len()))
    }
    fn initialise_restore_base_data(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        self.restored.clear();
        Ok(())
    }
    fn restore_base_data_section(&mut self, data: &[u8], _last: bool) -> Result<(), OwnerError> {
        self.restored.extend_from_slice(data);
        Ok(())
    }
    fn restore_complete(&mut self, _drive: DriveLetter) -> Result<(), OwnerError> {
        let tmp = self.cage.join("data.txt.tmp");
        std::fs::write(&tmp, &self.restored).map_err(io)?;
        std::fs::rename(tmp, self.cage.join("data.txt")).map_err(io)
    }
    fn terminate_multi_stage_operation(&mut self) {
        self.restored.clear();
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = OwnerEnv::from_env()?;
    let mut owner = Minimal {
        cage: env.cage.clone(),
        out: Vec::new(),
        pos: 0,
        restored: Vec::new(),
    };
    let mut client = ActiveBackupClient::connect_env(&env).await?;
    client.run(&mut owner).await?;
    Ok(())
}
