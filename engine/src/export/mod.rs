//! Export a snapshot as a Jant site snapshot archive (jant-format.md §2–§4,
//! §8), or as a `jant db export`–compatible dump (§6).
//!
//! The archive is what `jant site snapshot import` reads: `meta.json`,
//! `db.sql` in Jant's exact dialect with the site's content rows and
//! allow-listed settings only, and `objects/<storage key>` for every object
//! those rows name. Entries are written in Jant's order (full path, UTF-16
//! code-unit order, as JavaScript sorts), media extensions STOREd and the
//! rest DEFLATEd, with no directory entries; ZIP64 appears only when the
//! archive needs it. The archive is written to `<name>.partial` and renamed
//! when complete, so a crash never leaves a file that looks finished.
//!
//! Dates in the archive are the snapshot's capture time, so exporting the
//! same snapshot twice gives the same bytes.
//!
//! Its parts: `archive` (the site's rows, objects and meta.json, checked
//! against Jant's importer before anything is written), `sql` (the
//! `jant db export` dump), `sink` (where the files go: a zip or a
//! directory, written under a partial name and committed by a rename).

mod archive;
mod sink;
mod sql;

pub use archive::export_archive;
pub use sql::{export_sql, SqlExportSummary};

use crate::database;
use crate::error::{Error, Result};
use crate::jant::meta::Site;
use crate::jant::sql::Dialect;
use crate::repo::Repository;
use crate::schema::{ObjectKind, RowKey, SchemaObject};
use crate::snapshot::Snapshot;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Leave `objects/` out (Jant's `--skip-objects`).
    pub skip_objects: bool,
    /// A site key or id; required when the snapshot holds several sites.
    pub site: Option<String>,
    /// Export even when objects the media rows name are not in the snapshot.
    pub allow_missing_objects: bool,
    /// Write the archive even when it holds no content rows for its site
    /// (Jant's `--replace` import of it empties the site).
    pub allow_empty: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportSummary {
    pub output: PathBuf,
    pub site_id: String,
    pub site_key: String,
    pub dialect: String,
    /// Rows per table, in db.sql order (tables without rows are left out).
    pub tables: Vec<(String, u64)>,
    pub rows: u64,
    pub objects: u64,
    pub object_bytes: u64,
    pub missing_objects: Vec<String>,
    pub bytes_written: u64,
    pub duration_ms: u64,
}

fn dialect_of(snap: &Snapshot) -> Result<Dialect> {
    let d = database::extra(snap, database::EXTRA_DIALECT).unwrap_or("sqlite");
    Dialect::parse(d)
        .ok_or_else(|| Error::Invalid(format!("the snapshot's database dialect {d:?} is unknown")))
}

/// The sites a snapshot holds: its `site` table, or the site an imported
/// archive named.
pub fn sites(repo: &Repository, snap: &Snapshot) -> Result<Vec<Site>> {
    let schema = database::schema(repo, snap)?;
    if let Some(t) = schema
        .iter()
        .find(|o| o.kind == ObjectKind::Table && o.name == "site")
    {
        if let (Some(i), Some(k)) = (t.column_index("id"), t.column_index("key")) {
            let mut out = Vec::new();
            for r in database::rows(repo, snap, t) {
                let r = r?;
                if let (Some(id), Some(key)) = (r[i].as_text(), r[k].as_text()) {
                    out.push(Site {
                        id: id.into(),
                        key: key.into(),
                    });
                }
            }
            return Ok(out);
        }
    }
    Ok(
        match (
            database::extra(snap, database::EXTRA_SITE_ID),
            database::extra(snap, database::EXTRA_SITE_KEY),
        ) {
            (Some(id), Some(key)) => vec![Site {
                id: id.into(),
                key: key.into(),
            }],
            _ => Vec::new(),
        },
    )
}

fn choose_site(all: Vec<Site>, wanted: Option<&str>) -> Result<Site> {
    let list = |v: &[Site]| {
        v.iter()
            .map(|s| format!("{} (key {})", s.id, s.key))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match wanted {
        Some(w) => match all.iter().find(|s| s.key == w || s.id == w) {
            Some(s) => Ok(s.clone()),
            None => Err(Error::Invalid(format!(
                "the snapshot holds no site with key or id {w:?}; it holds: {}",
                list(&all)
            ))),
        },
        None => match all.len() {
            0 => Err(Error::Invalid(
                "the snapshot's database holds no site row, so there is no site to export".into(),
            )),
            1 => Ok(all[0].clone()),
            _ => Err(Error::refused(
                format!("the snapshot holds {} sites: {}", all.len(), list(&all)),
                crate::error::Hint::ChooseSite,
            )),
        },
    }
}

/// `new Date(t).toISOString()`: milliseconds, `Z`.
pub fn iso_millis(time_ns: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(time_ns as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Column names and values as db.sql lists them: every captured column,
/// without the rowid jarc keeps for tables that have no primary key.
fn physical(t: &SchemaObject) -> (Vec<&str>, usize) {
    let skip = (t.key == RowKey::RowId) as usize;
    (t.columns.iter().map(|c| c.name.as_str()).collect(), skip)
}

#[cfg(test)]
mod tests {
    use super::archive::js_order;
    use super::sink::stored;
    use super::*;

    #[test]
    fn names_sort_as_javascript_sorts() {
        // U+FF01 sorts after U+1F600 in UTF-8 byte order but before it in
        // UTF-16, where the emoji is a surrogate pair (0xD83D …).
        let mut v = vec![
            "objects/\u{1F600}",
            "objects/\u{FF01}",
            "db.sql",
            "meta.json",
        ];
        v.sort_by(|a, b| js_order(a, b));
        assert_eq!(
            v,
            [
                "db.sql",
                "meta.json",
                "objects/\u{1F600}",
                "objects/\u{FF01}"
            ]
        );
        assert!(stored("objects/a/b.JPG") && !stored("db.sql") && !stored("objects/x.svg"));
        assert_eq!(
            iso_millis(1_767_225_600_123_456_789),
            "2026-01-01T00:00:00.123Z"
        );
    }
}
