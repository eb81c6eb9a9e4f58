//! One drill, from the scratch environment to the record.

use super::log::Log;
use super::scratch::{Scratch, ScratchDb};
use super::verify_db::verify_database;
use super::verify_media::verify_media;
use super::{DrillOptions, DrillReport, Rpo};
use crate::database;
use crate::dbclient::{db_err, PgClient};
use crate::drill_record::{self, DrillRecord};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::restore::{self, RestoreOptions};
use crate::snapshot::Snapshot;
use crate::util::first_few;
use rayon::prelude::*;
use std::time::Instant;

/// The drill itself; `newest` is the newest snapshot of the same source
/// and its capture time, for the RPO.
pub(super) fn run(
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
                        first_few(&failed)
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
                    format!("{e} (unreadable in the snapshot: {})", first_few(&damaged))
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
        for (name, result) in crate::jant::spot_checks::spot_checks(repo, snap, &db, &schema) {
            log.result(name, result);
        }
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
