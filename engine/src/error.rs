//! The engine's typed errors. Each variant carries what an operator needs to
//! act on it (which path, which object, which key), never a secret.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("repository storage: {op} {name}: {message}")]
    Backend {
        op: &'static str,
        name: String,
        message: String,
    },
    #[error("object {0} not found in the repository")]
    NotFound(String),
    #[error(
        "{0} is not a jarc repository (no config object); create one with `jarc init --repo {0}`"
    )]
    NotARepository(String),
    #[error("{0} already holds a jarc repository; refusing to initialise over it")]
    AlreadyARepository(String),
    #[error("{0} is not empty; a repository must be created in an empty or new directory")]
    DirectoryNotEmpty(String),
    #[error("{what} has format version {found}, which this jarc does not support (it reads version {supported}); use a jarc that supports it")]
    UnsupportedVersion {
        what: String,
        found: u32,
        supported: String,
    },
    #[error("{what} is corrupt: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("source directory {0} does not exist")]
    SourceMissing(PathBuf),
    #[error("source {0} is not a directory")]
    SourceNotDirectory(PathBuf),
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no snapshot matches {0:?}")]
    NoSuchSnapshot(String),
    #[error("snapshot id prefix {prefix:?} is ambiguous: it matches {}", .matches.join(", "))]
    AmbiguousSnapshot {
        prefix: String,
        matches: Vec<String>,
    },
    #[error("restore target {0} is not empty; pass --overwrite to write into it")]
    TargetNotEmpty(PathBuf),
    #[error("unsafe object key {0:?} in snapshot (absolute, empty component or ..); refusing to write it")]
    UnsafeKey(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database {source_name}: {message}")]
    Database {
        source_name: String,
        message: String,
    },
    #[error("{} object(s) referenced by the restored rows are missing from the snapshot: {}; pass --allow-missing-objects to restore without them", .0.len(), .0.iter().take(10).cloned().collect::<Vec<_>>().join(", "))]
    MissingObjects(Vec<String>),
    /// A source delivered rows out of key order; the backup re-reads the
    /// table and sorts it. Never reaches a user.
    #[error("rows of table {0} arrived out of key order")]
    RowOrder(String),
    /// A row's primary key does not identify it: it holds a NULL (SQLite
    /// allows any number of them in a rowid table's non-INTEGER key), or
    /// another row has the same one. The backup keys the table another way
    /// where its source can; otherwise the table is refused.
    #[error("table {table} has a row whose primary key {key} does not identify it (a NULL, or a key another row has too), and its source offers no other key for its rows")]
    UnusableKey { table: String, key: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Error::Corrupt {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Error::Io {
            path: PathBuf::new(),
            source,
        }
    }
}
