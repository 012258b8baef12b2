//! The object-reference table behind Get/SetObjectReferences, bounded against a hostile
//! host.
//!
//! References live in memory for the open session only: CloseSession, ResetDevice, a
//! Device Reset request and the loss of the endpoints all empty the table and free it.
//! Each object keeps its references in the host's order without duplicates, and both the
//! references per object and the table as a whole have a ceiling, so a host cannot make
//! the device grow memory without limit (4 bytes per reference plus a map entry per
//! object: about 1 MiB of handles at most).
//!
//! # Spec
//! MTP 1.1 §D.2.31–32 (GetObjectReferences, SetObjectReferences); the spec sets no limit,
//! so the limits below are the device's.

use std::collections::{HashMap, HashSet};

use crate::codec::ResponseCode;
use crate::provider::ObjectHandle;

/// Most distinct references one object may hold (a large playlist; far above what hosts
/// send in practice).
pub(crate) const MAX_REFERENCES_PER_OBJECT: usize = 1024;

/// Most objects that may hold references at once.
pub(crate) const MAX_REFERRING_OBJECTS: usize = 65_536;

/// Most references the whole table may hold (1 MiB of handles).
pub(crate) const MAX_TOTAL_REFERENCES: usize = 256 * 1024;

/// Why a reference list was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReferenceError {
    /// More distinct references than [`MAX_REFERENCES_PER_OBJECT`].
    #[error("more than {MAX_REFERENCES_PER_OBJECT} distinct references for one object")]
    TooManyForObject,
    /// Storing the list would exceed [`MAX_REFERRING_OBJECTS`] or [`MAX_TOTAL_REFERENCES`].
    #[error("the object reference table is full")]
    TableFull,
}

impl ReferenceError {
    /// Returns the response the host gets: an over-long list is an unacceptable dataset;
    /// a full table means the device has no room to store it.
    pub(crate) fn response_code(self) -> ResponseCode {
        match self {
            Self::TooManyForObject => ResponseCode::InvalidDataset,
            Self::TableFull => ResponseCode::StoreFull,
        }
    }
}

/// Returns `refs` without duplicates, in first-seen order.
///
/// # Errors
/// [`ReferenceError::TooManyForObject`] as soon as more than
/// [`MAX_REFERENCES_PER_OBJECT`] distinct handles have been seen (the rest is not read).
pub(crate) fn distinct(refs: &[u32]) -> Result<Vec<u32>, ReferenceError> {
    let bound = refs.len().min(MAX_REFERENCES_PER_OBJECT + 1);
    let mut seen = HashSet::with_capacity(bound);
    let mut out = Vec::with_capacity(bound);
    for &r in refs {
        if seen.insert(r) {
            if out.len() == MAX_REFERENCES_PER_OBJECT {
                return Err(ReferenceError::TooManyForObject);
            }
            out.push(r);
        }
    }
    out.shrink_to_fit();
    Ok(out)
}

/// References per object, with the running total that enforces the table limits.
#[derive(Debug, Default)]
pub(crate) struct ReferenceTable {
    map: HashMap<ObjectHandle, Vec<u32>>,
    total: usize,
}

impl ReferenceTable {
    /// Returns the references of `h` (empty when it has none).
    pub(crate) fn get(&self, h: ObjectHandle) -> &[u32] {
        self.map.get(&h).map_or(&[], Vec::as_slice)
    }

    /// Replaces the references of `h`; an empty list removes the entry.
    ///
    /// # Errors
    /// [`ReferenceError::TooManyForObject`] or [`ReferenceError::TableFull`]; the table is
    /// unchanged then.
    pub(crate) fn set(&mut self, h: ObjectHandle, refs: Vec<u32>) -> Result<(), ReferenceError> {
        if refs.len() > MAX_REFERENCES_PER_OBJECT {
            return Err(ReferenceError::TooManyForObject);
        }
        if refs.is_empty() {
            self.remove(h);
            return Ok(());
        }
        let old = self.get(h).len();
        let is_new = old == 0;
        let total = self.total - old + refs.len();
        if total > MAX_TOTAL_REFERENCES || (is_new && self.map.len() >= MAX_REFERRING_OBJECTS) {
            return Err(ReferenceError::TableFull);
        }
        self.map.insert(h, refs);
        self.total = total;
        Ok(())
    }

    /// Forgets the references of `h` (a deleted object).
    pub(crate) fn remove(&mut self, h: ObjectHandle) {
        if let Some(old) = self.map.remove(&h) {
            self.total -= old.len();
        }
    }

    /// Empties the table and releases its memory.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Returns how many objects hold references.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Returns how many references the table holds in all.
    #[cfg(test)]
    pub(crate) fn total(&self) -> usize {
        self.total
    }

    /// Returns the map's allocated capacity (for tests that check memory is released).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.map.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u32) -> ObjectHandle {
        ObjectHandle(n)
    }

    #[test]
    fn duplicate_references_collapse_in_first_seen_order() {
        assert_eq!(distinct(&[5, 3, 5, 3, 9, 5]), Ok(vec![5, 3, 9]));
    }

    #[test]
    fn a_hundred_thousand_copies_of_one_handle_are_one_reference() {
        let refs = vec![42u32; 100_000];
        assert_eq!(distinct(&refs), Ok(vec![42]));
    }

    #[test]
    fn more_than_the_per_object_limit_of_distinct_references_is_refused() {
        let refs: Vec<u32> = (1..=100_000).collect();
        assert_eq!(distinct(&refs), Err(ReferenceError::TooManyForObject));
        let at_limit: Vec<u32> = (1..=MAX_REFERENCES_PER_OBJECT as u32).collect();
        assert_eq!(distinct(&at_limit).map(|v| v.len()), Ok(1024));
        let mut t = ReferenceTable::default();
        let over: Vec<u32> = (0..=MAX_REFERENCES_PER_OBJECT as u32).collect();
        assert_eq!(t.set(h(1), over), Err(ReferenceError::TooManyForObject));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn empty_list_removes_the_entry_and_its_count() {
        let mut t = ReferenceTable::default();
        t.set(h(1), vec![2, 3]).unwrap();
        assert_eq!((t.len(), t.total()), (1, 2));
        t.set(h(1), vec![]).unwrap();
        assert_eq!((t.len(), t.total()), (0, 0));
        assert!(t.get(h(1)).is_empty());
    }

    #[test]
    fn replacing_a_list_updates_the_total() {
        let mut t = ReferenceTable::default();
        t.set(h(1), vec![2, 3, 4]).unwrap();
        t.set(h(1), vec![5]).unwrap();
        assert_eq!((t.len(), t.total(), t.get(h(1))), (1, 1, &[5u32][..]));
        t.remove(h(1));
        assert_eq!((t.len(), t.total()), (0, 0));
    }

    #[test]
    fn table_refuses_a_new_object_beyond_the_object_limit() {
        let mut t = ReferenceTable::default();
        for n in 1..=MAX_REFERRING_OBJECTS as u32 {
            t.set(h(n), vec![1]).unwrap();
        }
        let next = MAX_REFERRING_OBJECTS as u32 + 1;
        assert_eq!(t.set(h(next), vec![1]), Err(ReferenceError::TableFull));
        assert_eq!(t.len(), MAX_REFERRING_OBJECTS);
        // Objects already in the table can still change their lists.
        assert_eq!(t.set(h(1), vec![2, 3]), Ok(()));
        assert_eq!(t.set(h(2), vec![]), Ok(()));
        assert_eq!(t.set(h(next), vec![1]), Ok(()));
    }

    #[test]
    fn table_refuses_lists_beyond_the_total_limit() {
        let mut t = ReferenceTable::default();
        let full: Vec<u32> = (1..=MAX_REFERENCES_PER_OBJECT as u32).collect();
        let objects = MAX_TOTAL_REFERENCES / MAX_REFERENCES_PER_OBJECT;
        for n in 1..=objects as u32 {
            t.set(h(n), full.clone()).unwrap();
        }
        assert_eq!(t.total(), MAX_TOTAL_REFERENCES);
        let extra = objects as u32 + 1;
        assert_eq!(t.set(h(extra), vec![1]), Err(ReferenceError::TableFull));
        assert_eq!(t.total(), MAX_TOTAL_REFERENCES);
    }

    #[test]
    fn clear_empties_the_table_and_releases_its_memory() {
        let mut t = ReferenceTable::default();
        for n in 1..=1000 {
            t.set(h(n), vec![1, 2]).unwrap();
        }
        t.clear();
        assert_eq!((t.len(), t.total(), t.capacity()), (0, 0, 0));
    }
}
