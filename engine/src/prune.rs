//! Prune: delete what no snapshot references, in two phases, so that
//! backups running at the same time (on this host or another) never fail
//! and never lose data. (format-spec/README.md §12)
//!
//! One run:
//! 1. **Mark.** Every snapshot's trees are walked and each blob they
//!    reference sets one bit in a bitmap over the loaded index (positions
//!    in id order). The bitmap doubles as the visited set, so subtrees that
//!    snapshots share are read once. Two bitmaps (live, copied) are all the
//!    per-blob state: 2 bits per blob on top of the index itself.
//! 2. **Plan.** Packs with no live blob are condemned; packs with unused
//!    space are repacked (live blobs copied, stored bytes unchanged, into
//!    new packs and an index file), most-unused first, until the unused
//!    bytes left are within `max_unused_permille` of the used ones or
//!    `max_repack` is reached; unindexed packs older than `unindexed_age`
//!    (store clock) are condemned. A plan object names them. Nothing is
//!    deleted yet, and the plan changes nothing any reader sees.
//! 3. **Execute** every plan (earlier ones and this one) that no live
//!    session holds back (`session::holding_back`): mark the snapshots
//!    that appeared since step 1, copy any live blob whose only copy is in
//!    a condemned pack (a backup that had not seen the plan may have
//!    referenced it), write an index file replacing every index file that
//!    names a condemned pack, delete those index files, delete the packs,
//!    delete the plan. Each step leaves a repository `check` accepts; a
//!    crash anywhere is finished by the next run.

use crate::backend::Listed;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::id::Id;
use crate::index::{BlobLoc, Index, IndexPack};
use crate::layout;
use crate::pack::EncodedBlob;
use crate::plan::{self, Condemned, Plan};
use crate::progress::Progress;
use crate::refs;
use crate::repo::Repository;
use crate::session;
use crate::snapshot::{self, Snapshot};
use bytes::Bytes;
use serde::Serialize;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Report what would be planned; write and delete nothing.
    pub dry_run: bool,
    /// Unused bytes allowed to remain in kept packs, per mille of the used
    /// bytes (50 = 5 %).
    pub max_unused_permille: u32,
    /// At most this many live bytes are copied by repacking in one run.
    pub max_repack: Option<u64>,
    /// Packs no index names are condemned only once this old (store clock):
    /// a backup writes its index file after all its packs.
    pub unindexed_age: Duration,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            dry_run: false,
            max_unused_permille: 50,
            max_repack: None,
            unindexed_age: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    pub snapshots: u64,
    pub blobs: u64,
    pub packs: u64,
    /// Stored bytes of live blobs, and of the other blobs, in all packs.
    pub used_bytes: u64,
    pub unused_bytes: u64,
    /// Resident bytes of the mark phase's per-blob and per-pack state.
    pub mark_bytes: u64,
    /// The plan this run wrote, if it condemned anything.
    pub plan: Option<Id>,
    /// Packs this run condemned: wholly unused, repacked, unindexed.
    pub packs_unused: u64,
    pub packs_repacked: u64,
    pub packs_unindexed: u64,
    /// Packs no index names that are too young to condemn (a running
    /// backup's, or a killed one's), their bytes, and when (store clock)
    /// the youngest of them is old enough: a later prune frees them then.
    pub packs_unindexed_held: u64,
    pub bytes_unindexed_held: u64,
    #[serde(serialize_with = "crate::util::ser_rfc3339_opt")]
    pub unindexed_held_until: Option<i64>,
    pub bytes_condemned: u64,
    /// Live bytes copied out of repacked packs.
    pub bytes_repacked: u64,
    /// Unused bytes left in kept packs once the plan is executed.
    pub unused_bytes_after: u64,
    pub plans_executed: Vec<Id>,
    /// Plans not executed yet, each with the sessions holding it back.
    pub plans_deferred: Vec<(Id, Vec<String>)>,
    /// Live blobs copied out of condemned packs while executing.
    pub blobs_rescued: u64,
    pub index_files_replaced: u64,
    pub packs_deleted: u64,
    pub bytes_freed: u64,
    /// Copies of tree packs deleted (§4.3): with their packs, or left
    /// without one by a killed prune.
    pub tree_copies_deleted: u64,
    /// Staged upload files of interrupted writers removed, and their bytes.
    pub staged_removed: u64,
    pub staged_bytes_freed: u64,
    pub sessions_swept: u64,
    pub requests: crate::backend::RequestSnapshot,
}

/// One bit per index position. `Cell`s, because the tree walk's visit and
/// node callbacks both set bits.
struct Bits(Vec<Cell<u64>>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits((0..n.div_ceil(64)).map(|_| Cell::new(0)).collect())
    }

    fn get(&self, i: usize) -> bool {
        self.0[i / 64].get() & (1 << (i % 64)) != 0
    }

    /// Set bit `i`; whether it was clear.
    fn set(&self, i: usize) -> bool {
        let w = &self.0[i / 64];
        let was = w.get();
        w.set(was | 1 << (i % 64));
        was & (1 << (i % 64)) == 0
    }

    fn bytes(&self) -> u64 {
        self.0.len() as u64 * 8
    }
}

fn dangling(sid: &Id, blob: &Id) -> Error {
    Error::Invalid(format!(
        "snapshot {} references blob {blob}, which no index holds; prune stops without deleting anything (run `jarc check`)",
        sid.short()
    ))
}

/// Blobs the loaded (frozen) index does not know: written after it was
/// loaded, by backups that committed while prune ran. Loaded on first need
/// from the index files the frozen index has not seen.
#[derive(Default)]
struct Side {
    index: Option<Index>,
    seen: HashSet<Id>,
}

impl Side {
    fn lookup(&mut self, repo: &Repository, idx: &Index, id: &Id) -> Result<Option<BlobLoc>> {
        if self.index.is_none() {
            let known: HashSet<&str> = idx.files().iter().map(|(n, _)| n.as_str()).collect();
            let mut side = Index::default();
            repo.for_each_index_file(
                |name| known.contains(name),
                |name, f| side.add_file(name, &f, &HashSet::new()),
            )?;
            side.finish();
            self.index = Some(side);
        }
        Ok(self.index.as_ref().and_then(|s| s.lookup(id)))
    }
}

/// Set the live bit of every blob the snapshot references that the frozen
/// index holds; the bit is also the visited mark. A blob only `side` holds
/// is in a pack newer than every plan this run executes, so it needs no
/// bit, but a tree node there is still read, because its children may be
/// old.
fn mark(
    repo: &Repository,
    idx: &Index,
    side: &RefCell<Side>,
    sid: &Id,
    snap: &Snapshot,
    live: &Bits,
) -> Result<()> {
    let elsewhere = |id: &Id| {
        side.borrow_mut()
            .lookup(repo, idx, id)?
            .ok_or_else(|| dangling(sid, id))
    };
    refs::walk_refs(
        &snap.roots,
        |id| match idx.position(id) {
            Some(p) if !live.set(p) => Ok(None),
            Some(p) => repo.load_blob_at(id, &idx.entry(p).1).map(Some),
            None if !side.borrow_mut().seen.insert(*id) => Ok(None),
            None => repo.load_blob_at(id, &elsewhere(id)?).map(Some),
        },
        |c| {
            match idx.position(c) {
                Some(p) => {
                    live.set(p);
                }
                None => {
                    elsewhere(c)?;
                }
            }
            Ok(())
        },
    )
}

/// Copy the live blobs at `positions` (grouped by pack number) into new
/// packs, verifying each against its id, then write their index file.
fn copy_out(
    repo: &Repository,
    idx: &Index,
    by_pack: BTreeMap<u32, Vec<usize>>,
    copied: &Bits,
    progress: &dyn Progress,
) -> Result<u64> {
    let mut n = 0;
    for (no, positions) in by_pack {
        let pack_id = idx.packs()[no as usize].0;
        let bytes = repo.backend().get(&layout::pack(&pack_id)).map_err(|e| match e {
            Error::NotFound(_) => Error::Invalid(format!(
                "pack {pack_id} vanished while prune was copying from it: another prune is running; run prune again once it has finished"
            )),
            other => other,
        })?;
        // A damaged tree pack is copied out of its copy (§4.3).
        let mut spare: Option<bytes::Bytes> = None;
        for p in positions {
            let (id, loc) = idx.entry(p);
            let range = loc.offset as usize..loc.offset as usize + loc.length as usize;
            let whole = |from: &bytes::Bytes| -> std::result::Result<(), String> {
                let stored = from
                    .get(range.clone())
                    .ok_or_else(|| format!("blob {id} lies beyond its end"))?;
                repo.plaintext_of(&id, loc.codec, loc.raw_length, stored)
                    .map(|_| ())
            };
            let mut from = &bytes;
            if let Err(why) = whole(&bytes) {
                if spare.is_none() && loc.kind == crate::pack::BlobKind::Tree {
                    spare = crate::copies::get(repo.backend(), &layout::tree_copy(&pack_id))?;
                }
                match &spare {
                    Some(c) if whole(c).is_ok() => from = c,
                    _ => {
                        return Err(Error::corrupt(
                            format!("blob {id} in pack {pack_id}"),
                            format!("{why}; prune will not copy it"),
                        ))
                    }
                }
            }
            let stored = &from[range];
            repo.copy_blob(
                loc.kind,
                id,
                loc.raw_length,
                &EncodedBlob {
                    codec: loc.codec,
                    bytes: Cow::Borrowed(stored),
                },
            )?;
            copied.set(p);
            n += 1;
            progress.advance(loc.length as u64);
        }
    }
    repo.flush()?;
    Ok(n)
}

fn group_by_pack(idx: &Index, want: impl Fn(usize, u32) -> bool) -> BTreeMap<u32, Vec<usize>> {
    let mut out: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for i in 0..idx.len() {
        let (no, _) = idx.at(i);
        if want(i, no) {
            out.entry(no).or_default().push(i);
        }
    }
    out
}

/// A session holding a plan back, and until when: it ends, or its marker
/// goes stale (store clock) if it stops refreshing it.
fn describe(s: &session::Seen) -> String {
    let stale = crate::util::rfc3339(
        s.modified_ns
            .saturating_add(session::STALE.as_nanos() as i64),
    );
    match &s.marker {
        Some(m) => format!(
            "{} on {} (pid {}) until it ends, or {stale} if it stops refreshing its marker",
            m.command, m.hostname, m.pid
        ),
        None => format!("{} (unreadable marker) until {stale}", s.name),
    }
}

/// Run one prune. Open the repository with `Repository::open_session`
/// (not a writer) unless `dry_run`.
pub fn prune(
    repo: &Repository,
    opts: &PruneOptions,
    progress: &dyn Progress,
) -> Result<PruneReport> {
    if !opts.dry_run && repo.session_name().is_none() {
        return Err(Error::Invalid(
            "prune needs a session (Repository::open_session)".into(),
        ));
    }
    // Past a damaged index file, packs would look unindexed (leftovers to
    // free): prune works only on a whole index.
    if let Some((name, why)) = repo.healed_index().0.into_iter().next() {
        return Err(Error::corrupt(
            name,
            format!("{why}; prune needs a whole index: run `jarc repair index` first"),
        ));
    }
    repo.freeze();
    let before = repo.backend().requests.snapshot();
    let backend = repo.backend();
    let own = repo.session_name().unwrap_or_default();
    let now0 = session::store_now(backend, &own)?;
    let idx = repo.index();
    let mut r = PruneReport {
        blobs: idx.len() as u64,
        packs: idx.packs().len() as u64,
        ..Default::default()
    };
    progress.phase("mark", 0);
    let marked = mark_all(repo, &idx, &mut r)?;
    tracing::info!(blobs = r.blobs, packs = r.packs, "marked");
    let mut planned = plan(repo, &idx, &marked, opts, now0, &mut r)?;
    tracing::info!(
        stale_staged = planned.stale_staged.len(),
        dry_run = opts.dry_run,
        "planned"
    );
    if opts.dry_run {
        r.staged_removed = planned.stale_staged.len() as u64;
        r.staged_bytes_freed = planned.stale_staged.iter().map(|l| l.size).sum();
        r.tree_copies_deleted = planned.orphan_copies.len() as u64;
    } else {
        let mine = commit_plan(repo, &idx, &marked, &mut planned, progress, &mut r)?;
        let ripe = ripe_plans(repo, mine, &own, &mut r)?;
        tracing::info!(ripe_plans = ripe.len(), "plan committed");
        if !ripe.is_empty() {
            execute(repo, &idx, &marked, &ripe, &planned, progress, &mut r)?;
            tracing::info!("ripe plans executed");
        }
    }
    r.requests = backend.requests.snapshot().since(&before);
    Ok(r)
}

/// What the mark found: the live bit of every indexed blob, the copied
/// bit (set as blobs are copied out of condemned packs), and the
/// snapshots marked.
struct Marked {
    live: Bits,
    copied: Bits,
    snapshots: HashSet<Id>,
}

/// Step 1: mark every blob the snapshots reference.
fn mark_all(repo: &Repository, idx: &Index, r: &mut PruneReport) -> Result<Marked> {
    let snaps = snapshot::list(repo)?;
    r.snapshots = snaps.len() as u64;
    let live = Bits::new(idx.len());
    let copied = Bits::new(idx.len());
    let side = RefCell::new(Side::default());
    for (sid, s) in &snaps {
        mark(repo, idx, &side, sid, s, &live)?;
    }
    r.mark_bytes = live.bytes() + copied.bytes() + idx.packs().len() as u64 * 8;
    Ok(Marked {
        live,
        copied,
        snapshots: snaps.iter().map(|(id, _)| *id).collect(),
    })
}

/// What step 2 decided, before anything is written.
struct Planned {
    condemned: Vec<Condemned>,
    /// Pack numbers whose live blobs are copied out.
    repack: HashSet<u32>,
    /// Unused bytes left in kept packs.
    unused_kept: u64,
    /// Staged uploads of writers that died.
    stale_staged: Vec<Listed>,
    /// Packs with a copy in `tree-copies/` (§4.3), and copies whose pack
    /// is gone (a prune killed between deleting the two).
    tree_copies: HashSet<Id>,
    orphan_copies: Vec<Id>,
}

/// Step 2: choose what to condemn (unused packs, the most wasteful
/// partly used ones, old unindexed ones) and which stale staged uploads
/// to remove. Reads only.
fn plan(
    repo: &Repository,
    idx: &Index,
    m: &Marked,
    opts: &PruneOptions,
    now0: i64,
    r: &mut PruneReport,
) -> Result<Planned> {
    let backend = repo.backend();
    let npacks = idx.packs().len();
    let mut live_bytes = vec![0u64; npacks];
    for i in 0..idx.len() {
        if m.live.get(i) {
            let (no, len) = idx.at(i);
            live_bytes[no as usize] += len as u64;
        }
    }
    // Packs no plan condemns yet.
    let mut condemned: Vec<Condemned> = Vec::new();
    let mut partial: Vec<(u32, u64, u64)> = Vec::new(); // (pack, live, unused)
    for (no, (id, size)) in idx.packs().iter().enumerate() {
        let used = live_bytes[no];
        let unused = idx.pack_blob_bytes(no as u32).saturating_sub(used);
        r.used_bytes += used;
        r.unused_bytes += unused;
        if repo.is_condemned(id) {
            continue;
        }
        if used == 0 {
            condemned.push(Condemned {
                pack: *id,
                size: *size,
                unindexed: false,
            });
            r.packs_unused += 1;
        } else if unused > 0 {
            partial.push((no as u32, used, unused));
        }
    }
    let mut unused_kept: u64 = partial.iter().map(|p| p.2).sum();
    let allowed = r.used_bytes.saturating_mul(opts.max_unused_permille as u64) / 1000;
    // Most unused fraction first: the most space back per byte copied.
    partial.sort_by(|a, b| {
        (b.2 as u128 * (a.1 + a.2) as u128).cmp(&(a.2 as u128 * (b.1 + b.2) as u128))
    });
    let mut repack: HashSet<u32> = HashSet::new();
    for (no, used, unused) in partial {
        if unused_kept <= allowed {
            break;
        }
        if opts
            .max_repack
            .is_some_and(|max| r.bytes_repacked + used > max)
        {
            break;
        }
        repack.insert(no);
        r.bytes_repacked += used;
        unused_kept -= unused;
        let (id, size) = idx.packs()[no as usize];
        condemned.push(Condemned {
            pack: id,
            size,
            unindexed: false,
        });
    }
    r.packs_repacked = repack.len() as u64;
    r.unused_bytes_after = unused_kept;
    // Copies first, then packs: a writer puts a pack before its copy, so
    // every copy listed here has its pack in the listing below unless the
    // pack is gone.
    let tree_copies: HashSet<Id> = backend
        .list(layout::TREE_COPIES)?
        .iter()
        .filter_map(|l| layout::tree_copy_id(&l.name))
        .collect();
    let mut packs_listed = HashSet::new();
    for Listed {
        name,
        size,
        modified_ns,
        ..
    } in backend.list(layout::DATA)?
    {
        let Some(id) = layout::id_of(&name) else {
            continue;
        };
        packs_listed.insert(id);
        let age = now0.saturating_sub(modified_ns);
        if idx.has_pack(&id) || repo.is_condemned(&id) {
            continue;
        }
        let min_age = opts.unindexed_age.as_nanos() as i64;
        if age >= min_age {
            condemned.push(Condemned {
                pack: id,
                size,
                unindexed: true,
            });
            r.packs_unindexed += 1;
        } else {
            r.packs_unindexed_held += 1;
            r.bytes_unindexed_held += size;
            let ripe = modified_ns.saturating_add(min_age);
            r.unindexed_held_until = Some(r.unindexed_held_until.map_or(ripe, |t| t.max(ripe)));
        }
    }
    r.bytes_condemned = condemned.iter().map(|c| c.size).sum();
    // A staged upload an hour old belongs to a writer that died: a live one
    // renames its staged file within seconds of creating it.
    let stale_staged: Vec<Listed> = backend
        .staged()?
        .into_iter()
        .filter(|l| now0.saturating_sub(l.modified_ns) >= session::STALE.as_nanos() as i64)
        .collect();
    let orphan_copies = tree_copies
        .iter()
        .filter(|id| !packs_listed.contains(*id))
        .copied()
        .collect();
    Ok(Planned {
        condemned,
        repack,
        unused_kept,
        stale_staged,
        tree_copies,
        orphan_copies,
    })
}

/// Step 2, written: copy the repacked packs' live blobs out, save the
/// plan, remove stale staged uploads. Returns the plan, if it condemns
/// anything.
fn commit_plan(
    repo: &Repository,
    idx: &Index,
    m: &Marked,
    planned: &mut Planned,
    progress: &dyn Progress,
    r: &mut PruneReport,
) -> Result<Option<(Id, Plan)>> {
    let backend = repo.backend();
    // Copying a repacked pack's live blobs in the same order gives the
    // same bytes as an earlier run's copy of them: that copy may be one
    // this plan condemns (found by a test killing prune after repacking).
    repo.avoid_names(planned.condemned.iter().map(|c| c.pack));
    if !planned.repack.is_empty() {
        progress.phase("repack", r.bytes_repacked);
        let by_pack = group_by_pack(idx, |i, no| planned.repack.contains(&no) && m.live.get(i));
        copy_out(repo, idx, by_pack, &m.copied, progress)?;
        // A copy that would have had a condemned pack's name (the copy a
        // prune killed after repacking made) carries a repeated blob:
        // unused space that stays until a later prune repacks that pack.
        r.unused_bytes_after =
            planned.unused_kept + repo.saved.repeated_bytes.load(Ordering::Relaxed);
        failpoint::hit("prune-after-repack");
    }
    let mine = if planned.condemned.is_empty() {
        None
    } else {
        let p = Plan {
            created_ns: crate::util::now_ns(),
            hostname: crate::util::hostname(),
            nonce: rand::random(),
            packs: std::mem::take(&mut planned.condemned),
        };
        let id = plan::save(backend, &p)?;
        r.plan = Some(id);
        failpoint::hit("prune-after-plan");
        Some((id, p))
    };
    for l in &planned.stale_staged {
        backend.remove_staged(&l.name)?;
        r.staged_removed += 1;
        r.staged_bytes_freed += l.size;
    }
    for id in &planned.orphan_copies {
        backend.delete(&layout::tree_copy(id))?;
        r.tree_copies_deleted += 1;
    }
    Ok(mine)
}

/// The plans this run loaded the index with, and its own, that no live
/// session holds back; the others are reported as deferred. Abandoned
/// sessions are swept first.
fn ripe_plans(
    repo: &Repository,
    mine: Option<(Id, Plan)>,
    own: &str,
    r: &mut PruneReport,
) -> Result<Vec<(Id, Plan)>> {
    let backend = repo.backend();
    let hostname = crate::util::hostname();
    let mut plans = repo.plans();
    plans.extend(mine);
    let sessions = session::list(backend)?;
    let now1 = session::now_in(&sessions, own);
    r.sessions_swept = session::sweep(backend, &sessions, now1, own, &hostname)?;
    let mut ripe = Vec::new();
    for (id, p) in plans {
        let held = session::holding_back(&sessions, &id, now1, own, &hostname);
        if held.is_empty() {
            ripe.push((id, p));
        } else {
            r.plans_deferred
                .push((id, held.into_iter().map(describe).collect()));
        }
    }
    Ok(ripe)
}

/// Step 3: execute the ripe plans. Each step leaves a repository `check`
/// accepts: rescued blobs are indexed before any index file is replaced,
/// index files are replaced before packs go, the plan goes last.
fn execute(
    repo: &Repository,
    idx: &Index,
    m: &Marked,
    ripe: &[(Id, Plan)],
    planned: &Planned,
    progress: &dyn Progress,
    r: &mut PruneReport,
) -> Result<()> {
    let (unused_kept, copies) = (planned.unused_kept, &planned.tree_copies);
    let backend = repo.backend();
    // Snapshots committed since the mark, by sessions that ended before
    // the listing above, may use blobs in the packs about to go.
    progress.phase("mark", 0);
    let side = RefCell::new(Side::default());
    for sid in snapshot::list_ids(repo)? {
        if !m.snapshots.contains(&sid) {
            match snapshot::load(repo, &sid) {
                Ok(s) => mark(repo, idx, &side, &sid, &s, &m.live)?,
                // Forgotten since the listing: nothing of it to keep.
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let doomed: HashSet<Id> = ripe
        .iter()
        .flat_map(|(_, p)| p.packs.iter().map(|c| c.pack))
        .collect();
    let doomed_no: HashSet<u32> = idx
        .packs()
        .iter()
        .enumerate()
        .filter(|(_, (id, _))| doomed.contains(id))
        .map(|(no, _)| no as u32)
        .collect();
    let rescue = group_by_pack(idx, |i, no| {
        doomed_no.contains(&no) && m.live.get(i) && !m.copied.get(i)
    });
    if !rescue.is_empty() {
        progress.phase("rescue", 0);
        r.blobs_rescued = copy_out(repo, idx, rescue, &m.copied, progress)?;
        r.unused_bytes_after = unused_kept + repo.saved.repeated_bytes.load(Ordering::Relaxed);
        failpoint::hit("prune-after-rescue");
    }

    progress.phase("index", 0);
    let affected: Vec<&String> = idx
        .files()
        .iter()
        .filter(|(_, nos)| nos.iter().any(|n| doomed_no.contains(n)))
        .map(|(name, _)| name)
        .collect();
    let mut kept: Vec<IndexPack> = Vec::new();
    let mut replaced = Vec::new();
    for name in affected {
        let Some(f) = repo.read_index_file(name)? else {
            continue;
        };
        kept.extend(f.packs.into_iter().filter(|p| !doomed.contains(&p.id)));
        replaced.push(name.clone());
    }
    if !kept.is_empty() {
        for file in crate::repo::split_index(kept) {
            let bytes = backend.seal(crate::crypto::Context::Index, file.encode());
            backend.put(&layout::index(&Id::of_bytes(&bytes)), Bytes::from(bytes))?;
        }
    }
    failpoint::hit("prune-after-new-index");
    for name in &replaced {
        backend.delete(name)?;
    }
    r.index_files_replaced = replaced.len() as u64;
    failpoint::hit("prune-after-index-delete");

    progress.phase("delete", 0);
    let sizes: HashMap<Id, u64> = ripe
        .iter()
        .flat_map(|(_, p)| p.packs.iter().map(|c| (c.pack, c.size)))
        .collect();
    for (n, (id, size)) in sizes.iter().enumerate() {
        // The pack, then its copy (§4.3): a copy is never read without its
        // pack's index entry, and one left by a kill here is an orphan the
        // next prune removes.
        backend.delete(&layout::pack(id))?;
        if copies.contains(id) {
            failpoint::hit("prune-before-copy-delete");
            backend.delete(&layout::tree_copy(id))?;
            r.tree_copies_deleted += 1;
        }
        r.packs_deleted += 1;
        r.bytes_freed += size;
        if n + 1 == sizes.len().div_ceil(2) {
            failpoint::hit("prune-mid-delete");
        }
    }
    failpoint::hit("prune-after-delete");
    for (id, _) in ripe {
        backend.delete(&layout::plan(id))?;
        r.plans_executed.push(*id);
    }
    Ok(())
}
