//! Writing a snapshot's files in pack order.
//!
//! Files are not fetched one by one. Their chunks are located, sorted by
//! where they lie in the packs, and read in runs that cross file borders:
//! each stretch of a pack is read once, front to back, however many files
//! it serves, and each blob is written (positioned) into every file that
//! holds it. From S3 a run is one streamed ranged GET as long as the
//! stretch of the pack. A server spends its CPU per block it reads and
//! checks: Garage, which stores 1 MiB blocks, used 2.8–3.6 s of CPU per GiB
//! restored through ranged GETs of one file's chunks, and 2.1 s through
//! whole stretches (1.8 s handing the packs whole to curl; issue 18,
//! `benches/s3.sh` data).
//!
//! A file is created under its temporary name (`under::Dir::create_temp`)
//! when its first blob arrives and renamed into place after its last, so
//! nothing incomplete ever stands under a file's name. Files are taken in
//! windows of at most `WINDOW` chunks, which bounds the plan's memory;
//! runs are taken in the order of the first file they serve, so files
//! finish in about the order they started, and past `OPEN_MAX` files open
//! at once a file is closed after each write and opened again for its
//! next (a file whose chunks lie in many old packs stays unfinished for
//! long).

use super::under::{self, Under};
use super::{system_time, Stop, DIRECT_MIN};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::index::BlobLoc;
use crate::media::{EntryKind, MediaEntry};
use crate::progress::Progress;
use crate::repo::Repository;
use std::fs::{self, File, FileTimes};
use std::ops::Range;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Chunks planned at once (about 100 bytes each in the plan).
const WINDOW: usize = 1 << 16;
/// Stored bytes one read of a local repository fetches at most: it is read
/// whole into memory, one per thread. A remote run is streamed and has no
/// bound but its pack.
const LOCAL_RUN_BYTES: u64 = 4 << 20;
/// Bytes of other blobs a run reads through rather than start another
/// request.
const RUN_GAP: u64 = 256 << 10;
/// Files kept open between their writes.
const OPEN_MAX: usize = 256;

/// Files closed between writes for `OPEN_MAX`, for the test that makes
/// more than that many unfinished at once.
#[cfg(test)]
pub(crate) static PARKED: AtomicUsize = AtomicUsize::new(0);

/// What a file's restore came to: its size, or why it failed (one read's
/// failure can fail many files, so the reason is a message).
pub(super) type Outcome = std::result::Result<u64, String>;

/// One place a blob is written: which file of the window, at what offset.
struct Piece {
    id: Id,
    loc: BlobLoc,
    file: u32,
    at: u64,
}

/// Where a file stands.
enum Slot {
    /// Nothing written yet: no temporary file.
    New,
    Open(Arc<Handle>),
    /// Its temporary file exists but is closed (`OPEN_MAX`).
    Parked,
    Done,
}

struct Handle {
    dir: under::Dir,
    file: File,
    /// The same file past the page cache, for a large one.
    direct: Option<File>,
}

struct Out<'a> {
    key: &'a str,
    entry: &'a MediaEntry,
    /// Pieces not yet written or failed; the file is finished at zero.
    left: AtomicUsize,
    slot: Mutex<Slot>,
    failed: Mutex<Option<String>>,
}

/// Called on a complete file after it is in place, with its directory and
/// name (the Jant sidecar is written there).
pub(super) type After<'s> = dyn Fn(&under::Dir, &str, &MediaEntry) -> Result<()> + Sync + 's;

/// Restore the files and symlinks among `entries` (directories are the
/// caller's). Each that was finished has its outcome, by position in
/// `entries`; those `stop` cut short have none and leave nothing behind.
pub(super) fn write_files(
    repo: &Repository,
    root: &Under,
    entries: &[(String, MediaEntry)],
    after: &After<'_>,
    progress: &dyn Progress,
    stop: &Stop,
) -> Vec<(usize, Outcome)> {
    let remote = repo.backend().local_root().is_none();
    let mut done = Vec::new();
    let mut at = 0;
    while at < entries.len() && !stop.stopped() {
        let mut end = at;
        let mut chunks = 0;
        while end < entries.len() && (end == at || chunks + entries[end].1.chunks.len() <= WINDOW) {
            chunks += entries[end].1.chunks.len();
            end += 1;
        }
        let window = Window::plan(repo, root, &entries[at..end], after, progress, remote);
        done.extend(window.run(stop).into_iter().map(|(i, o)| (at + i, o)));
        at = end;
    }
    done
}

struct Window<'a> {
    repo: &'a Repository,
    root: &'a Under,
    after: &'a After<'a>,
    progress: &'a dyn Progress,
    outs: Vec<Out<'a>>,
    /// The pieces, in pack order.
    pieces: Vec<Piece>,
    /// Each distinct blob's first piece (pieces of one blob are adjacent),
    /// and one past the last as the final element.
    blobs: Vec<usize>,
    /// Runs, as ranges of `blobs`, in the order they are read.
    runs: Vec<Range<usize>>,
    open: AtomicUsize,
    results: Mutex<Vec<(usize, Outcome)>>,
}

impl<'a> Window<'a> {
    fn plan(
        repo: &'a Repository,
        root: &'a Under,
        entries: &'a [(String, MediaEntry)],
        after: &'a After<'a>,
        progress: &'a dyn Progress,
        remote: bool,
    ) -> Window<'a> {
        let mut w = Window {
            repo,
            root,
            after,
            progress,
            outs: Vec::with_capacity(entries.len()),
            pieces: Vec::new(),
            blobs: Vec::new(),
            runs: Vec::new(),
            open: AtomicUsize::new(0),
            results: Mutex::new(Vec::new()),
        };
        let mut empty = Vec::new();
        {
            let idx = repo.index();
            for (i, (key, e)) in entries.iter().enumerate() {
                w.outs.push(Out {
                    key,
                    entry: e,
                    left: AtomicUsize::new(0),
                    slot: Mutex::new(Slot::New),
                    failed: Mutex::new(None),
                });
                match e.kind {
                    EntryKind::Dir => continue,
                    EntryKind::Symlink => {
                        let (parents, name) = under::split_key(key);
                        let r = root
                            .dir(&parents, true)
                            .and_then(|d| d.symlink(name, e.target.as_deref().unwrap_or_default()));
                        w.settle_now(i, r.map(|_| 0).map_err(|e| e.to_string()));
                        continue;
                    }
                    EntryKind::File => {}
                }
                // Offsets come from the index's plaintext lengths, so the
                // chunks can be written in any order.
                let mut off = 0u64;
                let mut mine = Vec::with_capacity(e.chunks.len());
                let located = e.chunks.iter().try_for_each(|c| {
                    let loc = idx.lookup(c).ok_or_else(|| {
                        Error::corrupt(format!("chunk {c}"), "not in the index (missing pack?)")
                    })?;
                    mine.push(Piece {
                        id: *c,
                        loc,
                        file: i as u32,
                        at: off,
                    });
                    off += loc.raw_length as u64;
                    Ok(())
                });
                let checked = located.and_then(|_| {
                    if off == e.size {
                        Ok(())
                    } else {
                        Err(Error::corrupt(
                            "media entry",
                            format!("chunks add up to {off} bytes, entry says {}", e.size),
                        ))
                    }
                });
                match checked {
                    Err(err) => w.settle_now(i, Err(err.to_string())),
                    Ok(()) if mine.is_empty() => empty.push(i),
                    Ok(()) => {
                        w.outs[i].left.store(mine.len(), Ordering::Relaxed);
                        w.pieces.append(&mut mine);
                    }
                }
            }
        }
        for i in empty {
            w.finish(i);
        }
        w.pieces.sort_unstable_by(|a, b| {
            (a.loc.pack.0, a.loc.offset, a.file).cmp(&(b.loc.pack.0, b.loc.offset, b.file))
        });
        // Distinct blobs, and runs of them close together in one pack,
        // each run keyed by the first file it serves.
        let mut keyed: Vec<(u32, Range<usize>)> = Vec::new();
        let mut run_start = 0;
        let mut run_first = u32::MAX;
        for (p, piece) in w.pieces.iter().enumerate() {
            if p > 0 {
                let prev = &w.pieces[p - 1];
                if prev.id == piece.id
                    && prev.loc.pack == piece.loc.pack
                    && prev.loc.offset == piece.loc.offset
                {
                    run_first = run_first.min(piece.file);
                    continue;
                }
            }
            let b = w.blobs.len();
            w.blobs.push(p);
            if b > run_start {
                let joins = Repository::extends_run(
                    &w.pieces[w.blobs[run_start]].loc,
                    &w.pieces[w.blobs[b - 1]].loc,
                    &piece.loc,
                    RUN_GAP,
                    (!remote).then_some(LOCAL_RUN_BYTES),
                );
                if !joins {
                    keyed.push((run_first, run_start..b));
                    run_start = b;
                    run_first = u32::MAX;
                }
            }
            run_first = run_first.min(piece.file);
        }
        if w.blobs.len() > run_start {
            keyed.push((run_first, run_start..w.blobs.len()));
        }
        w.blobs.push(w.pieces.len());
        keyed.sort_by_key(|(first, r)| (*first, r.start));
        w.runs = keyed.into_iter().map(|(_, r)| r).collect();
        tracing::debug!(
            files = w.outs.len(),
            pieces = w.pieces.len(),
            blobs = w.blobs.len() - 1,
            runs = w.runs.len(),
            "restore planned"
        );
        w
    }

    /// Read the runs, as many at once as the repository's storage wants,
    /// taken in order from a shared counter.
    fn run(self, stop: &Stop) -> Vec<(usize, Outcome)> {
        // Threads of their own, not a rayon pool's: each loops over the
        // runs until none is left, and a pool busy with them would starve
        // whatever else needs it meanwhile (the database build beside a
        // site restore). Remote runs wait on round trips, so more of them
        // (`util::REMOTE_THREADS`); local ones on the cores (4 lanes on
        // this 2-core VM, cold: within noise of 2, and +20 MiB).
        let lanes = if self.repo.backend().local_root().is_none() {
            crate::util::REMOTE_THREADS
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        };
        // Each lane starts on a share of its own (lane i at i/lanes of the
        // runs) and, that done, takes what is left of the others'. Lanes
        // side by side in the runs create files in one directory at once,
        // and a create holds the directory's lock: a media restore spent a
        // tenth of its CPU spinning on it (perf, the datapath site).
        let n = self.runs.len();
        let lanes = lanes.clamp(1, n.max(1));
        let next: Vec<AtomicUsize> = (0..lanes)
            .map(|l| AtomicUsize::new(n * l / lanes))
            .collect();
        let end = |l: usize| n * (l + 1) / lanes;
        let take = |lane: usize| {
            (0..lanes).map(|k| (lane + k) % lanes).find_map(|l| {
                let r = next[l].fetch_add(1, Ordering::Relaxed);
                (r < end(l)).then_some(r)
            })
        };
        std::thread::scope(|s| {
            for lane in 0..lanes {
                let (take, this) = (&take, &self);
                s.spawn(move || {
                    while let Some(r) = take(lane).filter(|_| !stop.stopped()) {
                        this.read_run(this.runs[r].clone());
                    }
                });
            }
        });
        // Files a stop cut short: their temporaries go.
        for (i, out) in self.outs.iter().enumerate() {
            let slot = std::mem::replace(&mut *lock(&out.slot), Slot::Done);
            if matches!(slot, Slot::Open(_) | Slot::Parked) {
                drop(slot);
                if let Some((dir, name)) = self.dir_of(i, false) {
                    dir.discard(name);
                }
            }
        }
        let mut results = self.results.into_inner().unwrap_or_else(|p| p.into_inner());
        results.sort_by_key(|(i, _)| *i);
        results
    }

    /// Read one run and write its blobs. A damaged blob costs only the
    /// files that hold it: the run goes on after it with a fresh read. A
    /// failed request costs every file the rest of the run serves.
    fn read_run(&self, run: Range<usize>) {
        let blobs: Vec<(Id, BlobLoc)> = run
            .clone()
            .map(|b| {
                let p = &self.pieces[self.blobs[b]];
                (p.id, p.loc)
            })
            .collect();
        let mut from = 0;
        while from < blobs.len() {
            let mut delivered = 0;
            let read = self.repo.load_run(&blobs[from..], |i, data| {
                delivered = i + 1;
                let b = run.start + from + i;
                for piece in &self.pieces[self.blobs[b]..self.blobs[b + 1]] {
                    self.put(piece, data);
                }
                Ok(())
            });
            let Err(e) = read else { return };
            let why = e.to_string();
            let bad = from + delivered;
            let upto = match e {
                Error::Corrupt { .. } => bad + 1,
                _ => blobs.len(),
            };
            for b in run.start + bad..run.start + upto {
                for piece in &self.pieces[self.blobs[b]..self.blobs[b + 1]] {
                    self.fail(piece.file as usize, &why);
                }
            }
            from = upto;
        }
    }

    /// Write one blob into one file.
    fn put(&self, piece: &Piece, data: &[u8]) {
        let f = piece.file as usize;
        if lock(&self.outs[f].failed).is_some() {
            return self.settle(f);
        }
        let written = self.handle(f).and_then(|h| {
            crate::direct_write::write_at(h.direct.as_ref(), &h.file, data, piece.at)
                .map_err(|e| Error::io(h.dir.path().join(self.name(f)), e))
        });
        match written {
            Ok(()) => {
                self.progress.advance(data.len() as u64);
                if self.open.load(Ordering::Relaxed) > OPEN_MAX {
                    let mut slot = lock(&self.outs[f].slot);
                    if matches!(*slot, Slot::Open(_)) {
                        *slot = Slot::Parked;
                        self.open.fetch_sub(1, Ordering::Relaxed);
                        #[cfg(test)]
                        PARKED.fetch_add(1, Ordering::Relaxed);
                    }
                }
                self.settle(f)
            }
            Err(e) => self.fail(f, &e.to_string()),
        }
    }

    fn fail(&self, f: usize, why: &str) {
        lock(&self.outs[f].failed).get_or_insert_with(|| why.to_string());
        self.settle(f)
    }

    /// One piece of file `f` is written or failed; the last finishes it.
    fn settle(&self, f: usize) {
        if self.outs[f].left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finish(f);
        }
    }

    fn settle_now(&self, f: usize, outcome: Outcome) {
        *lock(&self.outs[f].slot) = Slot::Done;
        self.done(f, outcome);
    }

    fn done(&self, f: usize, outcome: Outcome) {
        self.progress.item_done();
        lock(&self.results).push((f, outcome));
    }

    fn name(&self, f: usize) -> &'a str {
        under::split_key(self.outs[f].key).1
    }

    fn dir_of(&self, f: usize, create: bool) -> Option<(under::Dir, &'a str)> {
        let (parents, name) = under::split_key(self.outs[f].key);
        self.root.dir(&parents, create).ok().map(|d| (d, name))
    }

    /// The file's open handle, making its temporary file on first use.
    fn handle(&self, f: usize) -> Result<Arc<Handle>> {
        let out = &self.outs[f];
        let mut slot = lock(&out.slot);
        let (parents, name) = under::split_key(out.key);
        let (dir, file) = match &*slot {
            Slot::Open(h) => return Ok(h.clone()),
            Slot::New => {
                let dir = self.root.dir(&parents, true)?;
                let file = dir.create_temp(name)?;
                if let Err(e) = file.set_len(out.entry.size) {
                    dir.discard(name);
                    return Err(Error::io(dir.path().join(name), e));
                }
                crate::failpoint::hit("restore-mid-file");
                (dir, file)
            }
            Slot::Parked => {
                let dir = self.root.dir(&parents, false)?;
                let file = dir.reopen_temp(name)?;
                (dir, file)
            }
            Slot::Done => {
                return Err(Error::corrupt(
                    format!("media entry {}", out.key),
                    "a chunk arrived after the file was finished",
                ))
            }
        };
        // Large files go past the page cache (`direct_write::write_at`).
        let direct = (out.entry.size >= DIRECT_MIN)
            .then(|| crate::direct_write::reopen_direct(&file))
            .flatten();
        let h = Arc::new(Handle { dir, file, direct });
        self.open.fetch_add(1, Ordering::Relaxed);
        *slot = Slot::Open(h.clone());
        Ok(h)
    }

    /// Every piece of file `f` is settled: put it in place, or remove it.
    fn finish(&self, f: usize) {
        let failed = lock(&self.outs[f].failed).take();
        let outcome = match failed {
            Some(why) => {
                let slot = std::mem::replace(&mut *lock(&self.outs[f].slot), Slot::Done);
                if let Slot::Open(_) = slot {
                    self.open.fetch_sub(1, Ordering::Relaxed);
                }
                if !matches!(slot, Slot::New) {
                    drop(slot);
                    if let Some((dir, name)) = self.dir_of(f, false) {
                        dir.discard(name);
                    }
                }
                Err(why)
            }
            None => self.complete(f).map_err(|e| e.to_string()),
        };
        self.done(f, outcome);
    }

    fn complete(&self, f: usize) -> Result<u64> {
        let out = &self.outs[f];
        let h = self.handle(f);
        let slot = std::mem::replace(&mut *lock(&out.slot), Slot::Done);
        let made = !matches!(slot, Slot::New);
        if let Slot::Open(_) = slot {
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
        drop(slot);
        let h = match h {
            Ok(h) => h,
            Err(e) => {
                if made {
                    if let Some((dir, name)) = self.dir_of(f, false) {
                        dir.discard(name);
                    }
                }
                return Err(e);
            }
        };
        let name = self.name(f);
        let path = h.dir.path().join(name);
        let set = h
            .file
            .set_permissions(fs::Permissions::from_mode(out.entry.mode))
            .and_then(|_| {
                h.file
                    .set_times(FileTimes::new().set_modified(system_time(out.entry.mtime_ns)))
            });
        // Every piece is written (each was settled after its write), so the
        // file is complete: into place with it.
        let dir = &h.dir;
        if let Err(e) = set
            .map_err(|e| Error::io(&path, e))
            .and_then(|_| dir.commit(name))
        {
            dir.discard(name);
            return Err(e);
        }
        (self.after)(dir, name, out.entry)?;
        Ok(out.entry.size)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
