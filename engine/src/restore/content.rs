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
use std::collections::{HashMap, HashSet};

/// One table's rows to insert.
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
/// to the site's rows.
pub fn select(repo: &Repository, snap: &Snapshot, site: &str) -> Result<Vec<TableRows>> {
    let schema = database::schema(repo, snap)?;
    let by_name: HashMap<&str, &SchemaObject> = schema
        .iter()
        .filter(|o| o.kind == ObjectKind::Table)
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

/// Order posts so that a thread root precedes its replies and a reply
/// precedes replies to it; otherwise the original (key) order is kept.
fn parents_first(t: &SchemaObject, rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    let (Some(id), thread, reply) = (
        t.column_index("id"),
        t.column_index("thread_id"),
        t.column_index("reply_to_id"),
    ) else {
        return rows;
    };
    let ids: HashMap<String, usize> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r[id].as_text().map(|s| (s.to_string(), i)))
        .collect();
    let parents = |r: &Vec<Value>| -> Vec<usize> {
        [thread, reply]
            .into_iter()
            .flatten()
            .filter_map(|c| r[c].as_text().and_then(|p| ids.get(p).copied()))
            .collect()
    };
    let mut placed = vec![false; rows.len()];
    let mut order = Vec::with_capacity(rows.len());
    let mut visiting = HashSet::new();
    for start in 0..rows.len() {
        // Depth-first over parents with an explicit stack; a cycle (which
        // the schema's checks forbid) just falls back to key order.
        let mut stack = vec![(start, false)];
        while let Some((i, expanded)) = stack.pop() {
            if placed[i] {
                continue;
            }
            if expanded {
                placed[i] = true;
                order.push(i);
                visiting.remove(&i);
                continue;
            }
            if !visiting.insert(i) {
                continue;
            }
            stack.push((i, true));
            for p in parents(&rows[i]) {
                if p != i && !placed[p] && !visiting.contains(&p) {
                    stack.push((p, false));
                }
            }
        }
    }
    let mut slots: Vec<Option<Vec<Value>>> = rows.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
