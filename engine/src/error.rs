//! The engine's typed errors. Each variant carries what an operator needs to
//! act on it (which path, which object, which key), never a secret. An
//! error the caller can get past by asking for something explicitly (write
//! into a non-empty target, forget a source's newest snapshot) carries a
//! [`Hint`] naming that remedy; the CLI turns it into its flag, so the
//! engine never names one.

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
    /// `store` says which: the repository's storage, or a media bucket.
    #[error("{store}: {op} {name}: {message}")]
    Backend {
        store: &'static str,
        op: &'static str,
        name: String,
        message: String,
    },
    #[error("object {0} not found in the repository")]
    NotFound(String),
    #[error("{0} is not a jarc repository (no config object)")]
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
    #[error("no snapshot was taken at or before {at}{}", .oldest.as_ref().map(|o| format!(" (the oldest is of {o})")).unwrap_or_default())]
    NoSnapshotAt { at: String, oldest: Option<String> },
    #[error("snapshot id prefix {prefix:?} is ambiguous: it matches {}", .matches.join(", "))]
    AmbiguousSnapshot {
        prefix: String,
        matches: Vec<String>,
    },
    #[error("restore target {0} is not empty")]
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
    #[error("{} object(s) referenced by the restored rows are missing from the snapshot: {}", .0.len(), crate::util::joined_first(.0, 10))]
    MissingObjects(Vec<String>),
    /// The operator asked the command to stop; `kept` says what of its
    /// work stays usable.
    #[error("interrupted: nothing was committed; {kept}")]
    Interrupted { kept: String },
    /// A refusal the caller can overrule, or answer, with what `hint` names.
    #[error("{message}")]
    Refused { message: String, hint: Hint },
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
    /// The repository is encrypted and the password unlocks none of its
    /// keys (a mistyped password, or the key it belonged to was removed).
    #[error("wrong password: it opens none of the {keys} key(s) of the repository{}", if *.keys == 1 { "" } else { " (each key has its own password)" })]
    WrongPassword { keys: usize },
    /// The repository is encrypted and no password was given.
    #[error("the repository is encrypted and no password was given: {0}")]
    NoPassword(String),
}

/// What the caller can do about a refusal. The engine names the remedy;
/// the CLI names the flag that asks for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hint {
    /// Create a repository at this location.
    Init(String),
    /// Write into a non-empty target, replacing what has the same name.
    Overwrite,
    /// Go on without the objects the rows name but the source lacks.
    AllowMissingObjects,
    /// Record or write something empty all the same (a database that lost
    /// its tables, an archive without content rows).
    AllowEmpty,
    /// Forget a source's newest snapshot all the same.
    Force,
    /// Confirm that a content-only restore replaces the site's content.
    ConfirmReplace,
    /// Restore the content only, into the live site, instead.
    ContentOnly,
    /// Rows without a schema: restore the content into an existing Jant
    /// database, or export the snapshot.
    ContentOnlyOrExport,
    /// Choose one of the sites the message lists.
    ChooseSite,
    /// Pick the snapshots of one source (and host).
    ChooseSource,
    /// Make the repository without encryption.
    InsecureNoEncryption,
    /// Make the destination as a copy of the source (sharing blob ids).
    InitCopyFrom,
    /// Say which site an archive's rows belong to.
    SiteId,
    /// Restore into a directory (the snapshot holds media only).
    TargetDirectory,
    /// Restore into a Postgres database.
    TargetDatabase,
    /// Restore into a SQLite data directory.
    TargetDataDir,
    /// Name a Postgres server where a scratch database may be created.
    ScratchDatabase,
    /// Name a snapshot, or take every source.
    SnapshotOrAllSources,
    /// Give a retention policy, or snapshot ids.
    RetentionPolicy,
    /// Name the media directory, or choose another storage driver.
    MediaDirectory,
}

impl Error {
    /// The remedy the caller can ask for, if there is one.
    pub fn hint(&self) -> Option<Hint> {
        match self {
            Error::NotARepository(location) => Some(Hint::Init(location.clone())),
            Error::TargetNotEmpty(_) => Some(Hint::Overwrite),
            Error::MissingObjects(_) => Some(Hint::AllowMissingObjects),
            Error::Refused { hint, .. } => Some(hint.clone()),
            _ => None,
        }
    }

    /// A stable, machine-readable name for the kind of error.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::Backend { .. } => "storage",
            Error::NotFound(_) => "not-found",
            Error::NotARepository(_) => "not-a-repository",
            Error::AlreadyARepository(_) => "already-a-repository",
            Error::DirectoryNotEmpty(_) => "directory-not-empty",
            Error::UnsupportedVersion { .. } => "unsupported-version",
            Error::Corrupt { .. } => "corrupt",
            Error::SourceMissing(_) | Error::SourceNotDirectory(_) => "source-missing",
            Error::Unreadable { .. } => "unreadable",
            Error::NoSuchSnapshot(_)
            | Error::NoSnapshotAt { .. }
            | Error::AmbiguousSnapshot { .. } => "no-such-snapshot",
            Error::TargetNotEmpty(_) => "target-not-empty",
            Error::UnsafeKey(_) => "unsafe-key",
            Error::Invalid(_) => "invalid",
            Error::Database { .. } => "database",
            Error::MissingObjects(_) => "missing-objects",
            Error::Refused { .. } => "refused",
            Error::Interrupted { .. } => "interrupted",
            Error::RowOrder(_) => "row-order",
            Error::UnusableKey { .. } => "unusable-key",
            Error::WrongPassword { .. } => "wrong-password",
            Error::NoPassword(_) => "no-password",
        }
    }

    pub(crate) fn refused(message: impl Into<String>, hint: Hint) -> Self {
        Error::Refused {
            message: message.into(),
            hint,
        }
    }

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

    /// This error, when it is damage a decoder found, as damage of `what`
    /// (the object whose bytes it was given: a decoder names only their
    /// kind); any other error as it is.
    pub(crate) fn about(self, what: impl Into<String>) -> Self {
        match self {
            Error::Corrupt { detail, .. } => Error::Corrupt {
                what: what.into(),
                detail,
            },
            other => other,
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

#[cfg(test)]
mod tests {
    /// The engine names remedies ([`super::Hint`]), never the CLI's flags:
    /// no string literal outside comments holds ` --word` (Jant's own
    /// `--replace`, which the export refusal explains, is the one
    /// exception).
    #[test]
    fn no_engine_message_names_a_flag() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        let mut todo = vec![src];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    todo.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                for (n, line) in text.lines().enumerate() {
                    let code = line.trim_start();
                    if code.starts_with("//") {
                        continue;
                    }
                    let flagged = code.match_indices("--").any(|(i, _)| {
                        let before = code[..i].chars().next_back();
                        let after = code[i + 2..].chars().next();
                        before.is_some_and(|c| c == ' ' || c == '"' || c == '(')
                            && after.is_some_and(|c| c.is_ascii_lowercase())
                            && code[..i].contains('"')
                    });
                    if flagged && !code.contains("Jant's --replace import") {
                        found.push(format!("{}:{}: {code}", p.display(), n + 1));
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "flags named in the engine:\n{}",
            found.join("\n")
        );
    }
}
