//! `jarc repair config` and `jarc repair snapshots` write a damaged or
//! missing copy (§3, §7.3) again from the one that is whole.
//!
//! `jarc repair index`: rebuild the index from the packs themselves. Every
//! pack carries a header listing its blobs (format-spec §4), so a deleted
//! or damaged index file costs no data: the packs it named are found by
//! listing `data/`, their headers read (two ranged GETs each, trailer and
//! header), and new index files written for them. Only then are damaged
//! index files deleted, so at no moment is a pack named by nothing that
//! was naming it before.

use crate::crypto::Context;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::index::IndexPack;
use crate::layout;
use crate::pack;
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
        match read_header(repo, &l.name, l.size) {
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

/// A pack's header, by two ranged reads: the trailer, then the header.
fn read_header(repo: &Repository, name: &str, size: u64) -> Result<Vec<pack::PackBlob>> {
    let t = pack::TRAILER_LEN as u64;
    if size < t {
        return Err(Error::corrupt(name, "shorter than a pack trailer"));
    }
    let trailer = repo.backend().get_range(name, size - t..size)?;
    let hlen = pack::header_len_from_trailer(&trailer)? as u64;
    let data_len = size
        .checked_sub(t + hlen)
        .ok_or_else(|| Error::corrupt(name, "its header length exceeds it"))?;
    let header = repo.backend().get_range(name, data_len..size - t)?;
    pack::parse_header(&header, data_len, repo.backend().sealer()).map_err(|e| match e {
        Error::Corrupt { detail, .. } => Error::corrupt(name, detail),
        other => other,
    })
}

/// The config's copy, if the repository has one.
pub fn config_copy(repo: &Repository) -> Result<Option<Bytes>> {
    match repo.backend().get(layout::CONFIG_COPY) {
        Ok(b) => Ok(Some(b)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What `repair config` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ConfigRepair {
    /// The object written again (`config` or `config.copy`), if any.
    pub written: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

/// Make the config and its copy the same bytes again, from the one that
/// opened the repository: a damaged config from its copy, a damaged or
/// missing copy (a repository made before copies) from the config. Each
/// write is read back.
pub fn repair_config(repo: &Repository) -> Result<ConfigRepair> {
    let backend = repo.backend();
    let (good_from, bad, reason) = match repo.config_damage() {
        Some(why) => (layout::CONFIG_COPY, layout::CONFIG, why.to_string()),
        None => {
            let config = backend.get(layout::CONFIG)?;
            match config_copy(repo)? {
                Some(c) if c == config => return Ok(ConfigRepair::default()),
                Some(_) => (
                    layout::CONFIG,
                    layout::CONFIG_COPY,
                    "it differed from the config (damaged)".to_string(),
                ),
                None => (
                    layout::CONFIG,
                    layout::CONFIG_COPY,
                    "there was none".to_string(),
                ),
            }
        }
    };
    let bytes = backend.get(good_from)?;
    backend.put(bad, bytes.clone())?;
    if backend.get(bad)? != bytes {
        return Err(Error::Invalid(format!(
            "{bad} was written again but reads back different: the storage is failing"
        )));
    }
    Ok(ConfigRepair {
        written: Some(bad.to_string()),
        reason: Some(reason),
    })
}

/// What `repair snapshots` did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SnapshotsRepair {
    /// Snapshot objects written again from their copies.
    pub snapshots_written: Vec<String>,
    /// Copies written again (damaged) or for the first time (missing).
    pub copies_written: Vec<String>,
    /// Snapshots neither of whose objects is whole: lost.
    pub lost: Vec<String>,
}

/// Make every snapshot and its copy whole again from the other one.
pub fn repair_snapshots(repo: &Repository) -> Result<SnapshotsRepair> {
    let st = crate::snapshot::copy_state(repo)?;
    let backend = repo.backend();
    let mut r = SnapshotsRepair::default();
    let damaged_copy: std::collections::HashSet<Id> =
        st.damaged_copies.iter().map(|(id, _)| *id).collect();
    let no_copy: std::collections::HashSet<Id> = st.without_copy.iter().copied().collect();
    for (id, _) in &st.damaged {
        if damaged_copy.contains(id) || no_copy.contains(id) {
            r.lost.push(id.to_hex());
            continue;
        }
        let bytes = backend.get(&layout::snapshot_copy(id))?;
        backend.put(&layout::snapshot(id), bytes)?;
        r.snapshots_written.push(id.to_hex());
    }
    let damaged: std::collections::HashSet<Id> = st.damaged.iter().map(|(id, _)| *id).collect();
    for id in damaged_copy.iter().chain(&no_copy) {
        if damaged.contains(id) {
            continue;
        }
        let bytes = backend.get(&layout::snapshot(id))?;
        backend.put(&layout::snapshot_copy(id), bytes)?;
        r.copies_written.push(id.to_hex());
    }
    r.copies_written.sort();
    Ok(r)
}
