//! A drill's record in the repository (`drills/<id>`, magic `JRDR`,
//! format-spec/README.md §11): one encoder, one decoder, and the reads
//! `check`, `snapshots` and `drill --history` share.

use crate::codec;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::repo::Repository;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub const MAGIC: &[u8; 4] = b"JRDR";
pub const VERSION: u16 = 1;

/// What the repository keeps of a drill: enough to say when a snapshot
/// was last proven restorable, and how long it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillRecord {
    /// When the drill started, ns since the Unix epoch (UTC).
    pub time_ns: i64,
    pub snapshot: Id,
    pub hostname: String,
    pub passed: bool,
    /// Start to a verified database and media, in milliseconds.
    pub rto_ms: u64,
    /// Snapshot capture time to drill start, in seconds.
    pub snapshot_age_s: i64,
    /// `sqlite`, `pg` or `dir`: what the snapshot was restored into.
    pub target: String,
    pub checks: u32,
    /// Names of the checks that failed.
    pub failed: Vec<String>,
    /// The jarc version that ran the drill.
    pub jarc: String,
}

impl DrillRecord {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(MAGIC, VERSION, self)
    }

    pub fn decode(bytes: &[u8]) -> Result<DrillRecord> {
        codec::decode("drill record", MAGIC, VERSION, bytes)
    }
}

pub(crate) fn save(repo: &Repository, r: &DrillRecord) -> Result<String> {
    let bytes = repo
        .backend()
        .seal(crate::crypto::Context::Drill, r.encode());
    let name = crate::layout::drill(&Id::of_bytes(&bytes));
    repo.backend().put(&name, Bytes::from(bytes))?;
    Ok(name)
}

/// Read one record, checking it against its name.
pub fn load(repo: &Repository, name: &str) -> Result<(Id, DrillRecord)> {
    let bytes = repo.backend().get(name)?;
    let id = crate::layout::id_of(name)
        .filter(|id| *id == Id::of_bytes(&bytes))
        .ok_or_else(|| Error::corrupt(name, "content does not match its name"))?;
    let bytes = repo
        .backend()
        .unseal(crate::crypto::Context::Drill, name, bytes)?;
    let r = DrillRecord::decode(&bytes).map_err(|e| e.about(name))?;
    Ok((id, r))
}

/// Every drill recorded in the repository, oldest first.
pub fn history(repo: &Repository) -> Result<Vec<(Id, DrillRecord)>> {
    let mut out = Vec::new();
    for l in repo.backend().list(crate::layout::DRILLS)? {
        out.push(load(repo, &l.name)?);
    }
    out.sort_by(|a, b| a.1.time_ns.cmp(&b.1.time_ns).then(a.0.cmp(&b.0)));
    Ok(out)
}

/// The latest drill of each snapshot: (time, passed).
pub fn last_drills(repo: &Repository) -> Result<HashMap<Id, (i64, bool)>> {
    let mut out = HashMap::new();
    for (_, r) in history(repo)? {
        out.insert(r.snapshot, (r.time_ns, r.passed));
    }
    Ok(out)
}
