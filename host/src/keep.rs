//! Which sets `forget` removes: a policy that never breaks a chain. A set that is kept
//! keeps every set it builds on; naming a set that a kept set builds on is refused.

use std::collections::BTreeSet;

use crate::repo::{SetInfo, chain_of};

/// What to forget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Keep the newest N sets (and what they build on); forget the rest.
    pub keep_last: Option<usize>,
    /// Forget exactly these sets.
    pub sets: Vec<String>,
}

/// The sets to remove, oldest first.
///
/// # Errors
/// A named set is not there, or a set that stays builds on one that would go.
pub fn plan(sets: &[SetInfo], policy: &Policy) -> Result<Vec<String>, String> {
    let all: BTreeSet<&str> = sets.iter().map(|s| s.name.as_str()).collect();
    let mut remove: BTreeSet<String> = BTreeSet::new();
    for name in &policy.sets {
        if !all.contains(name.as_str()) {
            return Err(format!("there is no set {name:?}"));
        }
        remove.insert(name.clone());
    }
    if let Some(n) = policy.keep_last {
        let mut keep = BTreeSet::new();
        for s in sets.iter().rev().take(n) {
            // A set whose chain is already broken keeps what is left of it.
            match chain_of(sets, &s.name) {
                Ok(chain) => keep.extend(chain.into_iter().map(|c| c.name)),
                Err(_) => {
                    keep.insert(s.name.clone());
                }
            }
        }
        remove.extend(
            all.iter()
                .filter(|n| !keep.contains(**n))
                .map(|n| (*n).to_owned()),
        );
    }
    for s in sets.iter().filter(|s| !remove.contains(&s.name)) {
        if let Ok(chain) = chain_of(sets, &s.name)
            && let Some(gone) = chain.iter().find(|c| remove.contains(&c.name))
        {
            return Err(format!(
                "{} builds on {}: forget it too, or keep both",
                s.name, gone.name
            ));
        }
    }
    Ok(sets
        .iter()
        .filter(|s| remove.contains(&s.name))
        .map(|s| s.name.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testset::make_set;
    use engine::spool::SpoolSet;

    /// b1 <- i1 <- i2, b2 <- i3 (oldest first).
    fn sets() -> (tempfile::TempDir, Vec<SetInfo>) {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let spec = [
            ("b1", None),
            ("i1", Some("b1")),
            ("i2", Some("i1")),
            ("b2", None),
            ("i3", Some("b2")),
        ];
        let mut out = Vec::new();
        for (day, (name, prev)) in spec.iter().enumerate() {
            make_set(
                d,
                name,
                &format!("2026-01-0{}T00:00:00Z", day + 1),
                *prev,
                &[],
            );
            let manifest = SpoolSet::open(d.join(name)).read_manifest().unwrap();
            out.push(SetInfo {
                name: (*name).into(),
                manifest,
                size: 0,
            });
        }
        (tmp, out)
    }

    fn policy(keep_last: Option<usize>, sets: &[&str]) -> Policy {
        Policy {
            keep_last,
            sets: sets.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn keep_last_keeps_whole_chains() {
        let (_t, s) = sets();
        assert_eq!(plan(&s, &policy(Some(1), &[])).unwrap(), ["b1", "i1", "i2"]);
        assert_eq!(plan(&s, &policy(Some(2), &[])).unwrap(), ["b1", "i1", "i2"]);
        // The third newest is i2, which needs i1 and b1.
        assert!(plan(&s, &policy(Some(3), &[])).unwrap().is_empty());
        assert_eq!(plan(&s, &policy(Some(0), &[])).unwrap().len(), 5);
    }

    #[test]
    fn a_set_others_build_on_is_not_forgotten_alone() {
        let (_t, s) = sets();
        let err = plan(&s, &policy(None, &["i1"])).unwrap_err();
        assert!(err.contains("i2 builds on i1"), "{err}");
        assert_eq!(
            plan(&s, &policy(None, &["i1", "i2"])).unwrap(),
            ["i1", "i2"]
        );
        assert_eq!(plan(&s, &policy(None, &["i3"])).unwrap(), ["i3"]);
        assert!(plan(&s, &policy(None, &["zz"])).is_err());
    }
}
