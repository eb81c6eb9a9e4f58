//! External-content FTS5 indexes built beside a restored SQLite database.
//!
//! An external-content index (`content='post'`) holds no text of its own,
//! only the index of its content table's text; a backup captures the
//! content table and a full restore makes the index again. Made with FTS5's
//! `rebuild` after every row is in, it was the longest step of a site
//! restore: 2.0–2.7 s of one core for 35,000 posts, while the media restore
//! beside it was done and the other core idle (issue 18).
//!
//! Instead, each such index is built in a database file of its own
//! (`<partial>-fts<i>`) by a thread of its own, fed every content row as
//! the restore inserts it, with the row's new rowid: what `rebuild` would
//! read back from the content table. Where the rebuild ran, the restore
//! creates the index (FTS5 makes its empty shadow tables) and copies the
//! side file's shadow tables over them. The index holds the same terms for
//! the same rowids; how they are split into segments may differ, as it
//! differs between any two builds of one table (tests/sqlite_exact compares
//! indexes by what they match, and runs FTS5's integrity check).
//!
//! An index this cannot follow exactly (its content table is not among the
//! restored ones, or lacks one of its columns, or its rowid comes from
//! something other than the content row's rowid or one of its columns) is
//! rebuilt the old way.

use crate::dbclient::db_err;
use crate::error::{Error, Result};
use crate::restore::sqlite::Bind;
use crate::row::Value;
use crate::schema::{quote_ident, ObjectKind, Phase, SchemaObject};
use crate::source::sqlite::{fts_option, fts_rebuild_statement, virtual_module, FTS5_SHADOWS};
use rusqlite::{params_from_iter, Connection};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};

/// FTS5's in-memory term buffer while an index is built. Its default
/// (1 MiB) flushes a segment per megabyte of terms, and merging those
/// segments was a third of a 35,000-post database's restore (perf,
/// issue 18).
const FTS5_BUILD_HASH: u32 = 32 << 20;

/// The statements that set FTS5 index `name`'s larger term buffer for a
/// build, and that take the setting out of its `_config` table afterwards,
/// so the file holds the defaults, as the source's index did.
pub(super) fn build_hash_statements(name: &str) -> (String, String) {
    let q = quote_ident(name);
    (
        format!("INSERT INTO {q}({q}, rank) VALUES('hashsize', {FTS5_BUILD_HASH})"),
        format!(
            "DELETE FROM {} WHERE k = 'hashsize'",
            quote_ident(&format!("{name}_config"))
        ),
    )
}

/// Content rows handed to an index's thread at a time (a batch closes at
/// this many rows or bytes of values), and batches that may wait for it:
/// at most 16 MiB of text in flight. The restore's other work overlaps
/// the index's only if it is not held back: a queue of 4,096 short rows
/// made it wait; 16 MiB lets the datapath site's 35,000 posts through
/// (restore 4.00-4.34 -> 3.77-4.17 s, issue 18).
const BATCH_ROWS: usize = 512;
const BATCH_BYTES: usize = 1 << 20;
const BATCHES_QUEUED: usize = 16;

/// One external-content FTS5 index and where its values come from.
struct Plan {
    /// The FTS table.
    name: String,
    /// Its `CREATE VIRTUAL TABLE` statement.
    create: String,
    /// The table it indexes.
    content: String,
    /// The index's columns, and their positions in the content table's
    /// row values.
    column_names: Vec<String>,
    columns: Vec<usize>,
    /// The content row's value that is the index's rowid; `None`: the
    /// row's own rowid, as the restore inserted it.
    rowid_column: Option<usize>,
}

/// The rowid names SQLite accepts for a rowid table.
fn is_rowid_name(c: &str) -> bool {
    ["rowid", "oid", "_rowid_"]
        .iter()
        .any(|r| r.eq_ignore_ascii_case(c))
}

/// The index's columns, as FTS5 itself parses its declaration (an
/// in-memory table: FTS5 does not look at the content table on `CREATE`).
fn fts5_columns(name: &str, create: &str) -> Option<Vec<String>> {
    let probe = Connection::open_in_memory().ok()?;
    probe.execute_batch(create).ok()?;
    let mut st = probe
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
        .ok()?;
    let cols = st
        .query_map([name], |r| r.get::<_, String>(0))
        .ok()?
        .collect::<std::result::Result<Vec<_>, _>>()
        .ok()?;
    Some(cols)
}

fn plan(o: &SchemaObject, schema: &[SchemaObject]) -> Option<Plan> {
    if o.kind != ObjectKind::Derived {
        return None;
    }
    let virt: Vec<&str> = o
        .statements
        .iter()
        .filter(|(p, _)| *p == Phase::Virtual)
        .map(|(_, s)| s.as_str())
        .collect();
    let [create, rebuild] = virt[..] else {
        return None;
    };
    if rebuild != fts_rebuild_statement(&o.name) {
        return None;
    }
    let (module, args) = virtual_module(create)?;
    if module != "fts5" {
        return None;
    }
    let content = fts_option(&args, "content").filter(|c| !c.is_empty())?;
    let table = schema
        .iter()
        .find(|t| t.kind == ObjectKind::Table && t.name.eq_ignore_ascii_case(&content))?;
    let column_names = fts5_columns(&o.name, create)?;
    let columns = column_names
        .iter()
        .map(|c| table.column_index(c))
        .collect::<Option<Vec<usize>>>()?;
    let rowid_column = match fts_option(&args, "content_rowid") {
        None => None,
        Some(c) if is_rowid_name(&c) => None,
        Some(c) => Some(table.column_index(&c)?),
    };
    // A table without rowids has none to hand on (a rebuild of such an
    // index fails as it did in the source).
    let without_rowid = table
        .statements
        .iter()
        .any(|(_, sql)| sql.to_ascii_uppercase().contains("WITHOUT ROWID"));
    if rowid_column.is_none() && without_rowid {
        return None;
    }
    Some(Plan {
        name: o.name.clone(),
        create: create.to_string(),
        content: table.name.clone(),
        column_names,
        columns,
        rowid_column,
    })
}

/// Rows for an index's thread: (rowid, the index's column values). An
/// empty batch closes the rows: without it the thread stops unfinished.
type Batch = Vec<(i64, Vec<Value>)>;

struct Building<'scope> {
    plan: Plan,
    /// Schema name the side file is attached under.
    alias: String,
    path: PathBuf,
    batch: Batch,
    /// Bytes of values in `batch`.
    batch_bytes: usize,
    rows: Option<SyncSender<Batch>>,
    worker: Option<ScopedJoinHandle<'scope, Result<()>>>,
}

/// The indexes being built beside one restore.
pub(super) struct SideIndexes<'scope> {
    building: Vec<Building<'scope>>,
    /// The restored file, for errors.
    db: PathBuf,
}

impl<'scope> SideIndexes<'scope> {
    /// Start a thread for each external-content FTS5 index of `schema`,
    /// and attach its file to `conn` (outside any transaction: SQLite
    /// attaches only there).
    pub(super) fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        schema: &[SchemaObject],
        conn: &Connection,
        db: &Path,
    ) -> Result<SideIndexes<'scope>> {
        let mut side = SideIndexes {
            building: Vec::new(),
            db: db.to_path_buf(),
        };
        for plan in schema.iter().filter_map(|o| plan(o, schema)) {
            let i = side.building.len();
            let mut p = db.as_os_str().to_owned();
            p.push(format!("-fts{i}"));
            let path = PathBuf::from(p);
            // SQLite takes the file's name as text: a target whose path is
            // not UTF-8 has its indexes rebuilt the old way.
            let Some(text) = path.to_str() else {
                break;
            };
            remove(&path);
            let alias = format!("jarc_fts{i}");
            conn.execute(&format!("ATTACH DATABASE ?1 AS {alias}"), [text])
                .map_err(|e| db_err(db, e))?;
            let (tx, rx) = sync_channel(BATCHES_QUEUED);
            let (name, create, cols, worker_path) = (
                plan.name.clone(),
                plan.create.clone(),
                plan.column_names.clone(),
                path.clone(),
            );
            let worker = scope.spawn(move || build(&worker_path, &name, &create, &cols, rx));
            side.building.push(Building {
                plan,
                alias,
                path,
                batch: Vec::with_capacity(BATCH_ROWS),
                batch_bytes: 0,
                rows: Some(tx),
                worker: Some(worker),
            });
        }
        Ok(side)
    }

    /// Whether rows of `table` feed an index.
    pub(super) fn feeds(&self, table: &str) -> bool {
        self.building.iter().any(|b| b.plan.content == table)
    }

    /// A row of `table` was inserted as `rowid`.
    pub(super) fn row(&mut self, table: &str, rowid: i64, row: &[Value]) -> Result<()> {
        for b in self
            .building
            .iter_mut()
            .filter(|b| b.plan.content == table && b.worker.is_some())
        {
            let id = match b.plan.rowid_column {
                None => rowid,
                Some(c) => match row.get(c) {
                    Some(Value::Integer(i)) => *i,
                    // What FTS5 makes of another value is its own affair:
                    // this index is rebuilt from the table after all.
                    _ => {
                        b.rows = None;
                        if let Some(w) = b.worker.take() {
                            let _ = w.join();
                        }
                        continue;
                    }
                },
            };
            let values: Vec<Value> = b
                .plan
                .columns
                .iter()
                .map(|&c| row.get(c).cloned().unwrap_or(Value::Null))
                .collect();
            b.batch_bytes += values.iter().map(value_bytes).sum::<usize>();
            b.batch.push((id, values));
            if b.batch.len() >= BATCH_ROWS || b.batch_bytes >= BATCH_BYTES {
                send(b)?;
            }
        }
        Ok(())
    }

    /// Whether `name` is an index built here (its `rebuild` is replaced by
    /// [`SideIndexes::finish`]).
    pub(super) fn builds(&self, name: &str) -> bool {
        self.building
            .iter()
            .any(|b| b.plan.name == name && b.worker.is_some())
    }

    /// Wait for `name`'s thread, then copy its shadow tables over the ones
    /// its `CREATE VIRTUAL TABLE`, just run on `conn`, made empty.
    pub(super) fn finish(&mut self, name: &str, conn: &Connection) -> Result<()> {
        let db = self.db.clone();
        let Some(b) = self
            .building
            .iter_mut()
            .find(|b| b.plan.name == name && b.worker.is_some())
        else {
            return Ok(());
        };
        send(b)?;
        // The closing empty batch: every row was sent.
        if let Some(tx) = b.rows.take() {
            let _ = tx.send(Vec::new());
        }
        match b.worker.take().map(|w| w.join()) {
            Some(Ok(r)) => r?,
            _ => {
                return Err(Error::Invalid(format!(
                    "building the full-text index {name} panicked"
                )))
            }
        }
        // The shadow tables FTS5 made in the side file (an external-content
        // index has no `_content`).
        let mut shadows = Vec::new();
        for suffix in FTS5_SHADOWS {
            let s = format!("{name}_{suffix}");
            let there: i64 = conn
                .query_row(
                    &format!(
                        "SELECT count(*) FROM {}.sqlite_master WHERE type = 'table' AND name = ?1",
                        b.alias
                    ),
                    [&s],
                    |r| r.get(0),
                )
                .map_err(|e| db_err(&db, e))?;
            if there > 0 {
                shadows.push(s);
            }
        }
        tracing::debug!(
            index = name,
            shadow_tables = shadows.len(),
            "full-text index built beside the rows; copying it in"
        );
        for s in shadows {
            let q = quote_ident(&s);
            conn.execute_batch(&format!(
                "DELETE FROM main.{q}; INSERT INTO main.{q} SELECT * FROM {}.{q}",
                b.alias
            ))
            .map_err(|e| Error::Database {
                source_name: format!("sqlite {}", db.display()),
                message: format!("copying the full-text index {name} ({s}): {e}"),
            })?;
        }
        Ok(())
    }

    /// Detach the side files (after the transaction) and remove them.
    pub(super) fn close(self, conn: &Connection) -> Result<()> {
        for b in &self.building {
            conn.execute_batch(&format!("DETACH DATABASE {}", b.alias))
                .map_err(|e| db_err(&self.db, e))?;
        }
        // Dropping removes the files (`Drop`).
        Ok(())
    }
}

impl Drop for SideIndexes<'_> {
    /// On any failure the side files go too: each thread is told to stop
    /// (its rows end without the closing empty batch) and waited for
    /// first, so that none is still making its file when it is removed.
    fn drop(&mut self) {
        for b in &mut self.building {
            b.rows = None;
            if let Some(w) = b.worker.take() {
                let _ = w.join();
            }
            remove(&b.path);
        }
    }
}

fn send(b: &mut Building) -> Result<()> {
    if b.batch.is_empty() {
        return Ok(());
    }
    let batch = std::mem::replace(&mut b.batch, Vec::with_capacity(BATCH_ROWS));
    b.batch_bytes = 0;
    match &b.rows {
        Some(tx) if tx.send(batch).is_ok() => Ok(()),
        // The thread stopped: it failed, and says why when joined.
        _ => match b.worker.take().map(|w| w.join()) {
            Some(Ok(Err(e))) => Err(e),
            _ => Err(Error::Invalid(format!(
                "building the full-text index {} stopped",
                b.plan.name
            ))),
        },
    }
}

/// Roughly what a value holds on the heap.
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Text(s) | Value::Other(s) => s.len(),
        Value::RawText(b) | Value::Blob(b) => b.len(),
        _ => 0,
    }
}

fn remove(path: &Path) {
    for suffix in ["", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// The thread: the index in a file of its own, from the rows it is sent.
fn build(
    path: &Path,
    name: &str,
    create: &str,
    columns: &[String],
    rows: Receiver<Batch>,
) -> Result<()> {
    let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
    let q = quote_ident(name);
    let (tune, untune) = build_hash_statements(name);
    // Thrown away after the copy: no journal, no sync.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; {create}; {tune}; BEGIN"
    ))
    .map_err(|e| db_err(path, e))?;
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let marks: Vec<String> = (1..=cols.len() + 1).map(|i| format!("?{i}")).collect();
    let mut insert = conn
        .prepare(&format!(
            "INSERT INTO {q}(rowid, {}) VALUES ({})",
            cols.join(", "),
            marks.join(", ")
        ))
        .map_err(|e| db_err(path, e))?;
    let mut complete = false;
    for batch in rows {
        if batch.is_empty() {
            complete = true;
            break;
        }
        for (rowid, values) in batch {
            let id = Value::Integer(rowid);
            insert
                .execute(params_from_iter(
                    std::iter::once(&id).chain(values.iter()).map(Bind),
                ))
                .map_err(|e| Error::Database {
                    source_name: format!("sqlite {}", path.display()),
                    message: format!("building the full-text index {name}: {e}"),
                })?;
        }
    }
    drop(insert);
    if !complete {
        // The restore failed and takes the file away: nothing to finish.
        return Ok(());
    }
    conn.execute_batch(&format!("COMMIT; {untune}"))
        .map_err(|e| db_err(path, e))?;
    conn.close().map_err(|(_, e)| db_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::DatabaseSource;

    /// Which captured indexes are built beside the rows, and from where.
    #[test]
    fn plans_follow_what_rebuild_would_read() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.sqlite");
        let c = Connection::open(&db).unwrap();
        c.execute_batch(
            "CREATE TABLE post (id TEXT PRIMARY KEY, title TEXT, body_text TEXT);
             CREATE VIRTUAL TABLE post_fts USING fts5(title, body_text, content='post', content_rowid='rowid', tokenize='trigram');
             CREATE TABLE doc (id INTEGER PRIMARY KEY, \"the title\" TEXT, note TEXT);
             CREATE VIRTUAL TABLE doc_fts USING fts5(\"the title\", note UNINDEXED, content=doc, content_rowid='id');
             CREATE TABLE gen (id TEXT PRIMARY KEY, a TEXT, b TEXT GENERATED ALWAYS AS (upper(a)));
             CREATE VIRTUAL TABLE gen_fts USING fts5(a, b, content=gen);
             CREATE VIRTUAL TABLE gone_fts USING fts5(x, content=nowhere);
             CREATE TABLE kv (k TEXT PRIMARY KEY, x TEXT) WITHOUT ROWID;
             CREATE VIRTUAL TABLE kv_fts USING fts5(x, content=kv);
             CREATE VIRTUAL TABLE own USING fts5(x);
             CREATE VIRTUAL TABLE old USING fts4(x, content=post);",
        )
        .unwrap();
        drop(c);
        let mut src = crate::source::sqlite::SqliteSource::open(&db).unwrap();
        let schema = src.begin(&mut Vec::new()).unwrap();
        let planned: Vec<(String, String, Vec<usize>, Option<usize>)> = schema
            .iter()
            .filter_map(|o| plan(o, &schema))
            .map(|p| (p.name, p.content, p.columns, p.rowid_column))
            .collect();
        assert_eq!(
            planned,
            vec![
                ("doc_fts".into(), "doc".into(), vec![1, 2], Some(0)),
                ("post_fts".into(), "post".into(), vec![1, 2], None),
            ],
            "a generated column (not captured), a missing content table, a \
             table without rowids, an index with its own text and FTS4 are \
             rebuilt as before"
        );
    }
}
