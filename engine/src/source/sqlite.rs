//! A live SQLite database as a source: the schema from `sqlite_master` and
//! every table's rows, all read inside one read transaction.
//!
//! Why this is a consistent copy while Jant keeps writing: Jant runs SQLite
//! in WAL mode, where a read transaction sees the database as of its first
//! read and writers append to the WAL without disturbing it (they cannot
//! checkpoint past a reader's mark). `begin` reads `sqlite_master` inside
//! `BEGIN`, which pins that point; every later query sees the same state.
//! The file's bytes are never copied, so a torn page cannot be captured.

use super::{DatabaseSource, RowSink};
use crate::dbclient::db_err;
use crate::error::{Error, Result};
use crate::jant::tables;
use crate::row::{Value, ROW_FORMAT};
use crate::schema::{quote_ident, Column, ObjectKind, Phase, RowKey, SchemaObject};
use crate::snapshot::SourceInfo;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

pub struct SqliteSource {
    path: PathBuf,
    conn: Connection,
    /// `PRAGMA user_version` and `application_id`, read in `begin`.
    header: Vec<(String, String)>,
}

/// The database-header values an application sets with a PRAGMA (a
/// migration counter, a file-type tag), recorded as snapshot `extra` under
/// `db.sqlite.<pragma>` when not 0 and set again by a full restore.
pub const HEADER_PRAGMAS: [&str; 2] = ["user_version", "application_id"];
pub const EXTRA_PRAGMA_PREFIX: &str = "db.sqlite.";

/// The suffixes of an FTS5 table's shadow tables (`<name>_data`, …).
pub(crate) const FTS5_SHADOWS: [&str; 5] = ["data", "idx", "content", "docsize", "config"];
const FTS34_SHADOWS: [&str; 5] = ["content", "segments", "segdir", "docsize", "stat"];

impl SqliteSource {
    pub fn open(path: &Path) -> Result<SqliteSource> {
        if !path.is_file() {
            return Err(Error::SourceMissing(path.to_path_buf()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| db_err(path, e))?;
        // A writer holding the lock briefly (a checkpoint) is waited for.
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| db_err(path, e))?;
        Ok(SqliteSource {
            path: path.to_path_buf(),
            conn,
            header: Vec::new(),
        })
    }

    fn err(&self, e: rusqlite::Error) -> Error {
        db_err(&self.path, e)
    }
}

/// The module and arguments of `CREATE VIRTUAL TABLE x USING module(args)`.
pub(crate) fn virtual_module(sql: &str) -> Option<(String, String)> {
    let upper = sql.to_ascii_uppercase();
    let at = upper.find(" USING ")?;
    let rest = sql[at + 7..].trim_start();
    let name_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let module = rest[..name_end].to_ascii_lowercase();
    let args = rest[name_end..].trim();
    let args = args
        .strip_prefix('(')
        .and_then(|a| a.strip_suffix(')'))
        .unwrap_or(args);
    Some((module, args.to_string()))
}

/// The value of an FTS `content=` option, if given.
fn fts_content_option(args: &str) -> Option<String> {
    fts_option(args, "content")
}

/// The value of the FTS option `key` (`key=value`, the value unquoted),
/// if given.
pub(crate) fn fts_option(args: &str, key: &str) -> Option<String> {
    for part in args.split(',') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case(key) {
            let v = v.trim();
            let unq = v
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| v.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
                .unwrap_or(v);
            return Some(unq.to_string());
        }
    }
    None
}

/// The statement that fills an external-content FTS index from its
/// content table, as a capture records it after the `CREATE`.
pub(crate) fn fts_rebuild_statement(name: &str) -> String {
    let q = quote_ident(name);
    format!("INSERT INTO {q}({q}) VALUES('rebuild')")
}

/// Whether an FTS table keeps no text of its own (`content=''`): its
/// shadow tables are all there is of it.
fn fts_contentless(module: &str, args: &str) -> bool {
    matches!(module, "fts3" | "fts4" | "fts5")
        && fts_content_option(args).is_some_and(|c| c.is_empty())
}

/// Statements that enter a virtual table into the schema without running
/// its module (whose shadow tables are restored as ordinary tables).
fn register_virtual(name: &str, sql: &str) -> String {
    let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
    format!(
        "PRAGMA writable_schema = ON; INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) VALUES ('table', {n}, {n}, 0, {}); PRAGMA writable_schema = RESET",
        lit(sql),
        n = lit(name)
    )
}

impl DatabaseSource for SqliteSource {
    fn info(&self) -> SourceInfo {
        SourceInfo::sqlite(&self.path)
    }

    fn dialect(&self) -> &'static str {
        "sqlite"
    }

    fn begin(&mut self, warnings: &mut Vec<String>) -> Result<Vec<SchemaObject>> {
        self.conn.execute_batch("BEGIN").map_err(|e| self.err(e))?;
        // A capture reads nearly every page, but SQLite asks for them one
        // at a time, in b-tree order: cold, the datapath site's 221 MiB
        // database took 1.56 s to capture, and 0.88 s once the file was
        // being read ahead in one sequential sweep (issue 18).
        for suffix in ["", "-wal"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            super::dir::read_ahead_listed(Path::new(&p), 0, None);
        }
        self.header.clear();
        for pragma in HEADER_PRAGMAS {
            let v: i64 = self
                .conn
                .query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            if v != 0 {
                self.header
                    .push((format!("{EXTRA_PRAGMA_PREFIX}{pragma}"), v.to_string()));
            }
        }
        let master: Vec<(String, String, String, Option<String>)> = {
            let mut st = self
                .conn
                .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")
                .map_err(|e| self.err(e))?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .map_err(|e| self.err(e))?;
            rows.collect::<std::result::Result<_, _>>()
                .map_err(|e| self.err(e))?
        };

        // Shadow tables of FTS indexes that CREATE VIRTUAL TABLE makes
        // again (external-content indexes, rebuilt from their table, and
        // full-text tables read through themselves) are neither captured
        // nor recreated. Every other virtual table keeps its shadow tables
        // as ordinary tables (see `table_object`).
        let mut shadows = HashSet::new();
        for (ty, name, _, sql) in &master {
            if ty != "table" {
                continue;
            }
            if let Some((module, args)) = sql.as_deref().and_then(virtual_module) {
                let list: &[&str] = match module.as_str() {
                    _ if fts_contentless(&module, &args) => &[],
                    "fts5" => &FTS5_SHADOWS,
                    "fts3" | "fts4" => &FTS34_SHADOWS,
                    _ => &[],
                };
                shadows.extend(list.iter().map(|s| format!("{name}_{s}")));
            }
        }

        let mut objects: BTreeMap<String, SchemaObject> = BTreeMap::new();
        for (order, (ty, name, tbl, sql)) in master.iter().enumerate() {
            let order = order as u32;
            if shadows.contains(tbl) {
                continue;
            }
            let Some(sql) = sql.clone() else {
                // Automatic indexes (for UNIQUE / PRIMARY KEY) have no SQL;
                // the table's own statement recreates them.
                continue;
            };
            match ty.as_str() {
                "table" if name.starts_with("sqlite_stat") => continue,
                "table" => {
                    let obj = self.table_object(name, &sql, order)?;
                    objects.insert(name.clone(), obj);
                }
                "view" => {
                    objects.insert(
                        name.clone(),
                        SchemaObject::without_rows(
                            name,
                            ObjectKind::View,
                            tables::layer(name),
                            vec![(Phase::View, sql)],
                            order,
                        ),
                    );
                }
                "index" | "trigger" => {
                    let phase = if ty == "index" {
                        Phase::Index
                    } else {
                        Phase::Trigger
                    };
                    match objects.get_mut(tbl) {
                        Some(t) => t.statements.push((phase, sql)),
                        None => warnings.push(format!(
                            "{ty} {name} belongs to {tbl}, which is not captured; skipped"
                        )),
                    }
                }
                _ => {}
            }
        }
        Ok(objects.into_values().collect())
    }

    fn rows(&mut self, t: &SchemaObject, sink: &mut dyn RowSink) -> Result<()> {
        let mut cols: Vec<String> = Vec::new();
        if t.key == RowKey::RowId {
            cols.push("rowid".into());
        }
        cols.extend(t.columns.iter().map(|c| quote_ident(&c.name)));
        let order = match &t.key {
            RowKey::PrimaryKey(k) => k
                .iter()
                .map(|&i| quote_ident(&t.columns[i as usize].name))
                .collect::<Vec<_>>()
                .join(", "),
            _ => "rowid".into(),
        };
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {order}",
            cols.join(", "),
            quote_ident(&t.name)
        );
        let mut st = self.conn.prepare(&sql).map_err(|e| db_err(&self.path, e))?;
        let n = cols.len();
        let mut rows = st.query([]).map_err(|e| db_err(&self.path, e))?;
        while let Some(r) = rows.next().map_err(|e| db_err(&self.path, e))? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                let v = r.get_ref(i).map_err(|e| db_err(&self.path, e))?;
                values.push(match v {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(x) => Value::Integer(x),
                    ValueRef::Real(x) => Value::Real(x),
                    ValueRef::Text(b) => match std::str::from_utf8(b) {
                        Ok(s) => Value::Text(s.to_string()),
                        Err(_) => Value::RawText(b.to_vec()),
                    },
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            sink.row(values)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(|e| self.err(e))
    }

    fn extra(&self) -> Vec<(String, String)> {
        self.header.clone()
    }

    /// The rowid tells such rows apart and puts them back where they were.
    fn duplicate_key_fallback(&self) -> Option<RowKey> {
        Some(RowKey::RowId)
    }
}

impl SqliteSource {
    fn table_object(&self, name: &str, sql: &str, order: u32) -> Result<SchemaObject> {
        let layer = tables::layer(name);
        if let Some((module, args)) = virtual_module(sql) {
            let fts = matches!(module.as_str(), "fts3" | "fts4" | "fts5");
            if fts_contentless(&module, &args) || !fts {
                // Its data lives in its shadow tables, captured as ordinary
                // tables; the virtual table itself is put back into the
                // schema as written, as `sqlite3 .dump` does, so the
                // restore needs neither the module nor a rebuild, and the
                // index comes back exactly.
                let statements = vec![(Phase::Virtual, register_virtual(name, sql))];
                return Ok(SchemaObject::without_rows(
                    name,
                    ObjectKind::Derived,
                    layer,
                    statements,
                    order,
                ));
            }
            if fts_content_option(&args).is_some() {
                // An external-content index over another table: rebuilt from it.
                let statements = vec![
                    (Phase::Virtual, sql.into()),
                    (Phase::Virtual, fts_rebuild_statement(name)),
                ];
                return Ok(SchemaObject::without_rows(
                    name,
                    ObjectKind::Derived,
                    layer,
                    statements,
                    order,
                ));
            }
            // A full-text table that holds its own text: its rows are data
            // and are captured through the table itself.
        }
        let mut st = self
            .conn
            .prepare("SELECT name, type, \"notnull\", pk, hidden FROM pragma_table_xinfo(?1) ORDER BY cid")
            .map_err(|e| self.err(e))?;
        let info: Vec<(String, String, bool, i64, i64)> = st
            .query_map([name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .map_err(|e| self.err(e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))?;
        let mut columns = Vec::new();
        let mut pk: Vec<(i64, u32)> = Vec::new();
        for (cname, ty, not_null, pkpos, hidden) in info {
            // hidden 2 and 3 are generated columns: derived, not captured.
            // hidden 1 are the hidden columns of a virtual table.
            if hidden != 0 {
                continue;
            }
            if pkpos > 0 {
                pk.push((pkpos, columns.len() as u32));
            }
            columns.push(Column {
                name: cname,
                decl_type: ty,
                not_null,
            });
        }
        pk.sort();
        let key = if pk.is_empty() {
            RowKey::RowId
        } else {
            RowKey::PrimaryKey(pk.into_iter().map(|(_, i)| i).collect())
        };
        // sqlite_sequence is created by SQLite itself with the first
        // AUTOINCREMENT table; only its rows are restored.
        let statements = if name == "sqlite_sequence" {
            Vec::new()
        } else {
            vec![(Phase::Create, sql.to_string())]
        };
        Ok(SchemaObject {
            name: name.into(),
            kind: ObjectKind::Table,
            layer,
            columns,
            key,
            statements,
            order,
            row_format: ROW_FORMAT,
            namespace: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_table_options() {
        let sql = "CREATE VIRTUAL TABLE post_fts USING fts5(title, body_text, content='post', content_rowid='rowid', tokenize='trigram')";
        let (m, args) = virtual_module(sql).unwrap();
        assert_eq!(m, "fts5");
        assert_eq!(fts_content_option(&args).as_deref(), Some("post"));
        let (_, args) = virtual_module("CREATE VIRTUAL TABLE t USING fts5(a, content='')").unwrap();
        assert_eq!(fts_content_option(&args).as_deref(), Some(""));
        assert_eq!(fts_content_option("a, b"), None);
    }
}
