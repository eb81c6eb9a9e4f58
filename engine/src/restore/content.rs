//! What a content-only restore rewrites (jant-format.md §4.4, §4.6): the
//! content tables' rows of one site and the allow-listed settings, in an
//! order that satisfies foreign keys that cannot be deferred (Postgres):
//! parents first, and each reply after the post it replies to.

use crate::database;
use crate::error::{Error, Result};
use crate::jant::tables::{
    self, CONTENT_CLEAR_ORDER, CONTENT_INSERT_ORDER, SETTINGS_TABLE, SNAPSHOT_SETTING_KEYS,
};
use crate::repo::Repository;
use crate::row::Value;
use crate::schema::{quote_ident, ObjectKind, SchemaObject};
use crate::snapshot::Snapshot;
use std::cmp::Ordering;
use std::collections::HashMap;

/// One table's rows to insert.
#[derive(Debug)]
pub struct TableRows {
    pub table: SchemaObject,
    pub rows: Vec<Vec<Value>>,
}

/// The statements that clear a site's content before it is rewritten, in
/// Jant's clear order (children first), for the content tables that
/// `exists`, then the allow-listed settings. The site id is the statement
/// parameter `param` (`?1` in SQLite, `$1` in Postgres).
pub fn clear_statements(
    mut exists: impl FnMut(&str) -> Result<bool>,
    param: &str,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for t in CONTENT_CLEAR_ORDER {
        if exists(t)? {
            out.push(format!(
                "DELETE FROM {} WHERE site_id = {param}",
                quote_ident(t)
            ));
        }
    }
    let keys: Vec<String> = SNAPSHOT_SETTING_KEYS
        .iter()
        .map(|k| format!("'{k}'"))
        .collect();
    out.push(format!(
        "DELETE FROM {} WHERE site_id = {param} AND key IN ({})",
        quote_ident(SETTINGS_TABLE),
        keys.join(", ")
    ));
    Ok(out)
}

/// Move selected rows to another site the way Jant's single-site import
/// does (jant-format.md §4.6 step 5): every occurrence of the snapshot's
/// site id in any text value (bodies included, as its textual `replaceAll`
/// over db.sql reaches them) becomes the target's.
pub fn remap_site(selected: &mut [TableRows], from: &str, to: &str) {
    if from == to {
        return;
    }
    for t in selected {
        for r in &mut t.rows {
            for v in r.iter_mut() {
                if let Value::Text(s) | Value::Other(s) = v {
                    if s.contains(from) {
                        *s = s.replace(from, to);
                    }
                }
            }
        }
    }
}

/// The site a content restore writes into: the snapshot's own when the
/// target has it, else the target's only site (Jant's single-site import
/// remaps to it); a target with several other sites is refused, naming
/// them. `sites` lists the target's site ids.
pub fn target_site(snapshot_site: &str, sites: Vec<String>, target: &str) -> Result<String> {
    if sites.iter().any(|s| s == snapshot_site) {
        return Ok(snapshot_site.to_string());
    }
    match sites.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(Error::Invalid(format!(
            "{target} has no site; set up Jant there first (a content restore writes into an existing site)"
        ))),
        many => Err(Error::Invalid(format!(
            "{target} has no site {snapshot_site}, the snapshot's, and {} others ({}), so which one receives the content is not clear; restore into a database that has only one site, or the snapshot's",
            many.len(),
            many.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The snapshot's site id, which every content row carries.
pub fn site_id(snap: &Snapshot) -> Result<String> {
    database::extra(snap, database::EXTRA_SITE_ID)
        .map(str::to_string)
        .ok_or_else(|| {
            Error::Invalid(
                "the snapshot's database has no site row, so its content cannot be told apart from other sites'; restore it in full instead".into(),
            )
        })
}

/// Settings first, then the content tables in insertion order, each filtered
/// to the site's rows and in the order Jant's exporter writes them (which
/// also satisfies foreign keys that cannot be deferred).
pub fn select(repo: &Repository, snap: &Snapshot, site: &str) -> Result<Vec<TableRows>> {
    let schema = database::schema(repo, snap)?;
    // Jant's tables live in the default schema; a table of the same name
    // in another Postgres schema is not one of them.
    let by_name: HashMap<&str, &SchemaObject> = schema
        .iter()
        .filter(|o| o.kind == ObjectKind::Table && o.namespace.is_none())
        .map(|o| (o.name.as_str(), o))
        .collect();
    let mut out = Vec::new();
    for name in std::iter::once(SETTINGS_TABLE).chain(CONTENT_INSERT_ORDER) {
        debug_assert!(!tables::PROTECTED_TABLES.contains(&name));
        // Older schemas lack some tables (smart_collection before 0.9).
        let Some(t) = by_name.get(name) else { continue };
        let site_col = t.column_index("site_id").ok_or_else(|| {
            Error::Invalid(format!("snapshot table {name} has no site_id column"))
        })?;
        let key_col = t.column_index("key");
        let mut rows = Vec::new();
        for r in database::rows(repo, snap, t) {
            let r = r?;
            if r[site_col].as_text() != Some(site) {
                continue;
            }
            if name == SETTINGS_TABLE {
                let k = key_col.and_then(|k| r[k].as_text());
                if !k.is_some_and(|k| SNAPSHOT_SETTING_KEYS.contains(&k)) {
                    continue;
                }
            }
            rows.push(r);
        }
        jant_order(t, &mut rows);
        if name == "post" {
            rows = parents_first(t, rows);
        }
        out.push(TableRows {
            table: (*t).clone(),
            rows,
        });
    }
    Ok(out)
}

/// SQLite's ORDER BY comparison under the BINARY collation: NULL first,
/// then numbers by value, text bytewise, blobs bytewise.
fn sql_cmp(a: &Value, b: &Value) -> Ordering {
    fn class(v: &Value) -> (u8, f64) {
        match v {
            Value::Null => (0, 0.0),
            Value::Integer(i) => (1, *i as f64),
            Value::Real(f) => (1, *f),
            Value::Bool(b) => (1, *b as u8 as f64),
            Value::Timestamp(t) | Value::LocalTimestamp(t) => (1, *t as f64),
            Value::Date(d) => (1, *d as f64),
            Value::Text(_) | Value::Other(_) | Value::RawText(_) => (2, 0.0),
            Value::Blob(_) => (3, 0.0),
        }
    }
    let (ca, na) = class(a);
    let (cb, nb) = class(b);
    ca.cmp(&cb).then_with(|| match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (x, y) if ca == 2 => x.text_bytes().cmp(&y.text_bytes()),
        (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
        _ => na.partial_cmp(&nb).unwrap_or(Ordering::Equal),
    })
}

/// Sort a table's rows by Jant's snapshot ORDER BY (jant-format.md §4.3).
fn jant_order(t: &SchemaObject, rows: &mut [Vec<Value>]) {
    let cols: Vec<usize> = tables::snapshot_order(&t.name)
        .iter()
        .filter_map(|c| t.column_index(c))
        .collect();
    rows.sort_by(|a, b| {
        cols.iter()
            .map(|&c| sql_cmp(&a[c], &b[c]))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
}

/// Jant's `orderSnapshotPostRows`: each post goes after its thread root and
/// then the post it replies to, visited depth-first in that order;
/// otherwise the given order is kept. Iterative, so a long reply chain
/// cannot exhaust the stack.
fn parents_first(t: &SchemaObject, rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    let (Some(id), thread, reply) = (
        t.column_index("id"),
        t.column_index("thread_id"),
        t.column_index("reply_to_id"),
    ) else {
        return rows;
    };
    let ids: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r[id].as_text().map(|s| (s, i)))
        .collect();
    let parent = |i: usize, col: Option<usize>| -> Option<usize> {
        let pid = rows[i][col?].as_text()?;
        if Some(pid) == rows[i][id].as_text() {
            return None;
        }
        ids.get(pid).copied()
    };
    let mut placed = vec![false; rows.len()];
    // `visiting` is per top-level call in Jant; a generation number
    // clears it in O(1).
    let mut visiting = vec![usize::MAX; rows.len()];
    let mut order = Vec::with_capacity(rows.len());
    for start in 0..rows.len() {
        let mut stack = vec![(start, 0u8)];
        while let Some((i, stage)) = stack.pop() {
            if stage == 0 {
                if placed[i] || visiting[i] == start {
                    continue;
                }
                visiting[i] = start;
            }
            if stage < 2 {
                stack.push((i, stage + 1));
                let col = if stage == 0 { thread } else { reply };
                if let Some(p) = parent(i, col) {
                    stack.push((p, 0));
                }
                continue;
            }
            placed[i] = true;
            order.push(i);
        }
    }
    let mut slots: Vec<Option<Vec<Value>>> = rows.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
