//! The client-side cache of snapshot heads (format-spec §14).
//!
//! A backup finds its parent, and `snapshots` lists, from every snapshot's
//! [`Head`]. Reading each snapshot for that costs one GET per snapshot: a
//! year of 5-minute database snapshots is 105,120 of them, and a backup
//! then took 4.3 s and 330 MiB before it read a row (issue 18). Snapshots
//! never change (each is named by the hash of its bytes), so a head read
//! once stays true: the cache keeps the heads of the snapshots seen so far,
//! and a listing reads only the ones that are new since, after one LIST.
//!
//! The cache is an optimisation and never an authority. Entries are kept
//! only for names the LIST still shows; a snapshot damaged in the
//! repository after its head was cached is found by whatever reads it
//! (`restore`, `ls`, `check`), not by a listing. A cache that is missing,
//! unreadable, of another version or that does not open is rebuilt; one
//! that cannot be written is left alone. In an encrypted repository the
//! file is sealed under the repository's key, so it shows nothing a
//! reader without the password could not see in the repository itself.

use crate::crypto::Context;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::{self, Head};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::PathBuf;

pub const MAGIC: &[u8; 4] = b"JRSC";
pub const VERSION: u16 = 1;

/// Where the cache of this repository lives: `JARC_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/jarc`, else `$HOME/.cache/jarc`, then the repository's
/// id. `JARC_CACHE_DIR` set empty turns the cache off.
fn path(repo: &Repository) -> Option<PathBuf> {
    let base = match std::env::var_os("JARC_CACHE_DIR") {
        Some(d) if d.is_empty() => return None,
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            Some(d) => PathBuf::from(d).join("jarc"),
            None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/jarc"),
        },
    };
    Some(
        base.join(hex::encode(repo.config().repo_id))
            .join("snapshots"),
    )
}

fn read(repo: &Repository, path: &std::path::Path) -> Option<Vec<Head>> {
    let bytes = std::fs::read(path).ok()?;
    let plain = match repo.backend().sealer() {
        Some(s) => s.open(Context::Cache, &bytes).ok()?,
        None => bytes,
    };
    crate::codec::decode("snapshot cache", MAGIC, VERSION, &plain).ok()
}

fn write(repo: &Repository, path: &std::path::Path, heads: &[Head]) {
    let plain = crate::codec::encode(MAGIC, VERSION, &heads);
    let bytes = match repo.backend().sealer() {
        Some(s) => s.seal(Context::Cache, &plain),
        None => plain,
    };
    // Best effort, and atomic: a half-written cache is never read (it
    // would not decode or open anyway), and two writers each rename a
    // whole file of their own.
    let Some(dir) = path.parent() else { return };
    let tmp = dir.join(format!("snapshots.{:016x}.tmp", rand::random::<u64>()));
    // Not synced: a cache torn by a crash fails to decode or open, and
    // is rebuilt.
    let write_new = || {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?
            .write_all(&bytes)
    };
    let ok = write_new().is_ok() && std::fs::rename(&tmp, path).is_ok();
    if !ok {
        let _ = std::fs::remove_file(&tmp);
    }
}

pub(crate) fn heads(repo: &Repository) -> Result<Vec<Head>> {
    let listed: HashSet<Id> = snapshot::list_ids(repo)?.into_iter().collect();
    let path = path(repo);
    // Filtered in place (one copy of the heads in memory: 100,000 of them
    // are ~45 MB decoded), each id once.
    let mut heads = path
        .as_deref()
        .and_then(|p| read(repo, p))
        .unwrap_or_default();
    let before = heads.len();
    let mut have = HashSet::with_capacity(listed.len());
    heads.retain(|h| listed.contains(&h.id) && have.insert(h.id));
    let missing: Vec<Id> = listed.into_iter().filter(|id| !have.contains(id)).collect();
    drop(have);
    let changed = !missing.is_empty() || heads.len() != before;
    let loaded: Vec<Option<Head>> = missing
        .par_iter()
        .map(|id| match snapshot::load(repo, id) {
            Ok(s) => Ok(Some(Head::of(*id, &s))),
            // Forgotten between the LIST and the GET (a concurrent
            // `forget`): a backup looking for its parent must not fail.
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        })
        .collect::<Result<_>>()?;
    heads.extend(loaded.into_iter().flatten());
    heads.sort_by(|a, b| a.time_ns.cmp(&b.time_ns).then(a.id.cmp(&b.id)));
    if changed {
        if let Some(p) = &path {
            write(repo, p, &heads);
        }
    }
    Ok(heads)
}
