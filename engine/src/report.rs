//! The documents commands answer with: what `--json` prints, one per
//! command, field for field (the README's "JSON output" section lists
//! them and `tests/json_output.rs` keeps the two in step). Commands that
//! already return a serde report (backup, stats, export, import, demo)
//! print it as it is; this module holds the envelopes and listings the
//! others need, so that no document is assembled ad hoc by the CLI.
//!
//! Times are RFC 3339 strings (`time`, `mtime`), in UTC; durations are
//! integers with their unit in the name (`duration_ms`, `rto_ms`).

use crate::check::CheckReport;
use crate::diff::DiffReport;
use crate::drill::{DrillReport, Outcome};
use crate::drill_record::DrillRecord;
use crate::forget::Group;
use crate::id::Id;
use crate::media::MediaEntry;
use crate::prune::PruneReport;
use crate::snapshot::{Head, SourceInfo, Summary};
use crate::util::rfc3339;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Serialize)]
pub struct Created {
    pub created: String,
    pub encrypted: bool,
    /// The key object made for the password (encrypted repositories).
    pub key: Option<String>,
}

/// `tag`: a snapshot's id before and after (equal when nothing changed).
#[derive(Debug, Serialize)]
pub struct Retagged {
    pub from: String,
    pub to: String,
}

/// `key list`: one entry per key object.
#[derive(Debug, Serialize)]
pub struct KeyEntry {
    /// The key's id (its object is `keys/<id>`).
    pub id: String,
    #[serde(serialize_with = "crate::util::ser_rfc3339_opt")]
    pub created: Option<i64>,
    pub memory_kib: Option<u32>,
    pub iterations: Option<u32>,
    pub parallelism: Option<u32>,
    /// The key this run's password opened.
    pub current: bool,
    /// Why the key object cannot be used, if it is damaged.
    pub damaged: Option<String>,
}

impl KeyEntry {
    pub fn list(repo: &crate::Repository) -> crate::Result<Vec<KeyEntry>> {
        Ok(crate::keys::list(repo.backend())?
            .into_iter()
            .map(|k| KeyEntry {
                id: k.name.rsplit('/').next().unwrap_or_default().to_string(),
                current: repo.key_in_use() == Some(k.name.as_str()),
                created: k.created_ns,
                memory_kib: k.params.map(|p| p.memory_kib),
                iterations: k.params.map(|p| p.iterations),
                parallelism: k.params.map(|p| p.parallelism),
                damaged: k.damaged,
            })
            .collect())
    }
}

/// `key add`, `key remove`, `key passwd`: the key objects added and removed.
#[derive(Debug, Serialize)]
pub struct KeyChange {
    pub added: Option<String>,
    pub removed: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LastDrill {
    pub time: String,
    pub passed: bool,
}

/// One line of `snapshots`.
#[derive(Debug, Serialize)]
pub struct SnapshotItem {
    pub id: String,
    pub short_id: String,
    pub time: String,
    pub hostname: String,
    pub tags: Vec<String>,
    pub source: SourceInfo,
    pub parent: Option<String>,
    pub summary: Summary,
    /// Its database's tables and rows (`null` without one): `summary`
    /// counts media only.
    pub database: Option<crate::snapshot::DatabaseSize>,
    /// Media objects its backup left out (unreadable, vanished, changing).
    pub skipped: u64,
    pub last_drill: Option<LastDrill>,
}

pub fn snapshots(list: &[Head], drills: &HashMap<Id, (i64, bool)>) -> Vec<SnapshotItem> {
    list.iter()
        .map(|s| SnapshotItem {
            id: s.id.to_hex(),
            short_id: s.id.short(),
            time: rfc3339(s.time_ns),
            hostname: s.hostname.clone(),
            tags: s.tags.clone(),
            source: s.source.clone(),
            parent: s.parent.map(|p| p.to_hex()),
            summary: s.summary.clone(),
            database: s.database,
            skipped: s.skipped,
            last_drill: drills.get(&s.id).map(|(t, passed)| LastDrill {
                time: rfc3339(*t),
                passed: *passed,
            }),
        })
        .collect()
}

/// One line of `ls`.
#[derive(Debug, Serialize)]
pub struct LsItem {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub size: u64,
    pub mtime: String,
    /// Octal, as `ls -l` users read it.
    pub mode: String,
    pub content: String,
    pub chunks: usize,
    pub meta: BTreeMap<String, String>,
}

/// `ls`: the snapshot's tables first (`type` `table`, `key` the table,
/// `size` its rows), then its media objects, an item at a time.
pub fn ls<'a>(
    tables: &'a [(&str, u64)],
    entries: impl Iterator<Item = crate::Result<(String, MediaEntry)>> + 'a,
) -> impl Iterator<Item = crate::Result<LsItem>> + 'a {
    let tables = tables.iter().map(|(t, rows)| {
        Ok(LsItem {
            key: t.to_string(),
            kind: "table",
            size: *rows,
            mtime: String::new(),
            mode: String::new(),
            content: String::new(),
            chunks: 0,
            meta: BTreeMap::new(),
        })
    });
    tables.chain(entries.map(|e| {
        let (k, e) = e?;
        Ok(LsItem {
            key: k,
            kind: e.kind.name(),
            size: e.size,
            mtime: rfc3339(e.mtime_ns),
            mode: format!("{:o}", e.mode),
            content: e.content.to_hex(),
            chunks: e.chunks.len(),
            meta: e.meta.into_iter().collect(),
        })
    }))
}

#[derive(Debug, Serialize)]
pub struct Diff<'a> {
    pub from: String,
    pub to: String,
    /// `media`, `tables`, `cost`.
    #[serde(flatten)]
    pub report: &'a DiffReport,
}

/// `restore` of media or of a site: which snapshot went where, and how.
#[derive(Debug, Serialize)]
pub struct Restored<'a, S: Serialize> {
    pub snapshot: String,
    pub target: &'a str,
    pub summary: &'a S,
}

/// `copy`: each snapshot copied (source id, id of its copy), those the
/// destination held already, and what it stored.
#[derive(Debug, Serialize)]
pub struct Copied {
    pub copied: Vec<CopiedSnapshot>,
    pub already_present: Vec<String>,
    pub blobs_copied: u64,
    pub bytes_copied: u64,
    pub bytes_stored: u64,
}

#[derive(Debug, Serialize)]
pub struct CopiedSnapshot {
    pub source: String,
    pub copy: String,
}

impl Copied {
    pub fn of(r: &crate::copy::CopyReport) -> Copied {
        Copied {
            copied: r
                .copied
                .iter()
                .map(|(s, c)| CopiedSnapshot {
                    source: s.to_hex(),
                    copy: c.to_hex(),
                })
                .collect(),
            already_present: r.present.iter().map(Id::to_hex).collect(),
            blobs_copied: r.blobs_copied,
            bytes_copied: r.bytes_copied,
            bytes_stored: r.bytes_stored,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Check<'a> {
    pub ok: bool,
    pub report: &'a CheckReport,
}

impl<'a> Check<'a> {
    pub fn of(report: &'a CheckReport) -> Check<'a> {
        Check {
            ok: report.ok(),
            report,
        }
    }
}

/// A restore refused because objects its rows name are missing.
#[derive(Debug, Serialize)]
pub struct Missing<'a> {
    pub missing_objects: &'a [String],
}

/// One source's drill under `--all-sources` (a single drill prints its
/// report alone).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum DrillItem<'a> {
    Done(&'a DrillReport),
    Skipped {
        snapshot: String,
        source: &'a str,
        skipped: &'a str,
    },
    Failed {
        snapshot: String,
        source: &'a str,
        passed: bool,
        error: String,
    },
}

/// The drill documents; `error` is the message with the caller's remedy
/// (`with_hint`) appended, so that it reads as the CLI's errors do.
pub fn drills<'a>(
    outcomes: &'a [Outcome],
    with_hint: impl Fn(&str, Option<&crate::error::Hint>) -> String,
) -> Vec<DrillItem<'a>> {
    outcomes
        .iter()
        .map(|o| match o {
            Outcome::Done(r) => DrillItem::Done(r),
            Outcome::Skipped {
                snapshot,
                source,
                why,
            } => DrillItem::Skipped {
                snapshot: snapshot.to_hex(),
                source,
                skipped: why,
            },
            Outcome::Failed {
                snapshot,
                source,
                error,
                hint,
            } => DrillItem::Failed {
                snapshot: snapshot.to_hex(),
                source,
                passed: false,
                error: with_hint(error, hint.as_ref()),
            },
        })
        .collect()
}

/// One line of `drill --history`.
#[derive(Debug, Serialize)]
pub struct DrillHistoryItem<'a> {
    pub id: String,
    pub time: String,
    pub snapshot: String,
    pub hostname: &'a str,
    pub passed: bool,
    pub rto_ms: u64,
    pub snapshot_age_s: i64,
    pub target: &'a str,
    pub checks: u32,
    pub failed: &'a [String],
    pub jarc: &'a str,
}

pub fn drill_history(h: &[(Id, DrillRecord)]) -> Vec<DrillHistoryItem<'_>> {
    h.iter()
        .map(|(id, r)| DrillHistoryItem {
            id: id.to_hex(),
            time: rfc3339(r.time_ns),
            snapshot: r.snapshot.to_hex(),
            hostname: &r.hostname,
            passed: r.passed,
            rto_ms: r.rto_ms,
            snapshot_age_s: r.snapshot_age_s,
            target: &r.target,
            checks: r.checks,
            failed: &r.failed,
            jarc: &r.jarc,
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct Forget<'a> {
    pub dry_run: bool,
    /// Per group, each snapshot kept (with why) or forgotten; absent when
    /// snapshot ids were given instead of a policy.
    pub groups: Option<&'a [Group]>,
    pub forget: &'a [Id],
    /// The prune that followed (`--prune`).
    pub prune: Option<&'a PruneReport>,
}

#[derive(Debug, Serialize)]
pub struct Prune<'a> {
    pub dry_run: bool,
    pub report: &'a PruneReport,
}

/// A failed command under `--json`, on stderr.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub error: FailureBody,
}

#[derive(Debug, Serialize)]
pub struct FailureBody {
    /// `Error::kind`, or `error` for a failure outside the engine.
    pub kind: &'static str,
    pub message: String,
    /// What to do about it, in the caller's terms; `null` when nothing.
    pub hint: Option<String>,
}
