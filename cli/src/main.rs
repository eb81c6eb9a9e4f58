//! `jarc`: parse arguments, call the engine, render its results.
//!
//! Exit codes: 0 success; 1 error; 2 usage error; 3 the command ran but
//! found problems (`check` found damage, `restore` could not write some
//! objects, a `drill` check failed).

mod output;
mod progress;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use jarc::backup::{backup_site, BackupOptions};
use jarc::config::Config;
use jarc::jant::env::{self, Env};
use jarc::repo::NewKey;
use jarc::restore::item::{restore_items, Item, ItemRestoreOptions, ItemTarget};
use jarc::restore::site::{restore_site, DatabaseTarget, MediaTarget, SiteRestoreOptions};
use jarc::restore::{restore_media, RestoreOptions};
use jarc::source::bucket::BucketSource;
use jarc::source::dir::DirSource;
use jarc::source::MediaSource;
use jarc::{snapshot, Repository};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(
    name = "jarc",
    version,
    about = "Content-addressed, deduplicating backups for Jant sites"
)]
struct Cli {
    /// Repository location (a directory).
    #[arg(long, global = true, env = "JARC_REPOSITORY")]
    repo: Option<String>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Say what jarc does on stderr, step by step (-v), and in detail
    /// (-vv: every pack, index file and request batch); implies no
    /// progress bars. JARC_LOG (`info`, `debug`, `jarc=debug,object_store=info`)
    /// sets the same for any crate.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    cmd: Cmd,
}

/// Which snapshots a listing, `find` or `copy` takes: all of these must
/// hold.
#[derive(clap::Args)]
struct FilterArgs {
    /// Only snapshots taken on this host.
    #[arg(long)]
    host: Option<String>,
    /// Only snapshots with this tag (repeatable: all of them).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Only snapshots whose source (its description or id) contains this.
    #[arg(long)]
    source: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> snapshot::Filter {
        snapshot::Filter {
            host: self.host.clone(),
            tags: self.tags.clone(),
            source: self.source.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a new repository, encrypted: its password comes from
    /// JARC_PASSWORD, JARC_PASSWORD_FILE or JARC_PASSWORD_COMMAND, or is
    /// asked twice on a terminal.
    Init {
        /// Store every object in plaintext, readable by anyone who can read
        /// the storage (not recommended).
        #[arg(long)]
        insecure_no_encryption: bool,
        /// Make it a copy of the repository at SOURCE: the same blob ids and
        /// chunker (and, when SOURCE is encrypted, its master key under
        /// this repository's own password), so that `jarc copy --from
        /// SOURCE` stores only what it lacks. SOURCE's password:
        /// JARC_FROM_PASSWORD, _FILE or _COMMAND, else this one's.
        #[arg(long, value_name = "SOURCE")]
        copy_from: Option<String>,
    },
    /// Manage the passwords (key objects) that open an encrypted repository.
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// Back up the Jant site that DATA_DIR / DATABASE_URL / LOCAL_STORAGE_PATH
    /// (shell, .env, .env.node) describe: its database and its media.
    Backup {
        /// Use this data directory (Jant's DATA_DIR).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Use this database: a SQLite path or file: URL, or postgres://…
        #[arg(long)]
        database: Option<String>,
        /// Use this media directory (Jant's LOCAL_STORAGE_PATH). Given
        /// alone, back up only this directory.
        #[arg(long)]
        media: Option<PathBuf>,
        /// Back up the database only.
        #[arg(long, conflicts_with = "media")]
        no_media: bool,
        /// Back up only an S3-compatible media bucket, configured as Jant's
        /// S3_* variables say; BUCKET overrides S3_BUCKET.
        #[arg(long, value_name = "BUCKET", num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["media", "data_dir", "database", "no_media"])]
        media_bucket: Option<String>,
        /// Tag the snapshot (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Leave out media objects matching PATTERN (repeatable): `*.tmp`
        /// matches any name, `cache/thumbs` a path from the media root; a
        /// matched directory goes with everything under it.
        #[arg(long, value_name = "PATTERN")]
        exclude: Vec<String>,
        /// Read every file, even those unchanged since the parent snapshot.
        #[arg(long)]
        force_read: bool,
        /// Record this hostname instead of the machine's.
        #[arg(long)]
        host: Option<String>,
        /// Record a database without tables even when the previous snapshot
        /// of its source had some.
        #[arg(long)]
        allow_empty: bool,
        /// Say what would be read (new and changed media, by comparing with
        /// the last snapshot) without reading or writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// List snapshots.
    Snapshots {
        #[command(flatten)]
        filter: FilterArgs,
        /// Only the N newest of each source (and host).
        #[arg(long, value_name = "N")]
        latest: Option<usize>,
    },
    /// Find media objects by PATTERN (as --exclude reads it) in every
    /// snapshot, or in those the filters pick.
    Find {
        pattern: String,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Copy snapshots from the repository at --from into this one (all of
    /// them, or those named or picked by the filters), storing only the
    /// blobs it lacks; snapshots it holds already are skipped. This one must
    /// have been made with `jarc init --copy-from`. The source's password:
    /// JARC_FROM_PASSWORD, _FILE or _COMMAND, else this one's.
    Copy {
        /// The repository to copy from (a path or s3://bucket/prefix).
        #[arg(long, value_name = "SOURCE")]
        from: String,
        /// Source snapshots (ids, prefixes or `latest`); none: every one
        /// the filters pick.
        snapshots: Vec<String>,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Change the tags of snapshots (their ids change: a snapshot is named
    /// by its bytes).
    Tag {
        #[arg(required = true)]
        snapshots: Vec<String>,
        /// Add this tag (repeatable).
        #[arg(long)]
        add: Vec<String>,
        /// Remove this tag (repeatable).
        #[arg(long)]
        remove: Vec<String>,
        /// Replace all tags with these (repeatable; an empty value clears them).
        #[arg(long)]
        set: Vec<String>,
    },
    /// Write one media object of a snapshot to standard output.
    Dump {
        snapshot: String,
        /// The object's key, as `ls` shows it.
        key: String,
    },
    /// List the objects of a snapshot.
    Ls { snapshot: String },
    /// Show what changed between two snapshots.
    Diff { a: String, b: String },
    /// Restore a snapshot: a whole site (--target-data-dir or
    /// --target-database), its content only (--content --replace), or its
    /// media into a directory (--target).
    Restore {
        /// A snapshot id (or unique prefix), or `latest`; with --at, none.
        #[arg(required_unless_present = "at", conflicts_with = "at")]
        snapshot: Option<String>,
        /// Point-in-time restore: the newest snapshot taken at or before
        /// TIME (RFC 3339, or YYYY-MM-DD [HH:MM[:SS]] in UTC) of the one
        /// source --source, --host and --tag pick.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// With --at: only snapshots whose source (description or id)
        /// contains this.
        #[arg(long, requires = "at")]
        source: Option<String>,
        /// With --at: only snapshots taken on this host.
        #[arg(long, requires = "at")]
        host: Option<String>,
        /// With --at: only snapshots with this tag (repeatable: all of them).
        #[arg(long = "tag", requires = "at")]
        tags: Vec<String>,
        /// Write the snapshot's media into this directory.
        #[arg(long, conflicts_with_all = ["target_data_dir", "target_database"])]
        target: Option<PathBuf>,
        /// Write a Jant Node layout: DIR/jant.sqlite and DIR/media.
        #[arg(long, conflicts_with = "target_database")]
        target_data_dir: Option<PathBuf>,
        /// Restore the database into this Postgres database (empty, unless --content).
        #[arg(long)]
        target_database: Option<String>,
        /// Where media go with --target-database.
        #[arg(long)]
        target_media: Option<PathBuf>,
        /// Rewrite only content tables and allow-listed settings of a live site.
        #[arg(long)]
        content: bool,
        /// Confirm that --content may delete and rewrite the site's content.
        #[arg(long)]
        replace: bool,
        /// Write only the media objects the restored rows reference.
        #[arg(long)]
        only_referenced: bool,
        /// Go on when the rows reference objects missing from the snapshot.
        #[arg(long)]
        allow_missing_objects: bool,
        /// Write into a non-empty media directory or bucket, replacing objects
        /// of the same name (finishing an interrupted restore); a full
        /// restore's database target must still be blank.
        #[arg(long)]
        overwrite: bool,
        /// Write the media into an S3-compatible bucket configured as Jant's
        /// S3_* variables (shell, .env, .env.node) say; BUCKET overrides S3_BUCKET.
        #[arg(long, value_name = "BUCKET", num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["target", "target_media"])]
        target_bucket: Option<String>,
        /// With --target-bucket: restore the media only, not the database.
        #[arg(long, requires = "target_bucket")]
        media_only: bool,
        /// Media restores (--target, --target-bucket --media-only): only
        /// objects matching PATTERN (repeatable), as --exclude reads them.
        #[arg(long, value_name = "PATTERN")]
        include: Vec<String>,
        /// Media restores: not the objects matching PATTERN (repeatable).
        #[arg(long, value_name = "PATTERN")]
        exclude: Vec<String>,
        /// Restore one post (by id, or by a slug or alias path) with its
        /// whole thread, its media and its paths (repeatable): into a live
        /// site (--target-data-dir, --target-database), beside its other
        /// rows, or into a directory (--target) as objects and rows.sql.
        #[arg(long, value_name = "ID|PATH", conflicts_with_all = ["include", "exclude", "only_referenced"])]
        post: Vec<String>,
        /// Restore one collection or smart collection (by id or path) with
        /// its paths and thread memberships (repeatable), as --post does.
        #[arg(long, value_name = "ID|PATH", conflicts_with_all = ["include", "exclude", "only_referenced"])]
        collection: Vec<String>,
        /// Restore one media object by its key, with the media row that
        /// names it (repeatable), as --post does.
        #[arg(long = "media", value_name = "KEY", conflicts_with_all = ["include", "exclude", "only_referenced"])]
        media_keys: Vec<String>,
        /// Check everything a restore checks and say what it would write
        /// (objects, bytes, tables, rows); write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a snapshot as a Jant site snapshot archive that `jant site
    /// snapshot import` accepts (--output FILE.zip, or a directory when the
    /// name does not end in .zip), or as a `jant db export` dump (--sql).
    Export {
        snapshot: String,
        /// The archive to write (FILE.zip, or a directory name).
        #[arg(long, required_unless_present = "sql", conflicts_with = "sql")]
        output: Option<PathBuf>,
        /// Write every table as a `jant db export`–compatible dump instead.
        #[arg(long)]
        sql: Option<PathBuf>,
        /// Leave objects/ out of the archive.
        #[arg(long)]
        skip_objects: bool,
        /// The site to export (key or id) when the snapshot holds several.
        #[arg(long)]
        site: Option<String>,
        /// Export even when objects the media rows name are not in the snapshot.
        #[arg(long)]
        allow_missing_objects: bool,
        /// Write the archive even when it holds no content rows for its site
        /// (Jant's --replace import of it empties the site).
        #[arg(long)]
        allow_empty: bool,
    },
    /// Store a Jant site snapshot archive (FILE.zip or a directory, v1 or
    /// v2) as a snapshot, or with --sql a `jant db export` dump and its media.
    Import {
        /// The archive (FILE.zip or directory).
        #[arg(required_unless_present = "sql", conflicts_with = "sql")]
        archive: Option<PathBuf>,
        /// A `jant db export` dump (every table) to store instead.
        #[arg(long)]
        sql: Option<PathBuf>,
        /// With --sql: the site's media directory (e.g. a copy of its R2 bucket).
        #[arg(long, requires = "sql")]
        media: Option<PathBuf>,
        /// With --sql: the dump's dialect, sqlite (D1, the default) or pg.
        #[arg(long, requires = "sql")]
        dialect: Option<String>,
        /// Import even when media rows name objects the archive lacks.
        #[arg(long)]
        allow_missing_objects: bool,
        /// The site a legacy archive (meta.json without a site) belongs to.
        #[arg(long)]
        site_id: Option<String>,
        /// With --site-id: the site's key (default: "default").
        #[arg(long, requires = "site_id")]
        site_key: Option<String>,
        /// Tag the snapshot (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Record this hostname instead of the machine's.
        #[arg(long)]
        host: Option<String>,
    },
    /// Verify the repository's structure (and with --read-data, every byte).
    Check {
        #[arg(long)]
        read_data: bool,
    },
    /// Sizes, dedup and compression ratios.
    Stats,
    /// Print a completion script for SHELL (bash, zsh, fish, elvish,
    /// powershell), e.g. `jarc completion bash > /etc/bash_completion.d/jarc`.
    Completion { shell: clap_complete::Shell },
    /// Print the manual page (roff), or write one page per command into
    /// DIR: `jarc man /usr/local/share/man/man1`.
    Man { dir: Option<PathBuf> },
    /// Rebuild what the repository's metadata lacks from what it holds.
    Repair {
        #[command(subcommand)]
        what: RepairCmd,
    },
    /// Prove a snapshot restores: restore it into a scratch environment,
    /// verify the database and media, report RTO and RPO, and record the
    /// result in the repository. Exits 3 when a check fails.
    Drill {
        /// The snapshot (default: the newest of the site's backups).
        #[arg(conflicts_with_all = ["all_sources", "history"])]
        snapshot: Option<String>,
        /// Drill the newest snapshot of every source in the repository.
        #[arg(long, conflicts_with = "history")]
        all_sources: bool,
        /// List past drills instead of running one.
        #[arg(long)]
        history: bool,
        /// A Postgres server URL (postgres://user:pw@host/db) where the drill
        /// may create and drop a scratch database; needed for Postgres snapshots.
        #[arg(long, env = "JARC_DRILL_DATABASE")]
        target_database: Option<String>,
        /// Make the scratch directory under DIR (default: the system temp dir).
        #[arg(long)]
        scratch: Option<PathBuf>,
        /// Read back and rehash only N media files (default: all).
        #[arg(long)]
        sample: Option<usize>,
        /// Leave the scratch environment for inspection.
        #[arg(long)]
        keep: bool,
        /// Record this hostname instead of the machine's.
        #[arg(long)]
        host: Option<String>,
    },
    /// Forget snapshots, by id or by a retention policy (grouped by source
    /// unless --group-by says otherwise). The data only they held is freed
    /// by `prune` (--prune runs it right after).
    Forget {
        /// Snapshots to forget (ids or unique prefixes) instead of a policy.
        #[arg(conflicts_with_all = ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within", "keep_tag"])]
        snapshots: Vec<String>,
        /// Keep the N newest snapshots.
        #[arg(long, value_name = "N")]
        keep_last: Option<u32>,
        /// Keep the newest snapshot of each of the N newest hours (UTC) with one.
        #[arg(long, value_name = "N")]
        keep_hourly: Option<u32>,
        /// … days.
        #[arg(long, value_name = "N")]
        keep_daily: Option<u32>,
        /// … ISO weeks.
        #[arg(long, value_name = "N")]
        keep_weekly: Option<u32>,
        /// … months.
        #[arg(long, value_name = "N")]
        keep_monthly: Option<u32>,
        /// … years.
        #[arg(long, value_name = "N")]
        keep_yearly: Option<u32>,
        /// Keep every snapshot within DURATION of the group's newest
        /// (30d, 12h, 2w, 6m, 1y, 1y6m).
        #[arg(long, value_name = "DURATION")]
        keep_within: Option<String>,
        /// Keep every snapshot with this tag (repeatable).
        #[arg(long, value_name = "TAG")]
        keep_tag: Vec<String>,
        /// Group by any of source, host, tags (comma-separated; "" for one group).
        #[arg(long, default_value = "source")]
        group_by: String,
        /// List what would be forgotten and why the rest is kept; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Allow forgetting the newest snapshot of a source.
        #[arg(long)]
        force: bool,
        /// Run prune afterwards.
        #[arg(long)]
        prune: bool,
        #[command(flatten)]
        prune_opts: PruneArgs,
    },
    /// Free the space of data no snapshot references: condemn unused packs
    /// and repack mostly-unused ones now, delete what earlier runs condemned
    /// once no running backup can still need it.
    Prune {
        /// Report what would be condemned and repacked; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        opts: PruneArgs,
    },
    /// Make a small Jant site, back it up, change it, back it up again,
    /// diff, restore into a blank directory and verify it.
    Demo {
        /// Work directory (created; must not hold an earlier demo).
        #[arg(default_value = "jarc-demo")]
        dir: PathBuf,
        /// Number of posts in the generated site.
        #[arg(long, default_value_t = 200)]
        posts: usize,
    },
}

#[derive(Subcommand)]
enum RepairCmd {
    /// Index every pack no intact index file names, from the pack's own
    /// header, then delete damaged index files.
    Index,
    /// Write each damaged or missing half of the objects kept twice (the
    /// config, key objects, snapshots) again from the other; older
    /// repositories get their copies.
    Copies,
}

#[derive(Subcommand)]
enum KeyCmd {
    /// List the key objects.
    List,
    /// Add a key with a new password (JARC_NEW_PASSWORD, _FILE or _COMMAND,
    /// or asked twice on a terminal).
    Add,
    /// Remove a key (by id or unique prefix); the last one is refused.
    Remove { id: String },
    /// Change this password: add a key with the new one, remove the one used.
    Passwd,
}

#[derive(clap::Args)]
struct PruneArgs {
    /// Unused space allowed to remain in kept packs, as a share of the used
    /// space (packs above it are repacked, most unused first).
    #[arg(long, default_value = "5%", value_name = "PERCENT")]
    max_unused: String,
    /// Copy at most this much live data while repacking in one run (500M, 2G).
    #[arg(long, value_name = "SIZE")]
    max_repack: Option<String>,
    /// Free packs no index names now instead of after 24 hours. They are a
    /// killed backup's; pass this only when no backup or import is running
    /// against the repository (a running one's packs look the same).
    #[arg(long)]
    unindexed_now: bool,
}

impl PruneArgs {
    fn options(&self, dry_run: bool) -> Result<jarc::prune::PruneOptions> {
        let permille = jarc::util::parse_percent_permille(&self.max_unused).ok_or_else(|| {
            output::usage(format!(
                "--max-unused {:?}: expected a percentage from 0 to 100",
                self.max_unused
            ))
        })?;
        Ok(jarc::prune::PruneOptions {
            dry_run,
            max_unused_permille: permille,
            max_repack: self.max_repack.as_deref().map(parse_size).transpose()?,
            unindexed_age: if self.unindexed_now {
                std::time::Duration::ZERO
            } else {
                jarc::prune::PruneOptions::default().unindexed_age
            },
        })
    }
}

/// Patterns given to `flag`; an invalid one is a usage error.
fn selection(patterns: &[String], flag: &str) -> Result<jarc::selection::Selection> {
    jarc::selection::Selection::new(patterns).map_err(|e| output::usage(format!("{flag}: {e}")))
}

/// `1024`, `500K`, `500M`, `2G`, `1T` (powers of 1024).
fn parse_size(s: &str) -> Result<u64> {
    jarc::util::parse_size(s).ok_or_else(|| {
        output::usage(format!(
            "size {s:?}: expected a number with an optional K, M, G or T"
        ))
    })
}

fn run_prune(
    cli: &Cli,
    opts: &jarc::prune::PruneOptions,
    bars: &progress::Bars,
) -> Result<jarc::prune::PruneReport> {
    let repo = if opts.dry_run {
        open(cli)?
    } else {
        open_session(cli, "prune", false)?
    };
    let report = jarc::prune::prune(&repo, opts, bars).context("prune")?;
    bars.done();
    Ok(report)
}

/// A bucket as Jant's `S3_*` variables (shell, .env, .env.node) describe
/// it; a non-empty `name` (the value given to `flag`) overrides S3_BUCKET.
fn jant_bucket(name: &str, flag: &str) -> Result<jarc::backend::S3Config> {
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let env = Env::load(&cwd)?;
    let name = Some(name).filter(|n| !n.is_empty());
    env::s3_config(&env, name).context(flag.to_string())
}

/// The database the environment describes, as a backup records it; `None`
/// when the environment names no site.
fn site_database() -> Option<jarc::snapshot::SourceInfo> {
    let cwd = std::env::current_dir().ok()?;
    let env = Env::load(&cwd).ok()?;
    Some(env::discover(&env, &cwd).ok()?.database.source_info())
}

/// The repository password, asked at most once per run: JARC_PASSWORD,
/// JARC_PASSWORD_FILE or JARC_PASSWORD_COMMAND (shell or .env), else a
/// prompt on the terminal. Called only for an encrypted repository.
fn password() -> jarc::Result<Zeroizing<String>> {
    static ASKED: OnceLock<Zeroizing<String>> = OnceLock::new();
    if let Some(p) = ASKED.get() {
        return Ok(p.clone());
    }
    let p = match jarc::secret::password_from(|k| std::env::var(k).ok())? {
        Some(p) => p,
        None if std::io::stdin().is_terminal() => prompt("repository password: ")?,
        None => return Err(jarc::Error::NoPassword(
            "set JARC_PASSWORD, JARC_PASSWORD_FILE or JARC_PASSWORD_COMMAND, or run jarc on a terminal to be asked for it".into(),
        )),
    };
    let _ = ASKED.set(p.clone());
    Ok(p)
}

fn prompt(text: &str) -> jarc::Result<Zeroizing<String>> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|e| jarc::Error::Io {
            path: "/dev/tty".into(),
            source: e,
        })
}

/// A password for a new key, asked twice on a terminal so a typo does not
/// lock the repository; `from_env` first.
fn new_password(
    from_env: Option<Zeroizing<String>>,
    vars: &str,
) -> jarc::Result<Zeroizing<String>> {
    if let Some(p) = from_env {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        return Err(jarc::Error::NoPassword(format!(
            "a new key needs a password: set {vars}, or run jarc on a terminal to be asked for it"
        )));
    }
    let p = prompt("new password: ")?;
    if *prompt("the same password again: ")? != *p {
        return Err(jarc::Error::Invalid(
            "the two passwords differ; nothing was changed".into(),
        ));
    }
    Ok(p)
}

/// Argon2id cost for new keys: JARC_KDF_PARAMS (m=KiB,t=N,p=N) or the
/// defaults (about 0.5 s and 64 MiB).
fn kdf() -> Result<jarc::keys::KdfParams> {
    match std::env::var("JARC_KDF_PARAMS") {
        Ok(v) => Ok(jarc::keys::KdfParams::parse(&v).context("JARC_KDF_PARAMS")?),
        Err(_) => Ok(jarc::keys::KdfParams::default()),
    }
}

/// The first key of a new repository (`init`, or the default repository
/// made on first use); `None` when asked for plaintext.
/// The repository `copy` and `init --copy-from` read from, opened as a
/// reader (a prune there holds back what it is reading).
fn open_source(location: &str) -> Result<Repository> {
    let pw = || -> jarc::Result<Zeroizing<String>> {
        match jarc::secret::from_password_from(|k| std::env::var(k).ok())? {
            Some(p) => Ok(p),
            None => password(),
        }
    };
    let repo = Repository::open_session(location, "copy", false, &pw).with_context(|| {
        format!(
            "opening the source repository {}",
            jarc::util::mask_url(location)
        )
    })?;
    Ok(repo)
}

/// A site or item restore's error, saying what it restored where; the
/// objects missing from the snapshot, when that is the error, are listed
/// first (one per line, or a JSON document).
fn restore_error(json: bool, e: jarc::Error, what: String) -> anyhow::Error {
    if let jarc::Error::MissingObjects(keys) = &e {
        output::missing(json, keys);
    }
    anyhow::Error::new(e).context(what)
}

fn first_key(insecure_no_encryption: bool) -> Result<Option<NewKey>> {
    if insecure_no_encryption {
        return Ok(None);
    }
    let from_env = jarc::secret::password_from(|k| std::env::var(k).ok())?;
    let pw = new_password(
        from_env,
        "JARC_PASSWORD, JARC_PASSWORD_FILE or JARC_PASSWORD_COMMAND (or pass --insecure-no-encryption to `jarc init`)",
    )?;
    Ok(Some(NewKey {
        password: pw,
        kdf: kdf()?,
    }))
}

fn key_command(cli: &Cli, cmd: &KeyCmd) -> Result<()> {
    use jarc::report::{KeyChange, KeyEntry};
    let repo = open(cli)?;
    let b = repo.backend();
    let id = |name: &str| name.rsplit('/').next().unwrap_or_default().to_string();
    let new_key = || -> Result<String> {
        let from_env = jarc::secret::new_password_from(|k| std::env::var(k).ok())?;
        let pw = new_password(
            from_env,
            "JARC_NEW_PASSWORD, JARC_NEW_PASSWORD_FILE or JARC_NEW_PASSWORD_COMMAND",
        )?;
        Ok(repo.add_key(&pw, kdf()?)?)
    };
    match cmd {
        KeyCmd::List => {
            if !repo.encrypted() {
                output::note(cli.json, "the repository is not encrypted: it has no keys");
            }
            output::keys(cli.json, &KeyEntry::list(&repo)?);
        }
        KeyCmd::Add => {
            let added = new_key()?;
            output::key_change(
                cli.json,
                &KeyChange {
                    added: Some(id(&added)),
                    removed: None,
                },
            );
        }
        KeyCmd::Remove { id: wanted } => {
            let name = jarc::keys::resolve(b, wanted)?;
            jarc::keys::remove(b, &name)?;
            output::key_change(
                cli.json,
                &KeyChange {
                    added: None,
                    removed: Some(id(&name)),
                },
            );
        }
        KeyCmd::Passwd => {
            let current = repo
                .key_in_use()
                .context("the repository is not encrypted: it has no password to change")?
                .to_string();
            let added = new_key()?;
            jarc::keys::remove(b, &current)?;
            output::key_change(
                cli.json,
                &KeyChange {
                    added: Some(id(&added)),
                    removed: Some(id(&current)),
                },
            );
        }
    }
    Ok(())
}

/// Where the repository is when neither --repo nor JARC_REPOSITORY says.
const DEFAULT_REPOSITORY: &str = "backups/jarc";

fn main() -> ExitCode {
    quiet_closed_stdout();
    jarc_vars_from_dotenv();
    let mut cli = Cli::parse();
    let json = cli.json;
    progress::catch_interrupts();
    let logging = output::start_logging(cli.verbose, std::env::var("JARC_LOG").ok());
    if let Err(e) = logging {
        output::error(json, &e);
        return ExitCode::from(2);
    }
    if logging.is_ok_and(|on| on) {
        // Log lines and redrawn bars on one stderr garble each other.
        cli.quiet = true;
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            output::error(json, &e);
            if output::is_usage(&e) {
                ExitCode::from(2)
            } else if progress::was_interrupted() {
                // 128 + SIGINT, as shells report an interrupted command.
                ExitCode::from(130)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// `jarc snapshots | head -1`: when stdout is a pipe its reader closed,
/// `println!` panics with a broken pipe; end quietly instead, as `ls` does.
/// (SIGPIPE itself stays ignored: network writes must see EPIPE, not kill
/// the process.)
fn quiet_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// `JARC_*` variables from the `.env` (and `.env.node`) in the working
/// directory, beside Jant's own, where the shell does not set them: an
/// operator keeps `JARC_REPOSITORY` with the site's settings. Runs before
/// any thread exists, so setting the process environment is sound.
fn jarc_vars_from_dotenv() {
    let Ok(cwd) = std::env::current_dir() else {
        return;
    };
    for name in [".env", ".env.node"] {
        let Ok(text) = std::fs::read_to_string(cwd.join(name)) else {
            continue;
        };
        for (k, v) in jarc::jant::env::parse_dotenv(&text) {
            if k.starts_with("JARC_") && std::env::var_os(&k).is_none() {
                std::env::set_var(&k, v);
            }
        }
    }
}

/// Back up (or, `dry_run`, say what a backup would read) the sources,
/// `what` naming them in the opening line.
fn run_backup(
    cli: &Cli,
    dry_run: bool,
    db: Option<&mut dyn jarc::source::DatabaseSource>,
    media: Option<&dyn MediaSource>,
    what: &str,
    opts: &BackupOptions,
    bars: &progress::Bars,
) -> Result<ExitCode> {
    if dry_run {
        // An existing repository only: a dry run creates nothing.
        let repo = open(cli)?;
        let info = db.as_ref().map(|d| d.info());
        let r = jarc::backup::dry_run(&repo, info.as_ref(), media, opts, bars)
            .context("backup --dry-run failed")?;
        bars.done();
        output::dry_run(cli.json, &r);
        return Ok(ExitCode::SUCCESS);
    }
    let repo = backup_repo(cli)?;
    output::note(
        cli.json,
        &format!("backing up {what} into {}", repo.backend().location()),
    );
    let s = backup_site(&repo, db, media, opts, bars).context("backup failed")?;
    bars.done();
    output::backup(cli.json, &s);
    Ok(backup_code(&s))
}

/// A backup that left media objects out saved everything else: exit 3,
/// as a monitor needs to tell it from success and from failure.
fn backup_code(s: &jarc::backup::BackupSummary) -> ExitCode {
    if s.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

fn repo_location(cli: &Cli) -> Result<String> {
    match &cli.repo {
        Some(r) => Ok(r.clone()),
        None if Path::new(DEFAULT_REPOSITORY).join("config").exists() => {
            Ok(DEFAULT_REPOSITORY.to_string())
        }
        None => anyhow::bail!(
            "no repository given and ./{DEFAULT_REPOSITORY} does not exist: pass --repo PATH, set JARC_REPOSITORY, or run `jarc backup` to create the default one"
        ),
    }
}

/// The repository a backup writes to; the default one is created on first use.
fn backup_repo(cli: &Cli) -> Result<Repository> {
    if cli.repo.is_none()
        && Repository::init_if_missing(DEFAULT_REPOSITORY, || {
            first_key(false).map_err(|e| jarc::Error::Invalid(format!("{e:#}")))
        })
        .with_context(|| format!("creating the default repository ./{DEFAULT_REPOSITORY}"))?
    {
        output::note(
            cli.json,
            &format!("created the default repository at ./{DEFAULT_REPOSITORY} (first use)"),
        );
    }
    open_session(cli, "backup", true)
}

fn open(cli: &Cli) -> Result<Repository> {
    let loc = repo_location(cli)?;
    let repo =
        Repository::open(&loc, &password).with_context(|| format!("opening repository {loc}"))?;
    output::healed_index(&repo);
    Ok(repo)
}

/// Open for a command that reads snapshots and their trees only, never a
/// chunk of media: the index it loads is the tree packs'.
fn open_trees(cli: &Cli) -> Result<Repository> {
    let loc = repo_location(cli)?;
    let repo = Repository::open_trees(&loc, &password)
        .with_context(|| format!("opening repository {loc}"))?;
    output::healed_index(&repo);
    Ok(repo)
}

/// Open for a command a concurrent prune must not break (format-spec
/// §12.3): a `writer` commits a snapshot; any other reads.
fn open_session(cli: &Cli, command: &str, writer: bool) -> Result<Repository> {
    let loc = repo_location(cli)?;
    let repo = Repository::open_session(&loc, command, writer, &password)
        .with_context(|| format!("opening repository {loc}"))?;
    output::healed_index(&repo);
    if let Some(why) = repo.unregistered() {
        if !cli.quiet {
            eprintln!(
                "jarc: warning: the repository cannot be written ({why}); reading without a session marker, so a prune running elsewhere meanwhile may make a read fail"
            );
        }
    }
    Ok(repo)
}

fn run(cli: Cli) -> Result<ExitCode> {
    let bars = progress::Bars::new(!cli.quiet && !cli.json);
    match &cli.cmd {
        Cmd::Init {
            insecure_no_encryption,
            copy_from,
        } => {
            let loc = repo_location(&cli)?;
            let key = first_key(*insecure_no_encryption)?;
            let repo = match copy_from {
                None => Repository::init(&loc, Config::new_random(), key),
                Some(from) => {
                    let src = open_source(from)?;
                    Repository::init_sharing_ids(&loc, &src, key)
                }
            }
            .with_context(|| format!("creating repository {loc}"))?;
            output::init(cli.json, &repo);
        }
        Cmd::Key { cmd } => key_command(&cli, cmd)?,
        Cmd::Completion { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(*shell, &mut Cli::command(), "jarc", &mut std::io::stdout());
        }
        Cmd::Man { dir } => {
            use clap::CommandFactory;
            let written = output::man_pages(Cli::command(), dir.as_deref())?;
            if let (Some(d), false) = (dir, cli.quiet) {
                eprintln!("wrote {} manual pages into {}", written.len(), d.display());
            }
        }
        Cmd::Backup {
            data_dir,
            database,
            media,
            no_media,
            media_bucket,
            tags,
            exclude,
            force_read,
            host,
            allow_empty,
            dry_run,
        } => {
            let opts = BackupOptions {
                exclude: selection(exclude, "--exclude")?,
                tags: tags.clone(),
                force_read: *force_read,
                hostname: host.clone(),
                time_ns: None,
                extra_roots: Vec::new(),
                allow_empty_database: *allow_empty,
            };
            if let Some(name) = media_bucket {
                let source = BucketSource::new(jant_bucket(name, "--media-bucket")?)?;
                let what = source.info().description;
                return run_backup(&cli, *dry_run, None, Some(&source), &what, &opts, &bars);
            }
            // --media alone: a media directory, as in a media-only backup.
            if let (Some(m), None, None) = (media, database, data_dir) {
                // The source is checked before the repository is touched:
                // a wrong path leaves not even a session marker behind.
                let source = DirSource::new(m)?;
                let what = format!("media {}", m.display());
                return run_backup(&cli, *dry_run, None, Some(&source), &what, &opts, &bars);
            }
            let cwd = std::env::current_dir().context("reading the working directory")?;
            let mut env = Env::load(&cwd)?;
            if let Some(d) = data_dir {
                env.set("DATA_DIR", &d.to_string_lossy());
            }
            if let Some(u) = database {
                env.set("DATABASE_URL", u);
            }
            if media.is_some() {
                env.set("STORAGE_DRIVER", "local");
            }
            let mut site = env::discover(&env, &cwd)?;
            if let Some(m) = media {
                site.storage = env::Storage::Local(cwd.join(m));
            }
            let (mut db, media_source) = jarc::source::site_sources(&site, !*no_media)?;
            let what = if *no_media {
                site.describe_database()
            } else {
                site.describe()
            };
            return run_backup(
                &cli,
                *dry_run,
                Some(db.as_mut()),
                media_source.as_deref(),
                &what,
                &opts,
                &bars,
            );
        }
        Cmd::Snapshots { filter, latest } => {
            let repo = open_trees(&cli)?;
            let drills = jarc::drill_record::last_drills(&repo)?;
            let filter = filter.filter();
            let mut list = snapshot::heads(&repo)?;
            list.retain(|h| filter.matches_head(h));
            if let Some(n) = latest {
                snapshot::keep_latest(&mut list, *n);
            }
            output::snapshots(cli.json, &list, &drills);
            if !repo.encrypted() {
                output::plaintext_warning();
            }
        }
        Cmd::Find { pattern, filter } => {
            let repo = open_trees(&cli)?;
            let filter = filter.filter();
            let mut list = snapshot::list(&repo)?;
            list.retain(|(_, s)| filter.matches(s));
            let found = jarc::media::find(
                &repo,
                &list,
                &selection(std::slice::from_ref(pattern), "PATTERN")?,
            )?;
            output::find(cli.json, &found);
        }
        Cmd::Copy {
            from,
            snapshots,
            filter,
        } => {
            let src = open_source(from)?;
            let mut wanted = if snapshots.is_empty() {
                snapshot::list(&src)?
            } else {
                let mut v = Vec::new();
                for spec in snapshots {
                    v.push(snapshot::resolve(&src, spec)?);
                }
                v.sort_by_key(|(_, s)| s.time_ns);
                v.dedup_by_key(|(id, _)| *id);
                v
            };
            let filter = filter.filter();
            wanted.retain(|(_, s)| filter.matches(s));
            let dst = open_session(&cli, "copy", true)?;
            let r = jarc::copy::copy(&src, &dst, &wanted, &bars)
                .with_context(|| format!("copying from {}", jarc::util::mask_url(from)))?;
            bars.done();
            output::copy(cli.json, &r);
        }
        Cmd::Tag {
            snapshots,
            add,
            remove,
            set,
        } => {
            if add.is_empty() && remove.is_empty() && set.is_empty() {
                return Err(output::usage("tag: give --add, --remove or --set"));
            }
            let repo = open(&cli)?;
            let set: Option<Vec<String>> =
                (!set.is_empty()).then(|| set.iter().filter(|t| !t.is_empty()).cloned().collect());
            let mut changed = Vec::new();
            for spec in snapshots {
                let (id, snap) = snapshot::resolve(&repo, spec)?;
                let new = snapshot::retag(&repo, &id, &snap, set.as_deref(), add, remove)?;
                changed.push(jarc::report::Retagged {
                    from: id.to_hex(),
                    to: new.to_hex(),
                });
            }
            output::tagged(cli.json, &changed);
        }
        Cmd::Dump {
            snapshot: spec,
            key,
        } => {
            let repo = open(&cli)?;
            let (_, snap) = snapshot::resolve(&repo, spec)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
            match jarc::restore::dump_object(&repo, &snap, key, &mut out) {
                // `jarc dump … | head`: the reader had enough.
                Err(jarc::Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    return Ok(ExitCode::from(141));
                }
                other => other?,
            };
        }
        Cmd::Ls { snapshot: spec } => {
            let repo = open_trees(&cli)?;
            let (_, snap) = snapshot::resolve(&repo, spec)?;
            output::ls(
                cli.json,
                &snap.tables(),
                jarc::media::entries_iter(&repo, &snap),
            )?;
        }
        Cmd::Diff { a, b } => {
            let repo = open_trees(&cli)?;
            let (ia, sa) = snapshot::resolve(&repo, a)?;
            let (ib, sb) = snapshot::resolve(&repo, b)?;
            let d = jarc::diff::diff_snapshots(&repo, &sa, &sb)?;
            output::diff(cli.json, &ia, &ib, &d);
        }
        Cmd::Restore {
            snapshot: spec,
            at,
            source,
            host,
            tags,
            target,
            target_data_dir,
            target_database,
            target_media,
            content,
            replace,
            only_referenced,
            allow_missing_objects,
            overwrite,
            target_bucket,
            media_only,
            include,
            exclude,
            post,
            collection,
            media_keys,
            dry_run,
        } => {
            let items: Vec<Item> = post
                .iter()
                .map(|p| Item::Post(p.clone()))
                .chain(collection.iter().map(|c| Item::Collection(c.clone())))
                .chain(media_keys.iter().map(|k| Item::Media(k.clone())))
                .collect();
            let media_restore = target.is_some()
                || (target_bucket.is_some()
                    && (*media_only || (target_data_dir.is_none() && target_database.is_none())));
            let selects = !include.is_empty() || !exclude.is_empty();
            if selects && !media_restore {
                return Err(output::usage(
                    "--include and --exclude select media objects of a media restore (--target, or --target-bucket with --media-only); a site restore writes what its rows name".to_string(),
                ));
            }
            let at_ns = at.as_deref().map(snapshot::parse_time).transpose()?;
            let repo = open_session(&cli, "restore", false)?;
            let (id, snap) = match (spec, at_ns) {
                (Some(spec), _) => snapshot::resolve(&repo, spec)?,
                (None, Some(at_ns)) => {
                    let filter = snapshot::Filter {
                        host: host.clone(),
                        tags: tags.clone(),
                        source: source.clone(),
                    };
                    let picked = snapshot::at(&repo, at_ns, &filter)?;
                    output::picked_at(cli.json, &picked.0, &picked.1, at_ns);
                    picked
                }
                (None, None) => return Err(output::usage("restore: name a snapshot or --at TIME")),
            };
            if !items.is_empty()
                && target_bucket.is_some()
                && target_database.is_none()
                && target_data_dir.is_none()
            {
                return Err(output::usage(
                    "--post, --collection and --media restore into a live site (--target-data-dir DIR, or --target-database URL with --target-media DIR or --target-bucket) or into a directory (--target DIR)",
                ));
            }
            let bucket = match target_bucket {
                None => None,
                Some(name) => Some(
                    jarc::backend::Backend::s3(&jant_bucket(name, "--target-bucket")?)?
                        .as_media_bucket(),
                ),
            };
            if let (Some(b), true) = (
                &bucket,
                *media_only || (target_data_dir.is_none() && target_database.is_none()),
            ) {
                let opts = RestoreOptions {
                    overwrite: *overwrite,
                    only_referenced: *only_referenced,
                    include: selection(include, "--include")?,
                    exclude: selection(exclude, "--exclude")?,
                    dry_run: *dry_run,
                    ..Default::default()
                };
                let r = jarc::restore::bucket::restore_to_bucket(&repo, &snap, b, &opts, &bars);
                bars.done();
                let s = r.with_context(|| {
                    format!("restoring snapshot {} into {}", id.short(), b.location())
                })?;
                output::restore(cli.json, &id, b.location(), &s);
                if !s.failed.is_empty() {
                    return Ok(ExitCode::from(3));
                }
                return Ok(ExitCode::SUCCESS);
            }
            let item_opts = ItemRestoreOptions {
                allow_missing_objects: *allow_missing_objects,
                overwrite: *overwrite,
                dry_run: *dry_run,
            };
            if let (Some(target), false) = (target, items.is_empty()) {
                let r = restore_items(
                    &repo,
                    &snap,
                    &items,
                    &ItemTarget::Dir(target),
                    &item_opts,
                    &bars,
                );
                bars.done();
                let s = r.with_context(|| {
                    format!(
                        "restoring from snapshot {} into {}",
                        id.short(),
                        target.display()
                    )
                })?;
                output::item_restore(cli.json, &id, &target.display().to_string(), &s);
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(target) = target {
                let opts = RestoreOptions {
                    overwrite: *overwrite,
                    include: selection(include, "--include")?,
                    exclude: selection(exclude, "--exclude")?,
                    dry_run: *dry_run,
                    ..Default::default()
                };
                let s = restore_media(&repo, &snap, target, &opts, &bars).with_context(|| {
                    format!(
                        "restoring snapshot {} into {}",
                        id.short(),
                        target.display()
                    )
                })?;
                bars.done();
                output::restore(cli.json, &id, &target.display().to_string(), &s);
                if !s.failed.is_empty() {
                    return Ok(ExitCode::from(3));
                }
                return Ok(ExitCode::SUCCESS);
            }
            let (db, media_dir, shown) = match (target_data_dir, target_database) {
                (Some(d), None) => (
                    DatabaseTarget::Sqlite(d.join("jant.sqlite")),
                    target_media.clone().unwrap_or_else(|| d.join("media")),
                    d.display().to_string(),
                ),
                (None, Some(u)) => {
                    let m = match (&bucket, target_media) {
                        (Some(_), _) => PathBuf::new(),
                        (None, m) => m.clone().ok_or_else(|| output::usage(
                            "--target-database needs --target-media DIR or --target-bucket: where the media go",
                        ))?,
                    };
                    (DatabaseTarget::Postgres(u.clone()), m, jarc::util::mask_url(u))
                }
                _ => return Err(output::usage(
                    "say where to restore: --target-data-dir DIR, --target-database URL --target-media DIR, or --target DIR for media only",
                )),
            };
            let media_target = match bucket {
                Some(b) => MediaTarget::Bucket(b),
                None => MediaTarget::Dir(media_dir),
            };
            if !items.is_empty() {
                let t = ItemTarget::Site {
                    db: &db,
                    media: &media_target,
                };
                let r = restore_items(&repo, &snap, &items, &t, &item_opts, &bars);
                bars.done();
                let s = r.map_err(|e| {
                    restore_error(
                        cli.json,
                        e,
                        format!("restoring from snapshot {} into {shown}", id.short()),
                    )
                })?;
                output::item_restore(cli.json, &id, &shown, &s);
                return Ok(ExitCode::SUCCESS);
            }
            let opts = SiteRestoreOptions {
                content_only: *content,
                replace: *replace,
                only_referenced: *only_referenced,
                allow_missing_objects: *allow_missing_objects,
                overwrite: *overwrite,
                dry_run: *dry_run,
            };
            let r = restore_site(&repo, &snap, &db, &media_target, &opts, &bars);
            bars.done();
            let s = r.map_err(|e| {
                restore_error(
                    cli.json,
                    e,
                    format!("restoring snapshot {} into {shown}", id.short()),
                )
            })?;
            output::site_restore(cli.json, &id, &shown, &s);
            if !s.media.failed.is_empty() || s.database_failed.is_some() {
                return Ok(ExitCode::from(3));
            }
        }
        Cmd::Export {
            snapshot: spec,
            output: out,
            sql,
            skip_objects,
            site,
            allow_missing_objects,
            allow_empty,
        } => {
            let repo = open_session(&cli, "export", false)?;
            let (id, snap) = snapshot::resolve(&repo, spec)?;
            if let Some(path) = sql {
                let s = jarc::export::export_sql(&repo, &snap, path).with_context(|| {
                    format!("exporting snapshot {} to {}", id.short(), path.display())
                })?;
                output::export_sql(cli.json, &id, &s);
                return Ok(ExitCode::SUCCESS);
            }
            let out = out
                .as_ref()
                .context("say where to write: --output FILE.zip")?;
            let opts = jarc::export::ExportOptions {
                skip_objects: *skip_objects,
                site: site.clone(),
                allow_missing_objects: *allow_missing_objects,
                allow_empty: *allow_empty,
            };
            let r = jarc::export::export_archive(&repo, &snap, out, &opts, &bars);
            bars.done();
            let s = r.with_context(|| {
                format!("exporting snapshot {} to {}", id.short(), out.display())
            })?;
            output::export(cli.json, &id, &s);
        }
        Cmd::Import {
            archive,
            sql,
            media,
            dialect,
            allow_missing_objects,
            site_id,
            site_key,
            tags,
            host,
        } => {
            let repo = open_session(&cli, "import", true)?;
            let dialect = match dialect.as_deref() {
                None => None,
                Some(d) => Some(jarc::jant::sql::Dialect::parse(d).ok_or_else(|| {
                    output::usage(format!("--dialect {d:?}: expected sqlite or pg"))
                })?),
            };
            let opts = jarc::import::ImportOptions {
                allow_missing_objects: *allow_missing_objects,
                site_id: site_id.clone(),
                site_key: site_key.clone(),
                dialect,
                tags: tags.clone(),
                hostname: host.clone(),
            };
            let (r, what) = match (archive, sql) {
                (_, Some(sql)) => (
                    jarc::import::import_sql(&repo, sql, media.as_deref(), &opts, &bars),
                    sql,
                ),
                (Some(a), None) => (jarc::import::import_archive(&repo, a, &opts, &bars), a),
                (None, None) => {
                    return Err(output::usage(
                        "say what to import: FILE.zip, DIR or --sql FILE",
                    ))
                }
            };
            bars.done();
            let s = r.with_context(|| format!("importing {}", what.display()))?;
            output::import(cli.json, &s);
        }
        Cmd::Check { read_data } => {
            let repo = open_session(&cli, "check", false)?;
            let r = jarc::check::check(&repo, *read_data, &bars)?;
            bars.done();
            output::check(cli.json, &r);
            if !r.ok() {
                return Ok(ExitCode::from(3));
            }
        }
        Cmd::Repair {
            what: RepairCmd::Index,
        } => {
            let loc = repo_location(&cli)?;
            let repo = Repository::open_for_repair(&loc, &password)
                .with_context(|| format!("opening repository {loc}"))?;
            let r = jarc::repair::repair_index(&repo, &bars).context("repair index")?;
            bars.done();
            output::repair(cli.json, &r);
            if !r.packs_unreadable.is_empty() {
                return Ok(ExitCode::from(3));
            }
        }
        Cmd::Repair {
            what: RepairCmd::Copies,
        } => {
            let repo = open_session(&cli, "repair", false)?;
            let r = jarc::repair::repair_copies(&repo).context("repair copies")?;
            output::repair_copies(cli.json, &r);
            if !r.lost.is_empty() {
                return Ok(ExitCode::from(3));
            }
        }
        Cmd::Stats => {
            let repo = open(&cli)?;
            output::stats(cli.json, &jarc::stats::stats(&repo)?);
        }
        Cmd::Drill {
            snapshot: spec,
            all_sources,
            history,
            target_database,
            scratch,
            sample,
            keep,
            host,
        } => {
            let repo = if *history {
                open(&cli)?
            } else {
                open_session(&cli, "drill", false)?
            };
            if *history {
                output::drill_history(cli.json, &jarc::drill_record::history(&repo)?);
                return Ok(ExitCode::SUCCESS);
            }
            let opts = jarc::drill::DrillOptions {
                scratch_parent: scratch.clone(),
                target_database: target_database.clone(),
                sample: *sample,
                keep: *keep,
                hostname: host.clone(),
            };
            use jarc::drill::Outcome;
            let outcomes = if *all_sources {
                let all = jarc::drill::drill_sources(&repo, &opts, &bars);
                bars.done();
                all?
            } else {
                let (id, snap) = match spec {
                    Some(spec) => snapshot::resolve(&repo, spec)?,
                    None => jarc::drill::default_snapshot(&repo, site_database().as_ref())?,
                };
                let r = jarc::drill::drill(&repo, &id, &snap, &opts, &bars);
                bars.done();
                let r = r.with_context(|| format!("drilling snapshot {}", id.short()))?;
                vec![Outcome::Done(Box::new(r))]
            };
            if outcomes.is_empty() {
                anyhow::bail!("the repository holds no snapshots to drill");
            }
            output::drill(cli.json, &outcomes, !*all_sources);
            match jarc::drill::verdict(&outcomes) {
                jarc::drill::Verdict::Passed => {}
                jarc::drill::Verdict::Failed => return Ok(ExitCode::from(3)),
                jarc::drill::Verdict::NothingDrilled => {
                    eprintln!("jarc: nothing was drilled: every source was skipped, so no restore was proven");
                    return Ok(ExitCode::from(3));
                }
            }
        }
        Cmd::Forget {
            snapshots,
            keep_last,
            keep_hourly,
            keep_daily,
            keep_weekly,
            keep_monthly,
            keep_yearly,
            keep_within,
            keep_tag,
            group_by,
            dry_run,
            force,
            prune,
            prune_opts,
        } => {
            let policy = jarc::forget::Policy {
                last: keep_last.unwrap_or(0),
                hourly: keep_hourly.unwrap_or(0),
                daily: keep_daily.unwrap_or(0),
                weekly: keep_weekly.unwrap_or(0),
                monthly: keep_monthly.unwrap_or(0),
                yearly: keep_yearly.unwrap_or(0),
                within_ns: keep_within
                    .as_deref()
                    .map(jarc::forget::parse_duration)
                    .transpose()
                    .context("--keep-within")?,
                tags: keep_tag.clone(),
            };
            let selection = if snapshots.is_empty() {
                jarc::forget::Selection::Policy {
                    policy: &policy,
                    group_by: jarc::forget::GroupBy::parse(group_by)?,
                }
            } else {
                jarc::forget::Selection::Ids(snapshots)
            };
            let repo = open(&cli)?;
            let done = jarc::forget::forget(&repo, selection, *force, *dry_run)
                .context("forgetting snapshots")?;
            drop(repo);
            let mut pruned = None;
            if *prune && !*dry_run {
                pruned = Some(run_prune(&cli, &prune_opts.options(false)?, &bars)?);
            }
            let (groups, gone) = (done.groups, done.forgotten);
            output::forget(
                cli.json,
                groups.as_deref(),
                &gone,
                *dry_run,
                pruned.as_ref(),
            );
        }
        Cmd::Prune { dry_run, opts } => {
            let report = run_prune(&cli, &opts.options(*dry_run)?, &bars)?;
            output::prune(cli.json, &report, *dry_run);
        }
        Cmd::Demo { dir, posts } => {
            if cli.repo.is_some() {
                return Err(output::usage(
                    "the demo makes its own repository inside its directory; --repo does not apply (give the directory: jarc demo DIR)",
                ));
            }
            let r = jarc::demo::run(dir, *posts, &bars)?;
            bars.done();
            output::demo(cli.json, &r);
            if !r.identical {
                return Ok(ExitCode::from(3));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
