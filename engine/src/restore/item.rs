//! Restore one Jant thing by Jant's names rather than a whole site: a post
//! (by id or path) with its whole thread, the media rows attached to it and
//! the path_registry rows naming it; a collection or smart collection (by
//! id or path) with its paths and thread memberships; a media object (by
//! storage key) with the media row that names it.
//!
//! Into a live site the rows are written beside everything there: a row the
//! snapshot holds replaces the live row with the same primary key, and no
//! other row is touched. Nothing is deleted first, because a delete would
//! cascade (Jant's foreign keys) to rows the snapshot does not bring back:
//! nav items, memberships, media of replies written since. Rows the live
//! site gained since the snapshot (a reply, an alias) therefore stay.
//! The objects the rows name are written first, and taken back if the rows
//! cannot be; the rows go in one transaction.
//!
//! Into a directory, the objects are written under their keys and the rows
//! as `rows.sql`, INSERT statements in Jant's db.sql dialect, for reading
//! or applying by hand.

use super::content::{self, TableRows};
use super::site::{self, DatabaseTarget, MediaTarget};
use super::{restore_media, RestoreOptions, RestoreSummary};
use crate::database;
use crate::error::{Error, Hint, Result};
use crate::jant::sql::{Dialect, Section};
use crate::jant::tables::KeyColumns;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::row::Value;
use crate::snapshot::Snapshot;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

/// One thing to restore, named as Jant names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A post's id (`pst_…`) or one of its paths (slug or alias, with or
    /// without the leading `/`): the whole thread it belongs to.
    Post(String),
    /// A collection's or smart collection's id or path.
    Collection(String),
    /// A media object's storage key, as the snapshot lists it.
    Media(String),
}

/// The rows and objects that make the items.
#[derive(Debug, Default)]
pub struct Picked {
    /// In Jant's insertion order (parents first).
    pub tables: Vec<TableRows>,
    /// Object keys the rows name, and the media items' own keys.
    pub keys: BTreeSet<String>,
    /// What each item was found as (`post pst_1: thread pst_0, 3 posts`).
    pub found: Vec<String>,
    /// What was left out or changed to fit the target, and why.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ItemRestoreOptions {
    /// Go on when the rows name objects neither the snapshot nor the
    /// target holds.
    pub allow_missing_objects: bool,
    /// Into a directory: write into a non-empty one, replacing files of
    /// the same name.
    pub overwrite: bool,
    /// Check everything and count what would be written; write nothing.
    pub dry_run: bool,
}

/// Where the items go.
pub enum ItemTarget<'a> {
    /// A live Jant site: its database and its media storage.
    Site {
        db: &'a DatabaseTarget,
        media: &'a MediaTarget,
    },
    /// A directory: the objects under their keys, the rows as `rows.sql`.
    Dir(&'a Path),
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ItemRestoreSummary {
    /// Nothing was written: the counts are what would have been.
    pub dry_run: bool,
    /// What each named item was found as.
    pub items: Vec<String>,
    /// Rows written, by table.
    pub rows: BTreeMap<String, u64>,
    /// The objects written.
    pub media: RestoreSummary,
    pub media_target: String,
    /// Into a directory: the file the rows were written to.
    pub rows_file: Option<String>,
    /// Rows left out or changed to fit the target, and why.
    pub notes: Vec<String>,
    /// Keys the rows name that neither the snapshot nor the target holds
    /// (only with `allow_missing_objects`).
    pub missing_objects: Vec<String>,
}

/// The file a directory restore writes the rows to.
pub const ROWS_FILE: &str = "rows.sql";

fn text(row: &[Value], col: Option<usize>) -> Option<&str> {
    row[col?].as_text()
}

/// A path as Jant's path_registry holds it, compared without the slashes
/// around it: `/hello`, `hello` and `hello/` name the same page.
fn same_path(a: &str, b: &str) -> bool {
    a.trim().trim_matches('/') == b.trim().trim_matches('/')
}

/// The id of the `table` row `name` names: its id, or a slug or alias
/// path whose `ref_col` points at it.
fn lookup(all: &[TableRows], table: &str, ref_col: &str, name: &str) -> Option<String> {
    let t = all.iter().find(|t| t.table.name == table)?;
    let id = t.table.column_index("id");
    if t.rows.iter().any(|r| text(r, id) == Some(name)) {
        return Some(name.to_string());
    }
    let paths = all.iter().find(|t| t.table.name == "path_registry")?;
    let (path, kind, target) = (
        paths.table.column_index("path"),
        paths.table.column_index("kind"),
        paths.table.column_index(ref_col),
    );
    let wanted = paths.rows.iter().find_map(|r| {
        let k = text(r, kind)?;
        if (k == "slug" || k == "alias") && same_path(text(r, path)?, name) {
            text(r, target).map(str::to_string)
        } else {
            None
        }
    })?;
    // A path naming a row the snapshot lacks names nothing restorable.
    t.rows
        .iter()
        .any(|r| text(r, id) == Some(wanted.as_str()))
        .then_some(wanted)
}

/// Pick, from one site's content rows (`content::select`), the rows and
/// objects that make `items`. An item the snapshot does not hold is an
/// error naming it.
pub fn pick(mut all: Vec<TableRows>, items: &[Item]) -> Result<Picked> {
    let mut threads = HashSet::new();
    let mut collections = HashSet::new();
    let mut smart = HashSet::new();
    let mut media_ids = HashSet::new();
    let mut keys = BTreeSet::new();
    let mut found = Vec::new();
    for item in items {
        match item {
            Item::Post(name) => {
                let id = lookup(&all, "post", "post_id", name).ok_or_else(|| {
                    Error::Invalid(format!(
                        "the snapshot holds no post with id or path {name:?}"
                    ))
                })?;
                let posts = all.iter().find(|t| t.table.name == "post");
                let root = posts
                    .and_then(|t| {
                        let (i, th) = (
                            t.table.column_index("id"),
                            t.table.column_index("thread_id"),
                        );
                        t.rows
                            .iter()
                            .find(|r| text(r, i) == Some(id.as_str()))
                            .and_then(|r| text(r, th))
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| id.clone());
                found.push(if root == id {
                    format!("post {id}")
                } else {
                    format!("post {id} (in the thread of {root})")
                });
                threads.insert(root);
            }
            Item::Collection(name) => {
                if let Some(id) = lookup(&all, "collection", "collection_id", name) {
                    found.push(format!("collection {id}"));
                    collections.insert(id);
                } else if let Some(id) =
                    lookup(&all, "smart_collection", "smart_collection_id", name)
                {
                    found.push(format!("smart collection {id}"));
                    smart.insert(id);
                } else {
                    return Err(Error::Invalid(format!(
                        "the snapshot holds no collection or smart collection with id or path {name:?}"
                    )));
                }
            }
            Item::Media(key) => {
                keys.insert(key.clone());
                let rows = all.iter().find(|t| t.table.name == "media");
                let mut n = 0;
                if let Some(t) = rows {
                    let (id, sk, pk) = (
                        t.table.column_index("id"),
                        t.table.column_index("storage_key"),
                        t.table.column_index("poster_key"),
                    );
                    for r in &t.rows {
                        let names = |c| text(r, c).is_some_and(|k| k.trim() == key);
                        if names(sk) || names(pk) {
                            if let Some(id) = text(r, id) {
                                media_ids.insert(id.to_string());
                                n += 1;
                            }
                        }
                    }
                }
                found.push(match n {
                    0 => format!("media object {key} (no media row names it)"),
                    1 => format!("media object {key} with its media row"),
                    n => format!("media object {key} with the {n} media rows naming it"),
                });
            }
        }
    }
    // Every post of a selected thread: a reply cannot stand without its
    // root, and a thread is what Jant shows as one post.
    let mut posts = HashSet::new();
    if let Some(t) = all.iter().find(|t| t.table.name == "post") {
        let (i, th) = (
            t.table.column_index("id"),
            t.table.column_index("thread_id"),
        );
        for r in &t.rows {
            let id = text(r, i);
            if id.is_some_and(|id| threads.contains(id))
                || text(r, th).is_some_and(|x| threads.contains(x))
            {
                if let Some(id) = id {
                    posts.insert(id.to_string());
                }
            }
        }
    }
    let is = |set: &HashSet<String>, r: &[Value], c: Option<usize>| {
        text(r, c).is_some_and(|v| set.contains(v))
    };
    for t in &mut all {
        let c = |n: &str| t.table.column_index(n);
        let (id, post, thread, coll, smart_id) = (
            c("id"),
            c("post_id"),
            c("thread_id"),
            c("collection_id"),
            c("smart_collection_id"),
        );
        let name = t.table.name.clone();
        t.rows.retain(|r| match name.as_str() {
            "post" => is(&posts, r, id),
            "collection" => is(&collections, r, id),
            "smart_collection" => is(&smart, r, id),
            "thread_collection" => is(&threads, r, thread) || is(&collections, r, coll),
            "path_registry" => {
                is(&posts, r, post) || is(&collections, r, coll) || is(&smart, r, smart_id)
            }
            "media" => is(&media_ids, r, id) || is(&posts, r, post),
            // Settings, navigation and the collection directory belong to
            // the site, not to one thing in it.
            _ => false,
        });
    }
    all.retain(|t| !t.rows.is_empty());
    for t in &all {
        let cols = KeyColumns::of(&t.table.name, |c| t.table.column_index(c));
        for r in &t.rows {
            cols.each(r, |k, _| {
                keys.insert(k.trim().to_string());
            });
        }
    }
    Ok(Picked {
        tables: all,
        keys,
        found,
        notes: Vec::new(),
    })
}

/// Fit picked rows to a live site before they are written: a thread's
/// membership in a collection the site does not have is left out, and a
/// media row attached to a post the site does not have is detached (what
/// Jant's `ON DELETE SET NULL` does when a post goes); media rows get the
/// target's storage driver. `present(table, id)` asks the target.
pub fn settle(
    p: &mut Picked,
    provider: &str,
    present: &mut dyn FnMut(&str, &str) -> Result<bool>,
) -> Result<()> {
    let ids = |p: &Picked, table: &str| -> HashSet<String> {
        p.tables
            .iter()
            .filter(|t| t.table.name == table)
            .flat_map(|t| {
                let id = t.table.column_index("id");
                t.rows
                    .iter()
                    .filter_map(move |r| text(r, id).map(str::to_string))
            })
            .collect()
    };
    let posts = ids(p, "post");
    let collections = ids(p, "collection");
    let mut has = |table: &str, own: &HashSet<String>, id: &str| -> Result<bool> {
        Ok(own.contains(id) || present(table, id)?)
    };
    for t in &mut p.tables {
        let c = |n: &str| t.table.column_index(n);
        match t.table.name.as_str() {
            "thread_collection" => {
                let (th, co) = (c("thread_id"), c("collection_id"));
                let mut kept = Vec::new();
                for r in std::mem::take(&mut t.rows) {
                    let (Some(thread), Some(coll)) = (text(&r, th), text(&r, co)) else {
                        continue;
                    };
                    if !has("post", &posts, thread)? {
                        p.notes.push(format!(
                            "thread {thread} is not in collection {coll}: the site has no post {thread}"
                        ));
                    } else if !has("collection", &collections, coll)? {
                        p.notes.push(format!(
                            "thread {thread} is not in collection {coll}: the site has no collection {coll}"
                        ));
                    } else {
                        kept.push(r);
                    }
                }
                t.rows = kept;
            }
            "media" => {
                let (id, post, prov) = (c("id"), c("post_id"), c("provider"));
                for r in &mut t.rows {
                    if let Some(pc) = post {
                        if let Some(pid) = r[pc].as_text().map(str::to_string) {
                            if !has("post", &posts, &pid)? {
                                p.notes.push(format!(
                                    "media {} is restored unattached: the site has no post {pid}",
                                    text(r, id).unwrap_or("?")
                                ));
                                r[pc] = Value::Null;
                            }
                        }
                    }
                    if let Some(pc) = prov {
                        r[pc] = Value::Text(provider.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    p.tables.retain(|t| !t.rows.is_empty());
    Ok(())
}

/// The upsert of one table's rows: `INSERT … <rows> ON CONFLICT (primary
/// key) DO UPDATE SET` every other column. `rows` is `VALUES (?1, …)`
/// (SQLite) or a `SELECT` of a staging table (Postgres): both engines
/// take this form.
pub(crate) fn upsert_sql(t: &crate::schema::SchemaObject, rows: &str) -> String {
    use crate::schema::quote_ident;
    let cols = t.value_columns();
    let pk = crate::jant::tables::primary_key(&t.name, t.column_index("id").is_some())
        .unwrap_or(&["id"]);
    let names: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
    let set: Vec<String> = cols
        .iter()
        .filter(|c| !pk.contains(c))
        .map(|c| format!("{0} = excluded.{0}", quote_ident(c)))
        .collect();
    let pk: Vec<String> = pk.iter().map(|c| quote_ident(c)).collect();
    format!(
        "INSERT INTO {} ({}) {rows} ON CONFLICT ({}) {}",
        t.sql_name(),
        names.join(", "),
        pk.join(", "),
        if set.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!("DO UPDATE SET {}", set.join(", "))
        }
    )
}

/// Restore `items` of a snapshot into a live site or a directory.
pub fn restore_items(
    repo: &Repository,
    snap: &Snapshot,
    items: &[Item],
    target: &ItemTarget,
    opts: &ItemRestoreOptions,
    progress: &dyn Progress,
) -> Result<ItemRestoreSummary> {
    let has_db = database::has_database(snap);
    if let ItemTarget::Site { db, .. } = target {
        if !has_db {
            return Err(Error::refused(
                "this snapshot holds no database (a media-only backup), so it has no rows to restore into a site",
                Hint::TargetDirectory,
            ));
        }
        site::check_dialect(snap, db)?;
    }
    let mut picked = if has_db {
        let from = content::site_id(snap)?;
        pick(content::select(repo, snap, &from)?, items)?
    } else {
        if let Some(i) = items.iter().find(|i| !matches!(i, Item::Media(_))) {
            return Err(Error::Invalid(format!(
                "this snapshot holds no database (a media-only backup), so it holds no {}",
                match i {
                    Item::Post(_) => "posts",
                    _ => "collections",
                }
            )));
        }
        pick(Vec::new(), items)?
    };
    let have = site::media_keys(repo, snap)?;
    for i in items {
        if let Item::Media(k) = i {
            if !have.contains(k) {
                return Err(Error::Invalid(format!(
                    "the snapshot holds no media object {k:?} (jarc ls lists its keys)"
                )));
            }
        }
    }
    match target {
        ItemTarget::Site { db, media } => {
            into_site(repo, snap, picked, &have, (db, media), opts, progress)
        }
        ItemTarget::Dir(dir) => {
            let missing: Vec<String> = picked
                .keys
                .iter()
                .filter(|k| !have.contains(*k))
                .cloned()
                .collect();
            if !missing.is_empty() && !opts.allow_missing_objects {
                return Err(Error::MissingObjects(missing));
            }
            picked.keys.retain(|k| have.contains(k));
            let media_opts = RestoreOptions {
                overwrite: opts.overwrite,
                only: Some(picked.keys.clone()),
                dry_run: opts.dry_run,
                ..Default::default()
            };
            let rows_path = dir.join(ROWS_FILE);
            if !opts.overwrite && std::fs::symlink_metadata(&rows_path).is_ok() {
                return Err(Error::TargetNotEmpty(dir.to_path_buf()));
            }
            let media = restore_media(repo, snap, dir, &media_opts, progress)?;
            let mut summary = ItemRestoreSummary {
                dry_run: opts.dry_run,
                items: picked.found,
                rows: row_counts(&picked.tables),
                media,
                media_target: dir.display().to_string(),
                missing_objects: missing,
                ..Default::default()
            };
            if !opts.dry_run && !picked.tables.is_empty() {
                let dialect = Dialect::parse(
                    database::extra(snap, database::EXTRA_DIALECT).unwrap_or("sqlite"),
                )
                .unwrap_or(Dialect::Sqlite);
                let mut out = Vec::new();
                for t in &picked.tables {
                    let cols = t.table.value_columns();
                    let mut s = Section::new(&t.table.name, &cols, dialect);
                    for r in &t.rows {
                        s.row(&mut out, r).map_err(|e| Error::io(&rows_path, e))?;
                    }
                    s.finish(&mut out).map_err(|e| Error::io(&rows_path, e))?;
                }
                // As a restored object is: under a temporary name no link
                // redirects, renamed into place.
                super::under::Under::open(dir)?
                    .dir(&[], false)?
                    .write(ROWS_FILE, |f| {
                        use std::io::Write;
                        (&*f).write_all(&out).map_err(|e| Error::io(&rows_path, e))
                    })?;
                summary.rows_file = Some(rows_path.display().to_string());
            }
            Ok(summary)
        }
    }
}

/// Rows by table, as a dry run reports them (before they are fitted to a
/// live site, which only a real run asks).
fn row_counts(tables: &[TableRows]) -> BTreeMap<String, u64> {
    tables
        .iter()
        .map(|t| (t.table.name.clone(), t.rows.len() as u64))
        .collect()
}

/// Into a live site. `have` holds the snapshot's media keys.
fn into_site(
    repo: &Repository,
    snap: &Snapshot,
    mut picked: Picked,
    have: &BTreeSet<String>,
    (db, media_target): (&DatabaseTarget, &MediaTarget),
    opts: &ItemRestoreOptions,
    progress: &dyn Progress,
) -> Result<ItemRestoreSummary> {
    // Into another installation's site, remapped as a content restore is.
    let (from, to) = site::sites(snap, db)?;
    content::remap_site(&mut picked.tables, &from, &to);
    let media_opts = RestoreOptions {
        only: Some(picked.keys.clone()),
        // The live site's objects stay: Jant never rewrites one under the
        // same key.
        keep_existing: true,
        jant_sidecars: true,
        rename: (from != to).then(|| (from.clone(), to.clone())),
        dry_run: opts.dry_run,
        ..Default::default()
    };
    let missing = site::not_held(
        media_target,
        &media_opts,
        picked.keys.iter().filter(|k| !have.contains(*k)).cloned(),
    )?;
    if !missing.is_empty() && !opts.allow_missing_objects {
        return Err(Error::MissingObjects(missing));
    }
    let (media, undo) = site::write_media(repo, snap, media_target, &media_opts, progress)?;
    if opts.dry_run {
        return Ok(ItemRestoreSummary {
            dry_run: true,
            items: picked.found,
            rows: row_counts(&picked.tables),
            media,
            media_target: media_target.describe(),
            rows_file: None,
            notes: picked.notes,
            missing_objects: missing,
        });
    }
    site::all_or_nothing(&media, &undo)?;
    progress.phase("database", 0);
    let provider = media_target.provider();
    let written = match db {
        DatabaseTarget::Sqlite(p) => super::sqlite::upsert_items(p, &mut picked, provider),
        DatabaseTarget::Postgres(u) => super::postgres::upsert_items(u, &mut picked, provider),
    };
    let rows = match written {
        Ok(rows) => rows,
        Err(e) => {
            undo(&media);
            return Err(e);
        }
    };
    Ok(ItemRestoreSummary {
        dry_run: false,
        items: picked.found,
        rows,
        media,
        media_target: media_target.describe(),
        rows_file: None,
        notes: picked.notes,
        missing_objects: missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, Layer, ObjectKind, RowKey, SchemaObject};

    fn table(name: &str, cols: &[&str], rows: &[&[Option<&str>]]) -> TableRows {
        let mut t = SchemaObject::without_rows(name, ObjectKind::Table, Layer::Content, vec![], 0);
        t.key = RowKey::PrimaryKey(vec![0]);
        t.columns = cols
            .iter()
            .map(|c| Column {
                name: c.to_string(),
                decl_type: String::new(),
                not_null: false,
            })
            .collect();
        TableRows {
            table: t,
            rows: rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| v.map_or(Value::Null, |s| Value::Text(s.into())))
                        .collect()
                })
                .collect(),
        }
    }

    fn site() -> Vec<TableRows> {
        vec![
            table(
                "collection",
                &["id", "site_id"],
                &[&[Some("col_a"), Some("s")], &[Some("col_b"), Some("s")]],
            ),
            table(
                "post",
                &[
                    "id",
                    "site_id",
                    "thread_id",
                    "reply_to_id",
                    "preview_image_key",
                ],
                &[
                    &[
                        Some("p1"),
                        Some("s"),
                        Some("p1"),
                        None,
                        Some("media/s/previews/p1.jpg"),
                    ],
                    &[Some("p2"), Some("s"), Some("p1"), Some("p1"), None],
                    &[Some("p3"), Some("s"), Some("p3"), None, None],
                ],
            ),
            table(
                "thread_collection",
                &["site_id", "thread_id", "collection_id"],
                &[
                    &[Some("s"), Some("p1"), Some("col_a")],
                    &[Some("s"), Some("p3"), Some("col_b")],
                ],
            ),
            table(
                "path_registry",
                &[
                    "id",
                    "site_id",
                    "path",
                    "kind",
                    "post_id",
                    "collection_id",
                    "smart_collection_id",
                ],
                &[
                    &[
                        Some("r1"),
                        Some("s"),
                        Some("/hello"),
                        Some("slug"),
                        Some("p1"),
                        None,
                        None,
                    ],
                    &[
                        Some("r2"),
                        Some("s"),
                        Some("/reply"),
                        Some("alias"),
                        Some("p2"),
                        None,
                        None,
                    ],
                    &[
                        Some("r3"),
                        Some("s"),
                        Some("/c/a"),
                        Some("slug"),
                        None,
                        Some("col_a"),
                        None,
                    ],
                    &[
                        Some("r4"),
                        Some("s"),
                        Some("/other"),
                        Some("slug"),
                        Some("p3"),
                        None,
                        None,
                    ],
                    &[
                        Some("r5"),
                        Some("s"),
                        Some("/gone"),
                        Some("redirect"),
                        None,
                        None,
                        None,
                    ],
                ],
            ),
            table(
                "media",
                &[
                    "id",
                    "site_id",
                    "post_id",
                    "storage_key",
                    "poster_key",
                    "provider",
                ],
                &[
                    &[
                        Some("m1"),
                        Some("s"),
                        Some("p2"),
                        Some("media/s/files/m1.mp4"),
                        Some("media/s/posters/m1.webp"),
                        Some("s3"),
                    ],
                    &[
                        Some("m2"),
                        Some("s"),
                        Some("p3"),
                        Some("media/s/files/m2.png"),
                        None,
                        Some("local"),
                    ],
                    &[
                        Some("m3"),
                        Some("s"),
                        None,
                        Some("media/s/assets/avatar/a.png"),
                        None,
                        Some("local"),
                    ],
                ],
            ),
        ]
    }

    fn ids(p: &Picked, table: &str) -> Vec<String> {
        p.tables
            .iter()
            .filter(|t| t.table.name == table)
            .flat_map(|t| t.rows.iter().map(|r| format!("{:?}", r[0])))
            .collect()
    }

    #[test]
    fn a_reply_brings_its_whole_thread_its_media_and_paths() {
        let p = pick(site(), &[Item::Post("reply".into())]).unwrap();
        assert_eq!(ids(&p, "post"), ["Text(\"p1\")", "Text(\"p2\")"]);
        assert_eq!(ids(&p, "path_registry"), ["Text(\"r1\")", "Text(\"r2\")"]);
        assert_eq!(ids(&p, "media"), ["Text(\"m1\")"]);
        assert_eq!(ids(&p, "thread_collection").len(), 1);
        assert!(ids(&p, "collection").is_empty());
        assert_eq!(
            p.keys.iter().cloned().collect::<Vec<_>>(),
            [
                "media/s/files/m1.mp4",
                "media/s/posters/m1.webp",
                "media/s/previews/p1.jpg"
            ]
        );
        assert_eq!(p.found, ["post p2 (in the thread of p1)"]);
    }

    #[test]
    fn collections_by_path_and_media_by_key() {
        let p = pick(site(), &[Item::Collection("c/a/".into())]).unwrap();
        assert_eq!(ids(&p, "collection"), ["Text(\"col_a\")"]);
        assert_eq!(ids(&p, "path_registry"), ["Text(\"r3\")"]);
        assert_eq!(ids(&p, "thread_collection").len(), 1);
        assert!(ids(&p, "post").is_empty());
        let p = pick(site(), &[Item::Media("media/s/posters/m1.webp".into())]).unwrap();
        assert_eq!(ids(&p, "media"), ["Text(\"m1\")"]);
        assert!(ids(&p, "post").is_empty());
        let err = pick(site(), &[Item::Post("gone".into())]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the snapshot holds no post with id or path \"gone\""
        );
        assert!(pick(site(), &[Item::Collection("p1".into())]).is_err());
    }

    #[test]
    fn settling_detaches_media_and_drops_memberships_the_site_cannot_hold() {
        let mut p = pick(site(), &[Item::Media("media/s/files/m2.png".into())]).unwrap();
        settle(&mut p, "local", &mut |_, _| Ok(false)).unwrap();
        let media = &p.tables[0];
        assert_eq!(media.rows[0][2], Value::Null);
        assert_eq!(
            p.notes,
            ["media m2 is restored unattached: the site has no post p3"]
        );
        let mut p = pick(site(), &[Item::Post("p3".into())]).unwrap();
        settle(&mut p, "s3", &mut |t, id| Ok(t == "post" && id == "p3")).unwrap();
        assert!(ids(&p, "thread_collection").is_empty());
        assert_eq!(
            p.notes,
            ["thread p3 is not in collection col_b: the site has no collection col_b"]
        );
        let media = p.tables.iter().find(|t| t.table.name == "media").unwrap();
        assert_eq!(media.rows[0][5], Value::Text("s3".into()));
    }
}
