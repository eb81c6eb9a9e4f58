//! Recovery drill: restore a snapshot into a scratch environment, prove the
//! result is a usable Jant site, time it (RTO), say how old it is (RPO),
//! and record the outcome in the repository (`drills/<id>`,
//! format-spec/README.md §11).
//!
//! The drill reuses the restore paths an operator would use, so what it
//! proves is what a real restore does. It does not stop at the first
//! problem: every check runs that can, so one report names everything that
//! is wrong. The scratch environment (a temporary directory, and a
//! temporary Postgres database when one is used) is removed on every path
//! out, error or not, unless the operator asked to keep it.
//!
//! Its parts: `scratch` (the environment and the restored database),
//! `run` (one drill, start to record), `verify_db` (integrity, foreign
//! keys, full-text indexes, row counts and digests), `verify_media`
//! (referenced objects, rehashing a sample), `log` (results as they come);
//! the spot checks a person would make on the site are Jant's
//! (`jant::spot_checks`).

mod log;
mod run;
mod scratch;
mod verify_db;
mod verify_media;

use crate::backend::RequestSnapshot;
use crate::database;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::snapshot::{self, Snapshot, SourceInfo};
use run::run;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct DrillOptions {
    /// Where the scratch directory is made (default: the system's temp dir).
    pub scratch_parent: Option<PathBuf>,
    /// A Postgres server URL: the drill creates an empty database there,
    /// restores into it and drops it.
    pub target_database: Option<String>,
    /// Read back and rehash this many media objects (default: all).
    pub sample: Option<usize>,
    /// Leave the scratch environment for inspection.
    pub keep: bool,
    /// Record this hostname instead of the machine's.
    pub hostname: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseTime {
    pub name: String,
    pub ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rpo {
    /// Drill start minus the snapshot's capture time.
    pub snapshot_age_s: i64,
    /// The newest snapshot of the same source, and its age: the data a
    /// restore right now would lose at best.
    pub newest_snapshot: String,
    pub newest_age_s: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub snapshot: String,
    pub source: SourceInfo,
    pub snapshot_hostname: String,
    #[serde(rename = "snapshot_time", serialize_with = "crate::util::ser_rfc3339")]
    pub snapshot_time_ns: i64,
    #[serde(rename = "started", serialize_with = "crate::util::ser_rfc3339")]
    pub started_ns: i64,
    pub passed: bool,
    /// Start to a verified, usable database and media.
    pub rto_ms: u64,
    pub phases: Vec<PhaseTime>,
    pub rpo: Rpo,
    pub requests: RequestSnapshot,
    pub checks: Vec<CheckResult>,
    /// `sqlite`, `pg` or `dir`.
    pub target: String,
    /// Where the scratch environment was (the database masked).
    pub scratch_dir: String,
    pub scratch_database: Option<String>,
    pub kept: bool,
    /// The record's name in the repository; `None` when the repository
    /// could not be written (a read-only one: the drill ran all the same).
    pub recorded: Option<String>,
}

impl DrillReport {
    pub fn failed(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// Why a snapshot cannot be drilled, if it cannot.
pub fn undrillable(snap: &Snapshot) -> Option<String> {
    if database::extra(snap, crate::jant::meta::EXTRA_ORIGIN).is_some() {
        return Some(
            "it was imported from a Jant archive or dump, which holds rows but not the schema a blank database is created from; drill the site's own backups instead".into(),
        );
    }
    None
}

/// Drill one snapshot.
pub fn drill(
    repo: &Repository,
    id: &Id,
    snap: &Snapshot,
    opts: &DrillOptions,
    progress: &dyn Progress,
) -> Result<DrillReport> {
    if let Some(why) = undrillable(snap) {
        return Err(Error::Invalid(format!(
            "snapshot {} cannot be drilled: {why}",
            id.short()
        )));
    }
    let newest = snapshot::latest_of_source(repo, &snap.source, &snap.hostname)?
        .map(|(i, s)| (i, s.time_ns))
        .unwrap_or((*id, snap.time_ns));
    run(repo, id, snap, newest, opts, progress)
}

/// How one source's drill ended, for `--all-sources`.
pub enum Outcome {
    Done(Box<DrillReport>),
    Skipped {
        snapshot: Id,
        source: String,
        why: String,
    },
    Failed {
        snapshot: Id,
        source: String,
        error: String,
        /// What the caller could do about it (see `Error::hint`).
        hint: Option<crate::error::Hint>,
    },
}

/// What a set of drills adds up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// At least one drill ran, and every one that ran passed.
    Passed,
    /// A drill failed, or could not run.
    Failed,
    /// Nothing was drilled (every source was skipped): no restore was
    /// proven, which is not a pass.
    NothingDrilled,
}

pub fn verdict(outcomes: &[Outcome]) -> Verdict {
    let failed = outcomes.iter().any(|o| match o {
        Outcome::Done(r) => !r.passed,
        Outcome::Failed { .. } => true,
        Outcome::Skipped { .. } => false,
    });
    if failed {
        Verdict::Failed
    } else if outcomes.iter().any(|o| matches!(o, Outcome::Done(_))) {
        Verdict::Passed
    } else {
        Verdict::NothingDrilled
    }
}

/// Drill the newest snapshot of every source, reading the snapshot list
/// once. An error in one source's drill is that source's outcome.
pub fn drill_sources(
    repo: &Repository,
    opts: &DrillOptions,
    progress: &dyn Progress,
) -> Result<Vec<Outcome>> {
    let mut out = Vec::new();
    for (id, snap) in snapshot::latest_per_source(snapshot::list(repo)?) {
        let source = snap.source.description.clone();
        if let Some(why) = undrillable(&snap) {
            out.push(Outcome::Skipped {
                snapshot: id,
                source,
                why,
            });
            continue;
        }
        // The newest of its source is the snapshot itself.
        out.push(
            match run(repo, &id, &snap, (id, snap.time_ns), opts, progress) {
                Ok(r) => Outcome::Done(Box::new(r)),
                Err(e) => Outcome::Failed {
                    snapshot: id,
                    source,
                    error: e.to_string(),
                    hint: e.hint(),
                },
            },
        );
    }
    Ok(out)
}

/// The drill a plain `jarc drill` runs: the newest snapshot of the site
/// whose database is `db` (the one the environment describes), or of the
/// only site in the repository.
pub fn default_snapshot(repo: &Repository, db: Option<&SourceInfo>) -> Result<(Id, Snapshot)> {
    let sites: Vec<(Id, Snapshot)> = snapshot::latest_per_source(snapshot::list(repo)?)
        .into_iter()
        .filter(|(_, s)| s.source.kind == crate::backup::SITE_KIND && undrillable(s).is_none())
        .collect();
    if let Some(db) = db {
        let db = crate::backup::site_id_of(db);
        let prefix = format!("{db} +");
        if let Some(hit) = sites
            .iter()
            .rev()
            .find(|(_, s)| s.source.id == db || s.source.id.starts_with(&prefix))
        {
            return Ok(hit.clone());
        }
    }
    match sites.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::refused(
            "the repository holds no site backup",
            crate::error::Hint::SnapshotOrAllSources,
        )),
        many => Err(Error::refused(
            format!(
                "the repository holds backups of {} sites ({})",
                many.len(),
                many.iter()
                    .map(|(_, s)| s.source.description.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            crate::error::Hint::SnapshotOrAllSources,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::scratch::with_database;
    use super::verify_media::sample_positions;
    use super::*;
    use crate::drill_record::DrillRecord;

    #[test]
    fn skipping_every_source_is_not_a_pass() {
        let skipped = || Outcome::Skipped {
            snapshot: Id([1; 32]),
            source: "s".into(),
            why: "imported".into(),
        };
        assert_eq!(verdict(&[]), Verdict::NothingDrilled);
        assert_eq!(verdict(&[skipped(), skipped()]), Verdict::NothingDrilled);
        let failed = Outcome::Failed {
            snapshot: Id([2; 32]),
            source: "s".into(),
            error: "e".into(),
            hint: None,
        };
        assert_eq!(verdict(&[skipped(), failed]), Verdict::Failed);
    }

    #[test]
    fn database_name_is_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "x").unwrap(),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(
            with_database("postgresql://u@h/db?sslmode=disable", "x").unwrap(),
            "postgresql://u@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h", "x").unwrap(),
            "postgres://h/x"
        );
        let e = with_database("host=h user=u password=secret", "x").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = with_database("mysql://u:secret@h/db", "x").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn samples_are_distinct_sorted_and_bounded() {
        assert_eq!(sample_positions(5, None, 1), vec![0, 1, 2, 3, 4]);
        assert_eq!(sample_positions(3, Some(10), 1), vec![0, 1, 2]);
        let s = sample_positions(1000, Some(10), 42);
        assert_eq!(s.len(), 10);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert!(s.iter().all(|&i| i < 1000));
        assert_eq!(s, sample_positions(1000, Some(10), 42));
        assert_ne!(s, sample_positions(1000, Some(10), 43));
    }

    #[test]
    fn records_round_trip() {
        let r = DrillRecord {
            time_ns: 1_767_225_600_000_000_000,
            snapshot: Id([7; 32]),
            hostname: "h".into(),
            passed: false,
            rto_ms: 1234,
            snapshot_age_s: 3600,
            target: "sqlite".into(),
            checks: 11,
            failed: vec!["media content".into()],
            jarc: "0.1.0".into(),
        };
        assert_eq!(DrillRecord::decode(&r.encode()).unwrap(), r);
        assert!(DrillRecord::decode(&r.encode()[..10]).is_err());
    }
}
