//! Restore a snapshot's database into SQLite.
//!
//! A full restore builds a new file beside the target (`<name>.jarc-partial`)
//! and renames it into place only after the last statement committed and
//! `foreign_key_check` ran: a failure at any point leaves no target file.
//! A content-only restore changes a live file in one `BEGIN IMMEDIATE`
//! transaction with deferred foreign keys: it commits whole or not at all.

use super::content::{self, TableRows};
use super::item;
use crate::database;
use crate::dbclient::db_err;
use crate::error::{Error, Result};
use crate::repo::Repository;
use crate::row::Value;
use crate::schema::{quote_ident, ObjectKind, Phase, SchemaObject};
use crate::snapshot::Snapshot;
use crate::source::sqlite::{EXTRA_PRAGMA_PREFIX, HEADER_PRAGMAS};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params_from_iter, Connection, ToSql, Transaction};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A row value bound to a SQLite statement, borrowed.
pub(crate) struct Bind<'a>(pub &'a Value);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) | Value::Other(s) => ValueRef::Text(s.as_bytes()),
            Value::RawText(b) => ValueRef::Text(b),
            Value::Blob(b) => ValueRef::Blob(b),
            Value::Bool(b) => ValueRef::Integer(*b as i64),
            Value::Timestamp(t) | Value::LocalTimestamp(t) => ValueRef::Integer(*t),
            Value::Date(d) => ValueRef::Integer(*d as i64),
        }))
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DbRestoreSummary {
    pub tables: u64,
    pub rows: u64,
    /// Foreign-key violations found after loading (`table: n rows`); the
    /// source had them too, since rows are restored exactly.
    pub foreign_key_violations: Vec<String>,
}

fn insert_sql(t: &SchemaObject) -> String {
    insert_statement(&t.name, &t.value_columns())
}

/// `INSERT INTO "t" ("a", "b") VALUES (?1, ?2)`.
pub(crate) fn insert_statement(table: &str, columns: &[&str]) -> String {
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    format!(
        "INSERT INTO {} ({}) {}",
        quote_ident(table),
        cols.join(", "),
        values_marks(cols.len())
    )
}

/// `VALUES (?1, ?2, …)` for a row of `n` values.
fn values_marks(n: usize) -> String {
    let marks: Vec<String> = (1..=n).map(|i| format!("?{i}")).collect();
    format!("VALUES ({})", marks.join(", "))
}

/// A full restore writes a new database: refuse one that exists.
/// Whether the database at `target` holds exactly the snapshot's rows
/// (read again as a backup reads, each table's tree root compared with
/// the snapshot's: equal roots, equal rows): what a restore killed after it
/// renamed the database into place leaves. Its tables and rows if so.
pub fn restored_already(
    repo: &Repository,
    snap: &Snapshot,
    target: &Path,
) -> Result<Option<DbRestoreSummary>> {
    let Ok(mut src) = crate::source::sqlite::SqliteSource::open(target) else {
        return Ok(None);
    };
    let mut warnings = Vec::new();
    let Ok(cap) = crate::capture::digest(repo, &mut src, &mut warnings) else {
        return Ok(None);
    };
    let rows = |roots: &[(String, crate::tree::Root)]| -> Vec<(String, crate::tree::Root)> {
        let mut v: Vec<(String, crate::tree::Root)> = roots
            .iter()
            .filter(|(n, _)| n.starts_with(crate::schema::ROWS_ROOT_PREFIX))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let (want, got) = (rows(&snap.roots), rows(&cap.roots));
    if want.is_empty() || want != got {
        return Ok(None);
    }
    Ok(Some(DbRestoreSummary {
        tables: want.len() as u64,
        rows: want.iter().map(|(_, r)| r.count).sum(),
        foreign_key_violations: Vec::new(),
    }))
}

pub fn ensure_blank(target: &Path) -> Result<()> {
    if target.exists() {
        return Err(Error::refused(
            format!(
                "{} already exists; a full restore needs a blank target",
                target.display()
            ),
            crate::error::Hint::ContentOnly,
        ));
    }
    Ok(())
}

pub(crate) fn fk_violations(conn: &Connection, path: &Path) -> Result<Vec<String>> {
    let mut st = conn
        .prepare("SELECT \"table\", count(*) FROM pragma_foreign_key_check GROUP BY 1 ORDER BY 1")
        .map_err(|e| db_err(path, e))?;
    let v = st
        .query_map([], |r| {
            Ok(format!(
                "{}: {} rows",
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?
            ))
        })
        .map_err(|e| db_err(path, e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| db_err(path, e))?;
    Ok(v)
}

fn fk_violations_of(conn: &Connection, path: &Path, table: &str) -> Result<Vec<String>> {
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_foreign_key_check(?1)",
            [table],
            |r| r.get(0),
        )
        .map_err(|e| db_err(path, e))?;
    Ok(if n > 0 {
        vec![format!("{table}: {n} rows")]
    } else {
        Vec::new()
    })
}

fn partial_path(target: &Path) -> PathBuf {
    let mut p = target.as_os_str().to_owned();
    p.push(".jarc-partial");
    PathBuf::from(p)
}

/// Create `target` from the snapshot's schema and rows. Refuses an
/// existing target.
pub fn restore_full(repo: &Repository, snap: &Snapshot, target: &Path) -> Result<DbRestoreSummary> {
    build_full(repo, snap, target, None)?.commit()
}

/// Called by a build with the object keys its rows name (trimmed, sorted,
/// each once), as soon as every row is in and before the indexes are
/// built; an error stops the build. A site restore checks them against the
/// snapshot's media here, so the rows are decoded once, not once for the
/// check and again for the build.
pub(crate) type KeysCheck<'a> = &'a (dyn Fn(Vec<String>) -> Result<()> + Sync);

/// A database built beside its target, not yet renamed into place: a site
/// restore builds it while the media are written, and commits it after
/// them, so that committed rows never name an object not yet there.
pub(crate) struct Built {
    partial: PathBuf,
    target: PathBuf,
    summary: DbRestoreSummary,
}

impl Built {
    /// Rename the built file into place (durably: the file was synced).
    pub(crate) fn commit(self) -> Result<DbRestoreSummary> {
        crate::failpoint::hit("before-database-rename");
        if let Err(e) = std::fs::rename(&self.partial, &self.target) {
            discard(&self.partial);
            return Err(Error::io(&self.target, e));
        }
        if let Some(dir) = self.target.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Best effort: the file is complete either way; a lost rename
            // leaves no target, which a rerun fills.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(self.summary)
    }

    /// Remove the built file (the restore failed elsewhere).
    pub(crate) fn discard(self) {
        discard(&self.partial);
    }
}

fn discard(partial: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = partial.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Build `target`'s database under its partial name. A failure leaves no
/// file behind.
pub(crate) fn build_full(
    repo: &Repository,
    snap: &Snapshot,
    target: &Path,
    check: Option<KeysCheck>,
) -> Result<Built> {
    ensure_blank(target)?;
    let schema = database::schema(repo, snap)?;
    let partial = partial_path(target);
    let _ = std::fs::remove_file(&partial);
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        // A site restore builds the file while the media restore may still
        // be making the data directory.
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let result = (|| {
        let conn = Connection::open(&partial).map_err(|e| db_err(&partial, e))?;
        // A file nobody else opens until it is complete, and that is
        // thrown away on any failure, needs no rollback journal and no
        // sync per transaction: it is synced once, before the rename.
        conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
            .map_err(|e| db_err(&partial, e))?;
        // Indexes built beside the rows run on threads of this scope
        // (`fts`); their files are attached before the load's transaction.
        let s = std::thread::scope(|scope| {
            let mut side = super::fts::SideIndexes::start(scope, &schema, &conn, &partial)?;
            let s = load_rows(repo, snap, &schema, &conn, &partial, check, &mut side)?;
            side.close(&conn)?;
            Ok::<_, Error>(s)
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| db_err(&partial, e))?;
        conn.close().map_err(|(_, e)| db_err(&partial, e))?;
        let t = std::time::Instant::now();
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&partial, e))?;
        tracing::info!(sync_ms = t.elapsed().as_millis() as u64, "database built");
        Ok(s)
    })();
    match result {
        Ok(summary) => Ok(Built {
            partial,
            target: target.to_path_buf(),
            summary,
        }),
        Err(e) => {
            discard(&partial);
            Err(e)
        }
    }
}

fn load_rows(
    repo: &Repository,
    snap: &Snapshot,
    schema: &[SchemaObject],
    conn: &Connection,
    path: &Path,
    check: Option<KeysCheck>,
    side: &mut super::fts::SideIndexes,
) -> Result<DbRestoreSummary> {
    let exec = |sql: &str| {
        conn.execute_batch(sql).map_err(|e| Error::Database {
            source_name: format!("sqlite {}", path.display()),
            message: format!("{e} (while running: {})", first_line(sql)),
        })
    };
    exec("PRAGMA foreign_keys = OFF; BEGIN")?;
    run_phase(schema, Phase::Setup, &exec)?;
    run_phase(schema, Phase::Create, &exec)?;
    let mut summary = DbRestoreSummary::default();
    let mut keys = std::collections::BTreeSet::new();
    // sqlite_sequence last, replacing what AUTOINCREMENT inserts just
    // wrote there, so each table's counter is the captured one.
    let tables = schema
        .iter()
        .filter(|t| t.kind == ObjectKind::Table && t.name != "sqlite_sequence")
        .chain(schema.iter().filter(|t| t.name == "sqlite_sequence"));
    for t in tables {
        if t.name == "sqlite_sequence" {
            exec("DELETE FROM sqlite_sequence")?;
        }
        let mut st = conn.prepare(&insert_sql(t)).map_err(|e| db_err(path, e))?;
        let key_cols = check
            .map(|_| crate::jant::tables::KeyColumns::of(&t.name, |c| t.column_index(c)))
            .filter(|c| !c.is_empty());
        let feeds = side.feeds(&t.name);
        for r in database::rows(repo, snap, t) {
            let r = r?;
            st.execute(params_from_iter(r.iter().map(Bind)))
                .map_err(|e| row_err(path, t, e))?;
            if feeds {
                side.row(&t.name, conn.last_insert_rowid(), &r)?;
            }
            if let Some(cols) = &key_cols {
                cols.collect(&r, &mut keys);
            }
            summary.rows += 1;
        }
        summary.tables += 1;
        tracing::debug!(table = %t.name, rows_so_far = summary.rows, "table written");
    }
    tracing::info!(
        tables = summary.tables,
        rows = summary.rows,
        "rows written; indexes and triggers next"
    );
    if let Some(check) = check {
        check(keys.into_iter().collect())?;
    }
    for phase in Phase::AFTER_ROWS {
        let t = std::time::Instant::now();
        if phase == Phase::Virtual {
            run_virtual(schema, &exec, conn, side)?;
        } else {
            run_phase(schema, phase, &exec)?;
        }
        tracing::debug!(?phase, ms = t.elapsed().as_millis() as u64, "phase done");
    }
    for pragma in HEADER_PRAGMAS {
        let key = format!("{EXTRA_PRAGMA_PREFIX}{pragma}");
        if let Some(v) = database::extra(snap, &key) {
            let v: i64 = v.parse().map_err(|_| {
                Error::corrupt(
                    format!("snapshot extra {key}"),
                    format!("{v:?} is not an integer"),
                )
            })?;
            exec(&format!("PRAGMA {pragma} = {v}"))?;
        }
    }
    let t = std::time::Instant::now();
    exec("COMMIT")?;
    summary.foreign_key_violations = fk_violations(conn, path)?;
    tracing::debug!(
        ms = t.elapsed().as_millis() as u64,
        "committed, foreign keys checked"
    );
    Ok(summary)
}

fn first_line(sql: &str) -> String {
    let l = sql.lines().next().unwrap_or_default();
    l.chars().take(80).collect()
}

fn row_err(path: &Path, t: &SchemaObject, e: rusqlite::Error) -> Error {
    Error::Database {
        source_name: format!("sqlite {}", path.display()),
        message: format!("inserting into {}: {e}", t.name),
    }
}

/// The virtual-table phase. An external-content FTS5 index built beside
/// the rows (`fts`) is created and filled from its side file; one that
/// was not is rebuilt from its content table, through the same larger term
/// buffer (`fts::build_hash_statements`).
fn run_virtual(
    schema: &[SchemaObject],
    exec: &dyn Fn(&str) -> Result<()>,
    conn: &Connection,
    side: &mut super::fts::SideIndexes,
) -> Result<()> {
    for o in schema {
        let fts5 = o.statements.iter().any(|(p, sql)| {
            *p == Phase::Virtual && sql.to_ascii_lowercase().contains("using fts5")
        });
        let rebuild = crate::source::sqlite::fts_rebuild_statement(&o.name);
        let beside = side.builds(&o.name);
        for (p, sql) in &o.statements {
            if *p != Phase::Virtual {
                continue;
            }
            if *sql == rebuild && beside {
                side.finish(&o.name, conn)?;
                continue;
            }
            let tuned =
                (fts5 && *sql == rebuild).then(|| super::fts::build_hash_statements(&o.name));
            if let Some((tune, _)) = &tuned {
                exec(tune)?;
            }
            exec(sql)?;
            if let Some((_, untune)) = &tuned {
                exec(untune)?;
            }
        }
    }
    Ok(())
}

fn run_phase(
    schema: &[SchemaObject],
    phase: Phase,
    exec: &dyn Fn(&str) -> Result<()>,
) -> Result<()> {
    for o in schema {
        for (p, sql) in &o.statements {
            if *p == phase {
                exec(sql)?;
            }
        }
    }
    Ok(())
}

/// Rewrite one site's content tables and allow-listed settings in a live
/// database, in one transaction, as the target's `site` (chosen by
/// `content::target_site`; the rows are remapped to it). Auth tables are
/// never named.
pub fn restore_content(
    repo: &Repository,
    snap: &Snapshot,
    target: &Path,
    provider: &str,
    site: &str,
) -> Result<DbRestoreSummary> {
    let from = content::site_id(snap)?;
    let mut selected = content::select(repo, snap, &from)?;
    content::remap_site(&mut selected, &from, site);
    let mut conn = open_live(target)?;
    let tx = begin_deferred(&mut conn, target)?;
    for sql in content::clear_statements(|t| table_exists(&tx, target, t), "?1")? {
        tx.execute(&sql, [&site]).map_err(|e| db_err(target, e))?;
    }
    let mut summary = DbRestoreSummary::default();
    for (i, TableRows { table, rows }) in selected.iter().enumerate() {
        if i == 2 {
            crate::failpoint::fail("content-restore-midway")?;
        }
        summary.rows += insert_rows(&tx, target, &insert_sql(table), table, rows)?;
        summary.tables += 1;
    }
    if table_exists(&tx, target, "media")? {
        tx.execute(
            "UPDATE media SET provider = ?1 WHERE site_id = ?2",
            [provider, site],
        )
        .map_err(|e| db_err(target, e))?;
    }
    commit_checked(
        tx,
        target,
        selected.iter().map(|t| t.table.name.as_str()),
        "the restored content violates",
    )?;
    Ok(summary)
}

/// A live Jant database, opened as Jant opens it: cascades fire, and a
/// busy writer is waited for.
fn open_live(target: &Path) -> Result<Connection> {
    let conn = Connection::open(target).map_err(|e| db_err(target, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| db_err(target, e))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| db_err(target, e))?;
    Ok(conn)
}

/// A write transaction whose foreign-key checks wait for
/// `commit_checked`. Dropping it on an error path rolls everything back.
fn begin_deferred<'c>(conn: &'c mut Connection, target: &Path) -> Result<Transaction<'c>> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| db_err(target, e))?;
    tx.execute_batch("PRAGMA defer_foreign_keys = ON")
        .map_err(|e| db_err(target, e))?;
    Ok(tx)
}

/// Every row of `rows` through the statement `sql`; how many.
fn insert_rows(
    tx: &Transaction,
    target: &Path,
    sql: &str,
    table: &SchemaObject,
    rows: &[Vec<Value>],
) -> Result<u64> {
    let mut st = tx.prepare(sql).map_err(|e| db_err(target, e))?;
    for r in rows {
        st.execute(params_from_iter(r.iter().map(Bind)))
            .map_err(|e| row_err(target, table, e))?;
    }
    Ok(rows.len() as u64)
}

/// Commit, unless the rows written into `tables` violate foreign keys:
/// then nothing is changed, and the error says so (`what` violates…).
fn commit_checked<'t>(
    tx: Transaction,
    target: &Path,
    tables: impl Iterator<Item = &'t str>,
    what: &str,
) -> Result<()> {
    let mut v = Vec::new();
    for t in tables {
        v.extend(fk_violations_of(&tx, target, t)?);
    }
    if !v.is_empty() {
        return Err(Error::Database {
            source_name: format!("sqlite {}", target.display()),
            message: format!(
                "{what} foreign keys ({}); nothing was changed",
                v.join(", ")
            ),
        });
    }
    tx.commit().map_err(|e| db_err(target, e))
}

/// Write the rows of restored items into a live database, beside what is
/// there (`item::upsert_sql`), in one transaction: first fitted to it
/// (`item::settle`), then checked against its foreign keys. Rows written,
/// by table.
pub fn upsert_items(
    target: &Path,
    picked: &mut item::Picked,
    provider: &str,
) -> Result<std::collections::BTreeMap<String, u64>> {
    let mut conn = open_live(target)?;
    let tx = begin_deferred(&mut conn, target)?;
    // Which tables the target has, asked once each.
    let mut tables: HashMap<String, bool> = HashMap::new();
    let mut present = |table: &str, id: &str| -> Result<bool> {
        let exists = match tables.get(table) {
            Some(&e) => e,
            None => {
                let e = table_exists(&tx, target, table)?;
                tables.insert(table.to_string(), e);
                e
            }
        };
        if !exists {
            return Ok(false);
        }
        tx.query_row(
            &format!("SELECT count(*) FROM {} WHERE id = ?1", quote_ident(table)),
            [id],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| db_err(target, e))
    };
    item::settle(picked, provider, &mut present)?;
    let mut written = std::collections::BTreeMap::new();
    for TableRows { table, rows } in &picked.tables {
        let sql = item::upsert_sql(table, &values_marks(table.value_columns().len()));
        written.insert(
            table.name.clone(),
            insert_rows(&tx, target, &sql, table, rows)?,
        );
    }
    commit_checked(
        tx,
        target,
        picked.tables.iter().map(|t| t.table.name.as_str()),
        "the restored rows violate",
    )?;
    Ok(written)
}

fn table_exists(conn: &Connection, path: &Path, t: &str) -> Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [t],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| db_err(path, e))
}

/// The ids of the sites a live Jant database holds.
pub fn site_ids(path: &Path) -> Result<Vec<String>> {
    if !path.is_file() {
        return Err(Error::Invalid(format!(
            "{} does not exist; a content-only restore writes into an existing Jant database",
            path.display()
        )));
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| db_err(path, e))?;
    if !table_exists(&conn, path, "site")? {
        return Err(Error::Invalid(format!(
            "{} has no site table; is it a Jant database?",
            path.display()
        )));
    }
    let mut st = conn
        .prepare("SELECT id FROM site ORDER BY id")
        .map_err(|e| db_err(path, e))?;
    let ids = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| db_err(path, e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| db_err(path, e))?;
    Ok(ids)
}
