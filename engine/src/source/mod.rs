//! Sources: where backed-up data comes from. A media source lists entries
//! sorted by key and opens their content; a database source gives its schema
//! and its tables' rows from one consistent point in time. Neither sees
//! packs or trees.

pub mod archive;
pub mod bucket;
pub mod dir;
pub mod dump;
pub mod postgres;
pub mod sqlite;

use crate::error::Result;
use crate::media::MediaEntry;
use crate::row::Value;
use crate::schema::{RowKey, SchemaObject};
use crate::snapshot::SourceInfo;
use std::io::Read;

/// One object as a source lists it: its key and its entry, whose `chunks`
/// and `content` are filled in once the content has been read (or reused).
#[derive(Debug, Clone)]
pub struct ScanEntry {
    pub key: String,
    pub entry: MediaEntry,
}

/// Object metadata as Jant names them (`contentType`, …).
pub type Meta = Vec<(String, String)>;

/// An object's bytes, in the cheapest form the source can give.
pub enum Content {
    Bytes(Vec<u8>),
    Stream(Box<dyn Read + Send>),
}

/// A media object a backup left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub key: String,
    pub reason: String,
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scanned {
    /// Every entry, sorted by key (bytewise).
    pub entries: Vec<ScanEntry>,
    /// What is worth saying but costs nothing (a FIFO passed over, a
    /// sidecar kept verbatim).
    pub warnings: Vec<String>,
    /// Objects (or whole directories) that could not be listed or opened:
    /// left out of the snapshot, each named.
    pub skipped: Vec<Skipped>,
}

pub trait MediaSource: Sync {
    fn info(&self) -> SourceInfo;
    fn scan(&self) -> Result<Scanned>;
    fn open(&self, entry: &ScanEntry) -> Result<Content>;
    /// `open`, plus the object's metadata where reading it brings them
    /// (an S3 GET's headers) rather than the scan.
    fn open_with_meta(&self, entry: &ScanEntry) -> Result<(Content, Option<Meta>)> {
        Ok((self.open(entry)?, None))
    }
    /// Whether metadata come with the read (`open_with_meta`) instead of
    /// the scan: an unchanged object then keeps its parent's metadata.
    /// Whether objects come over the network (a bucket): then more are
    /// read at once than there are cores.
    fn remote(&self) -> bool {
        false
    }

    fn meta_from_read(&self) -> bool {
        false
    }
    /// Requests made to a remote source, for the backup summary.
    fn requests(&self) -> Option<crate::backend::RequestSnapshot> {
        None
    }
    /// Whether the object changed while it was being read.
    fn changed_since_scan(&self, _entry: &ScanEntry) -> bool {
        false
    }
}

/// Receives one table's rows, each as its values in the order of the
/// table's `value_columns`.
pub trait RowSink {
    fn row(&mut self, values: Vec<Value>) -> Result<()>;
}

/// A database read at one point in time: `begin` pins it and returns the
/// schema, `rows` may be called for any table (more than once), `finish`
/// releases it.
pub trait DatabaseSource {
    fn info(&self) -> SourceInfo;
    /// `sqlite` or `pg`, as Jant names its dialects.
    fn dialect(&self) -> &'static str;
    fn begin(&mut self, warnings: &mut Vec<String>) -> Result<Vec<SchemaObject>>;
    /// Stream a table's rows, in primary-key order where the database can
    /// (a sink copes with any order, at the cost of a re-read).
    fn rows(&mut self, table: &SchemaObject, sink: &mut dyn RowSink) -> Result<()>;
    fn finish(&mut self) -> Result<()>;
    /// Facts the source knows that the rows do not say (a snapshot
    /// archive's site and Jant version): snapshot `extra` pairs that take
    /// precedence over what the capture reads off the rows.
    fn extra(&self) -> Vec<(String, String)> {
        Vec::new()
    }
    /// How to key a table whose primary key holds NULLs or the same value
    /// twice (SQLite lets a non-INTEGER primary key of a rowid table hold
    /// any number of NULLs, as drizzle's `__drizzle_migrations` does): the
    /// table is read again keyed this way. `None`: such a table is refused.
    fn duplicate_key_fallback(&self) -> Option<RowKey> {
        None
    }
}

/// A site's database source and, when backed up too, its media source.
pub type SiteSources = (Box<dyn DatabaseSource>, Option<Box<dyn MediaSource>>);

/// The sources of a Jant site as its environment describes it: its
/// database, and its media unless `with_media` is false (a local media
/// directory or the `S3_*` bucket).
pub fn site_sources(site: &crate::jant::env::Site, with_media: bool) -> Result<SiteSources> {
    use crate::jant::env::{Database, Storage};
    let db: Box<dyn DatabaseSource> = match &site.database {
        Database::Sqlite(p) => Box::new(sqlite::SqliteSource::open(p)?),
        Database::Postgres(u) => Box::new(postgres::PostgresSource::connect(u)?),
    };
    let media: Option<Box<dyn MediaSource>> = match (&site.storage, with_media) {
        (_, false) => None,
        (Storage::Local(p), true) => Some(Box::new(dir::DirSource::new(p)?)),
        (Storage::S3(c), true) => Some(Box::new(bucket::BucketSource::new(c.clone())?)),
    };
    Ok((db, media))
}
