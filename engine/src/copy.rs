//! `copy`: snapshots from one repository into another, blob by blob,
//! storing only what the destination lacks. The two must name blobs alike
//! (the same blob-id key and chunker: `Repository::init_sharing_ids`), so
//! a blob's id says whether the destination holds it and a copy costs what
//! changed since the last one, as a backup does.
//!
//! Crash safety is a backup's: the destination's snapshot is written only
//! after every blob it references is stored and indexed (`flush`), and a
//! run killed before that leaves unreferenced packs, which the next copy
//! reuses and a prune frees.

use crate::error::{Error, Hint, Result};
use crate::id::Id;
use crate::pack::BlobKind;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::snapshot::{self, Snapshot};
use rayon::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct CopyReport {
    /// (source snapshot, destination snapshot) of each one copied.
    pub copied: Vec<(Id, Id)>,
    /// Source snapshots the destination held already (found equal).
    pub present: Vec<Id>,
    pub blobs_copied: u64,
    /// Plaintext bytes of the blobs copied.
    pub bytes_copied: u64,
    /// Bytes the destination stored for them.
    pub bytes_stored: u64,
}

/// Whether two snapshots are the same backup: a copy keeps everything but
/// the parent's id (which names a snapshot of the other repository) and
/// the tags (which `tag` may change on either side).
fn same(a: &Snapshot, b: &Snapshot) -> bool {
    (a.time_ns, &a.hostname, &a.source, &a.roots) == (b.time_ns, &b.hostname, &b.source, &b.roots)
}

/// Copy `wanted` (source snapshots, oldest first) from `src` into `dst`.
pub fn copy(
    src: &Repository,
    dst: &Repository,
    wanted: &[(Id, Snapshot)],
    progress: &dyn Progress,
) -> Result<CopyReport> {
    let (a, b) = (src.config(), dst.config());
    if a.key != b.key || a.chunker != b.chunker {
        return Err(Error::refused(
            "the destination names its blobs differently from the source (another blob-id key or chunker): a copy would store every byte again under other ids",
            Hint::InitCopyFrom,
        ));
    }
    let mut report = CopyReport::default();
    let existing = snapshot::list(dst)?;
    // Source id -> destination id, for the copies' parent links.
    let mut mapped: HashMap<Id, Id> = HashMap::new();
    let saved0 = (
        dst.saved.blobs.load(std::sync::atomic::Ordering::Relaxed),
        dst.saved
            .raw_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        dst.saved
            .stored_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    for (sid, snap) in wanted {
        if let Some((did, _)) = existing.iter().find(|(_, d)| same(d, snap)) {
            mapped.insert(*sid, *did);
            report.present.push(*sid);
            continue;
        }
        progress.phase(&format!("copy {}", sid.short()), 0);
        copy_blobs(src, dst, snap, progress)?;
        dst.flush()?;
        // A writer's usual last check (a prune may have run meanwhile).
        dst.before_commit(|r, packs| crate::refs::missing_blobs(r, &snap.roots, packs))?;
        let copy = Snapshot {
            parent: snap.parent.and_then(|p| mapped.get(&p).copied()),
            ..snap.clone()
        };
        let did = snapshot::save(dst, &copy)?;
        tracing::info!(source = %sid.short(), copy = %did.short(), "snapshot copied");
        mapped.insert(*sid, did);
        report.copied.push((*sid, did));
    }
    let r = std::sync::atomic::Ordering::Relaxed;
    report.blobs_copied = dst.saved.blobs.load(r) - saved0.0;
    report.bytes_copied = dst.saved.raw_bytes.load(r) - saved0.1;
    report.bytes_stored = dst.saved.stored_bytes.load(r) - saved0.2;
    Ok(report)
}

/// Store every blob `snap` references that `dst` lacks. Every tree node
/// is read, held or not: a node the destination holds does not prove its
/// subtree is there (a killed writer may have indexed one pack of several).
fn copy_blobs(
    src: &Repository,
    dst: &Repository,
    snap: &Snapshot,
    progress: &dyn Progress,
) -> Result<()> {
    // Chunks go before any node, and nodes are stored bottom-up (the walk
    // is top-down): what a node names is saved before it.
    let mut nodes: Vec<(Id, Vec<u8>)> = Vec::new();
    let mut chunks: Vec<Id> = Vec::new();
    let mut seen_nodes = std::collections::HashSet::new();
    let mut seen_chunks = std::collections::HashSet::new();
    crate::refs::walk_refs(
        &snap.roots,
        |id| {
            if !seen_nodes.insert(*id) {
                return Ok(None);
            }
            let bytes = src.load_blob(id)?;
            if !dst.has_blob(id) {
                nodes.push((*id, bytes.clone()));
            }
            Ok(Some(bytes))
        },
        |c| {
            if seen_chunks.insert(*c) && !dst.has_blob(c) {
                chunks.push(*c);
            }
            Ok(())
        },
    )?;
    let store = |kind: BlobKind, id: &Id, bytes: &[u8]| -> Result<()> {
        let (got, _) = dst.save_blob(kind, bytes)?;
        if got != *id {
            return Err(Error::corrupt(
                format!("blob {id}"),
                "the source's bytes hash to another id under the shared key",
            ));
        }
        progress.advance(bytes.len() as u64);
        Ok(())
    };
    crate::util::with_threads(
        (src.backend().local_root().is_none()).then_some(crate::util::REMOTE_THREADS),
        || {
            chunks.par_iter().try_for_each(|c| {
                if progress.interrupted() {
                    return Err(Error::Interrupted {
                        kept: String::new(),
                    });
                }
                store(BlobKind::Data, c, &src.load_blob(c)?)
            })
        },
    )??;
    for (id, bytes) in nodes.iter().rev() {
        store(BlobKind::Tree, id, bytes)?;
    }
    Ok(())
}
