//! The restored database, checked: integrity, foreign keys, full-text
//! indexes, and every table's rows against the snapshot's.

use super::log::Log;
use super::scratch::{Scratch, ScratchDb};
use crate::dbclient::{db_err, Col, PgClient};
use crate::error::{Error, Result};
use crate::jant::spot_checks::Queries;
use crate::repo::Repository;
use crate::restore;
use crate::schema::{quote_ident, SchemaObject, ROWS_ROOT_PREFIX};
use crate::snapshot::Snapshot;
use crate::source::postgres::PostgresSource;
use crate::source::sqlite::SqliteSource;
use crate::util::first_few;
use std::collections::HashMap;

pub(super) fn verify_database(
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
                        Err(Error::Invalid(format!("violations: {}", first_few(&v))))
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
                    first_few(&wrong)
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
                    format!("missing after restore: {}", first_few(&missing))
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
        Err(Error::Invalid(first_few(&r)))
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
        Err(Error::Invalid(first_few(&problems)))
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
        Err(Error::Invalid(first_few(&bad)))
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
