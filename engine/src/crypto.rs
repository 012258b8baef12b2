//! Backup encryption: the device's backup key, and age streams for units.
//!
//! - The **backup key** is an X25519 key pair (age's own recipient type). Every unit of an
//!   encrypted set is an age file to its public half, so the device encrypts backups
//!   without the password (as an iPhone does).
//! - Its secret half never rests in clear: it is kept only inside an age file encrypted
//!   with the backup password (age's scrypt recipient: salted and memory-hard). That file,
//!   `key.age`, is both the password's verifier and the wrapped key. Every encrypted set
//!   carries a copy, so the standard `age` tool decrypts any unit with the password alone:
//!   `age -d -i key.age unit > unit.plain`.
//! - The **MAC key** authenticates each encrypted set's manifest (HMAC-SHA256). The device
//!   keeps it to write sets; the password holder finds it in `key.age` (a comment line of
//!   the identity file, which age ignores). A host without the password can neither read
//!   a unit nor change a set in a way a restore accepts.
//! - The **local key**, a second X25519 pair kept only on the device, is an extra
//!   recipient of snapshot units, so that an incremental backup reads the earlier set's
//!   snapshots without asking for the password.
//!
//! The key file (`key_file` in the profile) is root's, mode 0600; `save` writes it
//! atomically.

use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;

pub use age::secrecy::ExposeSecret;
pub use age::secrecy::SecretString;
use age::x25519;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::unit::UnitKind;

/// The name of the wrapped key in every encrypted set.
pub const SET_KEY_FILE: &str = "key.age";
/// scrypt work factors (log2 N) accepted when unwrapping: what the device writes by
/// default (16: 64 MiB, about 0.2 s on a small ARM core) up to what age's own tool
/// writes on a PC (18 and more).
pub const DEFAULT_WORK_FACTOR: u8 = 16;
const MAX_WORK_FACTOR: u8 = 22;
const MAC_PREFIX: &str = "# mtpbur-mac: ";

/// What went wrong with a key or a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The password does not open the key.
    #[error("wrong backup password")]
    WrongPassword,
    /// The key file or a set's `key.age` is not what the device writes.
    #[error("the backup key is damaged: {0}")]
    BadKey(String),
    /// A manifest's MAC does not match.
    #[error("the set was changed after the device wrote it (its manifest does not authenticate)")]
    BadMac,
    /// A unit cannot be decrypted.
    #[error("cannot decrypt: {0}")]
    Decrypt(String),
    /// Reading or writing failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The device's backup key as it keeps it.
#[derive(Clone)]
pub struct Keys {
    recipient: x25519::Recipient,
    local: x25519::Identity,
    mac_key: [u8; 32],
    wrapped: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("recipient", &self.recipient.to_string())
            .finish_non_exhaustive()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyDoc {
    recipient: String,
    local_identity: String,
    mac_key: String,
    wrapped_key: String,
}

/// A backup key opened with the password: what decrypts units and checks manifests.
#[derive(Clone)]
pub struct Unlocked {
    identity: x25519::Identity,
    mac_key: [u8; 32],
}

impl std::fmt::Debug for Unlocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unlocked(..)")
    }
}

impl Keys {
    /// A new backup key wrapped with `password` (scrypt work factor `work_factor`).
    ///
    /// # Errors
    /// An empty password.
    pub fn create(password: &SecretString, work_factor: u8) -> Result<Self, CryptoError> {
        let identity = x25519::Identity::generate();
        let mut mac_key = [0u8; 32];
        rustix::rand::getrandom(&mut mac_key, rustix::rand::GetRandomFlags::empty())
            .map_err(|e| CryptoError::Io(e.into()))?;
        let wrapped = wrap(&identity, &mac_key, password, work_factor)?;
        Ok(Self {
            recipient: identity.to_public(),
            local: x25519::Identity::generate(),
            mac_key,
            wrapped,
        })
    }

    /// Reads the key file; `None` if there is none (encryption off).
    ///
    /// # Errors
    /// The file exists but cannot be read or is damaged.
    pub fn load(path: &Path) -> Result<Option<Self>, CryptoError> {
        #[allow(
            clippy::disallowed_methods,
            reason = "the key file is root's, in the profile"
        )]
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let doc: KeyDoc = toml::from_str(&text)
            .map_err(|e| CryptoError::BadKey(format!("{}: {e}", path.display())))?;
        let bad = |what: &str| CryptoError::BadKey(format!("{}: {what}", path.display()));
        Ok(Some(Self {
            recipient: x25519::Recipient::from_str(&doc.recipient).map_err(|_| bad("recipient"))?,
            local: x25519::Identity::from_str(&doc.local_identity)
                .map_err(|_| bad("local_identity"))?,
            mac_key: from_hex32(&doc.mac_key).ok_or_else(|| bad("mac_key"))?,
            wrapped: doc.wrapped_key,
        }))
    }

    /// Writes the key file atomically, mode 0600.
    ///
    /// # Errors
    /// It cannot be written.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let doc = KeyDoc {
            recipient: self.recipient.to_string(),
            local_identity: self.local.to_string().expose_secret().to_owned(),
            mac_key: crate::manifest::to_hex(&self.mac_key),
            wrapped_key: self.wrapped.clone(),
        };
        let text = toml::to_string(&doc).map_err(io::Error::other)?;
        crate::mode::write_atomically(path, text.as_bytes(), 0o600)
    }

    /// Opens the key with `password`.
    ///
    /// # Errors
    /// [`CryptoError::WrongPassword`].
    pub fn unlock(&self, password: &SecretString) -> Result<Unlocked, CryptoError> {
        unwrap(&self.wrapped, password)
    }

    /// The same key wrapped with `new` instead of `old`.
    ///
    /// # Errors
    /// `old` is wrong, or `new` is empty.
    pub fn rewrap(
        &self,
        old: &SecretString,
        new: &SecretString,
        work_factor: u8,
    ) -> Result<Self, CryptoError> {
        let open = self.unlock(old)?;
        Ok(Self {
            wrapped: wrap(&open.identity, &open.mac_key, new, work_factor)?,
            ..self.clone()
        })
    }

    /// The wrapped key, as `key.age` in every encrypted set.
    pub fn wrapped(&self) -> &str {
        &self.wrapped
    }

    /// The recipients of a unit of `kind`: the backup key; for snapshots also the local
    /// key (so that the next increment needs no password).
    pub fn recipients(&self, kind: UnitKind) -> Vec<Box<dyn age::Recipient + Send>> {
        let mut r: Vec<Box<dyn age::Recipient + Send>> = vec![Box::new(self.recipient.clone())];
        if kind.is_snapshot() {
            r.push(Box::new(self.local.to_public()));
        }
        r
    }

    /// What the device itself can decrypt without the password: snapshots.
    pub fn local(&self) -> Unlocked {
        Unlocked {
            identity: self.local.clone(),
            mac_key: self.mac_key,
        }
    }

    /// The MAC of a manifest's text.
    pub fn mac(&self, text: &str) -> [u8; 32] {
        mac(&self.mac_key, text)
    }
}

impl Unlocked {
    /// Opens a set's `key.age` with `password`.
    ///
    /// # Errors
    /// [`CryptoError::WrongPassword`], or a damaged file.
    pub fn from_wrapped(wrapped: &str, password: &SecretString) -> Result<Self, CryptoError> {
        unwrap(wrapped, password)
    }

    /// Checks a manifest's MAC.
    ///
    /// # Errors
    /// [`CryptoError::BadMac`].
    pub fn check_mac(&self, text: &str, expected: &[u8; 32]) -> Result<(), CryptoError> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key)
            .map_err(|_| CryptoError::BadMac)?;
        m.update(text.as_bytes());
        m.verify_slice(expected).map_err(|_| CryptoError::BadMac)
    }

    /// A reader of the plaintext of the age file `input`.
    ///
    /// # Errors
    /// Not an age file, or not for this key.
    pub fn decrypt<R: Read>(&self, input: R) -> Result<age::stream::StreamReader<R>, CryptoError> {
        let d = age::Decryptor::new(input).map_err(|e| CryptoError::Decrypt(e.to_string()))?;
        d.decrypt(std::iter::once(&self.identity as &dyn age::Identity))
            .map_err(|e| CryptoError::Decrypt(e.to_string()))
    }
}

/// Opens the wrapped keys of a chain's sets with one password, each distinct key once
/// (the memory-hard derivation is the slow part).
#[derive(Debug)]
pub struct Unlocker<'a> {
    password: &'a SecretString,
    opened: Vec<(String, Unlocked)>,
}

impl<'a> Unlocker<'a> {
    /// An unlocker for `password`.
    pub fn new(password: &'a SecretString) -> Self {
        Self {
            password,
            opened: Vec::new(),
        }
    }

    /// The key inside `wrapped` (a set's `key.age`).
    ///
    /// # Errors
    /// [`CryptoError::WrongPassword`], or a damaged file.
    pub fn open(&mut self, wrapped: &str) -> Result<Unlocked, CryptoError> {
        if let Some((_, k)) = self.opened.iter().find(|(w, _)| w == wrapped) {
            return Ok(k.clone());
        }
        let k = Unlocked::from_wrapped(wrapped, self.password)?;
        self.opened.push((wrapped.to_owned(), k.clone()));
        Ok(k)
    }
}

/// An age stream writer to `recipients` over `output`.
///
/// # Errors
/// The header cannot be written.
pub fn encrypt<W: Write>(
    recipients: &[Box<dyn age::Recipient + Send>],
    output: W,
) -> io::Result<age::stream::StreamWriter<W>> {
    let e = age::Encryptor::with_recipients(
        recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient),
    )
    .map_err(io::Error::other)?;
    e.wrap_output(output)
}

/// The plaintext chunk of age's payload stream.
const AGE_CHUNK: u64 = 64 * 1024;
/// The tag each chunk carries.
const AGE_TAG: u64 = 16;

/// The length of an age file whose header (with the payload nonce) is `header` bytes and
/// whose plaintext is `plain` bytes: every 64 KiB chunk, and the last (possibly empty),
/// gains a 16-byte tag.
pub fn sealed_len(header: u64, plain: u64) -> u64 {
    let chunks = plain.div_ceil(AGE_CHUNK).max(1);
    header + plain + chunks * AGE_TAG
}

/// True when `head` starts like an age file (binary or armored).
pub fn is_age(head: &[u8]) -> bool {
    head.starts_with(b"age-encryption.org/v1\n")
        || head.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
}

fn mac(key: &[u8; 32], text: &str) -> [u8; 32] {
    let Ok(mut m) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return [0; 32];
    };
    m.update(text.as_bytes());
    m.finalize().into_bytes().into()
}

/// The identity file the password protects: a comment with the MAC key, then the
/// identity (age reads it as an identity file and skips the comment).
fn wrap(
    identity: &x25519::Identity,
    mac_key: &[u8; 32],
    password: &SecretString,
    work_factor: u8,
) -> Result<String, CryptoError> {
    if password.expose_secret().is_empty() {
        return Err(CryptoError::BadKey("the backup password is empty".into()));
    }
    let plain = format!(
        "# mtpbur backup key: decrypt a unit with `age -d -i key.age UNIT`\n{MAC_PREFIX}{}\n{}\n",
        crate::manifest::to_hex(mac_key),
        identity.to_string().expose_secret()
    );
    let mut r = age::scrypt::Recipient::new(password.clone());
    r.set_work_factor(work_factor);
    let mut out = Vec::new();
    let armored = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)?;
    let e = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
        .map_err(|e| CryptoError::BadKey(e.to_string()))?;
    let mut w = e.wrap_output(armored)?;
    w.write_all(plain.as_bytes())?;
    w.finish()?.finish()?;
    String::from_utf8(out).map_err(|e| CryptoError::BadKey(e.to_string()))
}

fn unwrap(wrapped: &str, password: &SecretString) -> Result<Unlocked, CryptoError> {
    let reader = age::armor::ArmoredReader::new(wrapped.as_bytes());
    let d = age::Decryptor::new(reader).map_err(|e| CryptoError::BadKey(e.to_string()))?;
    if !d.is_scrypt() {
        return Err(CryptoError::BadKey(
            "the wrapped key is not protected by a password".into(),
        ));
    }
    let mut id = age::scrypt::Identity::new(password.clone());
    id.set_max_work_factor(MAX_WORK_FACTOR);
    let mut r = match d.decrypt(std::iter::once(&id as &dyn age::Identity)) {
        Ok(r) => r,
        Err(age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys) => {
            return Err(CryptoError::WrongPassword);
        }
        Err(e) => return Err(CryptoError::BadKey(e.to_string())),
    };
    let mut plain = String::new();
    r.read_to_string(&mut plain)
        .map_err(|_| CryptoError::WrongPassword)?;
    let mac_key = plain
        .lines()
        .find_map(|l| l.strip_prefix(MAC_PREFIX))
        .and_then(from_hex32)
        .ok_or_else(|| CryptoError::BadKey("no MAC key in the wrapped key".into()))?;
    let identity = plain
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .and_then(|l| x25519::Identity::from_str(l).ok())
        .ok_or_else(|| CryptoError::BadKey("no identity in the wrapped key".into()))?;
    Ok(Unlocked { identity, mac_key })
}

fn from_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
