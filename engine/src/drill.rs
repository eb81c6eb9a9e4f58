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

use crate::backend::RequestSnapshot;
use crate::chunker::Chunker;
use crate::database;
use crate::dbclient::{db_err, Col, PgClient};
use crate::drill_record::{self, DrillRecord};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::media::{EntryKind, MediaEntry};
use crate::progress::Progress;
use crate::repo::Repository;
use crate::restore::{self, RestoreOptions};
use crate::row::Value;
use crate::schema::{quote_ident, ObjectKind, SchemaObject, ROWS_ROOT_PREFIX};
use crate::snapshot::{self, Snapshot, SourceInfo};
use crate::source::postgres::PostgresSource;
use crate::source::sqlite::SqliteSource;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

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

/// Replace the database name of a `postgres://` URL.
fn with_database(url: &str, name: &str) -> Result<String> {
    let bad = || {
        // Only a URL can be shown masked; a key=value string is not echoed.
        let shown = if url.contains("://") {
            format!("{}: ", crate::util::mask_url(url))
        } else {
            String::new()
        };
        Error::Invalid(format!(
            "target database {shown}expected a URL postgres://user:password@host:port/database"
        ))
    };
    let scheme_end = url.find("://").ok_or_else(bad)?;
    if !matches!(&url[..scheme_end], "postgres" | "postgresql") {
        return Err(bad());
    }
    let rest = &url[scheme_end + 3..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let after = &rest[auth_end..];
    let query = after.find('?').map(|i| &after[i..]).unwrap_or("");
    Ok(format!(
        "{}{}/{}{}",
        &url[..scheme_end + 3],
        &rest[..auth_end],
        name,
        query
    ))
}

/// The scratch environment. Dropping it removes everything it made unless
/// `keep` is set, so every way out of a drill cleans up.
struct Scratch {
    dir: PathBuf,
    /// (admin URL, scratch database name, scratch URL).
    pg: Option<(String, String, String)>,
    keep: bool,
}

impl Scratch {
    fn create(opts: &DrillOptions, want_pg: bool) -> Result<Scratch> {
        let parent = opts
            .scratch_parent
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let tag = hex::encode(&Id::of_bytes(&crate::util::now_ns().to_le_bytes()).0[..4]);
        let dir = parent.join(format!("jarc-drill-{tag}-{}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut s = Scratch {
            dir,
            pg: None,
            keep: opts.keep,
        };
        if want_pg {
            let admin = opts.target_database.clone().ok_or_else(|| {
                Error::refused(
                    "this snapshot's database is Postgres",
                    crate::error::Hint::ScratchDatabase,
                )
            })?;
            let name = format!("jarc_drill_{tag}_{}", std::process::id());
            let url = with_database(&admin, &name)?;
            PgClient::connect(&admin)?.batch(&format!("CREATE DATABASE {}", quote_ident(&name)))?;
            s.pg = Some((admin, name, url));
        }
        Ok(s)
    }

    fn media_dir(&self) -> PathBuf {
        self.dir.join("media")
    }

    fn sqlite_path(&self) -> PathBuf {
        self.dir.join("jant.sqlite")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name, _)) = &self.pg {
            if let Ok(pg) = PgClient::connect(admin) {
                let _ = pg.batch(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    quote_ident(name)
                ));
            }
        }
    }
}

/// Collects check results and phase times as the drill goes.
struct Log {
    start: Instant,
    mark: Instant,
    phases: Vec<PhaseTime>,
    checks: Vec<CheckResult>,
}

impl Log {
    fn phase_done(&mut self, name: &str) {
        let now = Instant::now();
        self.phases.push(PhaseTime {
            name: name.into(),
            ms: (now - self.mark).as_millis() as u64,
        });
        self.mark = now;
    }

    fn check(&mut self, name: &str, passed: bool, detail: impl Into<String>) {
        self.checks.push(CheckResult {
            name: name.into(),
            passed,
            detail: detail.into(),
        });
    }

    fn result(&mut self, name: &str, r: Result<String>) {
        match r {
            Ok(detail) => self.check(name, true, detail),
            Err(e) => self.check(name, false, e.to_string()),
        }
    }
}

/// A few names for a message, and how many more there are.
fn some(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(5).map(|s| s.as_str()).collect();
    if items.len() > shown.len() {
        format!(
            "{} and {} more",
            shown.join(", "),
            items.len() - shown.len()
        )
    } else {
        shown.join(", ")
    }
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

/// The drill itself; `newest` is the newest snapshot of the same source
/// and its capture time, for the RPO.
fn run(
    repo: &Repository,
    id: &Id,
    snap: &Snapshot,
    newest: (Id, i64),
    opts: &DrillOptions,
    progress: &dyn Progress,
) -> Result<DrillReport> {
    let started_ns = crate::util::now_ns();
    let requests_before = repo.backend().requests.snapshot();
    let has_db = database::has_database(snap);
    let dialect = database::extra(snap, database::EXTRA_DIALECT).unwrap_or("sqlite");
    let want_pg = has_db && dialect == "pg";
    let target = match (has_db, want_pg) {
        (false, _) => "dir",
        (true, false) => "sqlite",
        (true, true) => "pg",
    };
    let now = Instant::now();
    let mut log = Log {
        start: now,
        mark: now,
        phases: Vec::new(),
        checks: Vec::new(),
    };
    let scratch = Scratch::create(opts, want_pg)?;
    log.phase_done("prepare");

    // Media first, as a real restore does.
    progress.phase("drill: restore media", 0);
    let listing = crate::media::entries(repo, snap);
    let media = match &listing {
        Ok(_) => restore::restore_media(
            repo,
            snap,
            &scratch.media_dir(),
            // As a site restore writes them: Jant's sidecars included.
            &RestoreOptions {
                jant_sidecars: true,
                ..RestoreOptions::default()
            },
            progress,
        ),
        Err(e) => Err(Error::Invalid(format!(
            "the media listing cannot be read: {e}"
        ))),
    };
    let entries = listing.unwrap_or_default();
    let restored_media = match media {
        Ok(m) => {
            let failed: Vec<String> = m
                .failed
                .iter()
                .map(|(k, why)| format!("{k}: {why}"))
                .collect();
            log.check(
                "media restore",
                failed.is_empty(),
                if failed.is_empty() {
                    format!("{} files, {} bytes", m.files, m.bytes)
                } else {
                    format!(
                        "{} object(s) could not be restored: {}",
                        failed.len(),
                        some(&failed)
                    )
                },
            );
            m.failed.iter().map(|(k, _)| k.clone()).collect()
        }
        Err(e) => {
            log.check("media restore", false, e.to_string());
            entries.iter().map(|(k, _)| k.clone()).collect()
        }
    };
    let failed_media: std::collections::HashSet<String> = restored_media;
    log.phase_done("restore media");

    let mut db_ok = false;
    let mut schema = Vec::new();
    if has_db {
        progress.phase("drill: restore database", 0);
        let r = (|| {
            schema = database::schema(repo, snap)?;
            match &scratch.pg {
                Some((_, _, url)) => restore::postgres::restore_full(repo, snap, url),
                None => restore::sqlite::restore_full(repo, snap, &scratch.sqlite_path()),
            }
        })();
        match r {
            Ok(s) => {
                db_ok = true;
                log.check(
                    "database restore",
                    true,
                    format!("{} tables, {} rows", s.tables, s.rows),
                );
            }
            Err(e) => {
                let msg = e.to_string();
                let damaged: Vec<String> = unreadable_tables(repo, snap)
                    .into_iter()
                    .filter(|d| !msg.contains(d.as_str()))
                    .collect();
                let detail = if damaged.is_empty() {
                    e.to_string()
                } else {
                    format!("{e} (unreadable in the snapshot: {})", some(&damaged))
                };
                log.check("database restore", false, detail);
            }
        }
        log.phase_done("restore database");
    }

    if db_ok {
        progress.phase("drill: verify database", 0);
        let db = match &scratch.pg {
            Some((_, _, url)) => ScratchDb::Pg(PgClient::connect(url)?),
            None => {
                let p = scratch.sqlite_path();
                let conn = rusqlite::Connection::open_with_flags(
                    &p,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE,
                )
                .map_err(|e| db_err(&p, e))?;
                ScratchDb::Sqlite(conn, p)
            }
        };
        verify_database(repo, snap, &scratch, &db, &schema, &mut log);
        log.phase_done("verify database");
        progress.phase("drill: spot checks", 0);
        spot_checks(repo, snap, &db, &schema, &mut log);
        log.phase_done("spot checks");
    }

    progress.phase("drill: verify media", 0);
    verify_media(
        repo,
        snap,
        &entries,
        &scratch.media_dir(),
        &failed_media,
        opts.sample,
        started_ns,
        &mut log,
    )?;
    log.phase_done("verify media");
    let rto_ms = log.start.elapsed().as_millis() as u64;

    let rpo = Rpo {
        snapshot_age_s: (started_ns - snap.time_ns) / 1_000_000_000,
        newest_snapshot: newest.0.to_hex(),
        newest_age_s: (started_ns - newest.1) / 1_000_000_000,
    };
    let passed = log.checks.iter().all(|c| c.passed);
    let record = DrillRecord {
        time_ns: started_ns,
        snapshot: *id,
        hostname: opts.hostname.clone().unwrap_or_else(crate::util::hostname),
        passed,
        rto_ms,
        snapshot_age_s: rpo.snapshot_age_s,
        target: target.into(),
        checks: log.checks.len() as u32,
        failed: log
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.clone())
            .collect(),
        jarc: env!("CARGO_PKG_VERSION").into(),
    };
    let recorded = match drill_record::save(repo, &record) {
        Ok(name) => Some(name),
        // A read-only repository can still prove its restores; only the
        // history misses this drill.
        Err(e) if repo.unregistered().is_some() => {
            progress.warn(&format!(
                "the drill could not be recorded in the repository ({e})"
            ));
            None
        }
        Err(e) => return Err(e),
    };
    let scratch_dir = scratch.dir.display().to_string();
    let scratch_database = scratch
        .pg
        .as_ref()
        .map(|(_, _, u)| crate::util::mask_url(u));
    let kept = scratch.keep;
    drop(scratch);
    Ok(DrillReport {
        snapshot: id.to_hex(),
        source: snap.source.clone(),
        snapshot_hostname: snap.hostname.clone(),
        snapshot_time_ns: snap.time_ns,
        started_ns,
        passed,
        rto_ms,
        phases: log.phases,
        rpo,
        requests: repo.backend().requests.snapshot().since(&requests_before),
        checks: log.checks,
        target: target.into(),
        scratch_dir,
        scratch_database,
        kept,
        recorded,
    })
}

/// Tables whose rows cannot be read back from the snapshot (a damaged or
/// missing pack), to name in a failed database restore whose own error
/// may have stopped at something else first.
fn unreadable_tables(repo: &Repository, snap: &Snapshot) -> Vec<String> {
    let Ok(schema) = database::schema(repo, snap) else {
        return vec!["db.schema".into()];
    };
    schema
        .par_iter()
        .filter(|t| t.has_rows())
        .filter_map(|t| {
            database::rows(repo, snap, t)
                .find_map(|r| r.err())
                .map(|e| e.to_string())
        })
        .collect()
}

/// The restored database, for the checks.
enum ScratchDb {
    Sqlite(rusqlite::Connection, PathBuf),
    Pg(PgClient),
}

impl ScratchDb {
    /// The first column of every row, as text.
    fn texts(&self, sql: &str) -> Result<Vec<String>> {
        match self {
            ScratchDb::Sqlite(c, p) => {
                let mut st = c.prepare(sql).map_err(|e| db_err(p, e))?;
                let rows = st
                    .query_map([], |r| {
                        Ok(match r.get_ref(0)? {
                            rusqlite::types::ValueRef::Null => String::new(),
                            rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                            rusqlite::types::ValueRef::Real(f) => f.to_string(),
                            rusqlite::types::ValueRef::Text(t)
                            | rusqlite::types::ValueRef::Blob(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                        })
                    })
                    .map_err(|e| db_err(p, e))?;
                rows.collect::<std::result::Result<_, _>>()
                    .map_err(|e| db_err(p, e))
            }
            ScratchDb::Pg(pg) => {
                let mut out = Vec::new();
                for r in pg.query(sql, &[])? {
                    out.push(r.col::<Option<String>>(0)?.unwrap_or_default());
                }
                Ok(out)
            }
        }
    }

    fn count(&self, sql: &str) -> Result<i64> {
        let t = self.texts(sql)?;
        t.first()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Invalid(format!("no count from: {sql}")))
    }
}

fn verify_database(
    repo: &Repository,
    snap: &Snapshot,
    scratch: &Scratch,
    db: &ScratchDb,
    schema: &[SchemaObject],
    log: &mut Log,
) {
    match db {
        ScratchDb::Sqlite(conn, path) => {
            log.result("integrity", sqlite_integrity(db));
            log.result(
                "foreign keys",
                restore::sqlite::fk_violations(conn, path).and_then(|v| {
                    if v.is_empty() {
                        Ok("no violations".into())
                    } else {
                        Err(Error::Invalid(format!("violations: {}", some(&v))))
                    }
                }),
            );
            log.result("full-text index", sqlite_fts(db));
        }
        ScratchDb::Pg(pg) => {
            log.result("integrity", pg_integrity(db));
            log.result("foreign keys", pg_foreign_keys(pg, db));
            log.result("full-text index", pg_fts(db));
        }
    }
    // Re-read the restored database as a backup would and compare each
    // table's root with the one recorded at backup time: equal roots mean
    // equal row counts and equal rows.
    let mut warnings = Vec::new();
    let digest = match (db, &scratch.pg) {
        (ScratchDb::Pg(_), Some((_, _, url))) => PostgresSource::connect(url)
            .and_then(|mut s| crate::capture::digest(repo, &mut s, &mut warnings)),
        _ => SqliteSource::open(&scratch.sqlite_path())
            .and_then(|mut s| crate::capture::digest(repo, &mut s, &mut warnings)),
    };
    match digest {
        Ok(cap) => {
            let restored: HashMap<&str, &crate::tree::Root> =
                cap.roots.iter().map(|(n, r)| (n.as_str(), r)).collect();
            let mut wrong = Vec::new();
            let mut tables = 0;
            let mut rows = 0;
            for (name, want) in &snap.roots {
                let Some(table) = name.strip_prefix(ROWS_ROOT_PREFIX) else {
                    continue;
                };
                tables += 1;
                rows += want.count;
                match restored.get(name.as_str()) {
                    Some(got) if got.node == want.node && got.count == want.count => {}
                    Some(got) => wrong.push(format!(
                        "table {table}: {} rows (digest {}), the snapshot recorded {} rows (digest {})",
                        got.count,
                        got.node.short(),
                        want.count,
                        want.node.short()
                    )),
                    None => wrong.push(format!("table {table}: missing")),
                }
            }
            log.check(
                "row counts and digests",
                wrong.is_empty(),
                if wrong.is_empty() {
                    format!("{tables} tables, {rows} rows equal to the snapshot")
                } else {
                    some(&wrong)
                },
            );
            let missing: Vec<String> = schema
                .iter()
                .filter(|o| !cap.objects.contains(&o.qualified()))
                .map(|o| o.label())
                .collect();
            log.check(
                "schema objects",
                missing.is_empty(),
                if missing.is_empty() {
                    format!("{} objects", schema.len())
                } else {
                    format!("missing after restore: {}", some(&missing))
                },
            );
        }
        Err(e) => log.check("row counts and digests", false, e.to_string()),
    }
}

fn sqlite_integrity(db: &ScratchDb) -> Result<String> {
    let r = db.texts("PRAGMA integrity_check")?;
    if r.len() == 1 && r[0] == "ok" {
        Ok("ok".into())
    } else {
        Err(Error::Invalid(some(&r)))
    }
}

fn sqlite_fts(db: &ScratchDb) -> Result<String> {
    let ScratchDb::Sqlite(conn, path) = db else {
        return Ok(String::new());
    };
    let virt = db.texts(
        "SELECT name || char(9) || sql FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'",
    )?;
    let mut checked = Vec::new();
    for line in virt {
        let Some((name, sql)) = line.split_once('\t') else {
            continue;
        };
        let lower = sql.to_ascii_lowercase();
        let q = quote_ident(name);
        // With rank 1, FTS5 also compares the index with its external
        // content table, which is what a rebuild must have got right.
        let stmt = if lower.contains("using fts5") {
            format!("INSERT INTO {q}({q}, rank) VALUES('integrity-check', 1)")
        } else if lower.contains("using fts3") || lower.contains("using fts4") {
            format!("INSERT INTO {q}({q}) VALUES('integrity-check')")
        } else {
            continue;
        };
        conn.execute_batch(&stmt)
            .map_err(|e| Error::Invalid(format!("{name}: {}", db_err(path, e))))?;
        checked.push(name.to_string());
    }
    Ok(if checked.is_empty() {
        "no full-text index in this database".into()
    } else {
        format!("{} consistent with its content", checked.join(", "))
    })
}

fn pg_integrity(db: &ScratchDb) -> Result<String> {
    let bad_indexes = db.texts(
        "SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = current_schema() AND NOT (i.indisvalid AND i.indisready)",
    )?;
    let unvalidated = db.texts(
        "SELECT c.conname::text FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
          WHERE n.nspname = current_schema() AND NOT c.convalidated",
    )?;
    let mut problems = Vec::new();
    problems.extend(
        bad_indexes
            .iter()
            .map(|i| format!("index {i} is not valid")),
    );
    problems.extend(
        unvalidated
            .iter()
            .map(|c| format!("constraint {c} is not validated")),
    );
    if problems.is_empty() {
        Ok("indexes valid, constraints validated".into())
    } else {
        Err(Error::Invalid(some(&problems)))
    }
}

/// Every foreign key, checked row by row with an anti-join (MATCH SIMPLE:
/// a row with a NULL in the key is exempt, as Postgres treats it).
fn pg_foreign_keys(pg: &PgClient, db: &ScratchDb) -> Result<String> {
    let fks = pg.query(
        "SELECT c.conname::text, c.conrelid::regclass::text, c.confrelid::regclass::text,
                (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(att, ord)
                   JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att),
                (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(att, ord)
                   JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.att)
           FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
          WHERE c.contype = 'f' AND n.nspname = current_schema() ORDER BY 1",
        &[],
    )?;
    let mut bad = Vec::new();
    for r in &fks {
        let name: String = r.col(0)?;
        let table: String = r.col(1)?;
        let refd: String = r.col(2)?;
        let cols: Vec<String> = r.col(3)?;
        let rcols: Vec<String> = r.col(4)?;
        let not_null: Vec<String> = cols
            .iter()
            .map(|c| format!("x.{} IS NOT NULL", quote_ident(c)))
            .collect();
        let join: Vec<String> = cols
            .iter()
            .zip(&rcols)
            .map(|(c, rc)| format!("x.{} = y.{}", quote_ident(c), quote_ident(rc)))
            .collect();
        let n = db.count(&format!(
            "SELECT count(*)::text FROM {table} x WHERE {} AND NOT EXISTS (SELECT 1 FROM {refd} y WHERE {})",
            not_null.join(" AND "),
            join.join(" AND ")
        ))?;
        if n > 0 {
            bad.push(format!("{table}: {n} rows break {name}"));
        }
    }
    if bad.is_empty() {
        Ok(format!("{} foreign keys, no violations", fks.len()))
    } else {
        Err(Error::Invalid(some(&bad)))
    }
}

/// Jant on Postgres searches a generated `tsvector` column: every row must
/// have it, which proves the generation ran for every restored row.
fn pg_fts(db: &ScratchDb) -> Result<String> {
    let cols = db.texts(
        "SELECT table_name::text || '.' || column_name::text FROM information_schema.columns
          WHERE table_schema = current_schema() AND data_type = 'tsvector' ORDER BY 1",
    )?;
    let mut done = Vec::new();
    for tc in cols {
        let Some((t, c)) = tc.split_once('.') else {
            continue;
        };
        let total = db.count(&format!("SELECT count(*)::text FROM {}", quote_ident(t)))?;
        let missing = db.count(&format!(
            "SELECT count(*)::text FROM {} WHERE {} IS NULL",
            quote_ident(t),
            quote_ident(c)
        ))?;
        if missing > 0 {
            return Err(Error::Invalid(format!(
                "{tc}: {missing} of {total} rows have no search document"
            )));
        }
        done.push(format!("{tc} ({total} rows)"));
    }
    Ok(if done.is_empty() {
        "no full-text column in this database".into()
    } else {
        format!("{} indexed", done.join(", "))
    })
}

/// What a person would look at first on the restored site.
fn spot_checks(
    repo: &Repository,
    snap: &Snapshot,
    db: &ScratchDb,
    schema: &[SchemaObject],
    log: &mut Log,
) {
    let table = |name: &str| {
        schema
            .iter()
            .find(|t| t.name == name && t.kind == ObjectKind::Table)
    };
    let has = |t: &str, c: &str| table(t).is_some_and(|t| t.column_index(c).is_some());

    if let Some(post) = table("post").filter(|t| t.column_index("status").is_some()) {
        let r = (|| {
            let recorded = published_in_snapshot(repo, snap, post)?;
            let restored = db.count(
                "SELECT CAST(count(*) AS TEXT) FROM \"post\" WHERE \"status\" = 'published'",
            )?;
            if restored != recorded as i64 {
                return Err(Error::Invalid(format!(
                    "{restored} published posts restored, the snapshot holds {recorded}"
                )));
            }
            Ok(if recorded == 0 {
                "the snapshot holds no published posts (an empty home page)".into()
            } else {
                format!("{recorded} published posts")
            })
        })();
        log.result("published posts", r);
    }
    if has("site_setting", "key") && has("site_setting", "value") {
        let r = db
            .texts("SELECT \"value\" FROM \"site_setting\" WHERE \"key\" = 'SITE_NAME' ORDER BY 1")
            .and_then(|v| match v.iter().find(|s| !s.trim().is_empty()) {
                Some(name) => Ok(format!("SITE_NAME = {name:?}")),
                None => Err(Error::Invalid(
                    "no SITE_NAME setting: the restored site would show a default name".into(),
                )),
            });
        log.result("site name", r);
    }
    // A collection's page lists its threads through thread_collection
    // (post_collection before Jant's v2 snapshots).
    for (link, post_col) in [
        ("thread_collection", "thread_id"),
        ("post_collection", "post_id"),
    ] {
        if !(has(link, post_col) && has(link, "collection_id")) || table("collection").is_none() {
            continue;
        }
        let r = (|| {
            let broken = db.texts(&format!(
                "SELECT CAST(l.\"collection_id\" AS TEXT) || ' -> ' || CAST(l.\"{post_col}\" AS TEXT) FROM \"{link}\" l
                  WHERE NOT EXISTS (SELECT 1 FROM \"post\" p WHERE p.\"id\" = l.\"{post_col}\")
                     OR NOT EXISTS (SELECT 1 FROM \"collection\" c WHERE c.\"id\" = l.\"collection_id\")
                  ORDER BY 1"
            ))?;
            if !broken.is_empty() {
                return Err(Error::Invalid(format!(
                    "{} {link} rows point at a missing post or collection: {}",
                    broken.len(),
                    some(&broken)
                )));
            }
            let n = db.count(&format!("SELECT CAST(count(*) AS TEXT) FROM \"{link}\""))?;
            let c = db.count("SELECT CAST(count(*) AS TEXT) FROM \"collection\"")?;
            Ok(format!("{c} collections, {n} entries resolve"))
        })();
        log.result("collections resolve", r);
    }
    if has("path_registry", "path") && has("path_registry", "kind") {
        let r = (|| {
            let mut broken = Vec::new();
            for (col, target) in [
                ("post_id", "post"),
                ("collection_id", "collection"),
                ("smart_collection_id", "smart_collection"),
            ] {
                if !has("path_registry", col) || table(target).is_none() {
                    continue;
                }
                broken.extend(db.texts(&format!(
                    "SELECT r.\"path\" FROM \"path_registry\" r WHERE r.\"{col}\" IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM \"{target}\" t WHERE t.\"id\" = r.\"{col}\") ORDER BY 1"
                ))?);
            }
            let targets: Vec<&str> = ["post_id", "collection_id", "smart_collection_id"]
                .into_iter()
                .filter(|c| has("path_registry", c))
                .collect();
            if !targets.is_empty() {
                let none: Vec<String> =
                    targets.iter().map(|c| format!("\"{c}\" IS NULL")).collect();
                broken.extend(db.texts(&format!(
                    "SELECT \"path\" FROM \"path_registry\" WHERE \"kind\" IN ('slug', 'alias') AND {} ORDER BY 1",
                    none.join(" AND ")
                ))?);
            }
            if !broken.is_empty() {
                return Err(Error::Invalid(format!(
                    "{} paths point at nothing: {}",
                    broken.len(),
                    some(&broken)
                )));
            }
            let n = db.count("SELECT CAST(count(*) AS TEXT) FROM \"path_registry\"")?;
            Ok(format!("{n} paths resolve"))
        })();
        log.result("paths resolve", r);
    }
}

fn published_in_snapshot(repo: &Repository, snap: &Snapshot, post: &SchemaObject) -> Result<u64> {
    let Some(i) = post.column_index("status") else {
        return Ok(0);
    };
    let mut n = 0;
    for r in database::rows(repo, snap, post) {
        if matches!(&r?[i], Value::Text(s) if s == "published") {
            n += 1;
        }
    }
    Ok(n)
}

/// Pick `n` of `len` positions, spread out and varying from drill to drill.
fn sample_positions(len: usize, n: Option<usize>, seed: i64) -> Vec<usize> {
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
fn verify_media(
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
                    some(&problems)
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
        .map(|&i| {
            let (k, e) = files[i];
            match rehash(repo, &chunker, &dir.join(k), e) {
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
                some(&bad)
            )
        },
    );
    Ok(())
}

/// Read a restored file, cut it as a backup would and compare the chunk
/// ids with the entry's: equal ids mean equal bytes.
fn rehash(repo: &Repository, chunker: &Chunker, path: &Path, e: &MediaEntry) -> Result<()> {
    let f = std::fs::File::open(path).map_err(|err| Error::io(path, err))?;
    let len = f.metadata().map_err(|err| Error::io(path, err))?.len();
    if len != e.size {
        return Err(Error::Invalid(format!(
            "{len} bytes on disk, {} recorded",
            e.size
        )));
    }
    let mut ids = Vec::with_capacity(e.chunks.len());
    chunker.stream(f, 8 << 20, |batch: &[&[u8]]| -> Result<()> {
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
    use super::*;

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
