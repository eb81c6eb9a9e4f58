//! Restore a snapshot's media into an S3-compatible bucket: each object
//! under its key with its metadata (Content-Type, Cache-Control,
//! Content-Disposition) as HTTP attributes. Small objects go up in one PUT
//! assembled from their chunks; large ones as multipart uploads fed chunk by
//! chunk, so memory stays at a few parts per object in flight. A failed
//! object is named and skipped, as for a directory; `undo` deletes what a
//! restore created when a later step (the database) fails.

use super::{RestoreOptions, RestoreSummary, Stop};
use crate::backend::{Backend, MULTIPART_THRESHOLD};
use crate::error::{Error, Result};
use crate::media::{self, EntryKind, MediaEntry};
use crate::progress::Progress;
use crate::repo::Repository;
use crate::snapshot::Snapshot;
use bytes::Bytes;
use rayon::prelude::*;
use std::collections::HashSet;

pub fn restore_to_bucket(
    repo: &Repository,
    snap: &Snapshot,
    target: &Backend,
    opts: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<RestoreSummary> {
    restore_to_bucket_until(repo, snap, target, opts, progress, &Stop::default())
}

/// `restore_to_bucket`, uploading no more objects once `stop` is set.
pub(crate) fn restore_to_bucket_until(
    repo: &Repository,
    snap: &Snapshot,
    target: &Backend,
    opts: &RestoreOptions,
    progress: &dyn Progress,
    stop: &Stop,
) -> Result<RestoreSummary> {
    let (mut entries, lost) = media::entries_salvaging(repo, snap);
    let referenced: Option<HashSet<String>> = if opts.only_referenced {
        Some(
            crate::database::referenced_keys(repo, snap)?
                .into_iter()
                .collect(),
        )
    } else {
        None
    };
    entries.retain(|(k, e)| {
        e.kind == EntryKind::File
            && opts.only.as_ref().is_none_or(|o| o.contains(k))
            && referenced.as_ref().is_none_or(|r| r.contains(k))
    });
    opts.select(&mut entries);
    for (k, _) in &mut entries {
        *k = opts.target_key(k);
    }
    let existing: HashSet<String> = if opts.overwrite {
        HashSet::new()
    } else {
        target.list("")?.into_iter().map(|l| l.name).collect()
    };
    if !opts.overwrite && !opts.keep_existing && !existing.is_empty() {
        return Err(Error::refused(
            format!(
                "target bucket {} is not empty ({} objects)",
                target.location(),
                existing.len()
            ),
            crate::error::Hint::Overwrite,
        ));
    }
    // A live bucket: Jant never rewrites an object under the same key.
    entries.retain(|(k, _)| !existing.contains(k));
    // As for a directory: a hostile or damaged snapshot writes nothing.
    if let Some((k, _)) = entries
        .iter()
        .find(|(k, _)| media::key_problem(k).is_some())
    {
        return Err(Error::UnsafeKey(k.clone()));
    }
    if opts.dry_run {
        return Ok(RestoreSummary::planned(
            entries.iter().map(|(k, e)| (k.as_str(), e)),
            lost,
        ));
    }
    let total: u64 = entries.iter().map(|(_, e)| e.size).sum();
    progress.phase_items("restore", total, entries.len() as u64);
    let results: Vec<(String, Result<u64>)> = entries
        .par_iter()
        .filter(|_| !stop.stopped())
        .map(|(k, e)| {
            let r = upload(repo, target, k, e, progress);
            progress.item_done();
            (k.clone(), r)
        })
        .collect();
    let mut summary = RestoreSummary::default();
    for why in lost {
        progress.warn(&why);
        summary.failed.push((super::LISTING.to_string(), why));
    }
    for (k, r) in results {
        match r {
            Ok(n) => {
                summary.files += 1;
                summary.bytes += n;
                summary.created_keys.push(k);
            }
            Err(e) => {
                progress.warn(&format!("{k}: {e}"));
                summary.failed.push((k, e.to_string()));
            }
        }
    }
    Ok(summary)
}

fn upload(
    repo: &Repository,
    target: &Backend,
    key: &str,
    e: &MediaEntry,
    progress: &dyn Progress,
) -> Result<u64> {
    let chunk = |c: &crate::Id| -> Result<Bytes> {
        let data = repo.load_blob(c)?;
        progress.advance(data.len() as u64);
        Ok(Bytes::from(data))
    };
    if e.size as usize <= MULTIPART_THRESHOLD {
        let mut buf = Vec::with_capacity(e.size as usize);
        for c in &e.chunks {
            buf.extend_from_slice(&chunk(c)?);
        }
        if buf.len() as u64 != e.size {
            return Err(Error::corrupt(
                "media entry",
                format!(
                    "chunks add up to {} bytes, entry says {}",
                    buf.len(),
                    e.size
                ),
            ));
        }
        target.put_with_meta(key, Bytes::from(buf), &e.meta)?;
    } else {
        target.put_stream(key, &e.meta, e.chunks.iter().map(chunk))?;
    }
    Ok(e.size)
}

/// Delete the objects a restore created.
pub fn undo(target: &Backend, summary: &RestoreSummary) {
    for k in &summary.created_keys {
        let _ = target.delete(k);
    }
}
