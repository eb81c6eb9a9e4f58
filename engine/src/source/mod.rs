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

/// One step of a scan. Entries come in key order (bytewise); what was
/// left out and what is worth saying come wherever they are found.
#[derive(Debug)]
pub enum ScanItem {
    Entry(ScanEntry),
    /// An object (or a whole directory) that could not be listed or opened:
    /// left out of the snapshot, named.
    Skipped(Skipped),
    /// What is worth saying but costs nothing (a FIFO passed over, a
    /// sidecar kept verbatim).
    Warning(String),
}

/// A scan in progress. A backup consumes it a batch at a time, so what a
/// scan holds at once is one directory (or one listing page), not the
/// whole source: a million objects cost no more memory than a thousand.
pub type Scan<'a> = Box<dyn Iterator<Item = Result<ScanItem>> + 'a>;

/// A scan of a source that lists everything at once (a snapshot archive's
/// directory): its entries sorted here.
pub fn scan_of(mut entries: Vec<ScanEntry>) -> Scan<'static> {
    entries.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    Box::new(entries.into_iter().map(|e| Ok(ScanItem::Entry(e))))
}

pub trait MediaSource: Sync {
    fn info(&self) -> SourceInfo;
    /// Start listing. The source's root failing to list fails here;
    /// what fails below it is `ScanItem::Skipped`.
    fn scan(&self) -> Result<Scan<'_>>;
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
    /// A hint that `entry` is read soon, its first `len` bytes at least: a
    /// source on a local disk has the kernel start reading them, so the
    /// device works on the next objects while the workers chunk this one.
    /// Nothing is reported: the read itself says what fails.
    fn read_ahead(&self, _entry: &ScanEntry, _len: u64) {}
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
