//! Database-client code the sources and the sinks share: a blocking
//! Postgres client (its own current-thread runtime), reading catalog
//! columns without panicking, the server's message for an error, and the
//! SQLite error that names the file.

use crate::error::{Error, Result};
use crate::util::mask_url;
use std::path::Path;
use tokio_postgres::types::FromSql;
use tokio_postgres::{Client, NoTls};

/// A blocking client: a private current-thread runtime drives the
/// connection whenever a query is waited on.
pub(crate) struct PgClient {
    pub rt: tokio::runtime::Runtime,
    pub client: Client,
    pub name: String,
}

impl PgClient {
    pub fn connect(url: &str) -> Result<PgClient> {
        let name = format!("postgres {}", mask_url(url));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("tokio runtime", e))?;
        let (client, conn) = rt
            .block_on(tokio_postgres::connect(url, NoTls))
            .map_err(|e| Error::Database {
                source_name: name.clone(),
                message: format!("cannot connect: {}", pg_message(&e)),
            })?;
        rt.spawn(async move {
            // Errors surface on the next query; nothing to do here.
            let _ = conn.await;
        });
        Ok(PgClient { rt, client, name })
    }

    pub fn err(&self, e: tokio_postgres::Error) -> Error {
        Error::Database {
            source_name: self.name.clone(),
            message: pg_message(&e),
        }
    }

    pub fn batch(&self, sql: &str) -> Result<()> {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .map_err(|e| Error::Database {
                source_name: self.name.clone(),
                message: format!("{} (while running: {})", pg_message(&e), first_line(sql)),
            })
    }

    pub fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        self.rt
            .block_on(self.client.query(sql, params))
            .map_err(|e| self.err(e))
    }

    /// The first column of the first row, or `default` when there is none.
    pub fn one<T: for<'a> FromSql<'a>>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        default: T,
    ) -> Result<T> {
        match self.query(sql, params)?.first() {
            Some(r) => r.col(0),
            None => Ok(default),
        }
    }
}

/// Reading a column of a catalog or data row without panicking on a type
/// the server reports differently than expected.
pub(crate) trait Col {
    fn col<'a, T: FromSql<'a>>(&'a self, i: usize) -> Result<T>;
}

impl Col for tokio_postgres::Row {
    fn col<'a, T: FromSql<'a>>(&'a self, i: usize) -> Result<T> {
        self.try_get(i).map_err(|e| Error::Database {
            source_name: "postgres".into(),
            message: format!("reading column {i} of a catalog row: {e}"),
        })
    }
}

fn first_line(sql: &str) -> String {
    sql.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(80)
        .collect()
}

/// The server's message (with its detail) rather than "db error".
pub(crate) fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => match d.detail() {
            Some(detail) => format!("{}: {detail}", d.message()),
            None => d.message().to_string(),
        },
        None => e.to_string(),
    }
}

pub(crate) fn db_err(path: &Path, e: rusqlite::Error) -> Error {
    Error::Database {
        source_name: format!("sqlite {}", path.display()),
        message: e.to_string(),
    }
}
