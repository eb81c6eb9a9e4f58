//! Import a Jant-made site snapshot archive (v1 or v2, zip or directory), or
//! a `jant db export` dump plus its media, as a snapshot in the repository.
//!
//! Everything that can be checked is checked before the first byte is
//! stored: the archive's entries (see `source::archive`), `meta.json` as
//! Jant's importer validates it, every db.sql statement (see `jant::dump`),
//! and that every object the media rows name is in `objects/`. The rows and
//! objects then go through the backup path (`backup::backup_site`), so they
//! are deduplicated against everything the repository already holds, and
//! the snapshot object is written last: a refused or failed import creates
//! no snapshot, and what it stored before failing is unreferenced data that
//! leaves the repository as valid as before.

use crate::backup::{self, BackupOptions, BackupSummary};
use crate::database;
use crate::error::{Error, Result};
use crate::jant::dump::{self, Dump, Rules};
use crate::jant::meta::{
    self, Site, EXTRA_DIALECT, EXTRA_ORIGIN, EXTRA_SCHEMA, EXTRA_SNAPSHOT_VERSION,
    EXTRA_SQL_SOURCE, EXTRA_VERSION, ORDER_ROOT_PREFIX,
};
use crate::jant::rules as jant_rules;
use crate::jant::sql::Dialect;
use crate::jant::tables;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::row::Value;
use crate::snapshot::SourceInfo;
use crate::source::archive::{Archive, ArchiveObjects};
use crate::source::dir::DirSource;
use crate::source::dump::DumpSource;
use crate::source::MediaSource;
use crate::tree::{Root, TreeBuilder};
use std::collections::HashSet;
use std::path::Path;

/// A Jant `meta.json` is a few hundred bytes.
pub const META_LIMIT: u64 = 1 << 20;

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub allow_missing_objects: bool,
    /// The site a legacy archive (one without `site` in its meta) belongs to.
    pub site_id: Option<String>,
    pub site_key: Option<String>,
    /// Dialect of a `db export` dump (default: SQLite, as D1 is).
    pub dialect: Option<Dialect>,
    pub tags: Vec<String>,
    pub hostname: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportSummary {
    pub site_id: Option<String>,
    pub site_key: Option<String>,
    pub dialect: String,
    pub snapshot_version: Option<u8>,
    pub statements: u64,
    pub tables: Vec<(String, u64)>,
    pub objects: u64,
    pub missing_objects: Vec<String>,
    #[serde(flatten)]
    pub backup: BackupSummary,
}

fn refuse(path: &Path, e: Error) -> Error {
    match e {
        Error::Invalid(m) if m.ends_with("nothing was imported") => {
            Error::Invalid(format!("{}: {m}", path.display()))
        }
        Error::Invalid(m) => {
            Error::Invalid(format!("{}: {m}; nothing was imported", path.display()))
        }
        other => other,
    }
}

/// Parse Jant's `-- Exported:` time (an ISO-8601 instant) to nanoseconds.
fn exported_ns(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos()).ok()
}

/// Storage keys the site's media rows name (Jant's preflight: non-blank
/// `storage_key` and `poster_key`, of the meta's site when it names one).
fn media_keys(dump: &Dump, site: Option<&str>) -> Vec<String> {
    let mut keys = Vec::new();
    let Some(t) = dump.table("media") else {
        return keys;
    };
    let cols = tables::KeyColumns::of(&t.name, |c| t.column(c));
    let site_col = t.column("site_id");
    for r in &t.rows {
        if let (Some(want), Some(c)) = (site, site_col) {
            if r[c].as_text() != Some(want) {
                continue;
            }
        }
        cols.each(r, |k, _| keys.push(k.to_string()));
    }
    keys.sort();
    keys.dedup();
    keys
}

fn table_counts(dump: &Dump) -> Vec<(String, u64)> {
    dump.tables
        .iter()
        .map(|t| (t.name.clone(), t.rows.len() as u64))
        .collect()
}

fn missing_error(path: &Path, missing: &[String]) -> Error {
    Error::refused(
        format!(
            "{}: nothing was imported: {} object(s) named by media rows are not in objects/: {}",
            path.display(),
            missing.len(),
            crate::util::joined_first(missing, 10)
        ),
        crate::error::Hint::AllowMissingObjects,
    )
}

/// Every rule Jant's importer (and its replay) applies beyond the parser:
/// the schema tag, no sidecars among the objects, and the rows (`rules`).
fn check_jant_rules(meta: &meta::Meta, site: &Site, archive: &Archive, dump: &Dump) -> Result<()> {
    let dialect = meta.dialect.unwrap_or(Dialect::Sqlite);
    jant_rules::check_schema_tag(meta.schema.as_deref(), dialect)?;
    jant_rules::check_object_keys(archive.objects().map(|(k, _)| k))?;
    let views: Vec<jant_rules::RuleTable> = dump
        .tables
        .iter()
        .map(|t| jant_rules::RuleTable {
            name: &t.name,
            columns: t.columns.iter().map(String::as_str).collect(),
            rows: &t.rows,
            lines: Some(&t.lines),
        })
        .collect();
    jant_rules::check_rows(Some(&site.id), dialect, &views)
}

/// Import a Jant site snapshot archive.
pub fn import_archive(
    repo: &Repository,
    path: &Path,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportSummary> {
    progress.phase("check", 0);
    let archive = Archive::open(path, &[("meta.json", META_LIMIT)])?;
    let meta_bytes = archive
        .read_small("meta.json", META_LIMIT)?
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{}: has no meta.json at its root, so it is not a Jant site snapshot; nothing was imported",
                path.display()
            ))
        })?;
    let meta = meta::parse(&meta_bytes).map_err(|e| refuse(path, e))?;
    let site = match (&meta.site, &opts.site_id) {
        (Some(s), _) => s.clone(),
        (None, Some(id)) => Site {
            id: id.clone(),
            key: opts.site_key.clone().unwrap_or_else(|| "default".into()),
        },
        (None, None) => {
            return Err(Error::refused(
                format!(
                "{}: nothing was imported: this archive predates sites (its meta.json names none)",
                path.display()
            ),
                crate::error::Hint::SiteId,
            ))
        }
    };
    let rules = Rules::Snapshot {
        version: meta.version,
        legacy_site: meta.legacy.then(|| site.id.clone()),
    };
    let sql_entry = archive.entry("db.sql").ok_or_else(|| {
        Error::Invalid(format!(
            "{}: has no db.sql at its root; nothing was imported",
            path.display()
        ))
    })?;
    progress.phase("db.sql", 0);
    let dump = dump::read(archive.open_entry(sql_entry)?, &rules).map_err(|e| refuse(path, e))?;
    check_jant_rules(&meta, &site, &archive, &dump).map_err(|e| refuse(path, e))?;

    let keys = media_keys(&dump, meta.site.as_ref().map(|s| s.id.as_str()));
    let present: HashSet<&str> = archive.objects().map(|(k, _)| k).collect();
    let missing: Vec<String> = keys
        .iter()
        .filter(|k| !present.contains(k.as_str()))
        .cloned()
        .collect();
    if !missing.is_empty() && !opts.allow_missing_objects {
        return Err(missing_error(path, &missing));
    }

    let dialect = meta.dialect.unwrap_or(Dialect::Sqlite);
    let mut extra = vec![
        (database::EXTRA_SITE_ID.to_string(), site.id.clone()),
        (database::EXTRA_SITE_KEY.to_string(), site.key.clone()),
        (EXTRA_ORIGIN.to_string(), "archive".to_string()),
        (EXTRA_SNAPSHOT_VERSION.to_string(), meta.version.to_string()),
    ];
    let optional = [
        (EXTRA_DIALECT, meta.dialect.map(|d| d.name().to_string())),
        (EXTRA_VERSION, meta.jant.clone()),
        (EXTRA_SCHEMA, meta.schema.clone()),
        (EXTRA_SQL_SOURCE, dump.header.source.clone()),
    ];
    extra.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v))),
    );
    let time_ns = dump.header.exported.as_deref().and_then(exported_ns);
    let statements = dump.statements;
    let tables = table_counts(&dump);
    let id = format!("site:{}", site.id);
    let mut db = DumpSource::new(
        SourceInfo {
            kind: "jant-archive".into(),
            id: id.clone(),
            description: path.display().to_string(),
        },
        dialect.name(),
        dump,
        extra,
    )?;
    let objects = ArchiveObjects {
        archive: &archive,
        description: format!("{} objects/", path.display()),
        id,
    };
    let count = objects.archive.objects().count() as u64;
    let backup = run(repo, &mut db, &objects, opts, time_ns, progress)?;
    Ok(ImportSummary {
        site_id: Some(site.id),
        site_key: Some(site.key),
        dialect: dialect.name().into(),
        snapshot_version: Some(meta.version),
        statements,
        tables,
        objects: count,
        missing_objects: missing,
        backup,
    })
}

/// Each table's row order as the archive had it: ordinal (u64 big-endian)
/// → row key, so that an export writes the rows back in that order.
fn order_roots(repo: &Repository, db: &DumpSource) -> Result<Vec<(String, Root)>> {
    let mut out = Vec::new();
    for (name, keys) in db.file_order() {
        let mut b = TreeBuilder::new(repo);
        for (i, k) in keys.iter().enumerate() {
            b.push((i as u64).to_be_bytes().to_vec(), k.clone())?;
        }
        out.push((format!("{ORDER_ROOT_PREFIX}{name}"), b.finish()?));
    }
    Ok(out)
}

fn run(
    repo: &Repository,
    db: &mut DumpSource,
    media: &dyn MediaSource,
    opts: &ImportOptions,
    time_ns: Option<i64>,
    progress: &dyn Progress,
) -> Result<BackupSummary> {
    let bopts = BackupOptions {
        tags: opts.tags.clone(),
        // An archive's entries have no fingerprint worth trusting (a CRC-32
        // is not one): every object is read and deduplicated by content.
        force_read: true,
        hostname: opts.hostname.clone(),
        time_ns,
        extra_roots: order_roots(repo, db)?,
        allow_empty_database: true,
        exclude: Default::default(),
    };
    backup::backup_site(repo, Some(db), Some(media), &bopts, progress)
}

/// Import a `jant db export` dump (every table, no meta) and, optionally,
/// the site's media directory: the backup path for Cloudflare D1 sites
/// (`jant db export --remote`, then the bucket's objects).
pub fn import_sql(
    repo: &Repository,
    sql_path: &Path,
    media_dir: Option<&Path>,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportSummary> {
    progress.phase("db.sql", 0);
    let file = std::fs::File::open(sql_path).map_err(|e| Error::io(sql_path, e))?;
    let dump = dump::read(std::io::BufReader::new(file), &Rules::Export)
        .map_err(|e| refuse(sql_path, e))?;
    let has_bool = dump.tables.iter().any(|t| {
        t.rows
            .iter()
            .any(|r| r.iter().any(|v| matches!(v, Value::Bool(_))))
    });
    let dialect = opts.dialect.unwrap_or(if has_bool {
        Dialect::Pg
    } else {
        Dialect::Sqlite
    });
    // The site table names the site; a dump of one site chains by it, and
    // without it no archive can be exported from the snapshot.
    let site = dump.table("site").and_then(|t| {
        let (i, k) = (t.column("id")?, t.column("key")?);
        let r = t.rows.first()?;
        Some((r[i].as_text()?.to_string(), r[k].as_text()?.to_string()))
    });
    if site.is_none() {
        return Err(Error::Invalid(format!(
            "{}: the dump holds no row of table \"site\" (with its id and key), so it names no Jant site; a `jant db export` of a Jant database always has one; nothing was imported",
            sql_path.display()
        )));
    }
    let media = match media_dir {
        Some(d) => Some(DirSource::new(d)?),
        None => None,
    };
    if let (Some(m), false) = (&media, opts.allow_missing_objects) {
        // Look up the named keys rather than scan: the backup scans once.
        let keys = media_keys(&dump, None);
        let missing: Vec<String> = keys.into_iter().filter(|k| !m.has_entry(k)).collect();
        if !missing.is_empty() {
            return Err(missing_error(sql_path, &missing));
        }
    }
    let mut extra = vec![(EXTRA_ORIGIN.to_string(), "db-export".to_string())];
    if let Some(s) = &dump.header.source {
        extra.push((EXTRA_SQL_SOURCE.to_string(), s.clone()));
    }
    let time_ns = dump.header.exported.as_deref().and_then(exported_ns);
    let statements = dump.statements;
    let tables = table_counts(&dump);
    let id = match &site {
        Some((id, _)) => format!("site:{id}"),
        None => format!("file:{}", sql_path.display()),
    };
    let mut db = DumpSource::new(
        SourceInfo {
            kind: "jant-db-export".into(),
            id,
            description: sql_path.display().to_string(),
        },
        dialect.name(),
        dump,
        extra,
    )?;
    let bopts = BackupOptions {
        tags: opts.tags.clone(),
        force_read: false,
        hostname: opts.hostname.clone(),
        time_ns,
        extra_roots: Vec::new(),
        allow_empty_database: true,
        exclude: Default::default(),
    };
    let backup = backup::backup_site(
        repo,
        Some(&mut db),
        media.as_ref().map(|m| m as &dyn MediaSource),
        &bopts,
        progress,
    )?;
    Ok(ImportSummary {
        site_id: site.as_ref().map(|s| s.0.clone()),
        site_key: site.map(|s| s.1),
        dialect: dialect.name().into(),
        snapshot_version: None,
        statements,
        tables,
        objects: backup.summary.files,
        missing_objects: Vec::new(),
        backup,
    })
}
