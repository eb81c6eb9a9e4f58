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

use crate::database;
use crate::error::{Error, Result};
use crate::jant::meta::{self, Site};
use crate::jant::meta::{
    EXTRA_DIALECT, EXTRA_ORIGIN, EXTRA_SCHEMA, EXTRA_SQL_SOURCE, EXTRA_VERSION, ORDER_ROOT_PREFIX,
};
use crate::jant::sql::{self, Dialect};
use crate::jant::tables;
use crate::jant::{migrations, rules};
use crate::media::{self, EntryKind, MediaEntry};
use crate::progress::Progress;
use crate::repo::Repository;
use crate::restore::content;
use crate::row::Value;
use crate::schema::{ObjectKind, RowKey, SchemaObject};
use crate::snapshot::Snapshot;
use crate::source::archive::unsafe_name;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Extensions Jant's zip writer STOREs rather than deflates.
const STORED_EXTENSIONS: [&str; 18] = [
    "avif", "gif", "heic", "jpeg", "jpg", "m4a", "mov", "mp3", "mp4", "ogg", "opus", "pdf", "png",
    "webm", "webp", "woff", "woff2", "zip",
];

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

/// An archive that Jant's `--replace` import would refuse, or that would
/// empty the site, is never written: the user would hold a backup that
/// cannot be restored, or one that deletes their posts.
fn refuse_unimportable(
    rows: &[content::TableRows],
    site: &Site,
    dialect: Dialect,
    allow_empty: bool,
) -> Result<()> {
    let content_rows: usize = rows
        .iter()
        .filter(|t| t.table.name != tables::SETTINGS_TABLE)
        .map(|t| t.rows.len())
        .sum();
    if content_rows == 0 && !allow_empty {
        return Err(Error::refused(
            format!(
                "the snapshot holds no content rows (posts, collections, media, …) for site {} (key {}); Jant's --replace import of such an archive deletes the site's content, so none was written",
                site.id, site.key
            ),
            crate::error::Hint::AllowEmpty,
        ));
    }
    let columns: Vec<Vec<&str>> = rows.iter().map(|t| t.table.value_columns()).collect();
    let views: Vec<rules::RuleTable> = rows
        .iter()
        .zip(&columns)
        .map(|(t, c)| rules::RuleTable {
            name: &t.table.name,
            columns: c.clone(),
            rows: &t.rows,
            lines: None,
        })
        .collect();
    rules::check_rows(Some(&site.id), dialect, &views).map_err(|e| {
        Error::Invalid(format!(
            "Jant would refuse this archive ({e}); none was written"
        ))
    })
}

/// The `schema` a meta.json names: the imported archive's own, else the
/// tag of the newest migration the database's migration table records
/// (drizzle's newest `created_at` is a journal `when`; D1 names the file),
/// and only a tag Jant ships for the dialect: never a guessed one.
fn schema_tag(snap: &Snapshot, dialect: Dialect) -> Option<&str> {
    if let Some(s) = database::extra(snap, EXTRA_SCHEMA) {
        return Some(s);
    }
    let m = database::extra(snap, database::EXTRA_MIGRATION)?;
    let tag = match m.strip_prefix("drizzle:") {
        Some(rest) => {
            let when = rest.split(':').next()?.parse().ok()?;
            migrations::tag_of_when(dialect, when)?
        }
        None => m,
    };
    migrations::ships(dialect, tag).then_some(tag)
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

/// An imported table's rows go out in the order its archive had them (a
/// Postgres collation may order `position` or `path` other than bytewise);
/// rows the order does not know keep their place after those it does.
fn keep_imported_order(
    repo: &Repository,
    snap: &Snapshot,
    t: &mut content::TableRows,
) -> Result<()> {
    let Some(root) = snap.root(&format!("{ORDER_ROOT_PREFIX}{}", t.table.name)) else {
        return Ok(());
    };
    let mut ordinal: HashMap<Vec<u8>, u64> = HashMap::new();
    for e in crate::tree::iter(repo, &root.node) {
        let e = e?;
        let mut n = [0u8; 8];
        if e.key.len() != 8 {
            return Err(Error::corrupt("row order tree", "key is not an ordinal"));
        }
        n.copy_from_slice(&e.key);
        ordinal.insert(e.value, u64::from_be_bytes(n));
    }
    let positions = t.table.key_positions();
    let key = |r: &Vec<Value>| {
        let k: Vec<&Value> = positions.iter().map(|&p| &r[p]).collect();
        ordinal
            .get(&crate::row::encode_key(&k))
            .copied()
            .unwrap_or(u64::MAX)
    };
    t.rows.sort_by_cached_key(key);
    Ok(())
}

/// One object of the archive: its key and the snapshot entry holding it.
struct Object<'a> {
    key: String,
    entry: &'a MediaEntry,
}

/// The keys the archive must (`true`) or may carry.
fn wanted_objects(rows: &[content::TableRows]) -> BTreeMap<String, bool> {
    let mut out: BTreeMap<String, bool> = BTreeMap::new();
    for t in rows {
        let cols = tables::KeyColumns::of(&t.table.name, |c| t.table.column_index(c));
        for r in &t.rows {
            cols.each(r, |k, required| {
                *out.entry(k.trim().to_string()).or_insert(false) |= required;
            });
        }
    }
    out
}

/// Where the archive's files go: a zip, or a directory as Jant writes one.
trait Sink {
    fn file(
        &mut self,
        name: &str,
        size: u64,
        mtime_ns: i64,
        write: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()>;
}

struct ZipSink {
    zip: zip::ZipWriter<BufWriter<File>>,
    path: PathBuf,
}

fn dos_time(ns: i64) -> zip::DateTime {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // DOS dates start in 1980.
    zip::DateTime::from_date_and_time(
        t.year().clamp(1980, 2107) as u16,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .unwrap_or_default()
}

fn stored(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    file.rsplit_once('.')
        .is_some_and(|(_, e)| STORED_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

impl Sink for ZipSink {
    fn file(
        &mut self,
        name: &str,
        size: u64,
        mtime_ns: i64,
        write: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        let method = if stored(name) {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .unix_permissions(0o644)
            .last_modified_time(dos_time(mtime_ns))
            .large_file(size >= u32::MAX as u64);
        let path = self.path.clone();
        let zerr = |e: zip::result::ZipError| Error::Invalid(format!("{}: {e}", path.display()));
        self.zip.start_file(name, opts).map_err(zerr)?;
        write(&mut self.zip)
    }
}

struct DirSink {
    root: PathBuf,
}

impl Sink for DirSink {
    fn file(
        &mut self,
        name: &str,
        _size: u64,
        _mtime_ns: i64,
        write: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        let p = self.root.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let f = File::create(&p).map_err(|e| Error::io(&p, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        write(&mut w)?;
        w.flush().map_err(|e| Error::io(&p, e))
    }
}

/// Write an object's chunks in order, loading a window of them in parallel.
fn write_object(
    repo: &Repository,
    key: &str,
    e: &MediaEntry,
    w: &mut dyn Write,
    out: &Path,
    progress: &dyn Progress,
) -> Result<u64> {
    let window = 2 * rayon::current_num_threads().max(1);
    let mut written = 0u64;
    for group in e.chunks.chunks(window) {
        let blobs: Vec<Result<Vec<u8>>> = group.par_iter().map(|c| repo.load_blob(c)).collect();
        for b in blobs {
            let b = b?;
            w.write_all(&b).map_err(|err| Error::io(out, err))?;
            written += b.len() as u64;
            progress.advance(b.len() as u64);
        }
    }
    if written != e.size {
        return Err(Error::corrupt(
            format!("media entry {key}"),
            format!("chunks add up to {written} bytes, entry says {}", e.size),
        ));
    }
    Ok(written)
}

/// JavaScript's default sort order for strings: UTF-16 code units.
fn js_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn partial_path(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

fn refuse_existing(out: &Path) -> Result<()> {
    if fs::symlink_metadata(out).is_ok() {
        return Err(Error::Invalid(format!(
            "{} already exists; export into a new name",
            out.display()
        )));
    }
    Ok(())
}

/// The commit point of an export: a failed write removes `<out>.partial`;
/// a complete one is renamed into place.
fn finish<T>(result: Result<T>, partial: &Path, out: &Path) -> Result<T> {
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_file(partial);
            let _ = fs::remove_dir_all(partial);
            return Err(e);
        }
    };
    fs::rename(partial, out).map_err(|e| Error::io(out, e))?;
    sync_parent(out);
    Ok(value)
}

fn sync_parent(p: &Path) {
    if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
}

/// Export a snapshot as a Jant site snapshot archive: a zip when `out`
/// ends in `.zip`, a directory otherwise.
pub fn export_archive(
    repo: &Repository,
    snap: &Snapshot,
    out: &Path,
    opts: &ExportOptions,
    progress: &dyn Progress,
) -> Result<ExportSummary> {
    let started = std::time::Instant::now();
    if !database::has_database(snap) {
        return Err(Error::Invalid(
            "this snapshot holds no database (a media-only backup), so it has no site to export"
                .into(),
        ));
    }
    refuse_existing(out)?;
    let dialect = dialect_of(snap)?;
    let site = choose_site(sites(repo, snap)?, opts.site.as_deref())?;
    progress.phase("rows", 0);
    let mut rows = content::select(repo, snap, &site.id)?;
    for t in &mut rows {
        keep_imported_order(repo, snap, t)?;
    }
    refuse_unimportable(&rows, &site, dialect, opts.allow_empty)?;

    // db.sql, in memory: Jant's importer holds it whole too, and the rows
    // are already here.
    let source = database::extra(snap, EXTRA_SQL_SOURCE).unwrap_or("node");
    let mut text = sql::header(&iso_millis(snap.time_ns), source).into_bytes();
    let mut per_table = Vec::new();
    let mut total_rows = 0;
    for t in &rows {
        let (cols, skip) = physical(&t.table);
        let mut section = sql::Section::new(&t.table.name, &cols, dialect);
        for r in &t.rows {
            // Writing into memory cannot fail.
            let _ = section.row(&mut text, &r[skip..]);
        }
        let n = section.finish(&mut text).unwrap_or_default();
        if n > 0 {
            per_table.push((t.table.name.clone(), n));
            total_rows += n;
        }
    }

    // Every meta names its dialect, except one re-exported from an archive
    // whose own meta had none (an early v2 archive): kept byte for byte.
    let from_archive = database::extra(snap, EXTRA_ORIGIN) == Some("archive");
    let meta_dialect = if from_archive {
        database::extra(snap, EXTRA_DIALECT).and_then(Dialect::parse)
    } else {
        Some(dialect)
    };
    let meta_bytes = meta::render(
        meta_dialect,
        database::extra(snap, EXTRA_VERSION),
        schema_tag(snap, dialect),
        &site,
    );

    // Objects: every key the rows name that the snapshot holds.
    let listing = if opts.skip_objects {
        Vec::new()
    } else {
        media::entries(repo, snap)?
    };
    let by_key: HashMap<&str, &MediaEntry> = listing
        .iter()
        .filter(|(_, e)| e.kind == EntryKind::File)
        .map(|(k, e)| (k.as_str(), e))
        .collect();
    let mut objects = Vec::new();
    let mut missing = Vec::new();
    if !opts.skip_objects {
        for (key, required) in wanted_objects(&rows) {
            match by_key.get(key.as_str()) {
                Some(e) => {
                    let name = format!("objects/{key}");
                    if let Some(why) = unsafe_name(&name) {
                        return Err(Error::Invalid(format!(
                            "object key {key:?} {why}; it cannot be an archive entry"
                        )));
                    }
                    objects.push(Object { key, entry: e });
                }
                None if required => missing.push(key),
                None => {}
            }
        }
    }
    if !missing.is_empty() && !opts.allow_missing_objects {
        return Err(Error::refused(
            format!(
                "{} object(s) named by the site's media rows are missing from the snapshot: {}",
                missing.len(),
                missing
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            crate::error::Hint::AllowMissingObjects,
        ));
    }
    objects.sort_by(|a, b| js_order(&a.key, &b.key));
    let object_bytes: u64 = objects.iter().map(|o| o.entry.size).sum();

    let partial = partial_path(out);
    let is_zip = out
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    // A leftover from an interrupted export is ours to replace.
    if is_zip {
        let _ = fs::remove_file(&partial);
    } else {
        let _ = fs::remove_dir_all(&partial);
    }
    progress.phase("export", object_bytes + text.len() as u64);
    let result = (|| -> Result<u64> {
        let write_all = |sink: &mut dyn Sink| -> Result<()> {
            let t = snap.time_ns;
            // "db.sql" < "meta.json" < "objects/…" in any order.
            sink.file("db.sql", text.len() as u64, t, &mut |w| {
                w.write_all(&text).map_err(|e| Error::io(&partial, e))
            })?;
            progress.advance(text.len() as u64);
            sink.file("meta.json", meta_bytes.len() as u64, t, &mut |w| {
                w.write_all(&meta_bytes).map_err(|e| Error::io(&partial, e))
            })?;
            for o in &objects {
                let name = format!("objects/{}", o.key);
                sink.file(&name, o.entry.size, o.entry.mtime_ns, &mut |w| {
                    write_object(repo, &o.key, o.entry, w, &partial, progress).map(|_| ())
                })?;
            }
            Ok(())
        };
        if is_zip {
            let f = File::create(&partial).map_err(|e| Error::io(&partial, e))?;
            let mut sink = ZipSink {
                zip: zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, f)),
                path: partial.clone(),
            };
            write_all(&mut sink)?;
            let w = sink
                .zip
                .finish()
                .map_err(|e| Error::Invalid(format!("{}: {e}", partial.display())))?;
            let f = w
                .into_inner()
                .map_err(|e| Error::io(&partial, e.into_error()))?;
            f.sync_all().map_err(|e| Error::io(&partial, e))?;
            Ok(f.metadata().map_err(|e| Error::io(&partial, e))?.len())
        } else {
            fs::create_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
            let mut sink = DirSink {
                root: partial.clone(),
            };
            write_all(&mut sink)?;
            Ok(text.len() as u64 + meta_bytes.len() as u64 + object_bytes)
        }
    })()
    .and_then(|n| crate::failpoint::fail("export-before-rename").map(|_| n));
    let bytes_written = finish(result, &partial, out)?;
    Ok(ExportSummary {
        output: out.to_path_buf(),
        site_id: site.id,
        site_key: site.key,
        dialect: dialect.name().into(),
        tables: per_table,
        rows: total_rows,
        objects: objects.len() as u64,
        object_bytes,
        missing_objects: missing,
        bytes_written,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SqlExportSummary {
    pub output: PathBuf,
    pub tables: Vec<(String, u64)>,
    pub rows: u64,
    pub bytes_written: u64,
}

/// Order tables as `db export` does: Jant's known order, then the rest
/// alphabetically.
fn export_table_order(a: &str, b: &str) -> std::cmp::Ordering {
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
        w.write_all(sql::header(&iso_millis(snap.time_ns), source).as_bytes())
            .map_err(io)?;
        let mut per_table = Vec::new();
        for t in &schema {
            let (cols, skip) = physical(t);
            let mut section = sql::Section::new(&t.name, &cols, dialect);
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

#[cfg(test)]
mod tests {
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
