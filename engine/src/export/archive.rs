//! The Jant site snapshot archive: rows, objects and meta.json.

use super::sink::*;
use super::*;
use crate::database;
use crate::error::{Error, Result};
use crate::jant::meta::{self, Site};
use crate::jant::meta::{
    EXTRA_DIALECT, EXTRA_ORIGIN, EXTRA_SCHEMA, EXTRA_SQL_SOURCE, EXTRA_VERSION, ORDER_ROOT_PREFIX,
};
use crate::jant::sql::{self as jant_sql, Dialect};
use crate::jant::tables;
use crate::jant::{migrations, rules};
use crate::media::{self, EntryKind, MediaEntry};
use crate::progress::Progress;
use crate::repo::Repository;
use crate::restore::content;
use crate::row::Value;
use crate::snapshot::Snapshot;
use crate::source::archive::unsafe_name;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

/// An archive that Jant's `--replace` import would refuse, or that would
/// empty the site, is never written: the user would hold a backup that
/// cannot be restored, or one that deletes their posts.
pub(super) fn refuse_unimportable(
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
pub(super) fn schema_tag(snap: &Snapshot, dialect: Dialect) -> Option<&str> {
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

/// An imported table's rows go out in the order its archive had them (a
/// Postgres collation may order `position` or `path` other than bytewise);
/// rows the order does not know keep their place after those it does.
pub(super) fn keep_imported_order(
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
pub(super) struct Object<'a> {
    pub(super) key: String,
    pub(super) entry: &'a MediaEntry,
}

/// The keys the archive must (`true`) or may carry.
pub(super) fn wanted_objects(rows: &[content::TableRows]) -> BTreeMap<String, bool> {
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

/// Write an object's chunks in order, loading a window of them in parallel.
pub(super) fn write_object(
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
pub(super) fn js_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
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
    let mut text = jant_sql::header(&iso_millis(snap.time_ns), source).into_bytes();
    let mut per_table = Vec::new();
    let mut total_rows = 0;
    for t in &rows {
        let (cols, skip) = physical(&t.table);
        let mut section = jant_sql::Section::new(&t.table.name, &cols, dialect);
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
                crate::util::joined_first(&missing, 10)
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
