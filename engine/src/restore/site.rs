//! Restore a whole Jant site: media first, then the database, so that at no
//! moment do committed rows name an object that is not there. A new SQLite
//! file is built beside its target while the media are written and renamed
//! into place after them. If the database step fails, the media files this
//! restore created are removed again, and the target is as it was.

use super::sqlite::DbRestoreSummary;
use super::{RestoreOptions, RestoreSummary};
use crate::database;
use crate::error::{Error, Hint, Result};
use crate::progress::Progress;
use crate::repo::Repository;
use crate::snapshot::Snapshot;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    /// A SQLite file (`<data dir>/jant.sqlite`).
    Sqlite(PathBuf),
    /// A Postgres connection URL.
    Postgres(String),
}

/// Takes back what a media restore wrote.
pub(super) type Undo<'a> = Box<dyn Fn(&RestoreSummary) + 'a>;

/// Where a site restore writes the media.
pub enum MediaTarget {
    /// A directory (Jant's `LOCAL_STORAGE_PATH`).
    Dir(PathBuf),
    /// An S3-compatible bucket (Jant's `S3_*`).
    Bucket(crate::backend::Backend),
}

impl MediaTarget {
    pub fn describe(&self) -> String {
        match self {
            MediaTarget::Dir(d) => d.display().to_string(),
            MediaTarget::Bucket(b) => b.location().to_string(),
        }
    }

    /// The storage driver Jant records in `media.provider` for objects
    /// here (its importer sets the target's: jant-format.md §4.6).
    pub(super) fn provider(&self) -> &'static str {
        match self {
            MediaTarget::Dir(_) => "local",
            MediaTarget::Bucket(_) => "s3",
        }
    }

    /// Whether the target already holds an object under `key`.
    fn holds(&self, key: &str) -> Result<bool> {
        // A key from the rows that would climb out of the target is never
        // "held": only what lies under the target counts.
        if key
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Ok(false);
        }
        match self {
            MediaTarget::Dir(d) => Ok(std::fs::symlink_metadata(d.join(key))
                .map(|m| m.is_file())
                .unwrap_or(false)),
            MediaTarget::Bucket(b) => Ok(b.head(key)?.is_some()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SiteRestoreOptions {
    /// Rewrite only the content tables and allow-listed settings of a live site.
    pub content_only: bool,
    /// The operator's confirmation that content-only may replace content.
    pub replace: bool,
    /// Write only the objects the restored rows reference.
    pub only_referenced: bool,
    /// Go on when a referenced object is missing from the snapshot.
    pub allow_missing_objects: bool,
    /// Write the media into a directory or bucket that already holds some,
    /// replacing objects of the same name (finishing an interrupted
    /// restore). The database target must still be blank.
    pub overwrite: bool,
    /// Check everything and count what would be written; write nothing.
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SiteRestoreSummary {
    /// Nothing was written: the counts are what would have been.
    pub dry_run: bool,
    pub content_only: bool,
    pub database: DbRestoreSummary,
    pub media: RestoreSummary,
    /// The media directory or bucket.
    pub media_target: String,
    /// Keys the rows reference that the snapshot's media do not hold.
    pub missing_objects: Vec<String>,
    /// Why the database was not restored, when the repository's copy of it
    /// is damaged: a full restore then still writes the media.
    pub database_failed: Option<String>,
}

/// Damage in the repository (as opposed to a problem with the target):
/// what a recovery passes over, naming it.
fn damaged(e: &Error) -> bool {
    matches!(e, Error::Corrupt { .. } | Error::NotFound(_))
}

/// The keys of the snapshot's media listing. Keys only: the entries
/// (chunk lists and all) are not decoded.
pub(super) fn media_keys(repo: &Repository, snap: &Snapshot) -> Result<BTreeSet<String>> {
    let mut have = BTreeSet::new();
    if let Some(root) = snap.root(crate::snapshot::MEDIA_ROOT) {
        for e in crate::tree::iter(repo, &root.node) {
            have.insert(String::from_utf8_lossy(&e?.key).into_owned());
        }
    }
    Ok(have)
}

/// Referenced keys absent from the snapshot's media.
pub fn missing_objects(repo: &Repository, snap: &Snapshot) -> Result<(Vec<String>, Vec<String>)> {
    let referenced = database::referenced_keys(repo, snap)?;
    let have = media_keys(repo, snap)?;
    let missing = referenced
        .iter()
        .filter(|k| !have.contains(*k))
        .cloned()
        .collect();
    Ok((referenced, missing))
}

fn snapshot_dialect(snap: &Snapshot) -> &str {
    database::extra(snap, database::EXTRA_DIALECT).unwrap_or("sqlite")
}

/// Refuse a database target of the other engine than the snapshot's.
pub(super) fn check_dialect(snap: &Snapshot, db: &DatabaseTarget) -> Result<()> {
    match (snapshot_dialect(snap), db) {
        ("sqlite", DatabaseTarget::Sqlite(_)) | ("pg", DatabaseTarget::Postgres(_)) => Ok(()),
        (d, DatabaseTarget::Sqlite(_)) => Err(Error::refused(
            format!("the snapshot's database is {d}, not SQLite"),
            Hint::TargetDatabase,
        )),
        (d, DatabaseTarget::Postgres(_)) => Err(Error::refused(
            format!("the snapshot's database is {d}, not Postgres"),
            Hint::TargetDataDir,
        )),
    }
}

pub fn restore_site(
    repo: &Repository,
    snap: &Snapshot,
    db: &DatabaseTarget,
    media_target: &MediaTarget,
    opts: &SiteRestoreOptions,
    progress: &dyn Progress,
) -> Result<SiteRestoreSummary> {
    if !database::has_database(snap) {
        return Err(Error::refused(
            "this snapshot holds no database (a media-only backup)",
            Hint::TargetDirectory,
        ));
    }
    check_dialect(snap, db)?;
    if !opts.content_only && database::extra(snap, crate::jant::meta::EXTRA_ORIGIN).is_some() {
        return Err(Error::refused(
            "this snapshot was imported from a Jant archive or dump, which holds rows but not the schema to create tables from",
            Hint::ContentOnlyOrExport,
        ));
    }
    if opts.content_only && !opts.replace {
        return Err(Error::refused(
            "a content-only restore deletes and rewrites the site's posts, collections, media rows and settings",
            Hint::ConfirmReplace,
        ));
    }
    // Refuse an occupied target before any media are written. A rerun
    // of a restore killed after it put the database in place (`overwrite`:
    // finishing it) finds this snapshot's database there: it keeps it and
    // finishes the media.
    let mut db_done = None;
    if !opts.content_only {
        match db {
            DatabaseTarget::Sqlite(p) if opts.overwrite && p.exists() => {
                match super::sqlite::restored_already(repo, snap, p)? {
                    Some(summary) => db_done = Some(summary),
                    None => super::sqlite::ensure_blank(p)?,
                }
            }
            DatabaseTarget::Sqlite(p) => super::sqlite::ensure_blank(p)?,
            DatabaseTarget::Postgres(u) => super::postgres::ensure_ready_url(repo, snap, u)?,
        }
    }
    // A new SQLite file is built beside its target while the media are
    // written (the build is mostly one core of SQLite work, the media
    // mostly the disk), and renamed into place only after them.
    let sqlite_new = match db {
        DatabaseTarget::Sqlite(p) if !opts.content_only && db_done.is_none() => Some(p),
        _ => None,
    };
    // Which objects the rows name is learnt while that build decodes the
    // rows (`check_keys` below), unless the media restore needs the answer
    // before it starts (`only_referenced`, a content restore, a dry run):
    // then it is a pass over the rows of its own, first.
    let keys_in_build = sqlite_new.is_some() && !opts.only_referenced && !opts.dry_run;
    let (referenced, mut missing, rows_readable) = if keys_in_build {
        (Vec::new(), Vec::new(), true)
    } else {
        // A full restore is a recovery: if the rows that name media
        // objects cannot be read, every object is restored and the
        // database's own failure is reported below.
        match missing_objects(repo, snap) {
            Ok((r, m)) => (r, m, true),
            Err(e) if damaged(&e) && !opts.content_only => {
                progress.warn(&format!(
                    "which media objects the rows name cannot be read ({e}); every object is restored"
                ));
                (Vec::new(), Vec::new(), false)
            }
            Err(e) => return Err(e),
        }
    };
    if !keys_in_build {
        tracing::info!(
            referenced = referenced.len(),
            missing = missing.len(),
            content_only = opts.content_only,
            "site restore: objects the rows name"
        );
    }
    if !missing.is_empty() && !opts.allow_missing_objects && !opts.content_only {
        return Err(Error::MissingObjects(missing));
    }
    // A content restore into a site with another id is remapped to it, as
    // Jant's single-site import does: rows here, object keys below.
    let sites = if opts.content_only {
        Some(sites(snap, db)?)
    } else {
        None
    };
    let rename = sites.clone().filter(|(from, to)| from != to);
    let media_opts = RestoreOptions {
        overwrite: opts.overwrite,
        only: (opts.only_referenced && rows_readable).then(|| referenced.iter().cloned().collect()),
        // `only` holds the referenced keys already (computed above).
        only_referenced: false,
        keep_existing: opts.content_only,
        jant_sidecars: true,
        rename,
        dry_run: opts.dry_run,
        // A site is restored whole: its rows name its objects.
        ..Default::default()
    };
    if opts.content_only && !missing.is_empty() {
        // A content restore keeps the live site's objects: one the snapshot
        // lacks but the site holds (a database-only snapshot restored into
        // the site it came from, for a point in time) is not missing.
        missing = not_held(media_target, &media_opts, missing)?;
        if !missing.is_empty() && !opts.allow_missing_objects {
            return Err(Error::MissingObjects(missing));
        }
    }
    if opts.dry_run {
        let (media, _) = write_media(repo, snap, media_target, &media_opts, progress)?;
        let mut database = DbRestoreSummary::default();
        match &sites {
            Some((from, _)) => {
                for t in super::content::select(repo, snap, from)? {
                    database.tables += 1;
                    database.rows += t.rows.len() as u64;
                }
            }
            None => {
                for (_, rows) in snap.tables() {
                    database.tables += 1;
                    database.rows += rows;
                }
            }
        }
        return Ok(SiteRestoreSummary {
            dry_run: true,
            content_only: opts.content_only,
            database,
            media,
            media_target: media_target.describe(),
            missing_objects: missing,
            database_failed: None,
        });
    }
    // What a refused restore must take back: the data directory, when this
    // restore is what makes it.
    let made_dir = sqlite_new
        .and_then(|p| p.parent())
        .filter(|d| !d.as_os_str().is_empty() && !d.exists());
    let stop = super::Stop::default();
    let found = std::sync::Mutex::new(Vec::new());
    let check_keys = |referenced: Vec<String>| -> Result<()> {
        let have = match media_keys(repo, snap) {
            Ok(have) => have,
            Err(e) if damaged(&e) => {
                progress.warn(&format!(
                    "whether the objects the rows name are all in the snapshot cannot be read ({e}); every object is restored"
                ));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let gone: Vec<String> = referenced
            .iter()
            .filter(|k| !have.contains(*k))
            .cloned()
            .collect();
        tracing::info!(
            referenced = referenced.len(),
            missing = gone.len(),
            "site restore: objects the rows name"
        );
        if !gone.is_empty() && !opts.allow_missing_objects {
            stop.stop();
            return Err(Error::MissingObjects(gone));
        }
        if let Ok(mut f) = found.lock() {
            *f = gone;
        }
        Ok(())
    };
    let check: Option<super::sqlite::KeysCheck> = keys_in_build.then_some(&check_keys);
    let (media, built) = std::thread::scope(|s| {
        let build =
            sqlite_new.map(|p| s.spawn(move || super::sqlite::build_full(repo, snap, p, check)));
        let media = write_media_until(repo, snap, media_target, &media_opts, progress, &stop);
        let built = build.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::Invalid("the database build panicked".into())))
        });
        (media, built)
    });
    if keys_in_build {
        missing = found.into_inner().unwrap_or_default();
    }
    // Once the media and the build are taken back, the data directory this
    // restore made is empty again.
    let unmake_dir = || {
        if let Some(d) = made_dir {
            let _ = std::fs::remove_dir(d);
        }
    };
    let (media, undo_media) = match media {
        Ok(m) => m,
        Err(e) => {
            if let Some(Ok(b)) = built {
                b.discard();
            }
            unmake_dir();
            return Err(e);
        }
    };
    // A full restore is a recovery: a site with every row and all but the
    // damaged objects beats no site, so it goes on and names what failed
    // (`media.failed`). Content restored into a live site is all or
    // nothing: broken objects would show on the running site.
    if opts.content_only {
        all_or_nothing(&media, &undo_media)?;
    }
    progress.phase("database", 0);
    let result = match (db, &sites, built) {
        (_, _, Some(built)) => built.and_then(|b| b.commit()),
        (DatabaseTarget::Sqlite(_), None, None) if db_done.is_some() => {
            Ok(db_done.unwrap_or_default())
        }
        (DatabaseTarget::Sqlite(p), None, None) => super::sqlite::restore_full(repo, snap, p),
        (DatabaseTarget::Sqlite(p), Some((_, to)), None) => {
            super::sqlite::restore_content(repo, snap, p, media_target.provider(), to)
        }
        (DatabaseTarget::Postgres(u), None, None) => super::postgres::restore_full(repo, snap, u),
        (DatabaseTarget::Postgres(u), Some((_, to)), None) => {
            super::postgres::restore_content(repo, snap, u, media_target.provider(), to)
        }
    };
    let (database, database_failed) = match result {
        Ok(database) => (database, None),
        // The media are worth keeping when the database's copy is what is
        // damaged (the target is as blank as it was: a failed build leaves
        // no file, a failed Postgres load rolls back).
        Err(e) if damaged(&e) && !opts.content_only => {
            progress.warn(&format!("the database could not be restored: {e}"));
            (DbRestoreSummary::default(), Some(e.to_string()))
        }
        Err(e) => {
            undo_media(&media);
            unmake_dir();
            return Err(e);
        }
    };
    Ok(SiteRestoreSummary {
        dry_run: false,
        content_only: opts.content_only,
        database,
        media,
        media_target: media_target.describe(),
        missing_objects: missing,
        database_failed,
    })
}

/// The snapshot's site and the live site a content restore into `db`
/// writes into (`content::target_site`; its rows and object keys are
/// remapped to it when the two differ).
pub(super) fn sites(snap: &Snapshot, db: &DatabaseTarget) -> Result<(String, String)> {
    let from = super::content::site_id(snap)?;
    let (ids, name) = match db {
        DatabaseTarget::Sqlite(p) => (super::sqlite::site_ids(p)?, p.display().to_string()),
        DatabaseTarget::Postgres(u) => (super::postgres::site_ids(u)?, crate::util::mask_url(u)),
    };
    let to = super::content::target_site(&from, ids, &name)?;
    Ok((from, to))
}

/// The `keys` (as the snapshot names them) the target does not hold under
/// the name `opts` writes them to.
pub(super) fn not_held(
    target: &MediaTarget,
    opts: &RestoreOptions,
    keys: impl IntoIterator<Item = String>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for k in keys {
        if !target.holds(&opts.target_key(&k))? {
            out.push(k);
        }
    }
    Ok(out)
}

/// Media restored into a live site are all or nothing: broken objects
/// would show on the running site. On any failure, take back what was
/// written and say what failed first.
pub(super) fn all_or_nothing(media: &RestoreSummary, undo: &Undo) -> Result<()> {
    let Some((k, why)) = media.failed.first() else {
        return Ok(());
    };
    undo(media);
    Err(Error::Invalid(format!(
        "{} media object(s) could not be restored (first: {k}: {why}); nothing was restored",
        media.failed.len()
    )))
}

/// Write the snapshot's media to the site's media target; what was
/// written, and how to take it back.
pub(super) fn write_media<'a>(
    repo: &Repository,
    snap: &Snapshot,
    media_target: &'a MediaTarget,
    media_opts: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<(RestoreSummary, Undo<'a>)> {
    write_media_until(
        repo,
        snap,
        media_target,
        media_opts,
        progress,
        &super::Stop::default(),
    )
}

/// `write_media`, writing no more objects once `stop` is set (work beside
/// it failed).
fn write_media_until<'a>(
    repo: &Repository,
    snap: &Snapshot,
    media_target: &'a MediaTarget,
    media_opts: &RestoreOptions,
    progress: &dyn Progress,
    stop: &super::Stop,
) -> Result<(RestoreSummary, Undo<'a>)> {
    Ok(match media_target {
        MediaTarget::Dir(media_dir) => {
            let media_existed = media_dir.exists();
            let media =
                super::restore_media_until(repo, snap, media_dir, media_opts, progress, stop)?;
            let media_dir = media_dir.clone();
            let undo = move |m: &RestoreSummary| {
                for p in m.created.iter().rev() {
                    let _ = std::fs::remove_file(p);
                    // Directories this restore made are empty again: remove
                    // them, stopping at the first that still holds something.
                    let mut dir = p.parent();
                    while let Some(d) = dir.filter(|d| d.starts_with(&media_dir) && *d != media_dir)
                    {
                        if std::fs::remove_dir(d).is_err() {
                            break;
                        }
                        dir = d.parent();
                    }
                }
                if !media_existed {
                    let _ = std::fs::remove_dir_all(&media_dir);
                }
            };
            (media, Box::new(undo))
        }
        MediaTarget::Bucket(b) => {
            let media =
                super::bucket::restore_to_bucket_until(repo, snap, b, media_opts, progress, stop)?;
            (
                media,
                Box::new(|m: &RestoreSummary| super::bucket::undo(b, m)),
            )
        }
    })
}
