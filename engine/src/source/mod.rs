//! Sources: where backed-up data comes from. A media source lists entries
//! sorted by key and opens their content; it never sees packs or trees.

pub mod dir;

use crate::error::Result;
use crate::media::{EntryKind, Sidecar};
use crate::snapshot::SourceInfo;
use std::io::Read;

/// One object as a source lists it, before its content is read.
#[derive(Debug, Clone)]
pub struct ScanEntry {
    pub key: String,
    pub kind: EntryKind,
    pub size: u64,
    pub mtime_ns: i64,
    pub mode: u32,
    pub inode: u64,
    pub ctime_ns: i64,
    pub token: String,
    pub meta: Vec<(String, String)>,
    pub sidecar: Option<Sidecar>,
    pub target: Option<String>,
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
