//! One object of the handle table in 32 bytes: its handle, its folder and kind packed in
//! one word, and its name (inline up to 22 bytes, the length of most file names; longer
//! ones on the heap).
//!
//! The table is a set of entries keyed by handle, so the key is not stored twice.

use std::borrow::Borrow;
use std::ffi::OsStr;
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::OsStrExt;

use super::Dir;

/// Packed parents: a folder's local number (below 2^24), or `ROOT_BASE + storage index`.
const ROOT_BASE: u32 = 0x4000_0000;
/// The bit of the packed word that marks a folder.
const IS_DIR: u32 = 0x8000_0000;
/// Names up to this many bytes are stored inside the entry.
const INLINE: usize = 22;

impl Dir {
    /// Returns the folder as one word (see [`ROOT_BASE`]).
    pub(super) fn pack(self) -> u32 {
        match self {
            // A provider has a handful of storages; indexes never come near 2^24.
            Self::Root(i) => ROOT_BASE | (u32::try_from(i).unwrap_or(0) & 0x00FF_FFFF),
            Self::Folder(h) => h,
        }
    }

    fn unpack(packed: u32) -> Self {
        if packed & ROOT_BASE != 0 {
            Self::Root((packed & 0x00FF_FFFF) as usize)
        } else {
            Self::Folder(packed)
        }
    }
}

/// A file name, inline when short.
#[derive(Debug, Clone)]
enum Name {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Name {
    fn new(name: &OsStr) -> Self {
        let b = name.as_bytes();
        match u8::try_from(b.len()) {
            Ok(len) if b.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..b.len()].copy_from_slice(b);
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(b.into()),
        }
    }

    fn as_os_str(&self) -> &OsStr {
        OsStr::from_bytes(match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Heap(b) => b,
        })
    }
}

/// One known object.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    local: u32,
    /// [`Dir::pack`] of the parent, with [`IS_DIR`] for folders.
    parent_kind: u32,
    name: Name,
}

impl Entry {
    pub(super) fn new(local: u32, parent: Dir, name: &OsStr, is_dir: bool) -> Self {
        let kind = if is_dir { IS_DIR } else { 0 };
        Self {
            local,
            parent_kind: parent.pack() | kind,
            name: Name::new(name),
        }
    }

    pub(super) fn local(&self) -> u32 {
        self.local
    }

    pub(super) fn parent(&self) -> Dir {
        Dir::unpack(self.parent_kind & !IS_DIR)
    }

    pub(super) fn is_dir(&self) -> bool {
        self.parent_kind & IS_DIR != 0
    }

    pub(super) fn set_dir(&mut self, is_dir: bool) {
        self.parent_kind = (self.parent_kind & !IS_DIR) | if is_dir { IS_DIR } else { 0 };
    }

    pub(super) fn name(&self) -> &OsStr {
        self.name.as_os_str()
    }
}

// An entry is found by its handle alone.
impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.local == other.local
    }
}

impl Eq for Entry {}

impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.local.hash(state);
    }
}

impl Borrow<u32> for Entry {
    fn borrow(&self) -> &u32 {
        &self.local
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_takes_32_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 32);
    }

    #[test]
    fn names_of_every_length_and_parents_of_both_kinds_round_trip() {
        for len in [0, 1, 21, 22, 23, 255] {
            let name = OsStr::from_bytes(&vec![0xFFu8; len]).to_owned();
            for parent in [
                Dir::Root(0),
                Dir::Root(7),
                Dir::Folder(1),
                Dir::Folder(0x00FF_FEFF),
            ] {
                for is_dir in [false, true] {
                    let mut e = Entry::new(9, parent, &name, is_dir);
                    assert_eq!((e.name(), e.parent(), e.is_dir()), (&*name, parent, is_dir));
                    e.set_dir(!is_dir);
                    assert_eq!((e.parent(), e.is_dir()), (parent, !is_dir));
                }
            }
        }
    }
}
