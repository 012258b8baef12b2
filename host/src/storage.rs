//! The device's Backup storage seen through a [`Client`]: its generated files
//! (`status.toml`, `owners.toml`), its `requests/` folder and its set folders, by name.

use std::io::Read;

use mtp::ObjectFormat;
use mtp::codec::dataset::ObjectInfo;

use crate::client::{Client, ClientError, Result};
use crate::link::Link;

/// The description the firmware gives its Backup storage.
pub const BACKUP_DESCRIPTION: &str = "Backup";
/// The parent handle that means "the storage root".
pub const ROOT: u32 = 0xFFFF_FFFF;

/// One object of the storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its handle.
    pub handle: u32,
    /// Its name.
    pub name: String,
    /// Whether it is a folder.
    pub is_folder: bool,
    /// Its size (0xFFFFFFFF for 4 GiB or more).
    pub size: u32,
    /// Its parent's handle (0 in the root).
    pub parent: u32,
}

impl Entry {
    /// Builds an entry from an ObjectInfo dataset.
    pub fn from_info(handle: u32, info: &ObjectInfo) -> Self {
        Self {
            handle,
            name: info.filename.clone(),
            is_folder: info.format == ObjectFormat::Association.to_u16(),
            size: info.compressed_size,
            parent: info.parent,
        }
    }
}

/// The Backup storage of a connected device.
#[derive(Debug)]
pub struct BackupStorage<L: Link> {
    /// The session with the device.
    pub client: Client<L>,
    /// The storage's ID.
    pub id: u32,
}

impl<L: Link> BackupStorage<L> {
    /// Finds the storage described "Backup".
    ///
    /// # Errors
    /// The device has none (not an `mtpbur` device), or a transaction failed.
    pub fn find(mut client: Client<L>) -> std::result::Result<Self, (Client<L>, ClientError)> {
        let ids = match client.storage_ids() {
            Ok(ids) => ids,
            Err(e) => return Err((client, e)),
        };
        for id in ids {
            match client.storage_info(id) {
                Ok(info) if info.description == BACKUP_DESCRIPTION => {
                    return Ok(Self { client, id });
                }
                Ok(_) => {}
                Err(e) => return Err((client, e)),
            }
        }
        Err((
            client,
            ClientError::Protocol(
                "the device has no Backup storage (is it an mtpbur device?)".into(),
            ),
        ))
    }

    /// The objects directly in `parent` ([`ROOT`] for the top).
    ///
    /// # Errors
    /// A transaction failed.
    pub fn list(&mut self, parent: u32) -> Result<Vec<Entry>> {
        let handles = self.client.handles(self.id, parent)?;
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            match self.client.object_info(h) {
                Ok(info) => out.push(Entry::from_info(h, &info)),
                // Removed between the two transactions.
                Err(ClientError::Refused { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The object `name` directly in `parent`, if there is one.
    ///
    /// # Errors
    /// A transaction failed.
    pub fn lookup(&mut self, parent: u32, name: &str) -> Result<Option<Entry>> {
        Ok(self.list(parent)?.into_iter().find(|e| e.name == name))
    }

    /// Reads a small file of the root (`status.toml`, `owners.toml`) whole.
    ///
    /// # Errors
    /// It does not exist, or a transaction failed.
    pub fn read_root_file(&mut self, name: &str) -> Result<Vec<u8>> {
        let entry = self
            .lookup(ROOT, name)?
            .ok_or_else(|| ClientError::Protocol(format!("the Backup storage has no {name}")))?;
        self.read(entry.handle)
    }

    /// Reads an object whole.
    ///
    /// # Errors
    /// A transaction failed.
    pub fn read(&mut self, handle: u32) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        self.client.get_object(handle, &mut data)?;
        Ok(data)
    }

    /// Creates folder `name` in `parent`; returns its handle.
    ///
    /// # Errors
    /// The device refused (the name exists, access not allowed) or the link failed.
    pub fn create_folder(&mut self, parent: u32, name: &str) -> Result<u32> {
        let info = object_info(self.id, parent, name, ObjectFormat::Association, 0);
        self.client
            .send_object(self.id, parent, &info, 0, &mut std::io::empty())
    }

    /// Uploads `len` bytes from `reader` as file `name` in `parent`; returns its handle.
    ///
    /// # Errors
    /// The device refused or the link failed.
    pub fn upload(
        &mut self,
        parent: u32,
        name: &str,
        len: u64,
        reader: &mut dyn Read,
    ) -> Result<u32> {
        let info = object_info(self.id, parent, name, ObjectFormat::Undefined, len);
        self.client.send_object(self.id, parent, &info, len, reader)
    }

    /// Deletes an object (a folder with everything in it).
    ///
    /// # Errors
    /// The device refused (in use by a session) or the link failed.
    pub fn delete(&mut self, handle: u32) -> Result<()> {
        self.client.delete_object(handle)
    }
}

fn object_info(
    storage: u32,
    parent: u32,
    name: &str,
    format: ObjectFormat,
    len: u64,
) -> ObjectInfo {
    let folder = format == ObjectFormat::Association;
    ObjectInfo {
        storage_id: storage,
        format: format.to_u16(),
        compressed_size: u32::try_from(len).unwrap_or(u32::MAX),
        parent: if parent == ROOT { 0 } else { parent },
        association_type: if folder { 1 } else { 0 },
        filename: name.to_owned(),
        ..ObjectInfo::default()
    }
}
