//! Restore a snapshot's database into Postgres.

use super::sqlite::DbRestoreSummary;
use crate::error::{Error, Result};
use crate::repo::Repository;
use crate::snapshot::Snapshot;

pub fn restore_full(_repo: &Repository, _snap: &Snapshot, _url: &str) -> Result<DbRestoreSummary> {
    Err(Error::Invalid("Postgres restore is not built yet".into()))
}

pub fn restore_content(
    _repo: &Repository,
    _snap: &Snapshot,
    _url: &str,
    _provider: &str,
) -> Result<DbRestoreSummary> {
    Err(Error::Invalid("Postgres restore is not built yet".into()))
}
