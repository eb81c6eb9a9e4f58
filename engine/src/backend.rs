//! Storage backend: named byte objects over `object_store`.
//!
//! The rest of the engine sees only `put`/`get`/`get_range`/`list`/`delete`
//! on names such as `data/ab/ab12…`. A local directory is an
//! `object_store::local::LocalFileSystem` with fsync on, which gives the
//! atomic write the format relies on (staged file, fsync, rename, directory
//! fsync). Further stores (S3-compatible buckets) plug in here as another
//! `Arc<dyn ObjectStore>`; nothing above this module changes.
//!
//! `object_store` is async; the engine's data path is rayon-parallel and
//! synchronous, so each call blocks on a small private runtime. Calls come
//! from rayon workers, never from inside the runtime, so `block_on` is safe.

use crate::error::{Error, Result};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Request counters, so summaries can state what a run cost on a metered store.
#[derive(Debug, Default)]
pub struct RequestCounts {
    pub list: AtomicU64,
    pub get: AtomicU64,
    pub put: AtomicU64,
    pub head: AtomicU64,
    pub delete: AtomicU64,
    /// Bytes received by GETs.
    pub bytes_read: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestSnapshot {
    pub list: u64,
    pub get: u64,
    pub put: u64,
    pub head: u64,
    pub delete: u64,
    pub bytes_read: u64,
}

impl RequestCounts {
    pub fn snapshot(&self) -> RequestSnapshot {
        RequestSnapshot {
            list: self.list.load(Ordering::Relaxed),
            get: self.get.load(Ordering::Relaxed),
            put: self.put.load(Ordering::Relaxed),
            head: self.head.load(Ordering::Relaxed),
            delete: self.delete.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
        }
    }
}

impl RequestSnapshot {
    /// What was spent between `earlier` and `self`.
    pub fn since(&self, earlier: &RequestSnapshot) -> RequestSnapshot {
        RequestSnapshot {
            list: self.list - earlier.list,
            get: self.get - earlier.get,
            put: self.put - earlier.put,
            head: self.head - earlier.head,
            delete: self.delete - earlier.delete,
            bytes_read: self.bytes_read - earlier.bytes_read,
        }
    }
}

pub struct Backend {
    store: Arc<dyn ObjectStore>,
    rt: tokio::runtime::Runtime,
    location: String,
    local_root: Option<PathBuf>,
    pub requests: RequestCounts,
}

/// A listed object: its name relative to the repository root and its size.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub size: u64,
}

impl Backend {
    /// Open the store named by a repository location. `create` makes a local
    /// directory if it is missing (only `init` asks for that).
    pub fn open(location: &str, create: bool) -> Result<Backend> {
        if location.starts_with("s3://") {
            return Err(Error::Invalid(format!(
                "repository location {location}: S3 repositories are not supported by this build yet"
            )));
        }
        Backend::local(Path::new(location), create)
    }

    pub fn local(root: &Path, create: bool) -> Result<Backend> {
        if create {
            std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
        } else if !root.is_dir() {
            return Err(Error::NotARepository(root.display().to_string()));
        }
        let abs = std::fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&abs)
            .map_err(|e| backend_err("open", &abs.display().to_string(), e))?
            .with_fsync(true);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("jarc-io")
            .enable_all()
            .build()
            .map_err(|e| Error::io(&abs, e))?;
        Ok(Backend {
            store: Arc::new(store),
            rt,
            location: abs.display().to_string(),
            local_root: Some(abs),
            requests: RequestCounts::default(),
        })
    }

    /// Human-readable location (a path or URL without credentials).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The directory of a local repository; `None` for remote stores.
    pub fn local_root(&self) -> Option<&Path> {
        self.local_root.as_deref()
    }

    fn path(name: &str) -> StorePath {
        StorePath::from(name)
    }

    /// Atomic whole-object write. Names are content-addressed (or unique), so
    /// writing the same name twice writes the same bytes and is harmless.
    pub fn put(&self, name: &str, data: Bytes) -> Result<()> {
        self.requests.put.fetch_add(1, Ordering::Relaxed);
        let p = Self::path(name);
        self.rt
            .block_on(self.store.put(&p, PutPayload::from_bytes(data)))
            .map(|_| ())
            .map_err(|e| backend_err("put", name, e))
    }

    /// `put` that hands the buffer back for reuse when the store has let go
    /// of it: refilling a recycled 32 MiB buffer costs no page faults.
    pub fn put_vec(&self, name: &str, data: Vec<u8>) -> Result<Vec<u8>> {
        let bytes = Bytes::from(data);
        self.put(name, bytes.clone())?;
        Ok(bytes.try_into_mut().map(Vec::from).unwrap_or_default())
    }

    pub fn get(&self, name: &str) -> Result<Bytes> {
        self.requests.get.fetch_add(1, Ordering::Relaxed);
        let p = Self::path(name);
        let got = self
            .rt
            .block_on(async { self.store.get(&p).await?.bytes().await })
            .map_err(|e| backend_err("get", name, e))?;
        self.requests
            .bytes_read
            .fetch_add(got.len() as u64, Ordering::Relaxed);
        Ok(got)
    }

    pub fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        self.requests.get.fetch_add(1, Ordering::Relaxed);
        let p = Self::path(name);
        let want = range.end - range.start;
        let got = self
            .rt
            .block_on(self.store.get_range(&p, range))
            .map_err(|e| backend_err("get", name, e))?;
        self.requests
            .bytes_read
            .fetch_add(got.len() as u64, Ordering::Relaxed);
        if got.len() as u64 != want {
            return Err(Error::corrupt(
                format!("object {name}"),
                format!("short read: wanted {want} bytes, got {}", got.len()),
            ));
        }
        Ok(got)
    }

    /// Size of an object, or `None` if it does not exist.
    pub fn head(&self, name: &str) -> Result<Option<u64>> {
        self.requests.head.fetch_add(1, Ordering::Relaxed);
        let p = Self::path(name);
        match self.rt.block_on(self.store.head(&p)) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(backend_err("head", name, e)),
        }
    }

    /// Every object under `prefix` (a folder name such as `index`).
    pub fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        self.requests.list.fetch_add(1, Ordering::Relaxed);
        let p = Self::path(prefix);
        let res: Result<Vec<object_store::ObjectMeta>, _> =
            self.rt.block_on(self.store.list(Some(&p)).try_collect());
        let metas = match res {
            Ok(m) => m,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(backend_err("list", prefix, e)),
        };
        let mut out: Vec<Listed> = metas
            .into_iter()
            .map(|m| Listed {
                name: m.location.to_string(),
                size: m.size,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn delete(&self, name: &str) -> Result<()> {
        self.requests.delete.fetch_add(1, Ordering::Relaxed);
        let p = Self::path(name);
        match self.rt.block_on(self.store.delete(&p)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(backend_err("delete", name, e)),
        }
    }
}

fn backend_err(op: &'static str, name: &str, e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::NotFound(name.to_string()),
        other => Error::Backend {
            op,
            name: name.to_string(),
            message: other.to_string(),
        },
    }
}
