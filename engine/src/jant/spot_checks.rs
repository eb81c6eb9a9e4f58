//! The checks a person makes first on a restored Jant site, as queries on
//! its database: the published posts the snapshot holds are there, the
//! site has a name, collections and paths resolve. The drill runs them on
//! its scratch database; they know Jant's tables, not the drill.

use crate::database;
use crate::error::{Error, Result};
use crate::repo::Repository;
use crate::row::Value;
use crate::schema::{ObjectKind, SchemaObject};
use crate::snapshot::Snapshot;
use crate::util::first_few;

/// A restored database that answers SQL: the first column of every row,
/// as text.
pub trait Queries {
    fn texts(&self, sql: &str) -> Result<Vec<String>>;

    /// A single `count(*)`, cast to text by the query.
    fn count(&self, sql: &str) -> Result<i64> {
        let t = self.texts(sql)?;
        t.first()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Invalid(format!("no count from: {sql}")))
    }
}

/// What a person would look at first on the restored site: each check's
/// name and what it found (or what is wrong).
pub fn spot_checks(
    repo: &Repository,
    snap: &Snapshot,
    db: &dyn Queries,
    schema: &[SchemaObject],
) -> Vec<(&'static str, Result<String>)> {
    let mut out = Vec::new();
    let table = |name: &str| {
        schema
            .iter()
            .find(|t| t.name == name && t.kind == ObjectKind::Table)
    };
    let has = |t: &str, c: &str| table(t).is_some_and(|t| t.column_index(c).is_some());

    if let Some(post) = table("post").filter(|t| t.column_index("status").is_some()) {
        let r = (|| {
            let recorded = published_in_snapshot(repo, snap, post)?;
            let restored = db.count(
                "SELECT CAST(count(*) AS TEXT) FROM \"post\" WHERE \"status\" = 'published'",
            )?;
            if restored != recorded as i64 {
                return Err(Error::Invalid(format!(
                    "{restored} published posts restored, the snapshot holds {recorded}"
                )));
            }
            Ok(if recorded == 0 {
                "the snapshot holds no published posts (an empty home page)".into()
            } else {
                format!("{recorded} published posts")
            })
        })();
        out.push(("published posts", r));
    }
    if has("site_setting", "key") && has("site_setting", "value") {
        let r = db
            .texts("SELECT \"value\" FROM \"site_setting\" WHERE \"key\" = 'SITE_NAME' ORDER BY 1")
            .and_then(|v| match v.iter().find(|s| !s.trim().is_empty()) {
                Some(name) => Ok(format!("SITE_NAME = {name:?}")),
                None => Err(Error::Invalid(
                    "no SITE_NAME setting: the restored site would show a default name".into(),
                )),
            });
        out.push(("site name", r));
    }
    // A collection's page lists its threads through thread_collection
    // (post_collection before Jant's v2 snapshots).
    for (link, post_col) in [
        ("thread_collection", "thread_id"),
        ("post_collection", "post_id"),
    ] {
        if !(has(link, post_col) && has(link, "collection_id")) || table("collection").is_none() {
            continue;
        }
        let r = (|| {
            let broken = db.texts(&format!(
                "SELECT CAST(l.\"collection_id\" AS TEXT) || ' -> ' || CAST(l.\"{post_col}\" AS TEXT) FROM \"{link}\" l
                  WHERE NOT EXISTS (SELECT 1 FROM \"post\" p WHERE p.\"id\" = l.\"{post_col}\")
                     OR NOT EXISTS (SELECT 1 FROM \"collection\" c WHERE c.\"id\" = l.\"collection_id\")
                  ORDER BY 1"
            ))?;
            if !broken.is_empty() {
                return Err(Error::Invalid(format!(
                    "{} {link} rows point at a missing post or collection: {}",
                    broken.len(),
                    first_few(&broken)
                )));
            }
            let n = db.count(&format!("SELECT CAST(count(*) AS TEXT) FROM \"{link}\""))?;
            let c = db.count("SELECT CAST(count(*) AS TEXT) FROM \"collection\"")?;
            Ok(format!("{c} collections, {n} entries resolve"))
        })();
        out.push(("collections resolve", r));
    }
    if has("path_registry", "path") && has("path_registry", "kind") {
        let r = (|| {
            let mut broken = Vec::new();
            for (col, target) in [
                ("post_id", "post"),
                ("collection_id", "collection"),
                ("smart_collection_id", "smart_collection"),
            ] {
                if !has("path_registry", col) || table(target).is_none() {
                    continue;
                }
                broken.extend(db.texts(&format!(
                    "SELECT r.\"path\" FROM \"path_registry\" r WHERE r.\"{col}\" IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM \"{target}\" t WHERE t.\"id\" = r.\"{col}\") ORDER BY 1"
                ))?);
            }
            let targets: Vec<&str> = ["post_id", "collection_id", "smart_collection_id"]
                .into_iter()
                .filter(|c| has("path_registry", c))
                .collect();
            if !targets.is_empty() {
                let none: Vec<String> =
                    targets.iter().map(|c| format!("\"{c}\" IS NULL")).collect();
                broken.extend(db.texts(&format!(
                    "SELECT \"path\" FROM \"path_registry\" WHERE \"kind\" IN ('slug', 'alias') AND {} ORDER BY 1",
                    none.join(" AND ")
                ))?);
            }
            if !broken.is_empty() {
                return Err(Error::Invalid(format!(
                    "{} paths point at nothing: {}",
                    broken.len(),
                    first_few(&broken)
                )));
            }
            let n = db.count("SELECT CAST(count(*) AS TEXT) FROM \"path_registry\"")?;
            Ok(format!("{n} paths resolve"))
        })();
        out.push(("paths resolve", r));
    }
    out
}

fn published_in_snapshot(repo: &Repository, snap: &Snapshot, post: &SchemaObject) -> Result<u64> {
    let Some(i) = post.column_index("status") else {
        return Ok(0);
    };
    let mut n = 0;
    for r in database::rows(repo, snap, post) {
        if matches!(&r?[i], Value::Text(s) if s == "published") {
            n += 1;
        }
    }
    Ok(n)
}
