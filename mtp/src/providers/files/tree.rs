//! The handle table: provider-local handle numbers <-> (folder, name), filled lazily as
//! folders are listed.
//!
//! An object is keyed by its parent folder and its name, so a handle stays the same for
//! as long as the object stays where it is (renames and moves done through the provider
//! update the entry in place). Listing a folder assigns numbers to new entries and forgets
//! entries (with everything below them) that disappeared. Numbers are never reused.
//!
//! # Memory
//! A storage of 100 000 files is listed whole by every libmtp tool, so the table is kept
//! small: one 32-byte entry per object in a set keyed by handle (names up to 22 bytes
//! inline, see [`entry`]) and one `u32` in its folder's child list, kept sorted by name so that a
//! lookup is a binary search and a listing a merge. The old layout (a second map from
//! names to handles per folder, every name stored twice) took about 185 bytes per object;
//! this one about 45 (`docs/BENCHMARKS.md`, "Scale").

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

mod entry;

use entry::Entry;

/// Largest provider-local handle number the table hands out (the top byte carries the
/// provider id; the numbers above are [`super::RESERVED_LOCALS`]).
const MAX_LOCAL: u32 = 0x00FF_FEFF;

/// A folder: the root of storage number `usize`, or the folder with a local handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Dir {
    /// The root of the storage at this index.
    Root(usize),
    /// A folder object.
    Folder(u32),
}

/// One known object, as the table shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Node<'a> {
    /// The folder holding it.
    pub(super) parent: Dir,
    /// Its file name.
    pub(super) name: &'a OsStr,
    /// True for folders.
    pub(super) is_dir: bool,
}

/// The table itself.
#[derive(Debug, Default)]
pub(super) struct Tree {
    /// Every known object, found by its handle.
    nodes: HashSet<Entry>,
    /// Per folder ([`Dir::pack`]), its children's handles sorted by name.
    children: HashMap<u32, Vec<u32>>,
    last: u32,
}

/// Returns where `name` is (Ok) or belongs (Err) in `kids`, a child list sorted by name.
fn search(nodes: &HashSet<Entry>, kids: &[u32], name: &OsStr) -> Result<usize, usize> {
    kids.binary_search_by(|h| nodes.get(h).map_or(OsStr::new(""), Entry::name).cmp(name))
}

impl Tree {
    /// Returns a fresh handle number that no entry uses yet, or `None` when exhausted.
    pub(super) fn reserve(&mut self) -> Option<u32> {
        if self.last >= MAX_LOCAL {
            tracing::error!("object handle space exhausted");
            return None;
        }
        self.last += 1;
        Some(self.last)
    }

    /// Returns the node of `local`.
    pub(super) fn node(&self, local: u32) -> Option<Node<'_>> {
        self.nodes.get(&local).map(|e| Node {
            parent: e.parent(),
            name: e.name(),
            is_dir: e.is_dir(),
        })
    }

    /// Returns the handle of `name` in `dir`, if known.
    pub(super) fn lookup(&self, dir: Dir, name: &OsStr) -> Option<u32> {
        let kids = self.children.get(&dir.pack())?;
        search(&self.nodes, kids, name).ok().map(|i| kids[i])
    }

    /// Returns the known children of `dir`, sorted by name.
    pub(super) fn children(&self, dir: Dir) -> Vec<u32> {
        self.children.get(&dir.pack()).cloned().unwrap_or_default()
    }

    /// Returns the handle of `name` in `dir`, adding it if new (and updating its kind).
    pub(super) fn insert(&mut self, dir: Dir, name: &OsStr, is_dir: bool) -> Option<u32> {
        if let Some(h) = self.lookup(dir, name) {
            self.set_kind(h, is_dir);
            return Some(h);
        }
        let h = self.reserve()?;
        self.place(Entry::new(h, dir, name, is_dir));
        Some(h)
    }

    /// Puts `local` (from [`Tree::reserve`]) at `name` in `dir`; returns the handle of an
    /// entry it replaced.
    pub(super) fn insert_as(&mut self, local: u32, dir: Dir, name: &OsStr) -> Option<u32> {
        let old = self.lookup(dir, name);
        if let Some(old) = old {
            self.forget(old);
        }
        self.place(Entry::new(local, dir, name, false));
        old
    }

    /// Moves `local` to `name` in `dir` (a rename or move done on disk).
    pub(super) fn relocate(&mut self, local: u32, dir: Dir, name: &OsStr) {
        let Some(is_dir) = self.nodes.get(&local).map(Entry::is_dir) else {
            return;
        };
        if let Some(stale) = self.lookup(dir, name).filter(|h| *h != local) {
            self.forget(stale);
        }
        self.unlink(local);
        self.place(Entry::new(local, dir, name, is_dir));
    }

    /// Replaces the children of `dir` by `entries` (name, is folder); returns their
    /// handles, sorted by name. A merge of two sorted lists: no per-entry lookup.
    pub(super) fn sync(&mut self, dir: Dir, mut entries: Vec<(OsString, bool)>) -> Vec<u32> {
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        let key = dir.pack();
        let mut old = self.children.remove(&key).unwrap_or_default().into_iter();
        let mut next_old = old.next();
        let mut kept = Vec::with_capacity(entries.len());
        for (name, is_dir) in entries {
            // Old entries sorting before `name` are gone from disk.
            let same = loop {
                let Some(h) = next_old else { break None };
                let order = self
                    .nodes
                    .get(&h)
                    .map_or(Ordering::Less, |e| e.name().cmp(&name));
                match order {
                    Ordering::Less => self.drop_subtree(h),
                    Ordering::Equal => break Some(h),
                    Ordering::Greater => break None,
                }
                next_old = old.next();
            };
            if let Some(h) = same {
                next_old = old.next();
                self.set_kind(h, is_dir);
                kept.push(h);
            } else if let Some(h) = self.reserve() {
                self.nodes.insert(Entry::new(h, dir, &name, is_dir));
                kept.push(h);
            }
        }
        while let Some(h) = next_old {
            self.drop_subtree(h);
            next_old = old.next();
        }
        if !kept.is_empty() {
            self.children.insert(key, kept.clone());
        }
        kept
    }

    /// Forgets `local` and everything below it.
    pub(super) fn forget(&mut self, local: u32) {
        self.unlink(local);
        self.drop_subtree(local);
    }

    /// Returns every handle below `local` (not itself), depth first.
    pub(super) fn descendants(&self, local: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut stack = self.children(Dir::Folder(local));
        while let Some(h) = stack.pop() {
            out.push(h);
            stack.extend(self.children(Dir::Folder(h)));
        }
        out
    }

    /// Returns the storage index and the path below its root of `dir`.
    pub(super) fn dir_path(&self, dir: Dir) -> Option<(usize, PathBuf)> {
        let mut names = Vec::new();
        let mut cur = dir;
        loop {
            match cur {
                Dir::Root(s) => {
                    let rel: PathBuf = names.iter().rev().collect();
                    return Some((s, rel));
                }
                Dir::Folder(h) => {
                    let e = self.nodes.get(&h)?;
                    names.push(e.name());
                    cur = e.parent();
                }
            }
        }
    }

    /// Returns true if `dir` is `local` or lies below it.
    pub(super) fn is_within(&self, dir: Dir, local: u32) -> bool {
        let mut cur = dir;
        while let Dir::Folder(h) = cur {
            if h == local {
                return true;
            }
            match self.nodes.get(&h) {
                Some(e) => cur = e.parent(),
                None => return false,
            }
        }
        false
    }

    fn set_kind(&mut self, local: u32, is_dir: bool) {
        let Some(mut e) = self.nodes.take(&local) else {
            return;
        };
        let was_dir = e.is_dir();
        e.set_dir(is_dir);
        self.nodes.insert(e);
        if was_dir && !is_dir {
            let kids = self.children.remove(&Dir::Folder(local).pack());
            for h in kids.unwrap_or_default() {
                self.drop_subtree(h);
            }
        }
    }

    /// Adds `entry` to its folder; a different entry of that name is forgotten.
    fn place(&mut self, entry: Entry) {
        let local = entry.local();
        let kids = self.children.entry(entry.parent().pack()).or_default();
        let replaced = match search(&self.nodes, kids, entry.name()) {
            Ok(i) => Some(std::mem::replace(&mut kids[i], local)),
            Err(i) => {
                kids.insert(i, local);
                None
            }
        };
        if let Some(old) = replaced.filter(|old| *old != local) {
            self.drop_subtree(old);
        }
        self.nodes.replace(entry);
    }

    /// Takes `local` out of its folder's child list (the entry itself stays).
    fn unlink(&mut self, local: u32) {
        let Some(e) = self.nodes.get(&local) else {
            return;
        };
        let key = e.parent().pack();
        let Some(kids) = self.children.get_mut(&key) else {
            return;
        };
        if let Ok(i) = search(&self.nodes, kids, e.name()) {
            if kids[i] == local {
                kids.remove(i);
            }
        }
        if kids.is_empty() {
            self.children.remove(&key);
        }
    }

    /// Removes `local` and everything below it, leaving its folder's child list alone.
    fn drop_subtree(&mut self, local: u32) {
        let mut stack = vec![local];
        while let Some(h) = stack.pop() {
            self.nodes.remove(&h);
            if let Some(kids) = self.children.remove(&Dir::Folder(h).pack()) {
                stack.extend(kids);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entries(names: &[(&str, bool)]) -> Vec<(OsString, bool)> {
        names.iter().map(|(n, d)| (OsString::from(n), *d)).collect()
    }

    #[test]
    fn sync_keeps_handles_of_entries_that_stay_and_forgets_vanished_subtrees() {
        let mut t = Tree::default();
        let root = Dir::Root(0);
        let first = t.sync(root, entries(&[("a", true), ("b.txt", false)]));
        let a = t.lookup(root, OsStr::new("a")).unwrap();
        let inner = t.sync(Dir::Folder(a), entries(&[("x", false)]));
        let again = t.sync(root, entries(&[("b.txt", false), ("c", false)]));
        assert_eq!(first[1], again[0]);
        assert!(t.node(a).is_none());
        assert!(t.node(inner[0]).is_none());
        assert_eq!(t.children(root).len(), 2);
    }

    #[test]
    fn paths_are_built_from_the_parent_chain() {
        let mut t = Tree::default();
        let a = t.insert(Dir::Root(1), OsStr::new("a"), true).unwrap();
        let b = t.insert(Dir::Folder(a), OsStr::new("b"), false).unwrap();
        assert_eq!(t.dir_path(Dir::Folder(b)), Some((1, PathBuf::from("a/b"))));
        assert!(t.is_within(Dir::Folder(b), a));
        assert!(!t.is_within(Dir::Root(1), a));
    }

    #[test]
    fn relocate_keeps_the_handle_and_moves_the_subtree() {
        let mut t = Tree::default();
        let a = t.insert(Dir::Root(0), OsStr::new("a"), true).unwrap();
        let d = t.insert(Dir::Root(0), OsStr::new("d"), true).unwrap();
        let x = t.insert(Dir::Folder(a), OsStr::new("x"), false).unwrap();
        t.relocate(a, Dir::Folder(d), OsStr::new("renamed"));
        assert_eq!(
            t.dir_path(Dir::Folder(x)),
            Some((0, PathBuf::from("d/renamed/x")))
        );
        assert_eq!(t.lookup(Dir::Root(0), OsStr::new("a")), None);
    }

    #[test]
    fn insert_as_replaces_an_entry_of_the_same_name() {
        let mut t = Tree::default();
        let old = t.insert(Dir::Root(0), OsStr::new("f"), false).unwrap();
        let new = t.reserve().unwrap();
        assert_eq!(t.insert_as(new, Dir::Root(0), OsStr::new("f")), Some(old));
        assert_eq!(t.lookup(Dir::Root(0), OsStr::new("f")), Some(new));
        assert!(t.node(old).is_none());
    }

    #[test]
    fn repeated_listings_agree_with_a_plain_map_of_names() {
        // Pseudo-random folder contents, listed again and again: handles stay for names
        // that stay, lookups find every name, children come back sorted by name.
        let mut t = Tree::default();
        let root = Dir::Root(0);
        let mut model: HashMap<String, u32> = HashMap::new();
        let mut seed = 7u32;
        for _ in 0..50 {
            let mut names = Vec::new();
            for i in 0..200u32 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                if seed >> 28 < 9 {
                    names.push((OsString::from(format!("f{}", i * 7 % 200)), i % 5 == 0));
                }
            }
            let handles = t.sync(root, names.clone());
            let listed: Vec<&OsStr> = handles.iter().map(|h| t.node(*h).unwrap().name).collect();
            let mut sorted = listed.clone();
            sorted.sort();
            assert_eq!(listed, sorted);
            model.retain(|n, _| names.iter().any(|(m, _)| m == n.as_str()));
            for (name, _) in &names {
                let h = t.lookup(root, name).unwrap();
                let was = *model
                    .entry(name.to_string_lossy().into_owned())
                    .or_insert(h);
                assert_eq!(was, h, "{name:?} changed its handle");
            }
            assert_eq!(t.children(root).len(), model.len());
        }
    }
}
