//! The Backup storage's generated files: `README.txt`, `owners.toml`, `status.toml`.
//!
//! They live in the storage root under reserved handle numbers, are read-only, and their
//! size is the length of the text published last (the text a GetObject returns), so a
//! host sees exact sizes; a change is announced with ObjectInfoChanged.

use bytes::Bytes;
use mtp::ResponseCode;
use mtp::codec::ObjectFormat;
use mtp::provider::{
    Chunk, ObjectHandle, ObjectRecord, ObjectSource, ProviderId, ProviderResult, StorageId,
};

/// One generated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generated {
    /// `README.txt`.
    Readme,
    /// `owners.toml`.
    Owners,
    /// `status.toml`.
    Status,
}

impl Generated {
    /// Every generated file, in listing order.
    pub(crate) const ALL: [Self; 3] = [Self::Readme, Self::Owners, Self::Status];

    /// Returns its file name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Readme => "README.txt",
            Self::Owners => "owners.toml",
            Self::Status => "status.toml",
        }
    }

    /// Returns the file named `name`, if it is a generated one.
    pub(crate) fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.name() == name)
    }

    /// Returns its provider-local handle number (from the range the files provider
    /// leaves free).
    fn local(self) -> u32 {
        let first = *mtp::providers::RESERVED_LOCALS.start();
        first
            + match self {
                Self::Readme => 1,
                Self::Owners => 2,
                Self::Status => 3,
            }
    }

    /// Returns its handle in provider `id`'s space.
    pub(crate) fn handle(self, id: ProviderId) -> ObjectHandle {
        ObjectHandle::new(id, self.local())
    }

    /// Returns the generated file a handle names.
    pub(crate) fn of(handle: ObjectHandle, id: ProviderId) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.handle(id) == handle)
    }
}

/// A published text and when it last changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Published {
    /// The bytes a GetObject returns.
    pub(crate) text: Bytes,
    /// Unix seconds of the last change.
    pub(crate) modified: i64,
}

/// Builds the object record of a generated file.
pub(crate) fn record(
    g: Generated,
    id: ProviderId,
    storage: StorageId,
    text: &Published,
) -> ObjectRecord {
    ObjectRecord {
        handle: g.handle(id),
        storage,
        parent: None,
        format: ObjectFormat::Text,
        size: text.text.len() as u64,
        name: g.name().to_owned(),
        created: text.modified,
        modified: text.modified,
        read_only: true,
        // Stable across sessions and restarts: storage id and the reserved number.
        puid: (u128::from(storage.0) << 64) | u128::from(g.local()),
    }
}

/// Object data from memory.
#[derive(Debug)]
pub(crate) struct TextSource(Bytes);

impl TextSource {
    /// A source of `text[offset..offset + max_len]`.
    ///
    /// # Errors
    /// InvalidParameter for an offset past the end.
    pub(crate) fn new(text: &Bytes, offset: u64, max_len: u64) -> ProviderResult<Self> {
        let len = text.len() as u64;
        if offset > len {
            return Err(ResponseCode::InvalidParameter);
        }
        let end = offset.saturating_add(max_len).min(len);
        // Both bounds are within the text, which fits in memory.
        let (start, end) = (
            usize::try_from(offset).unwrap_or(0),
            usize::try_from(end).unwrap_or(0),
        );
        Ok(Self(text.slice(start..end)))
    }
}

impl ObjectSource for TextSource {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read(&mut self, max: usize) -> ProviderResult<Chunk> {
        let n = max.min(self.0.len());
        Ok(Chunk::Data(self.0.split_to(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_reserved_numbers_and_map_back() {
        let id = ProviderId(3);
        for g in Generated::ALL {
            let h = g.handle(id);
            assert!(mtp::providers::RESERVED_LOCALS.contains(&h.local()));
            assert_eq!(Generated::of(h, id), Some(g));
            assert_eq!(Generated::named(g.name()), Some(g));
        }
        assert_eq!(Generated::named("other.toml"), None);
    }

    #[test]
    fn text_source_serves_ranges_and_refuses_offsets_past_the_end() {
        let text = Bytes::from_static(b"state = \"idle\"\n");
        let mut s = TextSource::new(&text, 8, 6).unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(
            s.read(100).unwrap(),
            Chunk::Data(Bytes::from_static(b"\"idle\""))
        );
        assert_eq!(TextSource::new(&text, 15, 10).unwrap().len(), 0);
        assert_eq!(
            TextSource::new(&text, 16, 1).unwrap_err(),
            ResponseCode::InvalidParameter
        );
    }
}
