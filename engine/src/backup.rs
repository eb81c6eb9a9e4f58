//! The backup command: the database's tables into row trees (see
//! `database`), media entries → chunks → packs and the media tree, then the
//! snapshot (the commit point; see `repo` for the order).

use crate::chunker::Chunker;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::media::{EntryKind, MediaEntry};
use crate::pack::BlobKind;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::snapshot::SourceInfo;
use crate::snapshot::{self, Snapshot, Summary, MEDIA_ROOT};
use crate::source::{Content, DatabaseSource, MediaSource, ScanEntry, ScanItem, Skipped};
use crate::tree::{self, Root, TreeBuilder};
use crate::util::now_ns;
use rayon::prelude::*;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Stream buffer for objects read as streams (a media bucket's, a
/// directory's files over its read-whole limit, an archive's entries): the
/// largest chunk (4 MiB) and a quarter more. One per reader: at 32 MiB,
/// two workers' buffers and two full packs took a 2.2 GB first backup to
/// 154 MiB peak RSS; at 8 MiB, 122 MiB. A bucket backup runs four readers:
/// at 8 MiB it peaked at 135-142 MiB, at 5 MiB (with chunks sealed in
/// the buffer) 114-121 MiB, no slower (issue 18).
const STREAM_BUFFER: usize = 5 << 20;

#[derive(Debug, Clone, Default)]
pub struct BackupOptions {
    pub tags: Vec<String>,
    /// Read every file even when its fingerprint matches the parent's.
    pub force_read: bool,
    /// Override the recorded hostname (tests, and hosts with unstable names).
    pub hostname: Option<String>,
    /// The capture time to record, when the data was read earlier than now
    /// (an imported archive records when Jant exported it).
    pub time_ns: Option<i64>,
    /// Trees the caller already stored, committed with the snapshot under
    /// these root names (an imported archive's row order).
    pub extra_roots: Vec<(String, Root)>,
    /// Record a database without tables even when the previous snapshot of
    /// its source had some.
    pub allow_empty_database: bool,
    /// Media objects (and directories, with all under them) left out.
    pub exclude: crate::selection::Selection,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupSummary {
    pub snapshot: Id,
    pub parent: Option<Id>,
    #[serde(flatten)]
    pub summary: Summary,
    /// Present when a database was captured.
    pub database: Option<crate::capture::DatabaseSummary>,
    pub tree_nodes_new: u64,
    pub packs_written: u64,
    pub warnings: Vec<String>,
    /// Media objects left out of the snapshot (unreadable, vanished, or
    /// changing while read), each with why; the snapshot holds the rest.
    pub skipped: Vec<Skipped>,
    /// Requests to the repository's store.
    pub requests: crate::backend::RequestSnapshot,
    /// Requests to a remote media source (an S3 bucket).
    pub source_requests: Option<crate::backend::RequestSnapshot>,
}

fn unchanged(s: &MediaEntry, p: &MediaEntry) -> bool {
    s.kind == p.kind
        && s.size == p.size
        && s.mtime_ns == p.mtime_ns
        && s.inode == p.inode
        && s.ctime_ns == p.ctime_ns
        && s.token == p.token
}

/// Snapshot facts naming what a backup skipped (format-spec §10.4): the
/// count, then the first `SKIPPED_LISTED` keys with their reasons.
pub use crate::snapshot::EXTRA_SKIPPED;
pub const EXTRA_SKIPPED_PREFIX: &str = "media.skipped/";
pub const SKIPPED_LISTED: usize = 100;

/// How many media objects a snapshot's backup skipped.
pub fn skipped_count(snap: &Snapshot) -> u64 {
    snap.skipped()
}

/// Back up a media source into the repository as one snapshot.
pub fn backup_media(
    repo: &Repository,
    source: &dyn MediaSource,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<BackupSummary> {
    backup_site(repo, None, Some(source), opts, progress)
}

/// What a backup would do, found without reading any content or writing
/// anything (`backup --dry-run`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DryRun {
    /// What would be backed up.
    pub source: SourceInfo,
    /// The snapshot it would be compared against.
    pub parent: Option<Id>,
    /// Media counts as the backup would record them; `bytes_read` is what
    /// it would read (new and changed objects).
    #[serde(flatten)]
    pub summary: Summary,
    /// The database the backup would capture, read in full at backup time
    /// (its rows are diffed against the parent then, not now).
    pub database: Option<String>,
    pub warnings: Vec<String>,
}

/// `backup --dry-run`: scan the media and compare them with the parent
/// snapshot, as a backup would, and stop there. Opens no session, writes
/// nothing, reads no object's content.
pub fn dry_run(
    repo: &Repository,
    db: Option<&SourceInfo>,
    media: Option<&dyn MediaSource>,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<DryRun> {
    let info = site_info(db, media.map(|m| m.info()).as_ref())?;
    let hostname = opts.hostname.clone().unwrap_or_else(crate::util::hostname);
    let parent = snapshot::latest_of_source(repo, &info, &hostname)?;
    let mut summary = Summary::default();
    let mut warnings = Vec::new();
    if let Some(source) = media {
        media_tree(
            repo,
            source,
            parent.as_ref().map(|(_, s)| s),
            opts,
            true,
            progress,
            &mut summary,
            &mut warnings,
        )?;
    }
    Ok(DryRun {
        source: info,
        parent: parent.map(|(id, _)| id),
        summary,
        database: db.map(|d| d.description.clone()),
        warnings,
    })
}

/// The source kind of a site backup (database, and media if any).
pub const SITE_KIND: &str = "jant-site";

/// The part of a site's source id its database gives: `<kind>:<id>`.
/// A site whose media were backed up too continues with ` + <media>`.
pub fn site_id_of(db: &SourceInfo) -> String {
    format!("{}:{}", db.kind, db.id)
}

/// What identifies a site across backups: its database and its media.
fn site_info(db: Option<&SourceInfo>, media: Option<&SourceInfo>) -> Result<SourceInfo> {
    match (db, media) {
        (None, Some(m)) => Ok(m.clone()),
        (Some(d), m) => Ok(SourceInfo {
            kind: SITE_KIND.into(),
            id: match m {
                Some(m) => format!("{} + {}:{}", site_id_of(d), m.kind, m.id),
                None => site_id_of(d),
            },
            description: match m {
                Some(m) => format!("{} + {}", d.description, m.description),
                None => d.description.clone(),
            },
        }),
        (None, None) => Err(Error::Invalid(
            "nothing to back up: no database and no media".into(),
        )),
    }
}

/// Back up a site, its database and/or its media, as one snapshot. The
/// database is read first: Jant stores an object before it writes the row
/// that names it, so media listed afterwards include every object the
/// captured rows reference (unless it was deleted in between).
///
/// Interrupted (`Progress::interrupted`), it writes out what it has
/// packed and indexes every pack it uploaded before it stops: nothing is
/// committed, and the next backup finds those blobs in the index and does
/// not read or upload them again. (A prune treats them as it treats any
/// blob no snapshot references.)
pub fn backup_site(
    repo: &Repository,
    db: Option<&mut dyn DatabaseSource>,
    media: Option<&dyn MediaSource>,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<BackupSummary> {
    let packs0 = repo.saved.packs.load(Ordering::Relaxed);
    let bytes0 = repo.saved.stored_bytes.load(Ordering::Relaxed);
    match backup_site_once(repo, db, media, opts, progress) {
        Err(Error::Interrupted { .. }) => {
            let kept = match repo.flush() {
                Ok(_) => {
                    let packs = repo.saved.packs.load(Ordering::Relaxed) - packs0;
                    let bytes = repo.saved.stored_bytes.load(Ordering::Relaxed) - bytes0;
                    format!("the {packs} pack(s) it uploaded ({bytes} bytes) are indexed, and the next backup reuses them")
                }
                Err(e) => format!("what it uploaded could not be indexed ({e}); a prune frees it"),
            };
            Err(Error::Interrupted { kept })
        }
        other => other,
    }
}

fn backup_site_once(
    repo: &Repository,
    db: Option<&mut dyn DatabaseSource>,
    media: Option<&dyn MediaSource>,
    opts: &BackupOptions,
    progress: &dyn Progress,
) -> Result<BackupSummary> {
    let started = Instant::now();
    let time_ns = opts.time_ns.unwrap_or_else(now_ns);
    let info = site_info(
        db.as_ref().map(|d| d.info()).as_ref(),
        media.map(|m| m.info()).as_ref(),
    )?;
    let hostname = opts.hostname.clone().unwrap_or_else(crate::util::hostname);
    let parent = snapshot::latest_of_source(repo, &info, &hostname)?;
    tracing::info!(
        source = %info.description,
        host = %hostname,
        parent = %parent.as_ref().map(|(id, _)| id.short()).unwrap_or_else(|| "none".into()),
        "backup started"
    );
    // The repository's counters run for its lifetime; this backup reports
    // only what it added.
    let saved = &repo.saved;
    let before = [
        saved.blobs.load(Ordering::Relaxed),
        saved.raw_bytes.load(Ordering::Relaxed),
        saved.stored_bytes.load(Ordering::Relaxed),
        saved.packs.load(Ordering::Relaxed),
    ];
    let mut warnings = Vec::new();
    let mut skipped = Vec::new();
    let mut roots = Vec::new();
    let mut extra = Vec::new();
    let mut tree_nodes_new = 0;
    let mut database = None;

    // The database is captured on this thread while the media are backed
    // up on another: a capture is mostly one core of row reading, and the
    // media path leaves a core idle while it waits on reads and writes.
    let parent_snap = parent.as_ref().map(|(_, s)| s);
    let mut media_summary = Summary::default();
    let mut media_warnings = Vec::new();
    let (captured, media_built) = std::thread::scope(|scope| {
        let media_job = media.map(|source| {
            let (summary, warnings) = (&mut media_summary, &mut media_warnings);
            scope.spawn(move || {
                media_tree(
                    repo,
                    source,
                    parent_snap,
                    opts,
                    false,
                    progress,
                    summary,
                    warnings,
                )
            })
        });
        let captured = db.map(|db| {
            if media_job.is_none() {
                progress.phase("database", 0);
            }
            crate::capture::capture(repo, db, &mut warnings)
        });
        let media_built = media_job.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::Invalid("the media backup panicked".into())))
        });
        (captured, media_built)
    });
    let mut summary = media_summary;
    warnings.extend(media_warnings);
    if let Some(cap) = captured {
        let cap = cap?;
        // A database that lost every table since the last backup of its
        // source (a 0-byte or replaced file) is not recorded as the newest
        // state: retention counts snapshots, and a run of empty ones would
        // push the good ones out.
        if let Some((pid, p)) = &parent {
            let had = p
                .roots
                .iter()
                .filter(|(n, _)| n.starts_with(crate::schema::ROWS_ROOT_PREFIX))
                .count();
            if cap.summary.tables == 0 && had > 0 && !opts.allow_empty_database {
                return Err(Error::refused(
                    format!(
                        "the database {} holds no tables, but the previous snapshot of this source ({}) held {had}; nothing was recorded (a lost or replaced database file?)",
                        info.description,
                        pid.short()
                    ),
                    crate::error::Hint::AllowEmpty,
                ));
            }
        }
        tracing::info!(
            tables = cap.summary.tables,
            rows = cap.summary.rows,
            tree_nodes_new = cap.tree_nodes_new,
            "database captured"
        );
        tree_nodes_new += cap.tree_nodes_new;
        roots.extend(cap.roots);
        extra.extend(cap.extra);
        database = Some(cap.summary);
    }
    if let Some(built) = media_built {
        let (root, new, left_out) =
            built?.ok_or_else(|| Error::Invalid("media tree not built".into()))?;
        skipped = left_out;
        tracing::info!(
            files = summary.files,
            new = summary.files_new,
            changed = summary.files_changed,
            unchanged = summary.files_unchanged,
            skipped = skipped.len(),
            bytes_read = summary.bytes_read,
            "media backed up"
        );
        tree_nodes_new += new;
        if !skipped.is_empty() {
            extra.push((EXTRA_SKIPPED.to_string(), skipped.len().to_string()));
            for s in skipped.iter().take(SKIPPED_LISTED) {
                extra.push((format!("{EXTRA_SKIPPED_PREFIX}{}", s.key), s.reason.clone()));
            }
        }
        roots.push((MEDIA_ROOT.to_string(), root));
    }
    roots.extend(opts.extra_roots.iter().cloned());
    roots.sort_by(|a, b| a.0.cmp(&b.0));

    stop_if_interrupted(progress)?;
    progress.phase("commit", 0);
    // Waits for the last packs to go out, which may take a while; the
    // check after it is the last moment to honour a stop: after it, the
    // snapshot commits.
    repo.flush()?;
    stop_if_interrupted(progress)?;
    summary.blobs_new = saved.blobs.load(Ordering::Relaxed) - before[0];
    summary.bytes_new_raw = saved.raw_bytes.load(Ordering::Relaxed) - before[1];
    summary.bytes_new_stored = saved.stored_bytes.load(Ordering::Relaxed) - before[2];
    summary.duration_ms = started.elapsed().as_millis() as u64;
    let snap = Snapshot {
        time_ns,
        hostname,
        tags: opts.tags.clone(),
        source: info,
        parent: parent.as_ref().map(|(id, _)| *id),
        roots,
        summary: summary.clone(),
        extra,
    };
    repo.before_commit(|r, packs| crate::refs::missing_blobs(r, &snap.roots, packs))?;
    let id = snapshot::save(repo, &snap)?;
    tracing::info!(snapshot = %id.short(), blobs_new = summary.blobs_new, bytes_new_stored = summary.bytes_new_stored, "snapshot saved");
    Ok(BackupSummary {
        snapshot: id,
        parent: snap.parent,
        summary,
        database,
        tree_nodes_new,
        packs_written: saved.packs.load(Ordering::Relaxed) - before[3],
        warnings,
        skipped,
        requests: repo.backend().requests.snapshot(),
        source_requests: media.and_then(|m| m.requests()),
    })
}

/// Scan entries handled at a time: each batch is merged with the parent
/// listing, read and added to the tree before the next is scanned, so a
/// backup holds one batch (a few MiB) however many objects the source has.
/// Large enough that the readers rarely wait at a batch's end; a handful in
/// unit tests, so that every backup there spans several batches.
const SCAN_BATCH: usize = if cfg!(test) { 16 } else { 8192 };

/// One scanned entry of a batch, as the merge with the parent left it.
struct Planned {
    scan: ScanEntry,
    /// The content's chunks: reused from the parent, or read (`None` until
    /// then).
    chunks: Option<Vec<Id>>,
    /// Metadata that come from the parent or the read rather than the scan.
    meta: Option<Vec<(String, String)>>,
    /// Whether the parent lacked the entry (counted new, not changed).
    is_new: bool,
    /// What was read, when it was: the chunks hold that many bytes even if
    /// the object grew or shrank after it was listed.
    size: Option<u64>,
    left_out: bool,
}

/// The media listing of a backup: scan, reuse what the parent already
/// holds, read the rest, and build the media listing tree, a batch at a
/// time. Returns (the tree's root, tree nodes it stored, what it left out).
/// With `plan_only`, only finds what it would read (`summary` filled,
/// nothing read or stored) and returns `None`.
#[allow(clippy::too_many_arguments)]
fn media_tree(
    repo: &Repository,
    source: &dyn MediaSource,
    parent: Option<&Snapshot>,
    opts: &BackupOptions,
    plan_only: bool,
    progress: &dyn Progress,
    summary: &mut Summary,
    warnings: &mut Vec<String>,
) -> Result<Option<(Root, u64, Vec<Skipped>)>> {
    // A bar that grows as the scan finds what to read.
    progress.phase_items("backup", 0, 0);
    let mut scan = source.scan()?;
    let mut prev = parent
        .and_then(|s| s.root(MEDIA_ROOT))
        .map(|r| tree::iter(repo, &r.node))
        .into_iter()
        .flatten()
        .peekable();
    let chunker = Chunker::new(&repo.config().chunker);
    // Fewer than a restore's: each object read holds up to a stream buffer
    // (8 MiB) besides the response in flight.
    let workers =
        crate::util::Workers::new(source.remote().then_some(crate::util::REMOTE_THREADS / 2))?;
    let mut builder = TreeBuilder::new(repo);
    let mut skipped = Vec::new();
    let mut scanned = 0u64;
    loop {
        let mut batch: Vec<Planned> = Vec::new();
        while batch.len() < SCAN_BATCH {
            let Some(item) = scan.next() else { break };
            let e = match item? {
                ScanItem::Entry(e) if !opts.exclude.matches(&e.key) => e,
                ScanItem::Entry(_) => continue,
                ScanItem::Skipped(s) => {
                    if !opts.exclude.matches(&s.key) {
                        let w = format!("{}: skipped: {}", s.key, s.reason);
                        progress.warn(&w);
                        warnings.push(w);
                        skipped.push(s);
                    }
                    continue;
                }
                ScanItem::Warning(w) => {
                    progress.warn(&w);
                    warnings.push(w);
                    continue;
                }
            };
            batch.push(merge_with_parent(
                repo, source, &mut prev, e, opts, summary,
            )?);
        }
        if batch.is_empty() {
            break;
        }
        scanned += batch.len() as u64;
        crate::failpoint::hit("after-scan");
        let to_read: Vec<usize> = (0..batch.len())
            .filter(|&i| batch[i].chunks.is_none() && batch[i].scan.entry.kind == EntryKind::File)
            .collect();
        let read_total: u64 = to_read.iter().map(|&i| batch[i].scan.entry.size).sum();
        summary.bytes_read += read_total;
        if plan_only {
            continue;
        }
        progress.grow(read_total, to_read.len() as u64);
        read_batch(
            repo,
            &workers,
            &chunker,
            source,
            &mut batch,
            &to_read,
            progress,
            warnings,
            &mut skipped,
        )?;
        for p in batch {
            let mut entry = p.scan.entry;
            if p.left_out {
                summary.files -= 1;
                summary.bytes -= entry.size;
                if p.is_new {
                    summary.files_new -= 1;
                } else {
                    summary.files_changed -= 1;
                }
                continue;
            }
            // The scan's metadata is current; the content is reused or
            // just read.
            entry.chunks = p.chunks.unwrap_or_default();
            if let Some(m) = p.meta {
                entry.meta = m;
            }
            if let Some(n) = p.size {
                entry.size = n;
            }
            entry.content = MediaEntry::content_id(&entry.chunks);
            builder.push(p.scan.key.into_bytes(), entry.encode())?;
        }
        repo.index_written_packs()?;
    }
    tracing::info!(entries = scanned, skipped = skipped.len(), "media scanned");
    if plan_only {
        return Ok(None);
    }
    let new = builder.new_nodes;
    skipped.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Some((builder.finish()?, new, skipped)))
}

/// Find `scan`'s entry in the parent listing (both in key order; `prev`
/// is advanced past it) and decide whether its content can be reused
/// without reading it. Counts it in `summary`.
fn merge_with_parent(
    repo: &Repository,
    source: &dyn MediaSource,
    prev: &mut std::iter::Peekable<impl Iterator<Item = Result<tree::LeafEntry>>>,
    scan: ScanEntry,
    opts: &BackupOptions,
    summary: &mut Summary,
) -> Result<Planned> {
    let (s, key) = (&scan.entry, &scan.key);
    let mut hit = None;
    while let Some(next) = prev.peek() {
        match next {
            Err(_) => {
                if let Some(Err(e)) = prev.next() {
                    return Err(e);
                }
            }
            Ok(e) if e.key.as_slice() < key.as_bytes() => {
                prev.next();
            }
            Ok(e) if e.key.as_slice() == key.as_bytes() => {
                if let Some(Ok(e)) = prev.next() {
                    hit = Some(MediaEntry::decode(&e.value)?);
                }
                break;
            }
            Ok(_) => break,
        }
    }
    match s.kind {
        EntryKind::Dir => summary.dirs += 1,
        _ => {
            summary.files += 1;
            summary.bytes += s.size;
        }
    }
    let is_new = hit.is_none();
    // A chunk whose only copies a prune plan condemns may be deleted
    // before this snapshot commits: read the file again instead.
    let (chunks, meta) = match hit {
        Some(p)
            if unchanged(s, &p) && !opts.force_read && {
                let idx = repo.index();
                p.chunks.iter().all(|c| idx.contains_live(c))
            } =>
        {
            summary.files_unchanged += (s.kind != EntryKind::Dir) as u64;
            (Some(p.chunks), source.meta_from_read().then_some(p.meta))
        }
        Some(_) => {
            summary.files_changed += (s.kind != EntryKind::Dir) as u64;
            (None, None)
        }
        None => {
            summary.files_new += (s.kind != EntryKind::Dir) as u64;
            (None, None)
        }
    };
    Ok(Planned {
        scan,
        chunks,
        meta,
        is_new,
        size: None,
        left_out: false,
    })
}

/// Read the batch's entries `to_read` on all workers and fill in their
/// chunks, or mark them left out (and say why).
#[allow(clippy::too_many_arguments)]
fn read_batch(
    repo: &Repository,
    workers: &crate::util::Workers,
    chunker: &Chunker,
    source: &dyn MediaSource,
    batch: &mut [Planned],
    to_read: &[usize],
    progress: &dyn Progress,
    warnings: &mut Vec<String>,
    skipped: &mut Vec<Skipped>,
) -> Result<()> {
    let entries = InOrder::new(source, batch, to_read);
    let mut read: Vec<(usize, Result<Read>)> = workers.install(|| {
        // Each worker's stream buffer serves all the objects it reads (see
        // `Chunker::stream`).
        entries
            .par_bridge()
            .map_init(Vec::new, |buf, (k, entry)| {
                let r = read_file(repo, chunker, source, entry, buf, progress);
                progress.item_done();
                (k, r)
            })
            .collect()
    });
    read.sort_unstable_by_key(|(k, _)| *k);
    for ((_, r), &i) in read.into_iter().zip(to_read) {
        let p = &mut batch[i];
        // One object the source cannot give (unreadable, gone, swapped for
        // something else) costs that object, not the backup. The
        // repository's own errors still stop it.
        let reason = match r {
            Err(e @ (Error::Unreadable { .. } | Error::Io { .. } | Error::NotFound(_))) if !matches!(&e, Error::NotFound(n) if n.starts_with(crate::layout::DATA)) => {
                e.to_string()
            }
            Err(e) => return Err(e),
            // What was read may be torn; the next backup reads it again.
            Ok(_) if source.changed_since_scan(&p.scan) => {
                "changed while it was read; the next backup reads it again".into()
            }
            Ok(got) => {
                p.chunks = Some(got.chunks);
                p.meta = got.meta;
                p.size = Some(got.size);
                continue;
            }
        };
        let key = p.scan.key.clone();
        let w = format!("{key}: skipped: {reason}");
        progress.warn(&w);
        warnings.push(w);
        skipped.push(Skipped { key, reason });
        p.left_out = true;
    }
    Ok(())
}

/// How far ahead of the workers a source is asked to read
/// (`MediaSource::read_ahead`), in bytes of the objects next in line (a
/// larger object counts this much at most: the kernel's own read-ahead
/// follows a stream). Cold, two workers each reading the file in hand kept
/// the disk at two requests; `cat` of the datapath site took 2.6 s one file
/// at a time and 1.6 s four at a time (issue 18). Costs page cache, not
/// memory of ours.
const READ_AHEAD: u64 = 32 << 20;

/// Objects smaller than this are not hinted: a file of a few pages is one
/// request of the kernel's own read-ahead, and the hint (an open, a stat,
/// a close) costs more than it saves when it is cached: the first backup
/// of 200,000 cached 4 KiB files took 3.1-3.6 s without hints and 4.0-4.3 s
/// with them.
const READ_AHEAD_MIN: u64 = 64 << 10;

/// A batch's entries to read, handed to the workers one at a time in key
/// order (so the read-ahead runs just in front of all of them, and packs
/// fill in key order), each with its place in `to_read`. Taking the next
/// entry asks the source to read ahead up to `READ_AHEAD` bytes beyond it.
struct InOrder<'a> {
    source: &'a dyn MediaSource,
    entries: Vec<&'a ScanEntry>,
    next: usize,
    /// Entries hinted so far, and the bytes (counted as `weight`) hinted
    /// and handed out.
    hinted: usize,
    hinted_bytes: u64,
    handed_bytes: u64,
}

impl<'a> InOrder<'a> {
    fn new(source: &'a dyn MediaSource, batch: &'a [Planned], to_read: &[usize]) -> InOrder<'a> {
        InOrder {
            source,
            entries: to_read.iter().map(|&i| &batch[i].scan).collect(),
            next: 0,
            hinted: 0,
            hinted_bytes: 0,
            handed_bytes: 0,
        }
    }

    /// The bytes an entry is hinted for (0: not hinted).
    fn weight(e: &ScanEntry) -> u64 {
        match e.entry.size {
            n if n < READ_AHEAD_MIN => 0,
            n => n.min(READ_AHEAD),
        }
    }
}

impl<'a> Iterator for InOrder<'a> {
    type Item = (usize, &'a ScanEntry);

    fn next(&mut self) -> Option<(usize, &'a ScanEntry)> {
        let k = self.next;
        let e = *self.entries.get(k)?;
        self.next += 1;
        self.handed_bytes += Self::weight(e);
        while self.hinted < self.entries.len()
            && (self.hinted <= k || self.hinted_bytes - self.handed_bytes < READ_AHEAD)
        {
            let h = self.entries[self.hinted];
            let w = Self::weight(h);
            // The entry handed out now is being read already.
            if self.hinted > k && w > 0 {
                self.source.read_ahead(h, w);
            }
            self.hinted_bytes += w;
            self.hinted += 1;
        }
        Some((k, e))
    }
}

/// Store a batch of chunks on all workers. The chunks are the caller's to
/// give up: each may be sealed where it lies (`Repository::save_blob_mut`).
fn save_chunks(
    repo: &Repository,
    batch: &mut [&mut [u8]],
    progress: &dyn Progress,
) -> Result<Vec<Id>> {
    stop_if_interrupted(progress)?;
    batch
        .par_iter_mut()
        .map(|c| {
            let len = c.len() as u64;
            let (id, _) = repo.save_blob_mut(BlobKind::Data, c)?;
            progress.advance(len);
            Ok(id)
        })
        .collect()
}

/// Stands for an interrupt until `backup_site` says what was kept.
fn stop_if_interrupted(progress: &dyn Progress) -> Result<()> {
    if progress.interrupted() {
        return Err(Error::Interrupted {
            kept: String::new(),
        });
    }
    Ok(())
}

/// What reading one object gave.
struct Read {
    chunks: Vec<Id>,
    meta: Option<Vec<(String, String)>>,
    size: u64,
}

fn read_file(
    repo: &Repository,
    chunker: &Chunker,
    source: &dyn MediaSource,
    entry: &ScanEntry,
    stream_buf: &mut Vec<u8>,
    progress: &dyn Progress,
) -> Result<Read> {
    stop_if_interrupted(progress)?;
    let (content, meta) = source.open_with_meta(entry)?;
    let (chunks, size) = match content {
        Content::Bytes(mut b) => {
            let cuts = chunker.cuts(&b);
            let ids = save_chunks(
                repo,
                &mut crate::chunker::split_mut(&mut b, &cuts),
                progress,
            )?;
            (ids, b.len() as u64)
        }
        Content::Stream(r) => {
            let mut ids = Vec::new();
            let mut size = 0u64;
            chunker
                .stream(r, stream_buf, STREAM_BUFFER, |batch| -> Result<()> {
                    size += batch.iter().map(|c| c.len() as u64).sum::<u64>();
                    ids.extend(save_chunks(repo, batch, progress)?);
                    Ok(())
                })
                .map_err(|e| match e {
                    Error::Io { source, .. } => Error::Unreadable {
                        path: entry.key.clone().into(),
                        source,
                    },
                    other => other,
                })?;
            (ids, size)
        }
    };
    Ok(Read { chunks, meta, size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A source that only records the read-ahead hints it is given.
    struct Hints(Mutex<Vec<(String, u64)>>);

    impl MediaSource for Hints {
        fn info(&self) -> SourceInfo {
            SourceInfo {
                kind: "test".into(),
                id: String::new(),
                description: String::new(),
            }
        }
        fn scan(&self) -> Result<crate::source::Scan<'_>> {
            Ok(crate::source::scan_of(Vec::new()))
        }
        fn open(&self, _: &ScanEntry) -> Result<Content> {
            Ok(Content::Bytes(Vec::new()))
        }
        fn read_ahead(&self, entry: &ScanEntry, len: u64) {
            self.0.lock().unwrap().push((entry.key.clone(), len));
        }
    }

    fn planned(key: &str, size: u64) -> Planned {
        Planned {
            scan: ScanEntry {
                key: key.into(),
                entry: MediaEntry {
                    size,
                    ..MediaEntry::new(EntryKind::File)
                },
            },
            chunks: None,
            meta: None,
            is_new: true,
            size: None,
            left_out: false,
        }
    }

    #[test]
    fn entries_go_out_in_order_with_the_window_ahead_of_them() {
        const M: u64 = 1 << 20;
        // Entry 1 is not read (reused from the parent): never handed out
        // nor hinted. Entry 4 is larger than the window: hinted as much
        // of it as the window holds. Entry 6 is too small to hint.
        let sizes = [10 * M, 1, 20 * M, 5 * M, 100 * M, 3 * M, READ_AHEAD_MIN - 1];
        let batch: Vec<Planned> = sizes
            .iter()
            .enumerate()
            .map(|(i, &s)| planned(&format!("k{i}"), s))
            .collect();
        let to_read = [0, 2, 3, 4, 5, 6];
        let src = Hints(Mutex::new(Vec::new()));
        let mut it = InOrder::new(&src, &batch, &to_read);
        let mut take = || it.next().map(|(k, e)| (k, e.key.clone()));
        let hinted = || src.0.lock().unwrap().clone();

        // Taking k0 (10 MiB) fills the 32 MiB past it: k2 (20 MiB), k3
        // (5 MiB), and k4, counted at the window's size, which ends it.
        assert_eq!(take(), Some((0, "k0".into())));
        assert_eq!(
            hinted(),
            [
                ("k2".into(), 20 * M),
                ("k3".into(), 5 * M),
                ("k4".into(), READ_AHEAD)
            ]
        );
        // Taking k2 and k3 leaves k4's 32 MiB ahead: nothing more yet.
        assert_eq!(take(), Some((1, "k2".into())));
        assert_eq!(take(), Some((2, "k3".into())));
        assert_eq!(hinted().len(), 3);
        // Taking k4 brings the last one into the window.
        assert_eq!(take(), Some((3, "k4".into())));
        assert_eq!(hinted().last(), Some(&("k5".into(), 3 * M)));
        assert_eq!(take(), Some((4, "k5".into())));
        assert_eq!(take(), Some((5, "k6".into())));
        assert_eq!(take(), None);
        // Each entry hinted once, none of them the first (read at once).
        assert_eq!(hinted().len(), 4);
    }
}
