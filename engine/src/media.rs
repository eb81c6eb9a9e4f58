//! A media listing entry: the value stored under each object key in a
//! snapshot's media tree. (format-spec/README.md §7)

use crate::codec;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::{Snapshot, MEDIA_ROOT};
use crate::tree;
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 4] = b"JRME";
pub const VERSION: u16 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
}

impl EntryKind {
    /// As listings name it (`ls`, `find`).
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
        }
    }
}

/// A Jant storage sidecar (`<file>.meta.json`) as captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sidecar {
    /// The sidecar's bytes when regenerating them from `meta` would not
    /// reproduce them exactly; `None` when Jant's own serialisation does.
    pub raw: Option<Vec<u8>>,
    pub mtime_ns: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaEntry {
    pub kind: EntryKind,
    pub size: u64,
    pub mtime_ns: i64,
    /// Unix permission bits.
    pub mode: u32,
    /// Change-detection fingerprint of the source: inode and ctime for
    /// local files; zero where the source has none.
    pub inode: u64,
    pub ctime_ns: i64,
    /// A source-side version token (an S3 ETag); empty for local files.
    pub token: String,
    /// blake3 over the concatenated chunk ids: identifies the content
    /// without a second pass over the bytes.
    pub content: Id,
    pub chunks: Vec<Id>,
    /// Object metadata: contentType, contentDisposition, cacheControl, …
    pub meta: Vec<(String, String)>,
    pub sidecar: Option<Sidecar>,
    /// Link target, for symlinks.
    pub target: Option<String>,
}

impl MediaEntry {
    /// An entry of `kind` as a scan begins it: nothing known yet but its
    /// kind; each source fills in what it lists (`..MediaEntry::new(kind)`).
    pub fn new(kind: EntryKind) -> MediaEntry {
        MediaEntry {
            kind,
            size: 0,
            mtime_ns: 0,
            mode: 0,
            inode: 0,
            ctime_ns: 0,
            token: String::new(),
            content: Id::default(),
            chunks: Vec::new(),
            meta: Vec::new(),
            sidecar: None,
            target: None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        codec::encode(MAGIC, VERSION, self)
    }

    pub fn decode(bytes: &[u8]) -> Result<MediaEntry> {
        codec::decode("media entry", MAGIC, VERSION, bytes)
    }

    pub fn content_id(chunks: &[Id]) -> Id {
        let mut h = blake3::Hasher::new();
        for c in chunks {
            h.update(&c.0);
        }
        Id(*h.finalize().as_bytes())
    }

    pub fn meta_get(&self, k: &str) -> Option<&str> {
        self.meta
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Why an object key cannot name a file below a root, if it cannot: it is
/// empty or absolute, holds a NUL, or has an empty, `.` or `..` component.
pub fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        return Some("is empty");
    }
    if key.starts_with('/') {
        return Some("is an absolute path");
    }
    if key.contains('\0') {
        return Some("contains a NUL byte");
    }
    key.split('/').find_map(|c| match c {
        ".." => Some("contains a .. component"),
        "." => Some("contains a . component"),
        "" => Some("contains an empty component"),
        _ => None,
    })
}

/// A media object `find` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    pub snapshot: String,
    #[serde(serialize_with = "crate::util::ser_rfc3339")]
    pub time: i64,
    pub key: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub size: u64,
    #[serde(serialize_with = "crate::util::ser_rfc3339")]
    pub mtime: i64,
}

/// Every media object whose key `pattern` matches, in each snapshot of
/// `snaps` (`jarc find`), in snapshot then key order.
pub fn find(
    repo: &Repository,
    snaps: &[(Id, Snapshot)],
    pattern: &crate::selection::Selection,
) -> Result<Vec<Found>> {
    let mut out = Vec::new();
    for (id, s) in snaps {
        // A listing at a time, an entry at a time: only matches are kept.
        for e in entries_iter(repo, s) {
            let (key, e) = e?;
            if pattern.matches(&key) {
                out.push(Found {
                    snapshot: id.to_hex(),
                    time: s.time_ns,
                    kind: e.kind.name(),
                    key,
                    size: e.size,
                    mtime: e.mtime_ns,
                });
            }
        }
    }
    Ok(out)
}

/// `entries` for a recovery: what the listing still gives, and a message
/// for each part of it that could not be read (a damaged tree node costs
/// the objects under it, a damaged entry itself).
pub fn entries_salvaging(
    repo: &Repository,
    snap: &Snapshot,
) -> (Vec<(String, MediaEntry)>, Vec<String>) {
    let Some(root) = snap.root(MEDIA_ROOT) else {
        return (Vec::new(), Vec::new());
    };
    let mut out = Vec::with_capacity(root.count as usize);
    let mut lost = Vec::new();
    let mut it = tree::iter_salvaging(repo, root);
    for e in it.by_ref() {
        match e.and_then(listed) {
            Ok(kv) => out.push(kv),
            Err(e) => lost.push(format!("an entry of the media listing: {e}")),
        }
    }
    for (n, e) in it.lost() {
        lost.push(format!("{n} entries of the media listing: {e}"));
    }
    (out, lost)
}

/// A snapshot's media listing, in key order.
pub fn entries(repo: &Repository, snap: &Snapshot) -> Result<Vec<(String, MediaEntry)>> {
    let mut out = Vec::with_capacity(snap.root(MEDIA_ROOT).map_or(0, |r| r.count as usize));
    for e in entries_iter(repo, snap) {
        out.push(e?);
    }
    Ok(out)
}

/// A snapshot's media listing, in key order, an entry at a time: what is
/// held is the tree's current path, not the listing (a million objects'
/// entries are hundreds of MiB).
pub fn entries_iter<'r>(
    repo: &'r Repository,
    snap: &Snapshot,
) -> impl Iterator<Item = Result<(String, MediaEntry)>> + 'r {
    let nodes = snap.root(MEDIA_ROOT).map(|r| tree::iter(repo, &r.node));
    nodes.into_iter().flatten().map(|e| listed(e?))
}

/// One leaf of a media listing as its key and entry.
fn listed(e: tree::LeafEntry) -> Result<(String, MediaEntry)> {
    let key = String::from_utf8(e.key)
        .map_err(|_| Error::corrupt("media tree", "object key is not UTF-8"))?;
    Ok((key, MediaEntry::decode(&e.value)?))
}
