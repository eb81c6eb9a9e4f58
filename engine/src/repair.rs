//! `jarc repair copies` writes a damaged or missing half of the objects
//! kept twice (config, key objects, snapshots: §3, §7.3, §13.2) again from
//! the one that is whole.
//!
//! `jarc repair index`: rebuild the index from the packs themselves. Every
//! pack carries a header listing its blobs (format-spec §4), so a deleted
//! or damaged index file costs no data: the packs it named are found by
//! listing `data/`, their headers read (two ranged GETs each, trailer and
//! header), and new index files written for them. Only then are damaged
//! index files deleted, so at no moment is a pack named by nothing that
//! was naming it before.

use crate::crypto::Context;
use crate::error::Result;
use crate::id::Id;
use crate::index::IndexPack;
use crate::layout;
use crate::progress::Progress;
use crate::repo::{split_index, Repository};
use bytes::Bytes;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RepairReport {
    /// Packs in the repository.
    pub packs: u64,
    /// Packs no intact index file named, now indexed again.
    pub packs_indexed: u64,
    pub blobs_indexed: u64,
    pub index_files_written: u64,
    /// Damaged index files deleted once their packs were indexed again.
    pub damaged_index_files_removed: Vec<String>,
    /// Packs whose header could not be read: their blobs stay unindexed
    /// (`check --read-data` and `prune` treat them as damage and leftovers).
    pub packs_unreadable: Vec<(String, String)>,
    /// Packs a prune plan condemns: left to that prune.
    pub packs_condemned_skipped: u64,
}

/// Rebuild what the index lacks. Open the repository with
/// `Repository::open_for_repair`.
pub fn repair_index(repo: &Repository, progress: &dyn Progress) -> Result<RepairReport> {
    let backend = repo.backend();
    let mut r = RepairReport::default();
    let listed = backend.list(layout::DATA)?;
    progress.phase("headers", listed.len() as u64);
    let mut found = Vec::new();
    for l in listed {
        let Some(id) = layout::id_of(&l.name) else {
            continue;
        };
        r.packs += 1;
        progress.advance(1);
        if repo.index().has_pack(&id) {
            continue;
        }
        if repo.is_condemned(&id) {
            r.packs_condemned_skipped += 1;
            continue;
        }
        match repo.read_pack_header(&l.name, l.size) {
            Ok(blobs) => {
                r.packs_indexed += 1;
                r.blobs_indexed += blobs.len() as u64;
                found.push(IndexPack {
                    id,
                    size: l.size,
                    blobs,
                });
            }
            Err(e) => r.packs_unreadable.push((l.name, e.to_string())),
        }
    }
    if !found.is_empty() {
        for file in split_index(found) {
            let bytes = backend.seal(Context::Index, file.encode());
            let id = Id::of_bytes(&bytes);
            backend.put(&layout::index(&id), Bytes::from(bytes))?;
            r.index_files_written += 1;
        }
    }
    for (name, _) in repo.damaged_index_files() {
        backend.delete(&name)?;
        r.damaged_index_files_removed.push(name);
    }
    Ok(r)
}

/// Make every object kept twice whole again from its other half: the
/// config (from the copy, when the config was damaged; else the copy
/// from the config), each key object, each snapshot and each pack of
/// tree nodes. Each write is read back.
pub fn repair_copies(repo: &Repository) -> Result<crate::copies::Repaired> {
    let backend = repo.backend();
    let config = crate::copies::Pair {
        object: layout::CONFIG.to_string(),
        copy: layout::CONFIG_COPY.to_string(),
    };
    // The config is checked against what opened the repository (its copy
    // opens only under the master key, which `verify` does not hold).
    let mut st = crate::copies::State::default();
    match (
        repo.config_damage(),
        crate::copies::get(backend, layout::CONFIG_COPY)?,
    ) {
        (Some(why), _) => st.damaged.push((config.object.clone(), why.to_string())),
        (None, None) => st.without_copy.push(config.object.clone()),
        (None, Some(c)) if c != backend.get(layout::CONFIG)? => st
            .damaged_copies
            .push((config.object.clone(), "differs from the config".into())),
        (None, Some(_)) => {}
    }
    let mut done = crate::copies::repair(backend, std::slice::from_ref(&config), &st)?;
    for (pairs, st) in [
        crate::keys::copy_state(backend)?,
        crate::snapshot::copy_state(repo)?,
        crate::copies::tree_packs(repo)?,
    ] {
        let r = crate::copies::repair(backend, &pairs, &st)?;
        done.written.extend(r.written);
        done.lost.extend(r.lost);
    }
    Ok(done)
}
