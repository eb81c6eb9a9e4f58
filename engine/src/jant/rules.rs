//! The rules Jant's importer applies to a site snapshot beyond its parser
//! (jant-format.md §3.2, §4.4, §4.6, §5.3; jant-migrations.md), and the
//! ones its replay enforces through the database (foreign keys, Postgres
//! booleans), checked here statically against the rows, so that `import`
//! refuses exactly what Jant would refuse, before anything is stored, and
//! `export` never writes an archive Jant would refuse.
//!
//! Each refusal names the rule, the table, the db.sql line (when the rows
//! came from a file) and the row's key.

use super::migrations;
use super::sql::Dialect;
use super::tables;
use crate::error::{Error, Result};
use crate::row::{self, Value};
use std::collections::{HashMap, HashSet};

/// One table's rows as the rules see them.
pub struct RuleTable<'a> {
    pub name: &'a str,
    pub columns: Vec<&'a str>,
    pub rows: &'a [Vec<Value>],
    /// The db.sql line of each row, when read from a file.
    pub lines: Option<&'a [u64]>,
}

impl RuleTable<'_> {
    fn col(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| *c == name)
    }

    /// Where row `i` is: `db.sql line N: table T, row K`.
    fn at(&self, i: usize) -> String {
        let key = self
            .col("id")
            .or_else(|| self.col("key"))
            .or_else(|| self.col("thread_id"))
            .map(|c| self.rows[i][c].display())
            .unwrap_or_else(|| format!("#{}", i + 1));
        match self.lines.and_then(|l| l.get(i)).filter(|l| **l > 0) {
            Some(l) => format!("db.sql line {l}: table {}, row {key}", self.name),
            None => format!("table {}, row {key}", self.name),
        }
    }
}

fn broken(rule: &str, detail: String) -> Error {
    Error::Invalid(format!("rule {rule}: {detail}"))
}

/// `meta.json`'s `schema` must be a migration Jant ships for the archive's
/// dialect (`meta.dialect`, default `sqlite`).
pub fn check_schema_tag(schema: Option<&str>, dialect: Dialect) -> Result<()> {
    match schema {
        Some(tag) if !migrations::ships(dialect, tag) => Err(broken(
            "schema-tag",
            format!(
                "meta.json names schema {tag:?}, which is not a migration Jant ships for the {} dialect (its newest is {}); Jant's importer refuses it",
                dialect.name(),
                migrations::newest(dialect)
            ),
        )),
        _ => Ok(()),
    }
}

/// No Jant sidecar (`<key>.meta.json`) under `objects/`: it is local
/// storage's metadata, not an object.
pub fn check_object_keys<'k>(keys: impl IntoIterator<Item = &'k str>) -> Result<()> {
    for k in keys {
        if k.ends_with(super::SIDECAR_SUFFIX) {
            return Err(broken(
                "no-sidecars",
                format!("objects/{k} is a .meta.json sidecar of Jant's local storage, not an object; Jant's importer refuses it"),
            ));
        }
    }
    Ok(())
}

/// Foreign keys the replay enforces: (table, column, referenced table).
/// `smart_collection.collection_id` is one only in Postgres.
const REFERENCES: [(&str, &str, &str); 11] = [
    ("post", "reply_to_id", "post"),
    ("post", "thread_id", "post"),
    ("thread_collection", "thread_id", "post"),
    ("thread_collection", "collection_id", "collection"),
    ("nav_item", "collection_id", "collection"),
    ("nav_item", "smart_collection_id", "smart_collection"),
    ("nav_item", "post_id", "post"),
    ("collection_directory_item", "collection_id", "collection"),
    ("path_registry", "post_id", "post"),
    ("path_registry", "collection_id", "collection"),
    ("media", "post_id", "post"),
];

/// Columns that are `boolean` in Jant's Postgres schema.
const PG_BOOLEANS: [(&str, &str); 3] = [
    ("post", "quiet_reply"),
    ("smart_collection", "has_title"),
    ("smart_collection", "has_replies"),
];

/// Columns that are `integer` (int4) in Jant's Postgres schema, per
/// snapshot table (jant-format.md §7.5: every time column is unix seconds).
const PG_INTEGERS: [(&str, &[&str]); 9] = [
    ("site_setting", &["updated_at"]),
    ("collection", &["created_at", "updated_at"]),
    ("smart_collection", &["year", "created_at", "updated_at"]),
    (
        "post",
        &[
            "pinned_at",
            "featured_at",
            "rating",
            "published_at",
            "last_activity_at",
            "created_at",
            "updated_at",
            "body_html_version",
            "thread_updated_at",
        ],
    ),
    (
        "thread_collection",
        &["created_at", "position", "pinned_at"],
    ),
    ("nav_item", &["created_at", "updated_at"]),
    ("collection_directory_item", &["created_at", "updated_at"]),
    (
        "path_registry",
        &["redirect_type", "created_at", "updated_at"],
    ),
    (
        "media",
        &[
            "size",
            "width",
            "height",
            "chars",
            "created_at",
            "updated_at",
            "duration_seconds",
        ],
    ),
];

/// Whether Postgres takes this literal for an int4 column: an integer in
/// range, text that parses as one, a number it rounds; not a boolean, a
/// blob or other text.
fn pg_int4_accepts(v: &Value) -> bool {
    match v {
        Value::Null | Value::Real(_) => true,
        Value::Integer(i) => i32::try_from(*i).is_ok(),
        Value::Text(s) | Value::Other(s) => s.trim().parse::<i32>().is_ok(),
        _ => false,
    }
}

/// The row rules: every row belongs to `site` (when the archive names
/// one), no excluded setting, every reference resolves within the archive
/// (the replace deletes the site's other content first), and a Postgres
/// archive writes booleans as booleans and integers as integers.
pub fn check_rows(site: Option<&str>, dialect: Dialect, tables: &[RuleTable]) -> Result<()> {
    let by_name: HashMap<&str, &RuleTable> = tables.iter().map(|t| (t.name, t)).collect();
    // Ids compared as their key encoding: the same value, the same bytes.
    let ids = |table: &str| -> HashSet<Vec<u8>> {
        by_name
            .get(table)
            .and_then(|t| {
                t.col("id")
                    .map(|c| t.rows.iter().map(move |r| row::encode_key(&[&r[c]])))
            })
            .into_iter()
            .flatten()
            .collect()
    };
    let known: HashMap<&str, HashSet<Vec<u8>>> = ["post", "collection", "smart_collection"]
        .into_iter()
        .map(|t| (t, ids(t)))
        .collect();
    for t in tables {
        if let (Some(site), Some(c)) = (site, t.col("site_id")) {
            if let Some(i) = t.rows.iter().position(|r| r[c].as_text() != Some(site)) {
                return Err(broken(
                    "site-id",
                    format!(
                        "{}: site_id is {}, not the archive's site {site:?}; Jant's importer refuses rows of another site",
                        t.at(i),
                        t.rows[i][c].display()
                    ),
                ));
            }
        }
        if t.name == tables::SETTINGS_TABLE {
            if let Some(c) = t.col("key") {
                for (i, r) in t.rows.iter().enumerate() {
                    if r[c].as_text().is_some_and(tables::is_excluded_setting) {
                        return Err(broken(
                            "excluded-setting",
                            format!(
                                "{}: setting {} is one Jant's snapshots exclude (a token, secret or per-install setting); Jant's importer refuses it",
                                t.at(i),
                                r[c].display()
                            ),
                        ));
                    }
                }
            }
        }
        let extra =
            (dialect == Dialect::Pg).then_some(("smart_collection", "collection_id", "collection"));
        for (table, column, target) in REFERENCES.iter().copied().chain(extra) {
            let (true, Some(c)) = (t.name == table, t.col(column)) else {
                continue;
            };
            let Some(have) = known.get(target) else {
                continue;
            };
            for (i, r) in t.rows.iter().enumerate() {
                if r[c] != Value::Null && !have.contains(&row::encode_key(&[&r[c]])) {
                    return Err(broken(
                        "foreign-key",
                        format!(
                            "{}: {column} names {target} {}, which the archive does not hold; Jant's replay fails on this foreign key",
                            t.at(i),
                            r[c].display()
                        ),
                    ));
                }
            }
        }
        if dialect == Dialect::Pg {
            for (table, column) in PG_BOOLEANS {
                let (true, Some(c)) = (t.name == table, t.col(column)) else {
                    continue;
                };
                for (i, r) in t.rows.iter().enumerate() {
                    if matches!(r[c], Value::Integer(_) | Value::Real(_)) {
                        return Err(broken(
                            "pg-boolean",
                            format!(
                                "{}: {column} is written as the number {}, which Postgres refuses for a boolean column",
                                t.at(i),
                                r[c].display()
                            ),
                        ));
                    }
                }
            }
            let ints = PG_INTEGERS
                .iter()
                .find(|(table, _)| *table == t.name)
                .map_or(&[][..], |(_, cols)| *cols);
            for column in ints {
                let Some(c) = t.col(column) else { continue };
                if let Some(i) = t.rows.iter().position(|r| !pg_int4_accepts(&r[c])) {
                    return Err(broken(
                        "pg-integer",
                        format!(
                            "{}: {column} is {}, which Postgres refuses for an integer column",
                            t.at(i),
                            t.rows[i][c].display()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
