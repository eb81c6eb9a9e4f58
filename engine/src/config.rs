//! The repository config object (`config`): format version, the parameters
//! that fix blob identities and pack layout, and the 32-byte blob-id key.
//! (format-spec/README.md §3)

use crate::codec;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 4] = b"JRCF";
pub const VERSION: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
    /// FastCDC normalization level (0..=3).
    pub normalization: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compression {
    /// zstd level for blobs that compress.
    pub level: i32,
    /// A blob is stored raw when compressing it leaves more than this many
    /// thousandths of its size (already-compressed media).
    pub raw_above_permille: u16,
}

/// The versioned slot for authenticated encryption. Blob ids are keyed
/// hashes of the plaintext, so turning encryption on later changes how blobs
/// are stored, never what they are called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encryption {
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub repo_id: [u8; 16],
    pub chunker: ChunkerParams,
    /// Target size of a data pack in bytes.
    pub pack_size: u32,
    pub compression: Compression,
    /// Target size of a tree node in bytes (content-defined; see `tree`).
    pub tree_node_target: u32,
    /// Key of the keyed blake3 that names blobs.
    pub key: [u8; 32],
    pub encryption: Encryption,
}

impl Config {
    /// Defaults, with a fresh random key and repository id.
    pub fn new_random() -> Config {
        Config {
            repo_id: rand::random(),
            chunker: ChunkerParams {
                min: 256 * 1024,
                avg: 1024 * 1024,
                max: 4 * 1024 * 1024,
                normalization: 1,
            },
            pack_size: 32 * 1024 * 1024,
            compression: Compression {
                level: 3,
                raw_above_permille: 970,
            },
            tree_node_target: 8 * 1024,
            key: rand::random(),
            encryption: Encryption::None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        codec::encode(MAGIC, VERSION, self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Config> {
        let cfg: Config = codec::decode("config", MAGIC, VERSION, bytes)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reject parameters this build cannot honour, before anything is read
    /// or written with them.
    pub fn validate(&self) -> Result<()> {
        let c = &self.chunker;
        let ok = c.min >= 64
            && c.min <= 1 << 20
            && c.min < c.avg
            && c.avg < c.max
            && c.avg <= 4 << 20
            && c.max <= 16 << 20
            && c.min.is_multiple_of(2)
            && c.avg.is_multiple_of(2)
            && c.max.is_multiple_of(2)
            && c.normalization <= 3;
        if !ok {
            return Err(Error::corrupt(
                "config",
                format!(
                    "chunker parameters {}/{}/{} (normalization {}) are out of range",
                    c.min, c.avg, c.max, c.normalization
                ),
            ));
        }
        if self.pack_size < 1 << 20 || self.pack_size > 512 << 20 {
            return Err(Error::corrupt(
                "config",
                format!("pack size {} is out of range", self.pack_size),
            ));
        }
        if self.tree_node_target < 256 {
            return Err(Error::corrupt("config", "tree node target below 256 bytes"));
        }
        Ok(())
    }
}
