//! Repository statistics: logical size, stored size, dedup and compression.

use crate::error::Result;
use crate::index::Index;
use crate::pack::{BlobKind, Codec};
use crate::repo::Repository;
use crate::snapshot;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Objects are sealed (format-spec §13); false for a repository made
    /// without encryption.
    pub encrypted: bool,
    /// The cipher of its objects (format-spec §13.1), if encrypted.
    pub cipher: Option<&'static str>,
    pub snapshots: u64,
    /// Sum of every snapshot's file bytes: what storing each one whole would cost.
    pub logical_bytes: u64,
    /// Plaintext bytes of the distinct data blobs (file content).
    pub unique_bytes: u64,
    /// Plaintext bytes of the distinct tree nodes (listings, metadata).
    pub tree_bytes: u64,
    /// Bytes of the distinct blobs as stored (after compression).
    pub stored_blob_bytes: u64,
    /// Bytes of all pack files, headers included.
    pub pack_bytes: u64,
    /// Bytes of the copies of tree packs (format-spec §4.3), stored on
    /// top of `pack_bytes`.
    pub tree_copy_bytes: u64,
    pub packs: u64,
    pub data_blobs: u64,
    pub tree_blobs: u64,
    pub compressed_blobs: u64,
    /// logical / unique.
    pub dedup_ratio: f64,
    /// (unique + tree) / stored.
    pub compression_ratio: f64,
    pub index_bytes_per_blob: u64,
}

pub fn stats(repo: &Repository) -> Result<Stats> {
    let mut s = Stats {
        encrypted: repo.encrypted(),
        cipher: match repo.config().encryption {
            crate::config::Encryption::None => None,
            crate::config::Encryption::XChaCha20Poly1305 => Some("XChaCha20-Poly1305"),
            crate::config::Encryption::Aes256Gcm => Some("AES-256-GCM"),
        },
        ..Stats::default()
    };
    for (_, snap) in snapshot::list(repo)? {
        s.snapshots += 1;
        s.logical_bytes += snap.summary.bytes;
    }
    let idx = repo.index();
    for (_, loc) in idx.iter() {
        s.stored_blob_bytes += loc.length as u64;
        match loc.kind {
            BlobKind::Data => {
                s.data_blobs += 1;
                s.unique_bytes += loc.raw_length as u64;
            }
            BlobKind::Tree => {
                s.tree_blobs += 1;
                s.tree_bytes += loc.raw_length as u64;
            }
        }
        s.compressed_blobs += (loc.codec == Codec::Zstd) as u64;
    }
    for (_, size) in idx.packs() {
        s.packs += 1;
        s.pack_bytes += size;
    }
    s.tree_copy_bytes = repo
        .backend()
        .list(crate::layout::TREE_COPIES)?
        .iter()
        .map(|l| l.size)
        .sum();
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    s.dedup_ratio = ratio(s.logical_bytes, s.unique_bytes);
    s.compression_ratio = ratio(s.unique_bytes + s.tree_bytes, s.stored_blob_bytes);
    s.index_bytes_per_blob = Index::bytes_per_entry() as u64;
    Ok(s)
}
