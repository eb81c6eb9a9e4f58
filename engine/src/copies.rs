//! Objects kept twice (format-spec §3, §4.3, §7.3, §13.2): the config,
//! each snapshot, each key object and each pack of tree nodes have a copy
//! with the same bytes under another name, so that one damaged byte in the
//! objects everything else hangs from costs nothing. Readers fall back to
//! the copy by themselves; this module finds which of a pair is damaged or
//! missing (`check`) and writes it again from the other (`repair copies`).

use crate::backend::Backend;
use crate::error::{Error, Result};
use bytes::Bytes;

/// An object and its copy, by name.
#[derive(Debug, Clone)]
pub struct Pair {
    pub object: String,
    pub copy: String,
}

/// What is wrong with a set of pairs (each by the object's name).
#[derive(Debug, Default)]
pub struct State {
    /// Objects that are damaged (their copy may still be whole).
    pub damaged: Vec<(String, String)>,
    /// Copies that are damaged.
    pub damaged_copies: Vec<(String, String)>,
    /// Objects without a copy (made before copies existed, 2026-12-05).
    pub without_copy: Vec<String>,
}

/// Read both halves of every pair; `verify` says whether bytes read
/// under the object's name are whole. An object that is gone is skipped
/// (deleted meanwhile: forgotten).
pub fn state(
    backend: &Backend,
    pairs: &[Pair],
    verify: impl Fn(&Pair, Bytes) -> Result<()>,
) -> Result<State> {
    let mut st = State::default();
    for p in pairs {
        match get(backend, &p.object)? {
            None => continue,
            Some(b) => {
                if let Err(e) = verify(p, b) {
                    st.damaged.push((p.object.clone(), e.to_string()));
                }
            }
        }
        match get(backend, &p.copy)? {
            None => st.without_copy.push(p.object.clone()),
            Some(c) => {
                if let Err(e) = verify(p, c) {
                    st.damaged_copies.push((p.object.clone(), e.to_string()));
                }
            }
        }
    }
    Ok(st)
}

/// The packs of tree nodes the index names, each with its copy (§4.3),
/// and what is wrong with them: a half whose bytes do not hash to the
/// pack's name is damaged, and a missing pack is damaged too (its index
/// entry still points at it), unlike a missing snapshot, which is a
/// forgotten one.
pub fn tree_packs(repo: &crate::repo::Repository) -> Result<(Vec<Pair>, State)> {
    use crate::id::Id;
    use crate::layout;
    let ids: std::collections::BTreeSet<Id> = repo
        .index()
        .iter()
        .filter(|(_, loc)| loc.kind == crate::pack::BlobKind::Tree)
        .map(|(_, loc)| loc.pack)
        .collect();
    let backend = repo.backend();
    let mut pairs = Vec::new();
    let mut st = State::default();
    for id in ids {
        let p = Pair {
            object: layout::pack(&id),
            copy: layout::tree_copy(&id),
        };
        let whole = |b: &Bytes| Id::of_bytes(b) == id;
        let mismatch = "its bytes do not match its name".to_string();
        match get(backend, &p.object)? {
            None => st.damaged.push((p.object.clone(), "missing".into())),
            Some(b) if !whole(&b) => st.damaged.push((p.object.clone(), mismatch.clone())),
            Some(_) => {}
        }
        match get(backend, &p.copy)? {
            None => st.without_copy.push(p.object.clone()),
            Some(c) if !whole(&c) => st.damaged_copies.push((p.object.clone(), mismatch)),
            Some(_) => {}
        }
        pairs.push(p);
    }
    Ok((pairs, st))
}

/// An object's bytes, or `None` when it does not exist.
pub fn get(backend: &Backend, name: &str) -> Result<Option<Bytes>> {
    match backend.get(name) {
        Ok(b) => Ok(Some(b)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What `repair` wrote, and the pairs it could not mend.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Repaired {
    /// Objects and copies written again from the other half.
    pub written: Vec<String>,
    /// Objects both of whose halves are damaged or missing: lost.
    pub lost: Vec<String>,
}

/// Write each damaged or missing half again from the whole one.
pub fn repair(backend: &Backend, pairs: &[Pair], st: &State) -> Result<Repaired> {
    use std::collections::HashSet;
    let damaged: HashSet<&str> = st.damaged.iter().map(|(n, _)| n.as_str()).collect();
    let bad_copy: HashSet<&str> = st
        .damaged_copies
        .iter()
        .map(|(n, _)| n.as_str())
        .chain(st.without_copy.iter().map(String::as_str))
        .collect();
    let mut r = Repaired::default();
    for p in pairs {
        let (from, to) = match (
            damaged.contains(p.object.as_str()),
            bad_copy.contains(p.object.as_str()),
        ) {
            (false, false) => continue,
            (true, true) => {
                r.lost.push(p.object.clone());
                continue;
            }
            (true, false) => (&p.copy, &p.object),
            (false, true) => (&p.object, &p.copy),
        };
        let bytes = backend.get(from)?;
        backend.put(to, bytes.clone())?;
        if backend.get(to)? != bytes {
            return Err(Error::Invalid(format!(
                "{to} was written again but reads back different: the storage is failing"
            )));
        }
        r.written.push(to.clone());
    }
    Ok(r)
}
