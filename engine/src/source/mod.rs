//! Sources: where backed-up data comes from. A media source lists entries
//! sorted by key and opens their content; it never sees packs or trees.

pub mod dir;

use crate::error::Result;
use crate::media::MediaEntry;
use crate::snapshot::SourceInfo;
use std::io::Read;

/// One object as a source lists it: its key and its entry, whose `chunks`
/// and `content` are filled in once the content has been read (or reused).
#[derive(Debug, Clone)]
pub struct ScanEntry {
    pub key: String,
    pub entry: MediaEntry,
}

/// An object's bytes, in the cheapest form the source can give.
pub enum Content {
    /// Mapped file: chunked in place, never copied.
    Mapped(memmap2::Mmap),
    Bytes(Vec<u8>),
    Stream(Box<dyn Read + Send>),
}

pub trait MediaSource: Sync {
    fn info(&self) -> SourceInfo;
    /// Every entry, sorted by key (bytewise), with warnings for what was skipped.
    fn scan(&self) -> Result<(Vec<ScanEntry>, Vec<String>)>;
    fn open(&self, entry: &ScanEntry) -> Result<Content>;
    /// Whether the object changed while it was being read.
    fn changed_since_scan(&self, _entry: &ScanEntry) -> bool {
        false
    }
}
