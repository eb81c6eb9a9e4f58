//! The repository config object (`config`): format version, the parameters
//! that fix blob identities and pack layout, and the 32-byte blob-id key.
//! (format-spec/README.md §3; sealed in an encrypted repository, §13.3)

use crate::codec;
use crate::crypto::{Context, Sealer};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 4] = b"JRCF";
/// The newest repository format version this build reads and writes:
/// version 3 is version 2 with AES-256-GCM objects (§13.1). A config is
/// written with the oldest version that can say what it holds (`version`),
/// so a plaintext or XChaCha repository stays readable by older builds.
pub const VERSION: u16 = 3;
/// The oldest it reads: version 1 is version 2 without encryption, key
/// objects or chained session markers.
pub const OLDEST: u16 = 1;
/// Magic of a sealed config (an encrypted repository's `config`).
pub const SEALED_MAGIC: &[u8; 4] = b"JRCE";

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

/// How objects are stored. Blob ids are keyed hashes of the plaintext
/// either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encryption {
    /// Plaintext (`init` only when asked explicitly).
    None,
    /// Every object sealed with XChaCha20-Poly1305 under a key derived
    /// from the master key that `keys/` objects wrap (§13).
    XChaCha20Poly1305,
    /// Every object but the config sealed with AES-256-GCM under a subkey
    /// per box (§13.1; format version 3); the config with XChaCha20-Poly1305.
    Aes256Gcm,
}

impl Encryption {
    /// The cipher of the repository's objects (the config's is always
    /// XChaCha20-Poly1305), if it has one.
    pub fn cipher(self) -> Option<crate::crypto::Cipher> {
        match self {
            Encryption::None => None,
            Encryption::XChaCha20Poly1305 => Some(crate::crypto::Cipher::XChaCha20Poly1305),
            Encryption::Aes256Gcm => Some(crate::crypto::Cipher::Aes256GcmDerived),
        }
    }
}

/// What a repository's `config` object holds.
pub enum Stored {
    Plain(Config),
    /// A sealed config: the master key (from a key object) opens it.
    Sealed(Vec<u8>),
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

    /// The format version this config is written with: the oldest that
    /// can hold it.
    pub fn version(&self) -> u16 {
        match self.encryption {
            Encryption::Aes256Gcm => 3,
            _ => 2,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        codec::encode(MAGIC, self.version(), self)
    }

    /// The `config` object of an encrypted repository.
    pub fn encode_sealed(&self, sealer: &Sealer) -> Vec<u8> {
        let mut out = SEALED_MAGIC.to_vec();
        out.extend_from_slice(&self.version().to_le_bytes());
        sealer.seal_into(Context::Config, &self.encode(), &mut out);
        out
    }

    /// A plaintext config, version 1 or 2.
    pub fn decode(bytes: &[u8]) -> Result<Config> {
        let version = match bytes.get(..6) {
            Some(h) if &h[..4] == MAGIC => u16::from_le_bytes([h[4], h[5]]),
            _ => return codec::decode("config", MAGIC, VERSION, bytes),
        };
        if !(OLDEST..=VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion {
                what: "config".into(),
                found: version as u32,
                supported: format!("{OLDEST} to {VERSION}"),
            });
        }
        let cfg: Config = codec::decode_body("config", &bytes[6..])?;
        if version == 1 && cfg.encryption != Encryption::None {
            return Err(Error::corrupt(
                "config",
                "a version 1 config names encryption",
            ));
        }
        if version < 3 && cfg.encryption == Encryption::Aes256Gcm {
            return Err(Error::corrupt(
                "config",
                format!("a version {version} config names AES-256-GCM"),
            ));
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// What a `config` object holds, before any key is needed.
    pub fn read(bytes: &[u8]) -> Result<Stored> {
        match bytes.get(..6) {
            Some(h) if &h[..4] == SEALED_MAGIC => {
                let version = u16::from_le_bytes([h[4], h[5]]);
                if !(2..=VERSION).contains(&version) {
                    return Err(Error::UnsupportedVersion {
                        what: "config".into(),
                        found: version as u32,
                        supported: format!("{OLDEST} to {VERSION}"),
                    });
                }
                Ok(Stored::Sealed(bytes[6..].to_vec()))
            }
            _ => Config::decode(bytes).map(Stored::Plain),
        }
    }

    /// Open a sealed config with the repository's sealer.
    pub fn open_sealed(sealed: &[u8], sealer: &Sealer) -> Result<Config> {
        let plain = sealer.open(Context::Config, sealed).map_err(|_| {
            Error::corrupt(
                "config",
                "it does not authenticate under the key the password opened (damaged, or replaced by another repository's)",
            )
        })?;
        Config::decode_opened(&plain)
    }

    /// The config a sealed box held, once opened.
    pub fn decode_opened(plain: &[u8]) -> Result<Config> {
        let cfg = Config::decode(plain)?;
        if cfg.encryption == Encryption::None {
            return Err(Error::corrupt(
                "config",
                "a sealed config says the repository is plaintext",
            ));
        }
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
