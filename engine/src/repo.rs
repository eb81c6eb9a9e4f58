//! The repository: config, index and the content-addressed blob store.
//!
//! Write order, and why a crash never leaves an invalid repository
//! (format-spec/README.md §8):
//! 1. blobs go into packs; each full pack is written atomically under the
//!    blake3 of its bytes;
//! 2. `flush` writes the remaining packs, then one index file naming them;
//! 3. only then is the snapshot written, and the snapshot is the commit
//!    point.
//!
//! A crash before (2) leaves packs no index names; before (3), an index whose
//! blobs no snapshot uses. Both are merely unreferenced; readers never see a
//! snapshot whose blobs are missing. Nothing existing is ever rewritten or
//! deleted by a backup, so any number of backups may run at once: they can
//! only add distinct names, or the same name with the same bytes.

use crate::backend::Backend;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::id::Id;
use crate::index::{Index, IndexFile, IndexPack};
use crate::pack::{self, BlobKind, PackWriter};
use bytes::Bytes;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

pub const CONFIG_NAME: &str = "config";
/// Written and deleted by `init` to learn whether the store enforces
/// create-if-absent.
pub const PROBE_NAME: &str = "probe-create-if-absent";

/// What this process has added to the repository since it opened it.
#[derive(Debug, Default)]
pub struct SaveCounters {
    pub blobs: AtomicU64,
    pub raw_bytes: AtomicU64,
    pub stored_bytes: AtomicU64,
    pub packs: AtomicU64,
}

pub struct Repository {
    backend: Backend,
    config: Config,
    index: RwLock<Index>,
    packers: [Mutex<PackWriter>; 2],
    /// Ids saved by this process that the loaded index does not hold yet;
    /// also stops two workers storing the same new chunk twice.
    pending: Mutex<HashSet<Id>>,
    written: Mutex<Vec<IndexPack>>,
    /// Pack buffers handed back by the backend, for the next packs.
    spare: Mutex<Vec<Vec<u8>>>,
    pub saved: SaveCounters,
}

pub fn pack_name(id: &Id) -> String {
    let h = id.to_hex();
    format!("data/{}/{}", &h[..2], h)
}

pub fn index_name(id: &Id) -> String {
    format!("index/{}", id.to_hex())
}

fn kind_slot(kind: BlobKind) -> usize {
    match kind {
        BlobKind::Data => 0,
        BlobKind::Tree => 1,
    }
}

impl Repository {
    /// Create a repository at `location` with `config`.
    ///
    /// The config must not replace another's: two `init`s racing on one
    /// bucket would otherwise leave packs encrypted-under (keyed by) a key
    /// the surviving config does not hold. Where the store enforces
    /// create-if-absent (probed once, never assumed), the config is written
    /// with it; where it silently ignores it (Garage), the config is written,
    /// read back and compared, which catches a racing `init` unless both
    /// writes land before either read (format-spec §8.6).
    pub fn init(location: &str, config: Config) -> Result<Repository> {
        config.validate()?;
        let backend = Backend::open(location, true)?;
        if backend.head(CONFIG_NAME)?.is_some() {
            return Err(Error::AlreadyARepository(location.to_string()));
        }
        if let Some(root) = backend.local_root() {
            let mut rd = std::fs::read_dir(root).map_err(|e| Error::io(root, e))?;
            if rd.next().is_some() {
                return Err(Error::DirectoryNotEmpty(location.to_string()));
            }
        } else if backend.has_any("")? {
            return Err(Error::DirectoryNotEmpty(location.to_string()));
        }
        let bytes = Bytes::from(config.encode());
        if backend.local_root().is_some() || backend.probe_create_if_absent(PROBE_NAME)? {
            if !backend.put_if_absent(CONFIG_NAME, bytes)? {
                return Err(Error::AlreadyARepository(location.to_string()));
            }
        } else {
            backend.put(CONFIG_NAME, bytes.clone())?;
            if backend.get(CONFIG_NAME)? != bytes {
                return Err(Error::AlreadyARepository(location.to_string()));
            }
        }
        Ok(Repository::with(backend, config, Index::default()))
    }

    /// Open an existing repository and load its index.
    pub fn open(location: &str) -> Result<Repository> {
        let backend = Backend::open(location, false)?;
        let raw = match backend.get(CONFIG_NAME) {
            Ok(b) => b,
            Err(Error::NotFound(_)) => return Err(Error::NotARepository(location.to_string())),
            Err(e) => return Err(e),
        };
        let config = match Config::decode(&raw) {
            Err(Error::Corrupt { detail, .. }) if detail.starts_with("wrong magic") => {
                return Err(Error::Invalid(format!(
                    "{location} is not a jarc repository: its config object is not in jarc's format"
                )))
            }
            other => other?,
        };
        let repo = Repository::with(backend, config, Index::default());
        repo.reload_index()?;
        Ok(repo)
    }

    fn with(backend: Backend, config: Config, index: Index) -> Repository {
        Repository {
            backend,
            config,
            index: RwLock::new(index),
            packers: [Mutex::default(), Mutex::default()],
            pending: Mutex::default(),
            written: Mutex::default(),
            spare: Mutex::default(),
            saved: SaveCounters::default(),
        }
    }

    /// Read every index file. Index files are loaded in name order and
    /// decoded independently, so a repository with thousands of them costs
    /// one LIST plus one GET each.
    pub fn reload_index(&self) -> Result<()> {
        let mut index = Index::default();
        for f in self.read_index_files()? {
            for p in &f.1.packs {
                index.add_pack(p);
            }
        }
        index.finish();
        *self.index.write().map_err(|_| poisoned())? = index;
        Ok(())
    }

    /// Every index file with its name.
    pub fn read_index_files(&self) -> Result<Vec<(String, IndexFile)>> {
        let mut out = Vec::new();
        for l in self.backend.list("index")? {
            let bytes = self.backend.get(&l.name)?;
            let f = IndexFile::decode(&bytes).map_err(|e| match e {
                Error::Corrupt { detail, .. } => Error::corrupt(l.name.clone(), detail),
                other => other,
            })?;
            out.push((l.name, f));
        }
        Ok(out)
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn index(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        // A poisoned lock means a worker panicked; the panic is reported
        // on its own, and the index data itself is still consistent.
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The id a plaintext blob has in this repository.
    pub fn blob_id(&self, data: &[u8]) -> Id {
        Id(*blake3::keyed_hash(&self.config.key, data).as_bytes())
    }

    /// Store a blob unless the repository (or this run) already has it.
    /// Returns the id and whether it was new.
    pub fn save_blob(&self, kind: BlobKind, data: &[u8]) -> Result<(Id, bool)> {
        let id = self.blob_id(data);
        if self.index().contains(&id) {
            return Ok((id, false));
        }
        if !self.pending.lock().map_err(|_| poisoned())?.insert(id) {
            return Ok((id, false));
        }
        let c = &self.config.compression;
        let enc = pack::encode_blob(data, c.level, c.raw_above_permille);
        self.saved.blobs.fetch_add(1, Ordering::Relaxed);
        self.saved
            .raw_bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.saved
            .stored_bytes
            .fetch_add(enc.bytes.len() as u64, Ordering::Relaxed);
        let full = {
            let mut p = self.packers[kind_slot(kind)]
                .lock()
                .map_err(|_| poisoned())?;
            p.add(kind, id, data.len() as u32, &enc);
            if p.len() >= self.config.pack_size as usize {
                let buf = self
                    .spare
                    .lock()
                    .ok()
                    .and_then(|mut s| s.pop())
                    .unwrap_or_default();
                Some(std::mem::replace(&mut *p, PackWriter::with_buffer(buf)))
            } else {
                None
            }
        };
        if let Some(p) = full {
            self.write_pack(p)?;
        }
        Ok((id, true))
    }

    fn write_pack(&self, p: PackWriter) -> Result<()> {
        let fin = p.finish();
        let size = fin.bytes.len() as u64;
        self.backend
            .put(&pack_name(&fin.id), Bytes::from(fin.bytes))?;
        self.saved.packs.fetch_add(1, Ordering::Relaxed);
        failpoint::hit("after-pack");
        self.written
            .lock()
            .map_err(|_| poisoned())?
            .push(IndexPack {
                id: fin.id,
                size,
                blobs: fin.blobs,
            });
        Ok(())
    }

    /// Write out partial packs, then one index file for every pack written
    /// since the last flush. After it returns, every blob saved so far is
    /// durable and findable, and a snapshot may reference it.
    pub fn flush(&self) -> Result<Option<Id>> {
        for slot in &self.packers {
            let p = std::mem::take(&mut *slot.lock().map_err(|_| poisoned())?);
            if !p.is_empty() {
                self.write_pack(p)?;
            }
        }
        let packs = std::mem::take(&mut *self.written.lock().map_err(|_| poisoned())?);
        if packs.is_empty() {
            return Ok(None);
        }
        failpoint::hit("before-index");
        let file = IndexFile { packs };
        let bytes = file.encode();
        let id = Id::of_bytes(&bytes);
        self.backend.put(&index_name(&id), Bytes::from(bytes))?;
        {
            let mut idx = self.index.write().map_err(|_| poisoned())?;
            for p in &file.packs {
                idx.add_pack(p);
            }
            idx.finish();
        }
        self.pending.lock().map_err(|_| poisoned())?.clear();
        Ok(Some(id))
    }

    /// Load and verify a blob: the plaintext must hash to its id.
    pub fn load_blob(&self, id: &Id) -> Result<Vec<u8>> {
        let loc = self
            .index()
            .lookup(id)
            .ok_or_else(|| Error::corrupt(format!("blob {id}"), "not in the index"))?;
        let stored = self.backend.get_range(
            &pack_name(&loc.pack),
            loc.offset as u64..loc.offset as u64 + loc.length as u64,
        )?;
        let data = pack::decode_blob(loc.codec, &stored, loc.raw_length)
            .map_err(|e| Error::corrupt(format!("blob {id} in pack {}", loc.pack), e))?;
        if self.blob_id(&data) != *id {
            return Err(Error::corrupt(
                format!("blob {id} in pack {}", loc.pack),
                "content does not match its id (hash mismatch)",
            ));
        }
        Ok(data)
    }
}

fn poisoned() -> Error {
    Error::Invalid("internal lock poisoned by a panicked worker".into())
}
