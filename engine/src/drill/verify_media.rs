//! The restored media, checked: every object the rows reference is
//! there, and a sample (or all) rehashes to what the snapshot recorded.

use super::log::Log;
use crate::chunker::Chunker;
use crate::database;
use crate::error::{Error, Result};
use crate::media::{EntryKind, MediaEntry};
use crate::repo::Repository;
use crate::snapshot::Snapshot;
use crate::util::first_few;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Pick `n` of `len` positions, spread out and varying from drill to drill.
pub(super) fn sample_positions(len: usize, n: Option<usize>, seed: i64) -> Vec<usize> {
    match n {
        None => (0..len).collect(),
        Some(n) if n >= len => (0..len).collect(),
        Some(n) => {
            let mut x = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut picked: Vec<usize> = (0..len).collect();
            // A partial Fisher–Yates shuffle with xorshift: cheap, and a
            // fixed seed gives the same sample.
            for i in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let j = i + (x % (len - i) as u64) as usize;
                picked.swap(i, j);
            }
            picked.truncate(n);
            picked.sort_unstable();
            picked
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn verify_media(
    repo: &Repository,
    snap: &Snapshot,
    entries: &[(String, MediaEntry)],
    dir: &Path,
    failed: &std::collections::HashSet<String>,
    sample: Option<usize>,
    seed: i64,
    log: &mut Log,
) -> Result<()> {
    let by_key: BTreeMap<&str, &MediaEntry> =
        entries.iter().map(|(k, e)| (k.as_str(), e)).collect();
    if database::has_database(snap) {
        let r = (|| {
            let referenced = database::referenced_keys(repo, snap)?;
            let mut problems = Vec::new();
            for k in &referenced {
                match by_key.get(k.as_str()) {
                    None => problems.push(format!("{k}: not in the snapshot")),
                    Some(e) => match std::fs::symlink_metadata(dir.join(k)) {
                        Ok(m) if m.len() == e.size => {}
                        Ok(m) => problems.push(format!(
                            "{k}: {} bytes restored, {} recorded",
                            m.len(),
                            e.size
                        )),
                        Err(_) => problems.push(format!("{k}: not restored")),
                    },
                }
            }
            if problems.is_empty() {
                Ok(format!(
                    "{} objects the rows reference are present with their recorded sizes",
                    referenced.len()
                ))
            } else {
                Err(Error::Invalid(format!(
                    "{} of {} referenced objects: {}",
                    problems.len(),
                    referenced.len(),
                    first_few(&problems)
                )))
            }
        })();
        log.result("referenced media", r);
    }
    let files: Vec<&(String, MediaEntry)> = entries
        .iter()
        .filter(|(k, e)| e.kind == EntryKind::File && !failed.contains(k))
        .collect();
    let picked = sample_positions(files.len(), sample, seed);
    let chunker = Chunker::new(&repo.config().chunker);
    let results: Vec<(String, u64, Option<String>)> = picked
        .par_iter()
        // One read buffer per worker, not one per file.
        .map_init(Vec::new, |buf, &i| {
            let (k, e) = files[i];
            match rehash(repo, &chunker, &dir.join(k), e, buf) {
                Ok(()) => (k.clone(), e.size, None),
                Err(why) => (k.clone(), e.size, Some(format!("{k}: {why}"))),
            }
        })
        .collect();
    let bytes: u64 = results.iter().map(|r| r.1).sum();
    let bad: Vec<String> = results.into_iter().filter_map(|r| r.2).collect();
    log.check(
        "media content",
        bad.is_empty(),
        if bad.is_empty() {
            format!(
                "{} of {} files read back and rehashed ({bytes} bytes)",
                picked.len(),
                files.len()
            )
        } else {
            format!(
                "{} files differ from the snapshot: {}",
                bad.len(),
                first_few(&bad)
            )
        },
    );
    Ok(())
}

/// Read a restored file, cut it as a backup would and compare the chunk
/// ids with the entry's: equal ids mean equal bytes.
fn rehash(
    repo: &Repository,
    chunker: &Chunker,
    path: &Path,
    e: &MediaEntry,
    buf: &mut Vec<u8>,
) -> Result<()> {
    let f = std::fs::File::open(path).map_err(|err| Error::io(path, err))?;
    let len = f.metadata().map_err(|err| Error::io(path, err))?.len();
    if len != e.size {
        return Err(Error::Invalid(format!(
            "{len} bytes on disk, {} recorded",
            e.size
        )));
    }
    let mut ids = Vec::with_capacity(e.chunks.len());
    chunker.stream(f, buf, 8 << 20, |batch: &mut [&mut [u8]]| -> Result<()> {
        ids.extend(batch.iter().map(|c| repo.blob_id(c)));
        Ok(())
    })?;
    if ids != e.chunks {
        return Err(Error::Invalid(
            "content differs from the snapshot (chunk hashes do not match)".into(),
        ));
    }
    Ok(())
}
