//! A data owner for the engine's integration tests (not a reference owner).
//!
//! Started by the engine with `SBE_SOCKET`, `SBE_SID` and `SBE_CAGE`. What it does is
//! read from `<cage>/behaviour`: `normal` (default), `crash` (exits when a backup unit
//! begins), `never-confirm`, `garbage` (answers the first callback with junk bytes),
//! `error` (every data callback fails with -14), `slow` (sleeps 5 s in every section),
//! `crash-on-restore` (exits when a base restore begins), `ready-error` (confirms
//! readiness with -4), `late-ready` (confirms readiness 3 s after each mode change).
//! In `normal` it backs up `<cage>/active.dat` and restores base and increments into
//! `<cage>/active.restored` (increments are appended), and records every callback in
//! `<cage>/calls.log`.
#![forbid(unsafe_code)]
#![allow(clippy::disallowed_methods)] // test fixtures build trees by path

use std::io::Write as _;
use std::path::PathBuf;

use data_owners::client::{ActiveBackupClient, ActiveBackupDataClient, OwnerError, Section};
use data_owners::wire::{DriveLetter, EngineMsg, ModeInfo, OwnerMsg, PROTOCOL_VERSION};
use tokio::io::AsyncWriteExt;

struct TestOwner {
    cage: PathBuf,
    behaviour: String,
    data: Vec<u8>,
    pos: usize,
    restore_target: String,
}

impl TestOwner {
    fn log(&self, line: &str) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.cage.join("calls.log"))
        {
            let _ = writeln!(f, "{line}");
        }
    }

    fn check(&self) -> Result<(), OwnerError> {
        match self.behaviour.as_str() {
            "error" => Err(OwnerError::new(-14, "owner is busy")),
            "slow" => {
                std::thread::sleep(std::time::Duration::from_secs(5));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn append(&self, data: &[u8]) -> Result<(), OwnerError> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.cage.join(&self.restore_target))
            .map_err(|e| OwnerError::new(-2, e.to_string()))?;
        f.write_all(data)
            .map_err(|e| OwnerError::new(-2, e.to_string()))
    }
}

impl ActiveBackupDataClient for TestOwner {
    fn bur_mode_changed(&mut self, mode: &ModeInfo) -> Option<i32> {
        self.log(&format!(
            "mode {:#x} affects_me={}",
            mode.mode.bits(),
            mode.affects_me
        ));
        if self.behaviour == "never-confirm" {
            return None;
        }
        if self.behaviour == "late-ready" && !mode.mode.is_normal() {
            std::thread::sleep(std::time::Duration::from_secs(3));
        }
        if self.behaviour == "ready-error" && !mode.mode.is_normal() {
            return Some(-4);
        }
        (!mode.mode.is_normal()).then_some(0)
    }
    fn all_snapshots_supplied(&mut self) -> Result<(), OwnerError> {
        self.log("all_snapshots_supplied");
        Ok(())
    }
    fn receive_snapshot_data(
        &mut self,
        _d: DriveLetter,
        data: &[u8],
        last: bool,
    ) -> Result<(), OwnerError> {
        self.log(&format!(
            "receive_snapshot {} last={last}",
            String::from_utf8_lossy(data)
        ));
        Ok(())
    }
    fn get_snapshot_data(&mut self, _d: DriveLetter, _max: usize) -> Result<Section, OwnerError> {
        self.check()?;
        Ok((format!("snap:{}", self.data.len()).into_bytes(), true))
    }
    fn initialise_get_backup_data(&mut self, drive: DriveLetter) -> Result<(), OwnerError> {
        self.log(&format!("init_backup {}", drive.letter()));
        if self.behaviour == "crash" {
            std::process::exit(3);
        }
        self.check()?;
        // A hybrid owner prepares files for its passive part while its active unit runs.
        let files = self.cage.join("files");
        if files.is_dir() {
            std::fs::write(files.join("generated.txt"), b"generated during backup")
                .map_err(|e| OwnerError::new(-2, e.to_string()))?;
        }
        self.data = std::fs::read(self.cage.join("active.dat")).unwrap_or_default();
        self.pos = 0;
        Ok(())
    }
    fn get_backup_data_section(&mut self, max_len: usize) -> Result<Section, OwnerError> {
        self.check()?;
        // Hostile owners: sections without end, full or empty.
        match self.behaviour.as_str() {
            "flood" => return Ok((vec![0x5A; max_len], false)),
            "endless" => return Ok((Vec::new(), false)),
            _ => {}
        }
        let end = (self.pos + max_len).min(self.data.len());
        let out = self.data[self.pos..end].to_vec();
        self.pos = end;
        Ok((out, end == self.data.len()))
    }
    fn initialise_restore_base_data(&mut self, drive: DriveLetter) -> Result<(), OwnerError> {
        self.log(&format!("init_restore_base {}", drive.letter()));
        if self.behaviour == "crash-on-restore" {
            std::process::exit(4);
        }
        if let Ok(prepared) = std::fs::read_to_string(self.cage.join("files/prepared.txt")) {
            self.log(&format!("passive already restored: {prepared}"));
        }
        self.check()?;
        self.restore_target = "active.restored".into();
        let _ = std::fs::remove_file(self.cage.join(&self.restore_target));
        Ok(())
    }
    fn restore_base_data_section(&mut self, data: &[u8], last: bool) -> Result<(), OwnerError> {
        self.log(&format!("restore_base {} last={last}", data.len()));
        self.append(data)
    }
    fn initialise_restore_increment_data(&mut self, drive: DriveLetter) -> Result<(), OwnerError> {
        self.log(&format!("init_restore_increment {}", drive.letter()));
        self.check()
    }
    fn restore_increment_data_section(
        &mut self,
        data: &[u8],
        last: bool,
    ) -> Result<(), OwnerError> {
        self.log(&format!("restore_increment {} last={last}", data.len()));
        self.append(data)
    }
    fn restore_complete(&mut self, drive: DriveLetter) -> Result<(), OwnerError> {
        self.log(&format!("restore_complete {}", drive.letter()));
        Ok(())
    }
    fn initialise_get_proxy_backup_data(
        &mut self,
        sid: u32,
        drive: DriveLetter,
    ) -> Result<(), OwnerError> {
        self.log(&format!("init_proxy_backup {sid:08x} {}", drive.letter()));
        self.check()?;
        self.data = format!("proxy data for {sid:08x}").into_bytes();
        self.pos = 0;
        Ok(())
    }
    fn initialise_restore_proxy_base_data(
        &mut self,
        sid: u32,
        drive: DriveLetter,
    ) -> Result<(), OwnerError> {
        self.log(&format!("init_proxy_restore {sid:08x} {}", drive.letter()));
        self.check()?;
        self.restore_target = format!("proxy-{sid:08x}.restored");
        let _ = std::fs::remove_file(self.cage.join(&self.restore_target));
        Ok(())
    }
    fn terminate_multi_stage_operation(&mut self) {
        self.log("terminate");
    }
}

/// Speaks the protocol correctly until the first callback, then sends junk.
async fn garbage(socket: &std::path::Path, sid: u32) -> std::io::Result<()> {
    use data_owners::transport::{FrameReader, send};
    let stream = tokio::net::UnixStream::connect(socket).await?;
    let (r, mut w) = stream.into_split();
    send(
        &mut w,
        &OwnerMsg::Hello {
            version: PROTOCOL_VERSION,
            sid,
        },
    )
    .await
    .map_err(std::io::Error::other)?;
    let mut reader = FrameReader::new(r);
    loop {
        match reader
            .recv::<EngineMsg>()
            .await
            .map_err(std::io::Error::other)?
        {
            Some(EngineMsg::ModeChanged(m) | EngineMsg::Welcome(m)) if !m.mode.is_normal() => {
                send(&mut w, &OwnerMsg::ConfirmReady { error: 0 })
                    .await
                    .map_err(std::io::Error::other)?;
            }
            Some(EngineMsg::Call { .. }) => {
                w.write_all(&[3, 0, 0, 0, 0xEE, 0xEE, 0xEE]).await?;
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                return Ok(());
            }
            Some(_) => {}
            None => return Ok(()),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let socket = PathBuf::from(std::env::var_os("SBE_SOCKET").unwrap_or_default());
    let sid = std::env::var("SBE_SID")
        .ok()
        .and_then(|s| u32::from_str_radix(&s, 16).ok())
        .unwrap_or(0);
    let cage = PathBuf::from(std::env::var_os("SBE_CAGE").unwrap_or_default());
    let behaviour =
        std::fs::read_to_string(cage.join("behaviour")).unwrap_or_else(|_| "normal".into());
    let behaviour = behaviour.trim().to_owned();
    if behaviour == "garbage" {
        if let Err(e) = garbage(&socket, sid).await {
            eprintln!("sbe-test-owner: {e}");
        }
        return;
    }
    let mut owner = TestOwner {
        cage,
        behaviour,
        data: Vec::new(),
        pos: 0,
        restore_target: "active.restored".into(),
    };
    match ActiveBackupClient::connect(&socket, sid).await {
        Ok(mut client) => {
            if let Err(e) = client.run(&mut owner).await {
                eprintln!("sbe-test-owner: {e}");
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("sbe-test-owner: {e}");
            std::process::exit(2);
        }
    }
}
