//! The handle table: provider-local handle numbers <-> (folder, name), filled lazily as
//! folders are listed.
//!
//! An object is keyed by its parent folder and its name, so a handle stays the same for
//! as long as the object stays where it is (renames and moves done through the provider
//! update the entry in place). Listing a folder assigns numbers to new entries and forgets
//! entries (with everything below them) that disappeared. Numbers are never reused.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

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

/// One known object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Node {
    /// The folder holding it.
    pub(super) parent: Dir,
    /// Its file name.
    pub(super) name: OsString,
    /// True for folders.
    pub(super) is_dir: bool,
}

/// The table itself.
#[derive(Debug, Default)]
pub(super) struct Tree {
    nodes: HashMap<u32, Node>,
    children: HashMap<Dir, HashMap<OsString, u32>>,
    last: u32,
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
    pub(super) fn node(&self, local: u32) -> Option<&Node> {
        self.nodes.get(&local)
    }

    /// Returns the handle of `name` in `dir`, if known.
    pub(super) fn lookup(&self, dir: Dir, name: &OsStr) -> Option<u32> {
        self.children.get(&dir)?.get(name).copied()
    }

    /// Returns the known children of `dir`.
    pub(super) fn children(&self, dir: Dir) -> Vec<u32> {
        self.children
            .get(&dir)
            .map(|c| c.values().copied().collect())
            .unwrap_or_default()
    }

    /// Returns the handle of `name` in `dir`, adding it if new (and updating its kind).
    pub(super) fn insert(&mut self, dir: Dir, name: &OsStr, is_dir: bool) -> Option<u32> {
        if let Some(h) = self.lookup(dir, name) {
            self.set_kind(h, is_dir);
            return Some(h);
        }
        let h = self.reserve()?;
        self.place(h, dir, name.to_owned(), is_dir);
        Some(h)
    }

    /// Puts `local` (from [`Tree::reserve`]) at `name` in `dir`; returns the handle of an
    /// entry it replaced.
    pub(super) fn insert_as(&mut self, local: u32, dir: Dir, name: &OsStr) -> Option<u32> {
        let old = self.lookup(dir, name);
        if let Some(old) = old {
            self.forget(old);
        }
        self.place(local, dir, name.to_owned(), false);
        old
    }

    /// Moves `local` to `name` in `dir` (a rename or move done on disk).
    pub(super) fn relocate(&mut self, local: u32, dir: Dir, name: &OsStr) {
        let Some(node) = self.nodes.get(&local).cloned() else {
            return;
        };
        if let Some(stale) = self.lookup(dir, name).filter(|h| *h != local) {
            self.forget(stale);
        }
        self.unlink(local, &node);
        self.place(local, dir, name.to_owned(), node.is_dir);
    }

    /// Replaces the children of `dir` by `entries` (name, is folder); returns their handles.
    pub(super) fn sync(&mut self, dir: Dir, entries: Vec<(OsString, bool)>) -> Vec<u32> {
        let fresh: HashMap<&OsStr, bool> =
            entries.iter().map(|(n, d)| (n.as_os_str(), *d)).collect();
        let gone: Vec<u32> = self
            .children
            .get(&dir)
            .into_iter()
            .flatten()
            .filter(|(n, _)| !fresh.contains_key(n.as_os_str()))
            .map(|(_, h)| *h)
            .collect();
        for h in gone {
            self.forget(h);
        }
        entries
            .iter()
            .filter_map(|(name, is_dir)| self.insert(dir, name, *is_dir))
            .collect()
    }

    /// Forgets `local` and everything below it.
    pub(super) fn forget(&mut self, local: u32) {
        let Some(node) = self.nodes.get(&local).cloned() else {
            return;
        };
        self.unlink(local, &node);
        let mut stack = vec![local];
        while let Some(h) = stack.pop() {
            self.nodes.remove(&h);
            if let Some(kids) = self.children.remove(&Dir::Folder(h)) {
                stack.extend(kids.into_values());
            }
        }
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
                    let node = self.nodes.get(&h)?;
                    names.push(node.name.as_os_str());
                    cur = node.parent;
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
                Some(n) => cur = n.parent,
                None => return false,
            }
        }
        false
    }

    fn set_kind(&mut self, local: u32, is_dir: bool) {
        let was_dir = match self.nodes.get_mut(&local) {
            Some(n) => std::mem::replace(&mut n.is_dir, is_dir),
            None => return,
        };
        if was_dir && !is_dir {
            for h in self.children(Dir::Folder(local)) {
                self.forget(h);
            }
        }
    }

    fn place(&mut self, local: u32, dir: Dir, name: OsString, is_dir: bool) {
        self.children
            .entry(dir)
            .or_default()
            .insert(name.clone(), local);
        self.nodes.insert(
            local,
            Node {
                parent: dir,
                name,
                is_dir,
            },
        );
    }

    fn unlink(&mut self, local: u32, node: &Node) {
        if let Some(kids) = self.children.get_mut(&node.parent) {
            if kids.get(&node.name) == Some(&local) {
                kids.remove(&node.name);
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
}
