//! `jarc`: parse arguments, call the engine, render its results.
//!
//! Exit codes: 0 success; 1 error; 2 usage error; 3 the command ran but
//! found problems (`check` found damage, `restore` could not write some
//! objects).

mod output;
mod progress;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use jarc::backup::{backup_media, BackupOptions};
use jarc::config::Config;
use jarc::restore::{restore_media, RestoreOptions};
use jarc::source::dir::DirSource;
use jarc::{snapshot, Repository};
use std::path::PathBuf;
use std::process::ExitCode;

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
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a new repository.
    Init,
    /// Back up a media directory as a new snapshot.
    Backup {
        /// The media directory (Jant's LOCAL_STORAGE_PATH).
        #[arg(long)]
        media: PathBuf,
        /// Tag the snapshot (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// Read every file, even those unchanged since the parent snapshot.
        #[arg(long)]
        force_read: bool,
        /// Record this hostname instead of the machine's.
        #[arg(long)]
        host: Option<String>,
    },
    /// List snapshots.
    Snapshots,
    /// List the objects of a snapshot.
    Ls { snapshot: String },
    /// Show what changed between two snapshots.
    Diff { a: String, b: String },
    /// Restore a snapshot's media into a directory.
    Restore {
        snapshot: String,
        #[arg(long)]
        target: PathBuf,
        /// Write into a non-empty target.
        #[arg(long)]
        overwrite: bool,
    },
    /// Verify the repository's structure (and with --read-data, every byte).
    Check {
        #[arg(long)]
        read_data: bool,
    },
    /// Sizes, dedup and compression ratios.
    Stats,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jarc: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn repo_location(cli: &Cli) -> Result<String> {
    cli.repo
        .clone()
        .context("no repository given: pass --repo PATH or set JARC_REPOSITORY")
}

fn open(cli: &Cli) -> Result<Repository> {
    let loc = repo_location(cli)?;
    Repository::open(&loc).with_context(|| format!("opening repository {loc}"))
}

fn run(cli: Cli) -> Result<ExitCode> {
    let bars = progress::Bars::new(!cli.quiet && !cli.json);
    match &cli.cmd {
        Cmd::Init => {
            let loc = repo_location(&cli)?;
            let repo = Repository::init(&loc, Config::new_random())
                .with_context(|| format!("creating repository {loc}"))?;
            output::init(cli.json, repo.backend().location());
        }
        Cmd::Backup {
            media,
            tags,
            force_read,
            host,
        } => {
            let repo = open(&cli)?;
            let source = DirSource::new(media)?;
            let opts = BackupOptions {
                tags: tags.clone(),
                force_read: *force_read,
                hostname: host.clone(),
            };
            let s = backup_media(&repo, &source, &opts, &bars).context("backup failed")?;
            bars.done();
            output::backup(cli.json, &s);
        }
        Cmd::Snapshots => {
            let repo = open(&cli)?;
            output::snapshots(cli.json, &snapshot::list(&repo)?);
        }
        Cmd::Ls { snapshot: spec } => {
            let repo = open(&cli)?;
            let (_, snap) = snapshot::resolve(&repo, spec)?;
            output::ls(cli.json, &jarc::media::entries(&repo, &snap)?);
        }
        Cmd::Diff { a, b } => {
            let repo = open(&cli)?;
            let (ia, sa) = snapshot::resolve(&repo, a)?;
            let (ib, sb) = snapshot::resolve(&repo, b)?;
            let d = jarc::diff::diff_snapshots(&repo, &sa, &sb)?;
            output::diff(cli.json, &ia, &ib, &d);
        }
        Cmd::Restore {
            snapshot: spec,
            target,
            overwrite,
        } => {
            let repo = open(&cli)?;
            let (id, snap) = snapshot::resolve(&repo, spec)?;
            let opts = RestoreOptions {
                overwrite: *overwrite,
            };
            let s = restore_media(&repo, &snap, target, &opts, &bars).with_context(|| {
                format!(
                    "restoring snapshot {} into {}",
                    id.short(),
                    target.display()
                )
            })?;
            bars.done();
            output::restore(cli.json, &id, target, &s);
            if !s.failed.is_empty() {
                return Ok(ExitCode::from(3));
            }
        }
        Cmd::Check { read_data } => {
            let repo = open(&cli)?;
            let r = jarc::check::check(&repo, *read_data, &bars)?;
            bars.done();
            output::check(cli.json, &r);
            if !r.ok() {
                return Ok(ExitCode::from(3));
            }
        }
        Cmd::Stats => {
            let repo = open(&cli)?;
            output::stats(cli.json, &jarc::stats::stats(&repo)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
