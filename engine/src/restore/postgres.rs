//! Restore a snapshot's database into Postgres.
//!
//! Everything happens in one transaction: Postgres DDL is transactional, so
//! a full restore that fails at any statement leaves the target database as
//! empty as it was, and a content-only restore that fails leaves the live
//! site's rows untouched. Rows go in through `COPY … FROM STDIN` (text
//! format); foreign keys are added after the rows, so they are checked once
//! against complete tables.

use super::content::{self, TableRows};
use super::item;
use super::sqlite::DbRestoreSummary;
use crate::database;
use crate::dbclient::{pg_message, Col, PgClient};
use crate::error::{Error, Result};
use crate::repo::Repository;
use crate::row::Value;
use crate::schema::{quote_ident, ObjectKind, Phase, SchemaObject};
use crate::snapshot::Snapshot;
use futures::SinkExt;

fn push_escaped(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
}

/// One row in COPY's text format.
fn copy_line(out: &mut Vec<u8>, row: &[Value]) {
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match v {
            Value::Null => out.extend_from_slice(b"\\N"),
            Value::Integer(x) => out.extend_from_slice(x.to_string().as_bytes()),
            Value::Real(f) => {
                let s = if f.is_nan() {
                    "NaN".to_string()
                } else if f.is_infinite() {
                    if *f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
                } else {
                    // Rust prints the shortest text that parses back to
                    // the same bits, as Postgres does.
                    format!("{f:?}")
                };
                out.extend_from_slice(s.as_bytes());
            }
            Value::Text(s) | Value::Other(s) => push_escaped(out, s),
            // Only SQLite yields it, and a SQLite snapshot is never
            // restored into Postgres (`require_pg`).
            Value::RawText(b) => push_escaped(out, &String::from_utf8_lossy(b)),
            Value::Blob(b) => {
                out.extend_from_slice(b"\\\\x");
                out.extend_from_slice(hex::encode(b).as_bytes());
            }
            Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
            Value::Timestamp(us) => {
                out.extend_from_slice(crate::row::pg_timestamp_text(*us, true).as_bytes())
            }
            Value::LocalTimestamp(us) => {
                out.extend_from_slice(crate::row::pg_timestamp_text(*us, false).as_bytes())
            }
            Value::Date(d) => out.extend_from_slice(crate::row::pg_date_text(*d).as_bytes()),
        }
    }
    out.push(b'\n');
}

/// COPY `rows` into `table`, an SQL name (quoted, qualified as needed).
pub(crate) fn copy_rows(
    pg: &PgClient,
    table: &str,
    columns: &[&str],
    rows: &mut dyn Iterator<Item = Result<Vec<Value>>>,
) -> Result<u64> {
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let sql = format!("COPY {table} ({}) FROM STDIN", cols.join(", "));
    let wrap = |e: tokio_postgres::Error| Error::Database {
        source_name: pg.name.clone(),
        message: format!("loading table {table}: {}", pg_message(&e)),
    };
    // Rows come from the repository, whose backend blocks on its own
    // runtime: read them outside any async context, send batch by batch.
    let sink = pg
        .rt
        .block_on(pg.client.copy_in::<_, bytes::Bytes>(sql.as_str()))
        .map_err(wrap)?;
    let mut sink = Box::pin(sink);
    let mut buf = Vec::with_capacity(1 << 20);
    let mut n = 0;
    for r in rows {
        copy_line(&mut buf, &r?);
        n += 1;
        if buf.len() >= 1 << 20 {
            let chunk = bytes::Bytes::from(std::mem::take(&mut buf));
            pg.rt.block_on(sink.send(chunk)).map_err(wrap)?;
        }
    }
    if !buf.is_empty() {
        pg.rt
            .block_on(sink.send(bytes::Bytes::from(buf)))
            .map_err(wrap)?;
    }
    pg.rt.block_on(sink.as_mut().finish()).map_err(wrap)?;
    Ok(n)
}

fn run_phase(pg: &PgClient, schema: &[SchemaObject], phase: Phase) -> Result<()> {
    for o in schema {
        for (p, sql) in &o.statements {
            if *p == phase {
                pg.batch(sql)?;
            }
        }
    }
    Ok(())
}

fn require_pg(snap: &Snapshot) -> Result<()> {
    match database::extra(snap, database::EXTRA_DIALECT) {
        Some("pg") => Ok(()),
        other => Err(Error::Invalid(format!(
            "the snapshot's database is {}, not Postgres",
            other.unwrap_or("unknown")
        ))),
    }
}

/// A full restore needs an empty database: no table, view or sequence in
/// any schema but the system ones (an extension's own objects aside).
fn ensure_blank(pg: &PgClient) -> Result<()> {
    let existing: i64 = pg.one(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
            AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
            AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid AND x.deptype = 'e')",
        &[],
        0,
    )?;
    if existing > 0 {
        return Err(Error::refused(
            format!(
                "{}: the target database is not empty ({existing} tables, views or sequences); a full restore needs an empty database",
                pg.name
            ),
            crate::error::Hint::ContentOnly,
        ));
    }
    Ok(())
}

/// Every extension the snapshot's database had must be one the target
/// server can create: checked before anything is written, naming each
/// that is missing.
fn ensure_extensions(pg: &PgClient, schema: &[SchemaObject]) -> Result<()> {
    let mut missing = Vec::new();
    for e in schema.iter().filter(|o| o.kind == ObjectKind::Extension) {
        let available: bool = pg.one(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)",
            &[&e.name],
            false,
        )?;
        if !available {
            missing.push(e.name.clone());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "{}: the server has no extension {}, which the snapshot's database uses; install it on the server (for the extensions PostgreSQL ships, its contrib package) and restore again",
        pg.name,
        missing.join(", ")
    )))
}

/// Connect and check, before a restore writes anything anywhere.
pub fn ensure_blank_url(url: &str) -> Result<()> {
    ensure_blank(&PgClient::connect(url)?)
}

/// The same, with the extensions the snapshot needs.
pub fn ensure_ready_url(repo: &Repository, snap: &Snapshot, url: &str) -> Result<()> {
    let pg = PgClient::connect(url)?;
    ensure_blank(&pg)?;
    ensure_extensions(&pg, &database::schema(repo, snap)?)
}

/// Create the snapshot's schema and rows in an empty database.
pub fn restore_full(repo: &Repository, snap: &Snapshot, url: &str) -> Result<DbRestoreSummary> {
    require_pg(snap)?;
    let schema = database::schema(repo, snap)?;
    let pg = PgClient::connect(url)?;
    ensure_blank(&pg)?;
    ensure_extensions(&pg, &schema)?;
    // A function may name a table made after it (pg_dump does the same).
    pg.batch("BEGIN; SET LOCAL check_function_bodies = false")?;
    // Any error below returns before COMMIT; dropping the connection
    // aborts the transaction and every statement in it.
    run_phase(&pg, &schema, Phase::Setup)?;
    run_phase(&pg, &schema, Phase::Create)?;
    let mut summary = DbRestoreSummary::default();
    for t in schema.iter().filter(|t| t.kind == ObjectKind::Table) {
        summary.rows += copy_rows(
            &pg,
            &t.sql_name(),
            &t.value_columns(),
            &mut database::rows(repo, snap, t),
        )?;
        summary.tables += 1;
    }
    for phase in Phase::AFTER_ROWS {
        run_phase(&pg, &schema, phase)?;
    }
    crate::failpoint::fail("pg-restore-before-commit")?;
    pg.batch("COMMIT")?;
    Ok(summary)
}

fn site_ids_of(pg: &PgClient) -> Result<Vec<String>> {
    pg.query("SELECT id::text FROM \"site\" ORDER BY id", &[])?
        .iter()
        .map(|r| r.col(0))
        .collect()
}

/// The ids of the sites a live Jant database holds.
pub fn site_ids(url: &str) -> Result<Vec<String>> {
    site_ids_of(&PgClient::connect(url)?)
}

/// Rewrite one site's content tables and allow-listed settings in a live
/// database, in one transaction, as the target's `site` (chosen by
/// `content::target_site`; the rows are remapped to it). Auth tables are
/// never named.
pub fn restore_content(
    repo: &Repository,
    snap: &Snapshot,
    url: &str,
    provider: &str,
    site: &str,
) -> Result<DbRestoreSummary> {
    require_pg(snap)?;
    let from = content::site_id(snap)?;
    let mut selected = content::select(repo, snap, &from)?;
    content::remap_site(&mut selected, &from, site);
    let pg = PgClient::connect(url)?;
    pg.batch("BEGIN")?;
    let exists = |t: &str| -> Result<bool> {
        pg.one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&quote_ident(t)],
            false,
        )
    };
    for sql in content::clear_statements(exists, "$1")? {
        pg.query(&sql, &[&site])?;
    }
    let mut summary = DbRestoreSummary::default();
    for (i, TableRows { table, rows }) in selected.iter().enumerate() {
        if i == 2 {
            crate::failpoint::fail("content-restore-midway")?;
        }
        summary.rows += copy_rows(
            &pg,
            &table.sql_name(),
            &table.value_columns(),
            &mut rows.iter().cloned().map(Ok),
        )?;
        summary.tables += 1;
    }
    pg.query(
        "UPDATE \"media\" SET provider = $1 WHERE site_id = $2",
        &[&provider, &site],
    )?;
    pg.batch("COMMIT")?;
    Ok(summary)
}

/// Write the rows of restored items into a live database, beside what is
/// there (`item::upsert_sql`), in one transaction: first fitted to it
/// (`item::settle`). Each table's rows are copied into a staging table of
/// the same columns and upserted from it. Rows written, by table.
pub fn upsert_items(
    url: &str,
    picked: &mut item::Picked,
    provider: &str,
) -> Result<std::collections::BTreeMap<String, u64>> {
    let pg = PgClient::connect(url)?;
    // Any error below returns before COMMIT; dropping the connection
    // aborts the transaction.
    pg.batch("BEGIN")?;
    // Which tables the target has, asked once each.
    let mut tables: std::collections::HashMap<String, bool> = Default::default();
    let mut present = |table: &str, id: &str| -> Result<bool> {
        let t = quote_ident(table);
        let exists = match tables.get(table) {
            Some(&e) => e,
            None => {
                let e = pg.one("SELECT to_regclass($1) IS NOT NULL", &[&t], false)?;
                tables.insert(table.to_string(), e);
                e
            }
        };
        if !exists {
            return Ok(false);
        }
        pg.one(
            &format!("SELECT EXISTS (SELECT 1 FROM {t} WHERE id::text = $1)"),
            &[&id],
            false,
        )
    };
    item::settle(picked, provider, &mut present)?;
    let mut written = std::collections::BTreeMap::new();
    for TableRows { table, rows } in &picked.tables {
        let cols = table.value_columns();
        let names: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
        pg.batch(&format!(
            "CREATE TEMP TABLE jarc_item ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
            names.join(", "),
            table.sql_name()
        ))?;
        copy_rows(&pg, "jarc_item", &cols, &mut rows.iter().cloned().map(Ok))?;
        pg.batch(&item::upsert_sql(table, "SELECT * FROM jarc_item"))?;
        pg.batch("DROP TABLE jarc_item")?;
        written.insert(table.name.clone(), rows.len() as u64);
    }
    pg.batch("COMMIT")?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_and_formats() {
        let mut out = Vec::new();
        copy_line(
            &mut out,
            &[
                Value::Text("a\tb\nc\\d".into()),
                Value::Null,
                Value::Blob(vec![0, 255]),
                Value::Timestamp(0),
                Value::Timestamp(-1),
                Value::Date(1),
                Value::Real(0.1),
                Value::Bool(false),
            ],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a\\tb\\nc\\\\d\t\\N\t\\\\x00ff\t2000-01-01 00:00:00.000000+00\t1999-12-31 23:59:59.999999+00\t2000-01-02\t0.1\tf\n"
        );
    }
}
