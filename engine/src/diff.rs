//! Differences between two snapshots: media objects, and rows per table by
//! primary key. Each walk skips every subtree the two snapshots share, and
//! a table whose root did not change is not opened at all, so the cost
//! follows the changes.

use crate::database;
use crate::error::Result;
use crate::media::MediaEntry;
use crate::repo::Repository;
use crate::row::{self, Value};
use crate::schema::{rows_root, Layer, SchemaObject};
use crate::snapshot::{Snapshot, MEDIA_ROOT};
use crate::tree::{self, Change, DiffCost};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    /// Content changed.
    Modified,
    /// Only metadata changed (mtime, mode, sidecar, …).
    Metadata,
}

#[derive(Debug, Clone, Serialize)]
pub struct MediaChange {
    pub key: String,
    pub change: ChangeKind,
    pub old_size: Option<u64>,
    pub new_size: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RowChange {
    pub key: String,
    pub change: ChangeKind,
    /// For a modified row: the columns whose values differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableDiff {
    pub table: String,
    pub layer: Option<Layer>,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    /// The table's definition (columns, indexes, triggers) changed.
    pub schema_changed: bool,
    pub rows: Vec<RowChange>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DiffReport {
    pub media: Vec<MediaChange>,
    pub tables: Vec<TableDiff>,
    pub cost: DiffCost,
}

fn schema_map(repo: &Repository, s: &Snapshot) -> Result<BTreeMap<String, SchemaObject>> {
    if !database::has_database(s) {
        return Ok(BTreeMap::new());
    }
    Ok(database::schema(repo, s)?
        .into_iter()
        .map(|o| (o.qualified(), o))
        .collect())
}

fn row_key(t: &SchemaObject, bytes: &[u8]) -> Result<String> {
    let v = row::decode_row(bytes)?;
    let k: Vec<&Value> = t.key_positions().iter().filter_map(|&i| v.get(i)).collect();
    Ok(row::display_key(&k))
}

/// Columns whose values differ, matched by name so that an added or
/// dropped column shows as changed.
fn changed_columns(
    ta: &SchemaObject,
    old: &[u8],
    tb: &SchemaObject,
    new: &[u8],
) -> Result<Vec<String>> {
    let (va, vb) = (row::decode_row(old)?, row::decode_row(new)?);
    let ca = ta.value_columns();
    let cb = tb.value_columns();
    let mut out = Vec::new();
    for (i, name) in cb.iter().enumerate() {
        let before = ca.iter().position(|c| c == name).and_then(|j| va.get(j));
        if before != vb.get(i) {
            out.push(name.to_string());
        }
    }
    for name in ca.iter().filter(|c| !cb.contains(c)) {
        out.push(name.to_string());
    }
    Ok(out)
}

fn diff_tables(
    repo: &Repository,
    a: &Snapshot,
    b: &Snapshot,
    cost: &mut DiffCost,
) -> Result<Vec<TableDiff>> {
    let (sa, sb) = (schema_map(repo, a)?, schema_map(repo, b)?);
    let names: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        let (oa, ob) = (sa.get(name), sb.get(name));
        let schema_changed = oa != ob;
        let ra = a.root(&rows_root(name)).map(|r| r.node);
        let rb = b.root(&rows_root(name)).map(|r| r.node);
        if ra == rb && !schema_changed {
            continue;
        }
        let Some(t) = ob.or(oa) else { continue };
        let (ta, tb) = (oa.unwrap_or(t), ob.unwrap_or(t));
        let mut d = TableDiff {
            table: name.clone(),
            layer: Some(t.layer),
            added: 0,
            removed: 0,
            changed: 0,
            schema_changed,
            rows: Vec::new(),
        };
        let c = tree::diff(repo, ra.as_ref(), rb.as_ref(), |c| {
            match c {
                Change::Added(e) => {
                    d.added += 1;
                    d.rows.push(RowChange {
                        key: row_key(tb, &e.value)?,
                        change: ChangeKind::Added,
                        columns: Vec::new(),
                    });
                }
                Change::Removed(e) => {
                    d.removed += 1;
                    d.rows.push(RowChange {
                        key: row_key(ta, &e.value)?,
                        change: ChangeKind::Removed,
                        columns: Vec::new(),
                    });
                }
                Change::Modified { old, new, .. } => {
                    d.changed += 1;
                    d.rows.push(RowChange {
                        key: row_key(tb, &new)?,
                        change: ChangeKind::Modified,
                        columns: changed_columns(ta, &old, tb, &new)?,
                    });
                }
            }
            Ok(())
        })?;
        cost.nodes_loaded += c.nodes_loaded;
        cost.entries_skipped += c.entries_skipped;
        out.push(d);
    }
    Ok(out)
}

pub fn diff_snapshots(repo: &Repository, a: &Snapshot, b: &Snapshot) -> Result<DiffReport> {
    let ra = a.root(MEDIA_ROOT).map(|r| r.node);
    let rb = b.root(MEDIA_ROOT).map(|r| r.node);
    let mut media = Vec::new();
    let key = |k: Vec<u8>| String::from_utf8_lossy(&k).into_owned();
    let cost = tree::diff(repo, ra.as_ref(), rb.as_ref(), |c| {
        media.push(match c {
            Change::Added(e) => {
                let n = MediaEntry::decode(&e.value)?;
                MediaChange {
                    key: key(e.key),
                    change: ChangeKind::Added,
                    old_size: None,
                    new_size: Some(n.size),
                }
            }
            Change::Removed(e) => {
                let o = MediaEntry::decode(&e.value)?;
                MediaChange {
                    key: key(e.key),
                    change: ChangeKind::Removed,
                    old_size: Some(o.size),
                    new_size: None,
                }
            }
            Change::Modified { key: k, old, new } => {
                let (o, n) = (MediaEntry::decode(&old)?, MediaEntry::decode(&new)?);
                let change = if o.content != n.content || o.kind != n.kind || o.target != n.target {
                    ChangeKind::Modified
                } else {
                    ChangeKind::Metadata
                };
                MediaChange {
                    key: key(k),
                    change,
                    old_size: Some(o.size),
                    new_size: Some(n.size),
                }
            }
        });
        Ok(())
    })?;
    let mut cost = cost;
    let tables = diff_tables(repo, a, b, &mut cost)?;
    Ok(DiffReport {
        media,
        tables,
        cost,
    })
}
