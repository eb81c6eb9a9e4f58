//! The scratch environment a drill restores into, and the restored
//! database it checks. Dropping the environment removes it (directory and
//! scratch Postgres database) unless it is to be kept, so every way out of
//! a drill cleans up.

use super::DrillOptions;
use crate::dbclient::{db_err, Col, PgClient};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::schema::quote_ident;
use std::path::PathBuf;

/// Replace the database name of a `postgres://` URL.
pub(super) fn with_database(url: &str, name: &str) -> Result<String> {
    let bad = || {
        // Only a URL can be shown masked; a key=value string is not echoed.
        let shown = if url.contains("://") {
            format!("{}: ", crate::util::mask_url(url))
        } else {
            String::new()
        };
        Error::Invalid(format!(
            "target database {shown}expected a URL postgres://user:password@host:port/database"
        ))
    };
    let scheme_end = url.find("://").ok_or_else(bad)?;
    if !matches!(&url[..scheme_end], "postgres" | "postgresql") {
        return Err(bad());
    }
    let rest = &url[scheme_end + 3..];
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let after = &rest[auth_end..];
    let query = after.find('?').map(|i| &after[i..]).unwrap_or("");
    Ok(format!(
        "{}{}/{}{}",
        &url[..scheme_end + 3],
        &rest[..auth_end],
        name,
        query
    ))
}

/// The scratch environment. Dropping it removes everything it made unless
/// `keep` is set, so every way out of a drill cleans up.
pub(super) struct Scratch {
    pub(super) dir: PathBuf,
    /// (admin URL, scratch database name, scratch URL).
    pub(super) pg: Option<(String, String, String)>,
    pub(super) keep: bool,
}

impl Scratch {
    pub(super) fn create(opts: &DrillOptions, want_pg: bool) -> Result<Scratch> {
        let parent = opts
            .scratch_parent
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let tag = hex::encode(&Id::of_bytes(&crate::util::now_ns().to_le_bytes()).0[..4]);
        let dir = parent.join(format!("jarc-drill-{tag}-{}", std::process::id()));
        std::fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut s = Scratch {
            dir,
            pg: None,
            keep: opts.keep,
        };
        if want_pg {
            let admin = opts.target_database.clone().ok_or_else(|| {
                Error::refused(
                    "this snapshot's database is Postgres",
                    crate::error::Hint::ScratchDatabase,
                )
            })?;
            let name = format!("jarc_drill_{tag}_{}", std::process::id());
            let url = with_database(&admin, &name)?;
            PgClient::connect(&admin)?.batch(&format!("CREATE DATABASE {}", quote_ident(&name)))?;
            s.pg = Some((admin, name, url));
        }
        Ok(s)
    }

    pub(super) fn media_dir(&self) -> PathBuf {
        self.dir.join("media")
    }

    pub(super) fn sqlite_path(&self) -> PathBuf {
        self.dir.join("jant.sqlite")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name, _)) = &self.pg {
            if let Ok(pg) = PgClient::connect(admin) {
                let _ = pg.batch(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    quote_ident(name)
                ));
            }
        }
    }
}

/// The restored database, for the checks.
pub(super) enum ScratchDb {
    Sqlite(rusqlite::Connection, PathBuf),
    Pg(PgClient),
}

impl ScratchDb {
    /// The first column of every row, as text.
    pub(super) fn texts(&self, sql: &str) -> Result<Vec<String>> {
        match self {
            ScratchDb::Sqlite(c, p) => {
                let mut st = c.prepare(sql).map_err(|e| db_err(p, e))?;
                let rows = st
                    .query_map([], |r| {
                        Ok(match r.get_ref(0)? {
                            rusqlite::types::ValueRef::Null => String::new(),
                            rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                            rusqlite::types::ValueRef::Real(f) => f.to_string(),
                            rusqlite::types::ValueRef::Text(t)
                            | rusqlite::types::ValueRef::Blob(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                        })
                    })
                    .map_err(|e| db_err(p, e))?;
                rows.collect::<std::result::Result<_, _>>()
                    .map_err(|e| db_err(p, e))
            }
            ScratchDb::Pg(pg) => {
                let mut out = Vec::new();
                for r in pg.query(sql, &[])? {
                    out.push(r.col::<Option<String>>(0)?.unwrap_or_default());
                }
                Ok(out)
            }
        }
    }
}

impl crate::jant::spot_checks::Queries for ScratchDb {
    fn texts(&self, sql: &str) -> Result<Vec<String>> {
        ScratchDb::texts(self, sql)
    }
}
