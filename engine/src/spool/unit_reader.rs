//! Reading a unit: the file and its key ([`UnitFile`]), and a reader that checks the
//! framing and block CRCs, hashes the file's bytes and decrypts an encrypted unit as it
//! goes ([`UnitReader`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::ReadError;
use crate::stream::UnitDecoder;

/// A unit file and the key that decrypts it, if it is encrypted: what every reader of a
/// unit is handed, so that no reader can forget the key.
#[derive(Debug, Clone)]
pub struct UnitFile {
    /// The file.
    pub path: PathBuf,
    /// The key of an encrypted set (`None`: the unit must be plain).
    pub key: Option<crate::crypto::Unlocked>,
}

impl UnitFile {
    /// A unit of a plain set.
    pub fn plain(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            key: None,
        }
    }

    /// Opens it for reading.
    ///
    /// # Errors
    /// As [`UnitReader::open_with`].
    pub fn open(&self) -> std::io::Result<UnitReader> {
        UnitReader::open_with(&self.path, self.key.as_ref())
    }
}

impl std::ops::Deref for UnitFile {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

/// Hashes what is read through it.
struct Hashing<R> {
    inner: R,
    hasher: std::sync::Arc<std::sync::Mutex<Sha256>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut h) = self.hasher.lock() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// Reads a unit file block by block, checking framing and CRCs and hashing the file (the
/// file's bytes: of an encrypted unit, the ciphertext, which is what the manifest lists).
pub struct UnitReader {
    source: Box<dyn Read + Send>,
    decoder: UnitDecoder,
    hasher: std::sync::Arc<std::sync::Mutex<Sha256>>,
    eof: bool,
    flags: Option<bool>,
    first: Vec<u8>,
    chunk: Vec<u8>,
    /// An encrypted unit read without its key: hashed only, never decoded.
    sealed: bool,
}

impl std::fmt::Debug for UnitReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnitReader")
            .field("eof", &self.eof)
            .field("sealed", &self.sealed)
            .finish_non_exhaustive()
    }
}

impl UnitReader {
    /// Opens a plain unit file (through the confined layer: sets may come from the host, so
    /// a link or a FIFO in place of a unit is refused, never followed or waited on).
    ///
    /// # Errors
    /// The I/O error of opening it; an encrypted unit.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Self::open_with(path, None)
    }

    /// Opens a unit file that may be encrypted: with `key`, an encrypted unit is decrypted
    /// as it is read; without it, one is refused.
    ///
    /// # Errors
    /// The I/O error of opening it, an encrypted unit without a key, or a key that does not
    /// decrypt it.
    pub fn open_with(path: &Path, key: Option<&crate::crypto::Unlocked>) -> std::io::Result<Self> {
        let mut r = Self::open_raw(path, key, false)?;
        if r.sealed {
            return Err(std::io::Error::other(format!(
                "{}: encrypted: it needs the backup password",
                path.display()
            )));
        }
        r.sealed = false;
        Ok(r)
    }

    /// Opens a unit to check its bytes: an encrypted one without `key` is only hashed
    /// ([`UnitReader::is_sealed`]).
    ///
    /// # Errors
    /// The I/O error of opening it, or a key that does not decrypt it.
    pub fn open_for_check(
        path: &Path,
        key: Option<&crate::crypto::Unlocked>,
    ) -> std::io::Result<Self> {
        Self::open_raw(path, key, true)
    }

    fn open_raw(
        path: &Path,
        key: Option<&crate::crypto::Unlocked>,
        hash_only_ok: bool,
    ) -> std::io::Result<Self> {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str()))
        else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{}: not a unit path", path.display()),
            ));
        };
        let (file, _) = crate::confined::Dir::open_root(dir)?.open_file(name)?;
        let hasher = std::sync::Arc::new(std::sync::Mutex::new(Sha256::new()));
        let mut buffered = std::io::BufReader::with_capacity(
            64 * 1024,
            Hashing {
                inner: file,
                hasher: hasher.clone(),
            },
        );
        let head = std::io::BufRead::fill_buf(&mut buffered)?;
        let encrypted = crate::crypto::is_age(head);
        let (source, sealed): (Box<dyn Read + Send>, bool) = match (encrypted, key) {
            (false, _) => (Box::new(buffered), false),
            (true, Some(k)) => {
                let r = k
                    .decrypt(buffered)
                    .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?;
                (Box::new(r), false)
            }
            (true, None) if hash_only_ok => (Box::new(buffered), true),
            (true, None) => (Box::new(buffered), true),
        };
        Ok(Self {
            source,
            decoder: UnitDecoder::new(),
            hasher,
            eof: false,
            flags: None,
            first: Vec::new(),
            chunk: vec![0u8; 64 * 1024],
            sealed,
        })
    }

    /// True for an encrypted unit opened without its key: [`UnitReader::next_block`]
    /// only hashes it.
    pub fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// Returns the next raw block, `Ok(None)` at the (checked) end of the unit.
    ///
    /// # Errors
    /// [`ReadError`] on I/O failure or corruption.
    pub fn next_block(&mut self) -> Result<Option<bytes::Bytes>, ReadError> {
        if self.sealed {
            while self.source.read(&mut self.chunk)? > 0 {}
            return Ok(None);
        }
        loop {
            if let Some(block) = self.decoder.poll_block()? {
                return Ok(Some(block));
            }
            if self.eof {
                self.decoder.finish()?;
                return Ok(None);
            }
            let n = self.source.read(&mut self.chunk)?;
            let chunk = &self.chunk;
            if n == 0 {
                self.eof = true;
                continue;
            }
            if self.first.len() < 8 {
                let want = (8 - self.first.len()).min(n);
                self.first.extend_from_slice(&chunk[..want]);
                if self.first.len() >= 5 {
                    self.flags = Some(self.first[4] & 1 != 0);
                }
            }
            self.decoder.handle_input(&chunk[..n]);
        }
    }

    /// Returns whether the unit says it is compressed (once its header was read).
    pub fn compressed(&self) -> Option<bool> {
        self.flags
    }

    /// Returns the SHA-256 of the file's bytes read so far (the whole file after
    /// `Ok(None)`).
    pub fn sha256(&self) -> [u8; 32] {
        self.hasher
            .lock()
            .map(|h| h.clone().finalize().into())
            .unwrap_or([0; 32])
    }
}
