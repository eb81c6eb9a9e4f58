//! The demo: a generated Jant site backed up, changed, backed up again,
//! diffed, restored into a blank directory and verified row- and
//! byte-identical. Its site comes from `fixture`, the generator the test
//! suite shares; `verify` compares a restored site with its original.

pub mod fixture;
pub mod verify;

use crate::error::{Error, Result};
use fixture::{change_sqlite_site, create_sqlite_site};
use std::path::{Path, PathBuf};

use crate::backup::{backup_site, BackupOptions, BackupSummary};
use crate::config::Config;
use crate::diff::{diff_snapshots, DiffReport};
use crate::progress::Progress;
use crate::repo::Repository;
use crate::restore::site::{restore_site, DatabaseTarget, SiteRestoreOptions, SiteRestoreSummary};
use crate::source::dir::DirSource;
use crate::source::sqlite::SqliteSource;

/// What the demo did and what it proved.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoReport {
    pub site: PathBuf,
    pub repository: PathBuf,
    /// The repository is encrypted, as every `init` makes it; its
    /// password is in this file (mode 0600), for `JARC_PASSWORD_FILE`.
    pub password_file: PathBuf,
    pub restored: PathBuf,
    pub first: BackupSummary,
    pub second: BackupSummary,
    pub diff: DiffReport,
    pub restore: SiteRestoreSummary,
    pub rows_compared: usize,
    pub files_compared: usize,
    /// The restored database and media equal the site's, row for row and
    /// byte for byte.
    pub identical: bool,
}

fn site_backup(repo: &Repository, site: &Path, progress: &dyn Progress) -> Result<BackupSummary> {
    let mut db = SqliteSource::open(&site.join("jant.sqlite"))?;
    let media = DirSource::new(&site.join("media"))?;
    backup_site(
        repo,
        Some(&mut db),
        Some(&media),
        &BackupOptions::default(),
        progress,
    )
}

/// The whole mission in one call: make a site under `dir`, back it up,
/// change it, back it up again, diff, restore the latest snapshot into a
/// blank directory and compare it with the site.
pub fn run(dir: &Path, posts: usize, progress: &dyn Progress) -> Result<DemoReport> {
    let site = dir.join("site");
    let repo_dir = dir.join("repository");
    let restored = dir.join("restored");
    for p in [&site, &repo_dir, &restored] {
        if p.exists() {
            return Err(Error::Invalid(format!(
                "{} already exists; run the demo in a new or empty directory",
                p.display()
            )));
        }
    }
    create_sqlite_site(&site, posts)?;
    let password_file = dir.join("repository.password");
    let password = zeroize::Zeroizing::new(hex::encode(rand::random::<[u8; 16]>()));
    crate::util::write_private(&password_file, password.as_bytes())?;
    let repo = Repository::init(
        &repo_dir.to_string_lossy(),
        Config::new_random(),
        Some(crate::repo::NewKey {
            password,
            kdf: crate::keys::KdfParams::default(),
        }),
    )?;
    let first = site_backup(&repo, &site, progress)?;
    change_sqlite_site(&site)?;
    let second = site_backup(&repo, &site, progress)?;
    let (_, a) = crate::snapshot::resolve(&repo, &first.snapshot.to_hex())?;
    let (_, b) = crate::snapshot::resolve(&repo, &second.snapshot.to_hex())?;
    let diff = diff_snapshots(&repo, &a, &b)?;
    let restore = restore_site(
        &repo,
        &b,
        &DatabaseTarget::Sqlite(restored.join("jant.sqlite")),
        &crate::restore::site::MediaTarget::Dir(restored.join("media")),
        &SiteRestoreOptions::default(),
        progress,
    )?;
    let want = verify::sqlite_dump(&site.join("jant.sqlite"))?;
    let got = verify::sqlite_dump(&restored.join("jant.sqlite"))?;
    let fw = verify::file_digests(&site.join("media"))?;
    let fg = verify::file_digests(&restored.join("media"))?;
    Ok(DemoReport {
        site,
        repository: repo_dir,
        password_file,
        restored,
        first,
        second,
        diff,
        restore,
        rows_compared: want.len(),
        files_compared: fw.len(),
        identical: want == got && fw == fg,
    })
}
