//! Restore a snapshot's media listing into a directory: byte-identical
//! files with their modes and mtimes, Jant sidecars, directories, symlinks.
//! A file that cannot be restored (a damaged chunk, a missing pack) is
//! named and skipped; everything else is still written.
//!
//! The database sinks live beside it: [`sqlite`] and [`postgres`] recreate a
//! snapshot's schema and rows, [`content`] picks what a content-only restore
//! rewrites, and [`site`] puts a whole Jant site back together.

pub mod bucket;
pub mod content;
mod fts;
pub mod item;
pub(crate) mod packed;
pub mod postgres;
pub mod site;
pub mod sqlite;
mod under;

use crate::error::{Error, Result};
use crate::jant;
use crate::media::{self, EntryKind, MediaEntry};
use crate::progress::Progress;
use crate::repo::Repository;
use crate::snapshot::Snapshot;
use std::fs::{self, FileTimes};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Write into a non-empty target, replacing files of the same name.
    pub overwrite: bool,
    /// Restore only these keys (and the directories above them).
    pub only: Option<std::collections::BTreeSet<String>>,
    /// Restore only the objects the snapshot's database rows reference
    /// (media and posters a site uses), besides `only`.
    pub only_referenced: bool,
    /// Leave files that already exist in the target alone (a live site's
    /// media directory: Jant never rewrites an object under the same key).
    pub keep_existing: bool,
    /// The target is a Jant site's local storage: every object gets the
    /// `.meta.json` sidecar Jant's local driver keeps beside it, made from
    /// the object's recorded metadata when no sidecar was recorded (a
    /// bucket's or an imported archive's object).
    pub jant_sidecars: bool,
    /// Write each object under its key with every `from` replaced by `to`
    /// (Jant's single-site import remaps a snapshot's site id this way).
    /// `only` names keys as the snapshot has them.
    pub rename: Option<(String, String)>,
    /// Only objects these patterns match (empty: all), and the
    /// directories above them.
    pub include: crate::selection::Selection,
    /// Not the objects these match (nor anything under a matched directory).
    pub exclude: crate::selection::Selection,
    /// Check and count what would be written, and write nothing.
    pub dry_run: bool,
}

impl RestoreOptions {
    /// Apply `include` and `exclude`: a directory stays when it matches
    /// or holds an object that stays.
    pub fn select(&self, entries: &mut Vec<(String, MediaEntry)>) {
        if self.include.is_empty() && self.exclude.is_empty() {
            return;
        }
        let wanted = |k: &str| {
            (self.include.is_empty() || self.include.matches(k)) && !self.exclude.matches(k)
        };
        let kept_dirs: std::collections::HashSet<String> = entries
            .iter()
            .filter(|(k, e)| e.kind != EntryKind::Dir && wanted(k))
            .flat_map(|(k, _)| {
                k.match_indices('/')
                    .map(|(i, _)| k[..i].to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        entries.retain(|(k, e)| {
            if e.kind == EntryKind::Dir {
                kept_dirs.contains(k) || wanted(k)
            } else {
                wanted(k)
            }
        });
    }

    /// The key an object is written under.
    pub(crate) fn target_key(&self, key: &str) -> String {
        match &self.rename {
            Some((from, to)) => key.replace(from.as_str(), to),
            None => key.to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RestoreSummary {
    /// Nothing was written: the counts are what would have been.
    pub dry_run: bool,
    /// With `dry_run`: the keys that would be written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_write: Vec<String>,
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
    /// Objects that could not be restored, with the reason.
    pub failed: Vec<(String, String)>,
    /// Files this restore created (for undoing it when a later step fails).
    #[serde(skip)]
    pub created: Vec<PathBuf>,
    /// Bucket objects this restore created, likewise.
    #[serde(skip)]
    pub created_keys: Vec<String>,
}

impl RestoreSummary {
    /// What a dry run reports: the objects and directories that would be
    /// written, and the parts of the listing that could not be read.
    pub(crate) fn planned<'e>(
        entries: impl Iterator<Item = (&'e str, &'e MediaEntry)>,
        lost: Vec<String>,
    ) -> RestoreSummary {
        let mut s = RestoreSummary {
            dry_run: true,
            ..Default::default()
        };
        for (k, e) in entries {
            if e.kind == EntryKind::Dir {
                s.dirs += 1;
            } else {
                s.files += 1;
                s.bytes += e.size;
                s.would_write.push(k.to_string());
            }
        }
        s.failed = lost.into_iter().map(|w| (LISTING.to_string(), w)).collect();
        s
    }
}

/// Write one media object of a snapshot to `out` (`jarc dump`): its
/// bytes, chunk by chunk, each verified. Returns the bytes written.
pub fn dump_object(
    repo: &Repository,
    snap: &Snapshot,
    key: &str,
    out: &mut dyn std::io::Write,
) -> Result<u64> {
    let missing = || Error::Invalid(format!("the snapshot holds no media object {key:?}"));
    let root = snap.root(crate::snapshot::MEDIA_ROOT).ok_or_else(missing)?;
    let value = crate::tree::get(repo, &root.node, key.as_bytes())?.ok_or_else(missing)?;
    let entry = MediaEntry::decode(&value)?;
    if entry.kind != EntryKind::File {
        return Err(Error::Invalid(format!(
            "media object {key:?} is not a file (a directory or a symlink)"
        )));
    }
    let mut n = 0;
    for c in &entry.chunks {
        let data = repo.load_blob(c)?;
        out.write_all(&data)
            .map_err(|e| Error::io("standard output", e))?;
        n += data.len() as u64;
    }
    out.flush().map_err(|e| Error::io("standard output", e))?;
    Ok(n)
}

/// Reject keys that would escape the target: absolute, `..`, empty parts.
pub fn safe_relative(key: &str) -> Result<PathBuf> {
    let p = Path::new(key);
    let ok = media::key_problem(key).is_none()
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(p.to_path_buf())
    } else {
        Err(Error::UnsafeKey(key.to_string()))
    }
}

pub(crate) fn system_time(ns: i64) -> SystemTime {
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    }
}

fn target_is_empty(target: &Path) -> Result<bool> {
    match fs::read_dir(target) {
        Ok(mut rd) => Ok(rd.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(Error::io(target, e)),
    }
}

/// The name a lost part of the media listing is reported under (it has no
/// object key: which keys it held is what was lost).
pub const LISTING: &str = "(media listing)";

/// Tells a media restore running beside other work (a site's database
/// build) to write no more objects: the other work failed, and what was
/// written is about to be taken back.
#[derive(Default)]
pub(crate) struct Stop(std::sync::atomic::AtomicBool);

impl Stop {
    pub(crate) fn stop(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn stopped(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

pub fn restore_media(
    repo: &Repository,
    snap: &Snapshot,
    target: &Path,
    opts: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    restore_media_until(repo, snap, target, opts, progress, &Stop::default())
}

/// `restore_media`, writing no more objects once `stop` is set (those
/// not written are not in the summary: neither restored nor failed).
pub(crate) fn restore_media_until(
    repo: &Repository,
    snap: &Snapshot,
    target: &Path,
    opts: &RestoreOptions,
    progress: &dyn Progress,
    stop: &Stop,
) -> Result<RestoreSummary> {
    if !opts.overwrite && !opts.keep_existing && !target_is_empty(target)? {
        return Err(Error::TargetNotEmpty(target.to_path_buf()));
    }
    // A damaged part of the listing costs the objects under it: the rest
    // is restored, and what was lost is named (the restore exits 3).
    let (mut entries, lost) = media::entries_salvaging(repo, snap);
    if let Some(only) = &opts.only {
        entries.retain(|(k, e)| only.contains(k) && e.kind != EntryKind::Dir);
    }
    if opts.only_referenced {
        let referenced: std::collections::HashSet<String> =
            crate::database::referenced_keys(repo, snap)?
                .into_iter()
                .collect();
        entries.retain(|(k, e)| referenced.contains(k) && e.kind != EntryKind::Dir);
    }
    opts.select(&mut entries);
    if opts.rename.is_some() {
        for (k, _) in &mut entries {
            *k = opts.target_key(k);
        }
    }
    if opts.keep_existing {
        entries.retain(|(k, e)| {
            e.kind == EntryKind::Dir || fs::symlink_metadata(target.join(k)).is_err()
        });
    }
    // Validate every key before the first write: a hostile or damaged
    // snapshot must not write outside the target.
    for (k, _) in &entries {
        safe_relative(k)?;
    }
    if opts.dry_run {
        return Ok(RestoreSummary::planned(
            entries.iter().map(|(k, e)| (k.as_str(), e)),
            lost,
        ));
    }
    let root = under::Under::open(target)?;
    let mut summary = RestoreSummary::default();
    for why in lost {
        progress.warn(&why);
        summary.failed.push((LISTING.to_string(), why));
    }
    for (k, e) in &entries {
        if e.kind == EntryKind::Dir {
            let (parents, name) = under::split_key(k);
            let mut all = parents;
            all.push(name);
            match root.dir(&all, true) {
                Ok(_) => summary.dirs += 1,
                Err(err) => summary.failed.push((k.clone(), err.to_string())),
            }
        }
    }
    // Sidecars already present are not ours to remove if a later step fails.
    let had_sidecar: std::collections::HashSet<&str> = entries
        .iter()
        .filter(|(k, e)| {
            e.sidecar.is_some()
                && fs::symlink_metadata(target.join(format!("{k}{}", jant::SIDECAR_SUFFIX))).is_ok()
        })
        .map(|(k, _)| k.as_str())
        .collect();
    let with_sidecar: std::collections::HashSet<&str> = entries
        .iter()
        .filter(|(_, e)| e.sidecar.is_some() || (opts.jant_sidecars && e.kind == EntryKind::File))
        .map(|(k, _)| k.as_str())
        .collect();
    let total: u64 = entries.iter().map(|(_, e)| e.size).sum();
    tracing::info!(entries = entries.len(), bytes = total, "restoring media");
    let files = entries
        .iter()
        .filter(|(_, e)| e.kind != EntryKind::Dir)
        .count();
    progress.phase_items("restore", total, files as u64);
    let after = |dir: &under::Dir, name: &str, e: &MediaEntry| -> Result<()> {
        let sidecar_name = format!("{name}{}", jant::SIDECAR_SUFFIX);
        if let Some(sc) = &e.sidecar {
            let bytes = sc
                .raw
                .clone()
                .unwrap_or_else(|| jant::render_sidecar(&e.meta));
            write_small(dir, &sidecar_name, &bytes, Some(sc.mtime_ns))
        } else if opts.jant_sidecars {
            write_small(dir, &sidecar_name, &jant::sidecar_of(&e.meta), None)
        } else {
            Ok(())
        }
    };
    let results = packed::write_files(repo, &root, &entries, &after, progress, stop)
        .into_iter()
        .map(|(i, r)| (entries[i].0.clone(), r));
    for (k, r) in results {
        match r {
            Ok(n) => {
                summary.files += 1;
                summary.bytes += n;
                summary.created.push(target.join(&k));
                if with_sidecar.contains(k.as_str()) && !had_sidecar.contains(k.as_str()) {
                    summary
                        .created
                        .push(target.join(format!("{k}{}", jant::SIDECAR_SUFFIX)));
                }
            }
            Err(e) => {
                // Nothing half-written stands under the final name: files
                // are renamed into place only once complete.
                progress.warn(&format!("{k}: {e}"));
                summary.failed.push((k, e));
            }
        }
    }
    // Directory modes and mtimes last, deepest first, since writing into a
    // directory changes its mtime; through the directories' own handles.
    for (k, e) in entries.iter().rev() {
        if e.kind == EntryKind::Dir {
            let (parents, name) = under::split_key(k);
            let mut all = parents;
            all.push(name);
            let set = root.dir(&all, false).and_then(|d| {
                let p = d.path().to_path_buf();
                let h = d.handle();
                h.set_times(FileTimes::new().set_modified(system_time(e.mtime_ns)))
                    .and_then(|_| h.set_permissions(fs::Permissions::from_mode(e.mode)))
                    .map_err(|err| Error::io(p, err))
            });
            if let Err(err) = set {
                summary
                    .failed
                    .push((k.clone(), format!("setting mtime and mode: {err}")));
            }
        }
    }
    tracing::info!(
        files = summary.files,
        dirs = summary.dirs,
        bytes = summary.bytes,
        failed = summary.failed.len(),
        "media restored"
    );
    Ok(summary)
}

/// Files from this size on are written with direct I/O where they can be.
/// At 1 MiB, a site's images (most under it) went through the page cache:
/// 1.2 GiB of 2 GiB restored was still dirty when the restore ended, and
/// the `sync` after it took 0.8 s; at 64 KiB, 0.12 s (datapath site,
/// issue 18), and the cache keeps what the machine had in it.
const DIRECT_MIN: u64 = 64 << 10;
/// A small file (a sidecar), mode 0644 as Jant writes them.
fn write_small(dir: &under::Dir, name: &str, bytes: &[u8], mtime_ns: Option<i64>) -> Result<()> {
    let path = dir.path().join(name);
    dir.write(name, |f| {
        let mut w = f;
        std::io::Write::write_all(&mut w, bytes).map_err(|err| Error::io(&path, err))?;
        f.set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(|err| Error::io(&path, err))?;
        if let Some(ns) = mtime_ns {
            f.set_times(FileTimes::new().set_modified(system_time(ns)))
                .map_err(|err| Error::io(&path, err))?;
        }
        Ok(())
    })
}
