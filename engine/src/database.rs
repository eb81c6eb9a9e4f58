//! A snapshot's database as stored: the `db.schema` tree (one
//! [`SchemaObject`] per table, view, …), one `db.rows/<table>` tree per
//! table keyed by primary key, and the snapshot facts a capture records.
//! `capture` writes them from a source; this module reads them back for
//! restore, diff, export and check. (format-spec/README.md §10)

use crate::error::{Error, Result};
use crate::jant::tables;
use crate::repo::Repository;
use crate::row::{self, Value};
use crate::schema::{rows_root, ObjectKind, SchemaObject, SCHEMA_ROOT};
use crate::snapshot::Snapshot;
use crate::tree;

/// Snapshot `extra` keys written by a database capture.
pub const EXTRA_DIALECT: &str = "db.dialect";
pub const EXTRA_SOURCE: &str = "db.source";
pub const EXTRA_SITE_ID: &str = "site.id";
pub const EXTRA_SITE_KEY: &str = "site.key";
pub const EXTRA_MIGRATION: &str = "db.migration";

pub fn extra<'s>(snap: &'s Snapshot, key: &str) -> Option<&'s str> {
    snap.extra
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

pub fn has_database(snap: &Snapshot) -> bool {
    snap.root(SCHEMA_ROOT).is_some()
}

/// Every schema object of a snapshot, in the source's creation order.
pub fn schema(repo: &Repository, snap: &Snapshot) -> Result<Vec<SchemaObject>> {
    let Some(root) = snap.root(SCHEMA_ROOT) else {
        return Err(Error::Invalid(
            "this snapshot holds no database (it was a media-only backup)".into(),
        ));
    };
    let mut out = Vec::new();
    for e in tree::iter(repo, &root.node) {
        out.push(SchemaObject::decode(&e?.value)?);
    }
    out.sort_by_key(|o| o.order);
    Ok(out)
}

/// A table's rows in key order, decoded.
pub fn rows<'r>(
    repo: &'r Repository,
    snap: &Snapshot,
    table: &SchemaObject,
) -> impl Iterator<Item = Result<Vec<Value>>> + 'r {
    let root = snap.root(&rows_root(&table.qualified())).map(|r| r.node);
    let name = table.name.clone();
    let width = table.value_columns().len();
    root.into_iter()
        .flat_map(move |r| tree::iter(repo, &r))
        .map(move |e| {
            // Name the table: a damaged node otherwise names only a blob.
            let e = e.map_err(|err| match err {
                Error::Corrupt { what, detail } => {
                    Error::corrupt(format!("table {name}: {what}"), detail)
                }
                other => other,
            })?;
            let v = row::decode_row(&e.value)?;
            if v.len() != width {
                return Err(Error::corrupt(
                    format!("row of table {name}"),
                    format!("{} values for {width} columns", v.len()),
                ));
            }
            Ok(v)
        })
}

/// The media keys the snapshot's rows reference (jant-format.md §5.2).
pub fn referenced_keys(repo: &Repository, snap: &Snapshot) -> Result<Vec<String>> {
    let mut keys = std::collections::BTreeSet::new();
    for t in schema(repo, snap)? {
        if t.kind != ObjectKind::Table {
            continue;
        }
        let cols = tables::KeyColumns::of(&t.name, |c| t.column_index(c));
        if cols.is_empty() {
            continue;
        }
        for r in rows(repo, snap, &t) {
            cols.collect(&r?, &mut keys);
        }
    }
    Ok(keys.into_iter().collect())
}
