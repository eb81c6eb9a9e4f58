//! Repository verification.
//!
//! Structure: every index file decodes, every pack it names exists with
//! the recorded size, every snapshot decodes and every tree node and chunk it
//! references resolves, every drill record decodes. With `read_data`: every pack is read whole, its name
//! rehashed, its header compared with the index, and every blob decoded and
//! rehashed; damaged blobs are traced to the snapshot files they affect.

use crate::error::{Error, Result};
use crate::id::Id;
use crate::index::IndexPack;
use crate::layout;
use crate::media::MediaEntry;
use crate::pack;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::schema::{SchemaObject, ROWS_ROOT_PREFIX, SCHEMA_ROOT};
use crate::snapshot::{self, MEDIA_ROOT};
use crate::tree::{self, Node};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// A problem found in a pack: (pack, blob if one is to blame, what is wrong).
type Problem = (Id, Option<Id>, String);

#[derive(Debug, Clone, Serialize)]
pub struct Damage {
    pub pack: String,
    pub blob: Option<String>,
    pub problem: String,
    /// `snapshot-short-id:key` of every file that needs the damaged blob.
    pub affects: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    pub snapshots: u64,
    pub packs: u64,
    pub blobs: u64,
    pub bytes_read: u64,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub damage: Vec<Damage>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && self.damage.is_empty()
    }
}

pub fn check(repo: &Repository, read_data: bool, progress: &dyn Progress) -> Result<CheckReport> {
    let mut r = CheckReport::default();
    // The config and its copy are the same bytes (§3): one that differs,
    // or that did not open, is damaged. (No copy: made before copies.)
    if let Some(why) = repo.config_damage() {
        r.errors.push(format!(
            "config: {why}; the repository was opened from {} (`jarc repair copies` writes it again)",
            layout::CONFIG_COPY
        ));
    } else if let Some(copy) = crate::copies::get(repo.backend(), layout::CONFIG_COPY)? {
        if copy != repo.backend().get(layout::CONFIG)? {
            r.errors.push(format!(
                "{}: it differs from the config, which opens the repository: damaged (`jarc repair copies` writes it again)",
                layout::CONFIG_COPY
            ));
        }
    }
    progress.phase("index", 0);
    let index_files = match repo.read_index_files() {
        Ok(f) => f,
        Err(e) => {
            r.errors.push(format!("index: {e}"));
            Vec::new()
        }
    };
    // A reader goes past damaged index files (their packs indexed from the
    // packs' headers for this run): each is an error all the same.
    for (name, why) in repo.damaged_index_files() {
        r.errors.push(format!(
            "{name} is corrupt: {why} (`jarc repair index` indexes its packs again)"
        ));
    }
    let mut indexed: HashMap<Id, (u64, String)> = HashMap::new();
    let mut index_packs: Vec<IndexPack> = Vec::new();
    for (name, f) in index_files {
        for p in f.packs {
            indexed
                .entry(p.id)
                .or_insert_with(|| (p.size, name.clone()));
            index_packs.push(p);
        }
    }
    let on_disk: HashMap<String, u64> = repo
        .backend()
        .list(layout::DATA)?
        .into_iter()
        .map(|l| (l.name, l.size))
        .collect();
    for (id, (size, from)) in &indexed {
        match on_disk.get(&layout::pack(id)) {
            None => r
                .errors
                .push(format!("pack {id} (listed in {from}) is missing")),
            Some(s) if s != size => r
                .errors
                .push(format!("pack {id} is {s} bytes, but {from} says {size}")),
            Some(_) => {}
        }
    }
    for name in on_disk.keys() {
        let id = layout::id_of(name);
        if !id.is_some_and(|id| indexed.contains_key(&id)) {
            r.warnings.push(format!(
                "{name} is not in any index (left by an interrupted backup; harmless)"
            ));
        }
    }
    // Packs of tree nodes are kept twice (§4.3).
    let copies: HashMap<Id, u64> = repo
        .backend()
        .list(layout::TREE_COPIES)?
        .into_iter()
        .filter_map(|l| layout::tree_copy_id(&l.name).map(|id| (id, l.size)))
        .collect();
    let mut without_copy = 0;
    for p in &index_packs {
        if !p.holds_trees() {
            continue;
        }
        match copies.get(&p.id) {
            None => without_copy += 1,
            Some(&s) if s != p.size => r.errors.push(format!(
                "{} is {s} bytes, but its pack {} is {} (`jarc repair copies` writes it again)",
                layout::tree_copy(&p.id),
                p.id,
                p.size
            )),
            Some(_) => {}
        }
    }
    if without_copy > 0 {
        r.warnings.push(format!(
            "{without_copy} pack(s) of tree nodes have no copy (written before copies existed, or by a backup killed between the two; `jarc repair copies` writes them)"
        ));
    }
    for id in copies.keys() {
        if !on_disk.contains_key(&layout::pack(id)) {
            r.warnings.push(format!(
                "{} has no pack (left by an interrupted prune; the next prune removes it)",
                layout::tree_copy(id)
            ));
        }
    }
    let staged = repo.backend().staged()?;
    if !staged.is_empty() {
        let bytes: u64 = staged.iter().map(|l| l.size).sum();
        r.warnings.push(format!(
            "{} staged upload file(s), {bytes} bytes, left by interrupted writers (first: {}); prune removes those an hour old",
            staged.len(),
            staged[0].name
        ));
    }
    r.packs = indexed.len() as u64;
    r.blobs = repo.index().len() as u64;

    progress.phase("snapshots", 0);
    // Objects kept twice (§7.3, §13.2): a damaged half is named (the
    // other still serves), a missing copy is a warning (older repositories).
    let (_, snap_copies) = snapshot::copy_state(repo)?;
    let (_, key_copies) = crate::keys::copy_state(repo.backend())?;
    let mut without = 0;
    for st in [&snap_copies, &key_copies] {
        for (name, why) in &st.damaged {
            r.errors.push(format!(
                "{name}: {why} (its copy serves it; `jarc repair copies` writes it again)"
            ));
        }
        for (name, why) in &st.damaged_copies {
            r.errors.push(format!(
                "the copy of {name}: {why} (`jarc repair copies` writes it again)"
            ));
        }
        without += st.without_copy.len();
    }
    if without > 0 {
        r.warnings.push(format!(
            "{without} snapshot(s) and key object(s) have no copy (made before copies existed; `jarc repair copies` writes them)"
        ));
    }
    let snaps = snapshot::list_ids(repo)?;
    r.snapshots = snaps.len() as u64;
    let mut seen_nodes: HashSet<Id> = HashSet::new();
    let mut loaded = Vec::new();
    for id in &snaps {
        match snapshot::load(repo, id) {
            Ok(s) => loaded.push((*id, s)),
            Err(e) => r.errors.push(format!("snapshot {}: {e}", id.short())),
        }
    }
    for (sid, s) in &loaded {
        for (name, root) in &s.roots {
            let res = tree::walk_nodes(repo, &root.node, &mut seen_nodes, |node| {
                if let Node::Leaf(entries) = node {
                    if name == MEDIA_ROOT {
                        for e in entries {
                            let m = MediaEntry::decode(&e.value)?;
                            let idx = repo.index();
                            for c in &m.chunks {
                                if !idx.contains(c) {
                                    r.errors.push(format!(
                                        "snapshot {}: {}: chunk {c} is not in the index",
                                        sid.short(),
                                        String::from_utf8_lossy(&e.key)
                                    ));
                                }
                            }
                        }
                    } else if name == SCHEMA_ROOT {
                        for e in entries {
                            SchemaObject::decode(&e.value)?;
                        }
                    } else if name.starts_with(ROWS_ROOT_PREFIX) {
                        for e in entries {
                            crate::row::decode_row(&e.value)?;
                        }
                    }
                }
                Ok(())
            });
            if let Err(e) = res {
                r.errors
                    .push(format!("snapshot {} tree {name}: {e}", sid.short()));
            }
        }
    }

    match crate::plan::load_checked(repo.backend()) {
        Ok((plans, bad)) => {
            r.errors.extend(bad);
            for (id, p) in plans {
                r.warnings.push(format!(
                    "plan {} condemns {} pack(s); the next prune deletes them once no running command holds it back",
                    id.short(),
                    p.packs.len()
                ));
            }
        }
        Err(e) => r.errors.push(format!("plans: {e}")),
    }

    // Drill records are small and self-contained; a damaged one loses only
    // the history it held, but it is still damage.
    for l in repo.backend().list(layout::DRILLS)? {
        if let Err(e) = crate::drill_record::load(repo, &l.name) {
            r.errors.push(format!("drill record {}: {e}", l.name));
        }
    }

    if read_data {
        let total: u64 = index_packs.iter().map(|p| p.size).sum();
        progress.phase("read-data", total);
        let mut unique: HashMap<Id, &IndexPack> = HashMap::new();
        for p in &index_packs {
            unique.entry(p.id).or_insert(p);
        }
        let packs: Vec<&IndexPack> = unique.into_values().collect();
        let results: Vec<(u64, Vec<Problem>)> = packs
            .par_iter()
            .map(|p| {
                let out = verify_pack(repo, p);
                progress.advance(p.size);
                out
            })
            .collect();
        let mut bad: Vec<Problem> = Vec::new();
        for (n, b) in results {
            r.bytes_read += n;
            bad.extend(b);
        }
        if !bad.is_empty() {
            let bad_blobs: HashSet<Id> = bad.iter().filter_map(|b| b.1).collect();
            let affected = files_using(repo, &loaded, &bad_blobs)?;
            for (pack, blob, problem) in bad {
                r.damage.push(Damage {
                    pack: pack.to_hex(),
                    blob: blob.map(|b| b.to_hex()),
                    problem,
                    affects: blob
                        .and_then(|b| affected.get(&b).cloned())
                        .unwrap_or_default(),
                });
            }
        }
    }
    Ok(r)
}

/// Read one pack whole and verify everything in it, and a pack of tree
/// nodes' copy (§4.3). Returns bytes read and (pack, blob, problem) for
/// each problem found; a damaged pack whose copy is whole says so, since
/// readers then lose nothing.
fn verify_pack(repo: &Repository, p: &IndexPack) -> (u64, Vec<Problem>) {
    let (mut n, mut bad) = verify_pack_bytes(repo, p);
    if !p.holds_trees() {
        return (n, bad);
    }
    let name = layout::tree_copy(&p.id);
    match crate::copies::get(repo.backend(), &name) {
        Ok(Some(c)) => {
            n += c.len() as u64;
            if Id::of_bytes(&c) != p.id {
                bad.push((
                    p.id,
                    None,
                    format!("its copy {name} does not match the pack's name: damaged (`jarc repair copies` writes it again)"),
                ));
            } else {
                for b in &mut bad {
                    b.2.push_str(&format!(
                        "; its copy {name} is whole and serves it (`jarc repair copies` writes the pack again)"
                    ));
                }
            }
        }
        // No copy: a warning above. Unreadable: said here.
        Ok(None) => {}
        Err(e) => bad.push((p.id, None, format!("its copy {name} is unreadable: {e}"))),
    }
    (n, bad)
}

fn verify_pack_bytes(repo: &Repository, p: &IndexPack) -> (u64, Vec<Problem>) {
    let mut bad = Vec::new();
    let bytes = match repo.backend().get(&layout::pack(&p.id)) {
        Ok(b) => b,
        Err(e) => {
            for b in &p.blobs {
                bad.push((p.id, Some(b.id), format!("pack unreadable: {e}")));
            }
            return (0, bad);
        }
    };
    if Id::of_bytes(&bytes) != p.id {
        bad.push((
            p.id,
            None,
            "pack content does not match its name (hash mismatch)".to_string(),
        ));
    }
    match pack::read_header(&bytes, repo.backend().sealer()) {
        Ok(h) if h != p.blobs => {
            bad.push((p.id, None, "pack header disagrees with the index".into()))
        }
        Ok(_) => {}
        Err(e) => bad.push((p.id, None, format!("pack header: {e}"))),
    }
    for b in &p.blobs {
        let (s, e) = (b.offset as usize, b.offset as usize + b.length as usize);
        let Some(stored) = bytes.get(s..e) else {
            bad.push((
                p.id,
                Some(b.id),
                "blob lies beyond the end of the pack".into(),
            ));
            continue;
        };
        if let Err(why) = repo.plaintext_of(&b.id, b.codec, b.raw_length, stored) {
            bad.push((p.id, Some(b.id), format!("blob {why}")));
        }
    }
    (bytes.len() as u64, bad)
}

/// For each damaged blob, the snapshot files that reference it.
fn files_using(
    repo: &Repository,
    snaps: &[(Id, snapshot::Snapshot)],
    bad: &HashSet<Id>,
) -> Result<HashMap<Id, Vec<String>>> {
    let mut out: HashMap<Id, Vec<String>> = HashMap::new();
    for (sid, s) in snaps {
        let Some(root) = s.root(MEDIA_ROOT) else {
            continue;
        };
        for e in tree::iter(repo, &root.node) {
            let e = match e {
                Ok(e) => e,
                Err(Error::Corrupt { .. }) => continue,
                Err(other) => return Err(other),
            };
            let m = MediaEntry::decode(&e.value)?;
            for c in &m.chunks {
                if bad.contains(c) {
                    out.entry(*c).or_default().push(format!(
                        "{}:{}",
                        sid.short(),
                        String::from_utf8_lossy(&e.key)
                    ));
                }
            }
        }
    }
    Ok(out)
}
