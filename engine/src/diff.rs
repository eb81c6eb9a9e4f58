//! Differences between two snapshots' media listings. The walk skips every
//! subtree the two snapshots share, so its cost follows the changes.

use crate::error::Result;
use crate::media::MediaEntry;
use crate::repo::Repository;
use crate::snapshot::{Snapshot, MEDIA_ROOT};
use crate::tree::{self, Change, DiffCost};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    /// Content changed.
    Modified,
    /// Only metadata changed (mtime, mode, sidecar, …).
    Metadata,
}

#[derive(Debug, Clone, Serialize)]
pub struct MediaChange {
    pub key: String,
    pub change: ChangeKind,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffReport {
    pub media: Vec<MediaChange>,
    pub cost: DiffCost,
}

pub fn diff_snapshots(repo: &Repository, a: &Snapshot, b: &Snapshot) -> Result<DiffReport> {
    let ra = a.root(MEDIA_ROOT).map(|r| r.node);
    let rb = b.root(MEDIA_ROOT).map(|r| r.node);
    let mut media = Vec::new();
    let key = |k: Vec<u8>| String::from_utf8_lossy(&k).into_owned();
    let cost = tree::diff(repo, ra.as_ref(), rb.as_ref(), |c| {
        media.push(match c {
            Change::Added(e) => {
                let n = MediaEntry::decode(&e.value)?;
                MediaChange {
                    key: key(e.key),
                    change: ChangeKind::Added,
                    old_size: None,
                    new_size: Some(n.size),
                }
            }
            Change::Removed(e) => {
                let o = MediaEntry::decode(&e.value)?;
                MediaChange {
                    key: key(e.key),
                    change: ChangeKind::Removed,
                    old_size: Some(o.size),
                    new_size: None,
                }
            }
            Change::Modified { key: k, old, new } => {
                let (o, n) = (MediaEntry::decode(&old)?, MediaEntry::decode(&new)?);
                let change = if o.content != n.content || o.kind != n.kind || o.target != n.target {
                    ChangeKind::Modified
                } else {
                    ChangeKind::Metadata
                };
                MediaChange {
                    key: key(k),
                    change,
                    old_size: Some(o.size),
                    new_size: Some(n.size),
                }
            }
        });
        Ok(())
    })?;
    Ok(DiffReport { media, cost })
}
