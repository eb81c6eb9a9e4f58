//! The `jant db export` dump of every table.

use super::sink::*;
use super::*;
use crate::database;
use crate::error::{Error, Result};
use crate::jant::meta::EXTRA_SQL_SOURCE;
use crate::jant::sql::{self as jant_sql};
use crate::jant::tables;
use crate::repo::Repository;
use crate::schema::{ObjectKind, SchemaObject};
use crate::snapshot::Snapshot;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, serde::Serialize)]
pub struct SqlExportSummary {
    pub output: PathBuf,
    pub tables: Vec<(String, u64)>,
    pub rows: u64,
    pub bytes_written: u64,
}

/// Order tables as `db export` does: Jant's known order, then the rest
/// alphabetically.
pub(super) fn export_table_order(a: &str, b: &str) -> std::cmp::Ordering {
    let pos = |t: &str| tables::TABLE_EXPORT_ORDER.iter().position(|x| *x == t);
    match (pos(a), pos(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a
            .to_ascii_lowercase()
            .cmp(&b.to_ascii_lowercase())
            .then_with(|| a.cmp(b)),
    }
}

/// Export every table as `jant db export` would (jant-format.md §6): the
/// same header and INSERT lines, all tables but migration bookkeeping and
/// FTS indexes, rows in key order. Streams table by table.
pub fn export_sql(repo: &Repository, snap: &Snapshot, out: &Path) -> Result<SqlExportSummary> {
    refuse_existing(out)?;
    let dialect = dialect_of(snap)?;
    let mut schema: Vec<SchemaObject> = database::schema(repo, snap)?
        .into_iter()
        .filter(|o| o.kind == ObjectKind::Table && !tables::is_export_excluded(&o.name))
        .collect();
    schema.sort_by(|a, b| export_table_order(&a.name, &b.name));
    let partial = partial_path(out);
    let source = database::extra(snap, EXTRA_SQL_SOURCE).unwrap_or("node");
    let result = (|| -> Result<(Vec<(String, u64)>, u64)> {
        let f = File::create(&partial).map_err(|e| Error::io(&partial, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let io = |e| Error::io(&partial, e);
        w.write_all(jant_sql::header(&iso_millis(snap.time_ns), source).as_bytes())
            .map_err(io)?;
        let mut per_table = Vec::new();
        for t in &schema {
            let (cols, skip) = physical(t);
            let mut section = jant_sql::Section::new(&t.name, &cols, dialect);
            for r in database::rows(repo, snap, t) {
                section.row(&mut w, &r?[skip..]).map_err(io)?;
            }
            let n = section.finish(&mut w).map_err(io)?;
            if n > 0 {
                per_table.push((t.name.clone(), n));
            }
        }
        let f = w
            .into_inner()
            .map_err(|e| Error::io(&partial, e.into_error()))?;
        f.sync_all().map_err(io)?;
        Ok((per_table, f.metadata().map_err(io)?.len()))
    })();
    let (tables, bytes) = finish(result, &partial, out)?;
    Ok(SqlExportSummary {
        output: out.to_path_buf(),
        rows: tables.iter().map(|(_, n)| n).sum(),
        tables,
        bytes_written: bytes,
    })
}
