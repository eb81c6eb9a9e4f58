//! Storage backend: named byte objects over `object_store`.
//!
//! The rest of the engine sees only `put`/`get`/`get_range`/`list`/`delete`
//! on names such as `data/ab/ab12…`. A local directory is an
//! `object_store::local::LocalFileSystem` with fsync on, which gives the
//! atomic write the format relies on (staged file, fsync, rename, directory
//! fsync). An S3-compatible bucket (`s3://bucket/prefix`) is an
//! `AmazonS3` store: a PUT is atomic there by the protocol, large objects go
//! up as multipart uploads with a bounded number of parts in flight, and
//! transient failures (5xx, throttling, timeouts, resets) are retried with
//! exponential backoff inside object_store. The same type also reads a
//! Jant media bucket and writes a restore into one, so every request jarc
//! makes to any store is counted here.
//!
//! `object_store` is async; the engine's data path is rayon-parallel and
//! synchronous, so each call blocks on a small private runtime. Calls come
//! from rayon workers, never from inside the runtime, so `block_on` is safe.

use crate::crypto::{Context, Sealer};
use crate::error::{Error, Result};
use crate::metered::MeteredStore;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::metered::{RequestCounts, RequestSnapshot};

/// Objects at least this large go to a local repository with direct I/O
/// (packs; index files and snapshots are small and go the ordinary way).
const DIRECT_MIN: usize = 1 << 20;

#[derive(Clone)]
pub struct Backend {
    store: Arc<dyn ObjectStore>,
    /// Shared by clones (a session's refresher thread uses one).
    rt: Arc<tokio::runtime::Runtime>,
    location: String,
    local_root: Option<PathBuf>,
    /// The bucket, for error messages; `None` for local stores.
    bucket: Option<String>,
    /// What this store is to the user, for error messages: the
    /// repository's storage, or a Jant media bucket.
    role: &'static str,
    pub requests: Arc<RequestCounts>,
    /// The repository's key, once its password opened it: every object
    /// but `config` and key objects is stored sealed (format-spec §13).
    /// A media bucket never has one.
    sealer: Option<Arc<Sealer>>,
    /// Cleared once a local repository's filesystem refused direct I/O
    /// (tmpfs), so that large objects are written the ordinary way.
    direct: Arc<std::sync::atomic::AtomicBool>,
    /// An S3 store's configuration: a media bucket is listed with it
    /// (`s3_listing`), which takes keys object_store refuses.
    s3: Option<Arc<S3Config>>,
}

/// A listed object: its name relative to the store's root, its size, and
/// for S3 its ETag and last-modified time.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub size: u64,
    pub e_tag: Option<String>,
    pub modified_ns: i64,
}

const REPOSITORY: &str = "repository storage";
pub(crate) const MEDIA_BUCKET: &str = "media bucket";

/// Objects above this size are uploaded to S3 in parts.
pub const MULTIPART_THRESHOLD: usize = 16 << 20;
/// Part size of multipart uploads (S3's minimum is 5 MiB).
pub const PART_SIZE: usize = 8 << 20;
/// Parts of one upload in flight at once: memory is bounded by this many
/// part buffers per upload.
pub const PARTS_IN_FLIGHT: usize = 4;

/// Where and how to reach an S3-compatible bucket. `Debug` never shows the
/// secret.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `None` means AWS itself (the region decides the host).
    pub endpoint: Option<String>,
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/`.
    pub prefix: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// The configuration of a repository at `s3://bucket/prefix`: the
    /// `JARC_S3_*` variables, each falling back to its standard `AWS_*`
    /// counterpart. (A site's media bucket uses Jant's `S3_*` instead; the
    /// two rarely share credentials.)
    pub fn for_repository(url: &str, var: impl Fn(&str) -> Option<String>) -> Result<S3Config> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            Error::Invalid(format!(
                "{url}: an S3 repository is named s3://bucket/prefix"
            ))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Invalid(format!(
                "{url}: no bucket; an S3 repository is named s3://bucket/prefix"
            )));
        }
        let get = |jarc: &str, aws: &[&str]| {
            var(jarc)
                .or_else(|| aws.iter().find_map(|a| var(a)))
                .filter(|v| !v.is_empty())
        };
        let need = |jarc: &str, aws: &str| {
            get(jarc, &[aws]).ok_or_else(|| {
                Error::Invalid(format!(
                    "repository {url}: set {jarc} (or {aws}) to reach the bucket"
                ))
            })
        };
        Ok(S3Config {
            endpoint: get(
                "JARC_S3_ENDPOINT",
                &["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"],
            ),
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
            region: get("JARC_S3_REGION", &["AWS_REGION", "AWS_DEFAULT_REGION"])
                .unwrap_or_else(|| "us-east-1".into()),
            access_key_id: need("JARC_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")?,
            secret_access_key: need("JARC_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")?,
            session_token: get("JARC_S3_SESSION_TOKEN", &["AWS_SESSION_TOKEN"]),
        })
    }

    /// `s3://bucket/prefix` (and the endpoint when it is not AWS's).
    pub fn describe(&self) -> String {
        let mut s = format!("s3://{}", self.bucket);
        if !self.prefix.is_empty() {
            s.push('/');
            s.push_str(&self.prefix);
        }
        if let Some(e) = &self.endpoint {
            s.push_str(&format!(" at {e}"));
        }
        s
    }

    /// Path-style addressing (`endpoint/bucket/key`) everywhere but on AWS,
    /// as Jant does: MinIO, Garage, B2 and R2 endpoints expect it.
    pub(crate) fn path_style(&self) -> bool {
        self.endpoint
            .as_deref()
            .is_some_and(|e| !e.contains("amazonaws.com"))
    }

    fn store(&self) -> Result<Arc<dyn ObjectStore>> {
        use object_store::aws::AmazonS3Builder;
        use object_store::{BackoffConfig, ClientOptions, RetryConfig};
        use std::time::Duration;
        // Client options first: setting them later replaces allow_http.
        let mut b = AmazonS3Builder::new()
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(true)
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(300)),
            )
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            .with_access_key_id(&self.access_key_id)
            .with_secret_access_key(&self.secret_access_key)
            .with_virtual_hosted_style_request(!self.path_style())
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(10),
                    base: 2.0,
                },
                max_retries: 10,
                retry_timeout: Duration::from_secs(180),
            });
        if let Some(e) = &self.endpoint {
            b = b.with_endpoint(e);
        }
        if let Some(t) = &self.session_token {
            b = b.with_token(t);
        }
        let s3 = b.build().map_err(|e| {
            Error::Invalid(format!(
                "{}: {}",
                self.describe(),
                scrub(&e.to_string(), &self.secret_access_key)
            ))
        })?;
        Ok(if self.prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(
                s3,
                StorePath::from(self.prefix.as_str()),
            ))
        })
    }
}

/// Never let a secret reach a message, whatever a library put in it.
pub(crate) fn scrub(msg: &str, secret: &str) -> String {
    if secret.is_empty() {
        msg.to_string()
    } else {
        msg.replace(secret, "***")
    }
}

fn runtime(what: &str) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("jarc-io")
        .enable_all()
        .build()
        .map_err(|e| Error::io(what, e))
}

impl Backend {
    /// Open the store named by a repository location. `create` makes a local
    /// directory if it is missing (only `init` asks for that).
    pub fn open(location: &str, create: bool) -> Result<Backend> {
        if location.starts_with("s3://") {
            let cfg = S3Config::for_repository(location, |k| std::env::var(k).ok())?;
            return Backend::s3(&cfg);
        }
        Backend::local(Path::new(location), create)
    }

    /// A bucket (under its prefix) as a store.
    pub fn s3(cfg: &S3Config) -> Result<Backend> {
        let requests = Arc::<RequestCounts>::default();
        Ok(Backend {
            store: Arc::new(MeteredStore::new(cfg.store()?, requests.clone())),
            rt: Arc::new(runtime("s3 client runtime")?),
            location: cfg.describe(),
            local_root: None,
            bucket: Some(cfg.bucket.clone()),
            role: REPOSITORY,
            requests,
            sealer: None,
            direct: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            s3: Some(Arc::new(cfg.clone())),
        })
    }

    pub fn local(root: &Path, create: bool) -> Result<Backend> {
        if create {
            std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
            // The repository holds the site's rows, auth tables included:
            // only its owner may enter it, whatever the umask.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(root, e))?;
        } else if !root.is_dir() {
            return Err(Error::NotARepository(root.display().to_string()));
        }
        let abs = std::fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&abs)
            .map_err(|e| Error::Backend {
                store: REPOSITORY,
                op: "open",
                name: abs.display().to_string(),
                message: e.to_string(),
            })?
            .with_fsync(true);
        let requests = Arc::<RequestCounts>::default();
        Ok(Backend {
            store: Arc::new(MeteredStore::new(Arc::new(store), requests.clone())),
            rt: Arc::new(runtime(&abs.display().to_string())?),
            location: abs.display().to_string(),
            local_root: Some(abs),
            bucket: None,
            role: REPOSITORY,
            requests,
            sealer: None,
            direct: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            s3: None,
        })
    }

    /// A store the caller built, named `location` in messages: the
    /// in-memory store (`Backend::memory`) and the fault-injecting wrapper
    /// the unit tier uses. It behaves as a bucket does: no directories, no
    /// staged files, no permissions to set.
    pub fn from_store(store: Arc<dyn ObjectStore>, location: &str) -> Result<Backend> {
        let requests = Arc::<RequestCounts>::default();
        Ok(Backend {
            store: Arc::new(MeteredStore::new(store, requests.clone())),
            rt: Arc::new(runtime(location)?),
            location: location.to_string(),
            local_root: None,
            bucket: None,
            role: REPOSITORY,
            requests,
            sealer: None,
            direct: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            s3: None,
        })
    }

    /// A store that lives in this process's memory: repositories for
    /// tests and embedders, gone when the last clone is dropped.
    pub fn memory(location: &str) -> Result<Backend> {
        Backend::from_store(Arc::new(object_store::memory::InMemory::new()), location)
    }

    /// This store holds an encrypted repository: seal what it stores.
    pub fn with_sealer(mut self, sealer: Sealer) -> Backend {
        self.sealer = Some(Arc::new(sealer));
        self
    }

    /// The sealer, in an encrypted repository.
    pub fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_deref()
    }

    /// The bytes to store for an object of kind `ctx`: sealed in an
    /// encrypted repository, `plain` itself otherwise.
    pub fn seal(&self, ctx: Context, plain: Vec<u8>) -> Vec<u8> {
        match &self.sealer {
            Some(s) => s.seal(ctx, &plain),
            None => plain,
        }
    }

    /// The plaintext of stored object `name` of kind `ctx`. A box that
    /// does not open is damage, named as such.
    pub fn unseal(&self, ctx: Context, name: &str, stored: Bytes) -> Result<Bytes> {
        match &self.sealer {
            Some(s) => s.open_bytes(ctx, stored).map_err(|_| {
                Error::corrupt(
                    name,
                    "it does not authenticate (damaged, or not written with this repository's key)",
                )
            }),
            None => Ok(stored),
        }
    }

    /// This store is a Jant media bucket (a backup's source or a restore's
    /// target), not a repository: its errors say so.
    pub fn as_media_bucket(mut self) -> Backend {
        self.role = MEDIA_BUCKET;
        self
    }

    /// Human-readable location (a path or URL without credentials).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The directory of a local repository; `None` for remote stores.
    pub fn local_root(&self) -> Option<&Path> {
        self.local_root.as_deref()
    }

    /// An object name as a store path, taken verbatim: `%`, `+`, spaces and
    /// unicode stay as they are (object_store's `From<&str>` would
    /// percent-encode some of them into different keys).
    fn path(&self, name: &str) -> Result<StorePath> {
        StorePath::parse(name).map_err(|e| {
            Error::Invalid(format!(
                "object key {name:?} cannot be stored in {}: {e}",
                self.location
            ))
        })
    }

    /// Why no request of this store can name the object `name` (a key
    /// another S3 client wrote), if none can.
    pub fn unnameable(&self, name: &str) -> Option<String> {
        StorePath::parse(name)
            .err()
            .map(|e| format!("cannot be named ({e})"))
    }

    fn io_err(&self, op: &'static str, name: &str, e: std::io::Error) -> Error {
        Error::Backend {
            store: self.role,
            op,
            name: name.to_string(),
            message: e.to_string(),
        }
    }

    fn err(&self, op: &'static str, name: &str, e: object_store::Error) -> Error {
        match e {
            object_store::Error::NotFound { .. } => Error::NotFound(name.to_string()),
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => Error::Backend {
                store: self.role,
                op,
                name: name.to_string(),
                message: match &self.bucket {
                    Some(b) => format!(
                        "access denied by bucket {b} ({}): check the access key id and secret access key, and that the key may use this bucket",
                        self.location
                    ),
                    None => format!("permission denied ({e})"),
                },
            },
            other => {
                let mut message = other.to_string();
                if let Some(b) = &self.bucket {
                    if message.contains("NoSuchBucket") {
                        message = format!("bucket {b} does not exist ({})", self.location);
                    }
                }
                Error::Backend {
                    store: self.role,
                    op,
                    name: name.to_string(),
                    message,
                }
            }
        }
    }

    /// Atomic whole-object write. Names are content-addressed (or unique), so
    /// writing the same name twice writes the same bytes and is harmless.
    /// Large objects on S3 go up in parts, several at once.
    pub fn put(&self, name: &str, data: Bytes) -> Result<()> {
        self.put_with_meta(name, data, &[])
    }

    /// `put` with object metadata (`contentType`, `cacheControl`,
    /// `contentDisposition`, … as Jant names them), for S3 targets.
    pub fn put_with_meta(&self, name: &str, data: Bytes, meta: &[(String, String)]) -> Result<()> {
        let p = self.path(name)?;
        if let Some(root) = &self.local_root {
            if data.len() >= DIRECT_MIN
                && self.direct.load(std::sync::atomic::Ordering::Relaxed)
                && self.put_direct(root, name, &data)?
            {
                return self.restrict(name);
            }
        }
        let attributes = attributes(meta);
        if self.bucket.is_some() && data.len() > MULTIPART_THRESHOLD {
            return self.put_parts(name, &p, attributes, std::iter::once(Ok(data)));
        }
        let opts = object_store::PutOptions {
            attributes,
            ..Default::default()
        };
        self.rt
            .block_on(self.store.put_opts(&p, PutPayload::from_bytes(data), opts))
            .map(|_| ())
            .map_err(|e| self.err("put", name, e))?;
        self.restrict(name)
    }

    /// A large object into a local repository, written with direct I/O
    /// (`direct_write`) under a staged name, synced, renamed into place and
    /// its directory synced: the same atomic, durable write object_store's
    /// local store makes, without the page cache. `false` when the
    /// filesystem refuses direct I/O (nothing was written).
    fn put_direct(&self, root: &Path, name: &str, data: &[u8]) -> Result<bool> {
        use crate::direct_write::{write_new, DirectError};
        let fail = |op: &'static str, e: std::io::Error| Error::Backend {
            store: self.role,
            op,
            name: name.to_string(),
            message: e.to_string(),
        };
        let dest = root.join(name);
        let dir = dest.parent().unwrap_or(root);
        let new_dir = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| fail("put", e))?;
        // `#` marks a staged file: listings skip it, and `staged` finds
        // one an interrupted write left (as object_store's are named).
        let mut staged = dest.as_os_str().to_owned();
        // Digits only: object_store's listing skips `name#<digits>` alone.
        staged.push(format!("#{}", rand::random::<u64>()));
        let staged = PathBuf::from(staged);
        match write_new(&staged, data) {
            Ok(()) => {}
            Err(DirectError::Unsupported) => {
                self.direct
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                return Ok(false);
            }
            Err(DirectError::Io(e)) => return Err(fail("put", e)),
        }
        if let Err(e) = std::fs::rename(&staged, &dest) {
            let _ = std::fs::remove_file(&staged);
            return Err(fail("put", e));
        }
        let sync_dir = |d: &Path| std::fs::File::open(d).and_then(|f| f.sync_all());
        sync_dir(dir).map_err(|e| fail("put", e))?;
        if new_dir {
            sync_dir(dir.parent().unwrap_or(root)).map_err(|e| fail("put", e))?;
        }
        self.requests.count_put();
        Ok(true)
    }

    /// A local repository's files are 0600 and its directories 0700,
    /// whatever the umask (the root is 0700 from `init` too).
    fn restrict(&self, name: &str) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let path = root.join(name);
        // A storage error, not a source's: a backup must stop on it.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
            Error::Backend {
                store: self.role,
                op: "chmod",
                name: name.to_string(),
                message: e.to_string(),
            }
        })?;
        // Directories another user made (a repository shared on purpose)
        // are theirs to keep as they are: best effort.
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(root) && *d != root.as_path()) {
            let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700));
            dir = d.parent();
        }
        Ok(())
    }

    /// Upload an object of any size from a sequence of byte runs, holding
    /// at most `PARTS_IN_FLIGHT` parts in memory. An error aborts the
    /// upload, so no partial object appears.
    pub fn put_stream(
        &self,
        name: &str,
        meta: &[(String, String)],
        pieces: impl Iterator<Item = Result<Bytes>>,
    ) -> Result<()> {
        let p = self.path(name)?;
        self.put_parts(name, &p, attributes(meta), pieces)
    }

    fn put_parts(
        &self,
        name: &str,
        p: &StorePath,
        attributes: object_store::Attributes,
        pieces: impl Iterator<Item = Result<Bytes>>,
    ) -> Result<()> {
        use object_store::WriteMultipart;
        let opts = object_store::PutMultipartOptions {
            attributes,
            ..Default::default()
        };
        let upload = self
            .rt
            .block_on(self.store.put_multipart_opts(p, opts))
            .map_err(|e| self.err("put", name, e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        for piece in pieces {
            let piece = match piece {
                Ok(b) => b,
                Err(e) => {
                    let _ = self.rt.block_on(w.abort());
                    return Err(e);
                }
            };
            if let Err(e) = self.rt.block_on(w.wait_for_capacity(PARTS_IN_FLIGHT)) {
                let _ = self.rt.block_on(w.abort());
                return Err(self.err("put", name, e));
            }
            // Parts are spawned as tasks onto this backend's runtime.
            let _in_runtime = self.rt.enter();
            w.put(piece);
        }
        self.rt
            .block_on(w.finish())
            .map(|_| ())
            .map_err(|e| self.err("put", name, e))
    }

    pub fn get(&self, name: &str) -> Result<Bytes> {
        let p = self.path(name)?;
        if let Some(root) = &self.local_root {
            return self.local_read(root, name, None);
        }
        let got = self
            .rt
            .block_on(async { self.store.get(&p).await?.bytes().await })
            .map_err(|e| self.err("get", name, e))?;
        Ok(got)
    }

    /// Open an object for streaming: its metadata now, its bytes as they
    /// arrive, so an object of any size passes through bounded memory.
    pub fn get_stream(&self, name: &str) -> Result<(ObjectReader, Vec<(String, String)>)> {
        let p = self.path(name)?;
        let got = self
            .rt
            .block_on(self.store.get(&p))
            .map_err(|e| self.err("get", name, e))?;
        let meta = metadata(&got.attributes);
        Ok((
            ObjectReader {
                rt: self.rt.handle().clone(),
                stream: got.into_stream(),
                buf: Bytes::new(),
            },
            meta,
        ))
    }

    pub fn get_range(&self, name: &str, range: Range<u64>) -> Result<Bytes> {
        let p = self.path(name)?;
        let want = range.end - range.start;
        let got = match &self.local_root {
            Some(root) => self.local_read(root, name, Some(range))?,
            None => self
                .rt
                .block_on(self.store.get_range(&p, range))
                .map_err(|e| self.err("get", name, e))?,
        };
        if got.len() as u64 != want {
            return Err(Error::corrupt(
                format!("object {name}"),
                format!("short read: wanted {want} bytes, got {}", got.len()),
            ));
        }
        Ok(got)
    }

    /// What this store is to the user ("repository", "media bucket"), for
    /// errors raised over its objects.
    pub fn role(&self) -> &'static str {
        self.role
    }

    /// A ranged GET of a remote object as a stream: its bytes are handed
    /// on as they arrive, so a range of any length passes through bounded
    /// memory. `None` for a local repository, whose positioned reads
    /// (`get_range`) need no stream.
    pub fn get_range_stream(&self, name: &str, range: Range<u64>) -> Result<Option<ObjectReader>> {
        if self.local_root.is_some() {
            return Ok(None);
        }
        let p = self.path(name)?;
        let opts = object_store::GetOptions {
            range: Some(object_store::GetRange::Bounded(range)),
            ..Default::default()
        };
        let got = self
            .rt
            .block_on(self.store.get_opts(&p, opts))
            .map_err(|e| self.err("get", name, e))?;
        Ok(Some(ObjectReader {
            rt: self.rt.handle().clone(),
            stream: got.into_stream(),
            buf: Bytes::new(),
        }))
    }

    /// A GET from a local repository: a positioned read of the file
    /// itself, on the calling thread. object_store's local store hands each
    /// read to a blocking thread pool and waits for it (two thread wake-ups
    /// a blob), which cost a fifth of a database restore's CPU (perf, issue
    /// 18). `name` was checked by `path` (no `..`, no empty segment).
    fn local_read(&self, root: &Path, name: &str, range: Option<Range<u64>>) -> Result<Bytes> {
        use std::os::unix::fs::FileExt;
        let path = root.join(name);
        let fail = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(name.to_string()),
            _ => Error::Backend {
                store: self.role,
                op: "get",
                name: name.to_string(),
                message: e.to_string(),
            },
        };
        let f = std::fs::File::open(&path).map_err(fail)?;
        let got = match range {
            None => {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut &f, &mut v).map_err(fail)?;
                v
            }
            Some(r) => {
                // A short file gives a short read, which the caller names.
                let mut v = vec![0u8; (r.end - r.start) as usize];
                let mut n = 0;
                while n < v.len() {
                    match f.read_at(&mut v[n..], r.start + n as u64) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(fail(e)),
                    }
                }
                v.truncate(n);
                v
            }
        };
        self.requests.count_get(got.len() as u64);
        Ok(Bytes::from(got))
    }

    /// Size of an object, or `None` if it does not exist.
    pub fn head(&self, name: &str) -> Result<Option<u64>> {
        let p = self.path(name)?;
        match self.rt.block_on(self.store.head(&p)) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("head", name, e)),
        }
    }

    /// Whether any object lies under `prefix` (empty for all): one LIST
    /// page at most, however many objects there are.
    pub fn has_any(&self, prefix: &str) -> Result<bool> {
        use futures::StreamExt;
        let p = if prefix.is_empty() {
            None
        } else {
            Some(self.path(prefix)?)
        };
        let mut stream = self.store.list(p.as_ref());
        match self.rt.block_on(stream.next()) {
            None | Some(Err(object_store::Error::NotFound { .. })) => Ok(false),
            Some(Ok(_)) => Ok(true),
            Some(Err(e)) => Err(self.err("list", prefix, e)),
        }
    }

    /// A media bucket's listing of `folder` (empty: all), a page at a time
    /// in the server's (key) order; see `s3_listing`.
    pub fn media_pages(
        &self,
        folder: &str,
    ) -> Result<crate::s3_listing::Pages<'_, impl Fn() + '_>> {
        let (MEDIA_BUCKET, Some(cfg)) = (self.role, &self.s3) else {
            return Err(Error::Invalid(format!(
                "{} is not a media bucket",
                self.location
            )));
        };
        crate::s3_listing::Pages::new(cfg, folder, &self.rt, || self.requests.count_list())
    }

    /// Every object under `prefix` (a folder name such as `index`; empty
    /// for all), sorted by name. S3 answers 1,000 keys a page; each page
    /// is counted as a LIST request.
    pub fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        if let (MEDIA_BUCKET, Some(cfg)) = (self.role, &self.s3) {
            return crate::s3_listing::list(cfg, prefix, &self.rt, || self.requests.count_list());
        }
        let p = if prefix.is_empty() {
            None
        } else {
            Some(self.path(prefix)?)
        };
        if let Some(root) = &self.local_root {
            let mut out = Vec::new();
            local_list(root, &root.join(prefix), true, &mut out)
                .map_err(|e| self.io_err("list", prefix, e))?;
            self.requests.count_list();
            out.sort_by(|a, b| a.name.cmp(&b.name));
            return Ok(out);
        }
        let res: Result<Vec<object_store::ObjectMeta>, _> =
            self.rt.block_on(self.store.list(p.as_ref()).try_collect());
        let metas = match res {
            Ok(m) => m,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(self.err("list", prefix, e)),
        };
        let mut out: Vec<Listed> = metas
            .into_iter()
            .map(|m| Listed {
                name: m.location.to_string(),
                size: m.size,
                e_tag: m.e_tag,
                modified_ns: m.last_modified.timestamp_nanos_opt().unwrap_or_default(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The names `list` gives, sorted, without sizes or times: a local
    /// repository then reads its directories and stats nothing (100,000
    /// snapshots: one `getdents` pass instead of 100,000 stats).
    pub fn list_names(&self, prefix: &str) -> Result<Vec<String>> {
        let Some(root) = &self.local_root else {
            return Ok(self.list(prefix)?.into_iter().map(|l| l.name).collect());
        };
        self.path(prefix)?;
        let mut out = Vec::new();
        local_list(root, &root.join(prefix), false, &mut out)
            .map_err(|e| self.io_err("list", prefix, e))?;
        self.requests.count_list();
        let mut names: Vec<String> = out.into_iter().map(|l| l.name).collect();
        names.sort();
        Ok(names)
    }

    /// Delete an object; a missing one is not an error. On a local store
    /// a directory the deletion empties is removed too (best effort), as a
    /// bucket has no directories: a failed command that wrote and deleted
    /// its session marker leaves the repository exactly as it found it.
    pub fn delete(&self, name: &str) -> Result<()> {
        let p = self.path(name)?;
        match self.rt.block_on(self.store.delete(&p)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.err("delete", name, e)),
        }
        if let (Some(root), Some((dir, _))) = (&self.local_root, name.rsplit_once('/')) {
            let _ = std::fs::remove_dir(root.join(dir));
        }
        Ok(())
    }

    /// Files a local store staged for an upload that never completed
    /// (`<name>#<n>`, left by a writer killed mid-PUT), which listings do
    /// not show: name (relative to the root), size, mtime (ns). Other
    /// stores have none.
    pub fn staged(&self) -> Result<Vec<Listed>> {
        let Some(root) = &self.local_root else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut todo = vec![root.join(crate::layout::DATA)];
        while let Some(d) = todo.pop() {
            let rd = match std::fs::read_dir(&d) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&d, e)),
            };
            for e in rd {
                let e = e.map_err(|err| Error::io(&d, err))?;
                let md = e.metadata().map_err(|err| Error::io(e.path(), err))?;
                if md.is_dir() {
                    todo.push(e.path());
                } else if e.file_name().to_string_lossy().contains('#') {
                    let rel = e
                        .path()
                        .strip_prefix(root)
                        .unwrap_or(&e.path())
                        .display()
                        .to_string();
                    let modified_ns = md
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos() as i64);
                    out.push(Listed {
                        name: rel,
                        size: md.len(),
                        e_tag: None,
                        modified_ns,
                    });
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Remove a staged file `staged` listed.
    pub fn remove_staged(&self, name: &str) -> Result<()> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        if !name.contains('#') || name.contains("..") {
            return Err(Error::Invalid(format!("{name} is not a staged upload")));
        }
        match std::fs::remove_file(root.join(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(root.join(name), e)),
        }
    }

    /// Write `name` only if it does not exist, where the store can be
    /// trusted to refuse an overwrite. Returns `false` when the object was
    /// already there. Stores that ignore `If-None-Match` (found by
    /// [`Backend::probe_create_if_absent`]) must not be given this.
    pub fn put_if_absent(&self, name: &str, data: Bytes) -> Result<bool> {
        let p = self.path(name)?;
        let opts = object_store::PutOptions {
            mode: object_store::PutMode::Create,
            ..Default::default()
        };
        match self
            .rt
            .block_on(self.store.put_opts(&p, PutPayload::from_bytes(data), opts))
        {
            Ok(_) => self.restrict(name).map(|()| true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(self.err("put", name, e)),
        }
    }

    /// Whether this store enforces create-if-absent: write a probe object
    /// twice with `If-None-Match: *` and see whether the second is refused.
    /// Some S3 servers (Garage 2.5) silently accept and overwrite.
    pub fn probe_create_if_absent(&self, probe: &str) -> Result<bool> {
        let nonce = Bytes::from(format!("{}", crate::util::now_ns()));
        let _ = self.delete(probe);
        let first = self.put_if_absent(probe, nonce.clone())?;
        let second = self.put_if_absent(probe, nonce)?;
        let _ = self.delete(probe);
        Ok(first && !second)
    }
}

/// Jant's metadata names and the HTTP attributes they travel as.
const ATTRIBUTES: [(&str, object_store::Attribute); 5] = [
    ("contentType", object_store::Attribute::ContentType),
    ("cacheControl", object_store::Attribute::CacheControl),
    (
        "contentDisposition",
        object_store::Attribute::ContentDisposition,
    ),
    ("contentEncoding", object_store::Attribute::ContentEncoding),
    ("contentLanguage", object_store::Attribute::ContentLanguage),
];

fn attributes(meta: &[(String, String)]) -> object_store::Attributes {
    let mut a = object_store::Attributes::new();
    for (k, v) in meta {
        if let Some((_, attr)) = ATTRIBUTES.iter().find(|(n, _)| n == k) {
            a.insert(attr.clone(), v.clone().into());
        }
    }
    a
}

fn metadata(a: &object_store::Attributes) -> Vec<(String, String)> {
    ATTRIBUTES
        .iter()
        .filter_map(|(n, attr)| a.get(attr).map(|v| (n.to_string(), v.to_string())))
        .collect()
}

/// A streaming GET as a blocking `Read`: each call waits for the next
/// piece of the body on the backend's runtime.
pub struct ObjectReader {
    rt: tokio::runtime::Handle,
    stream: futures::stream::BoxStream<'static, object_store::Result<Bytes>>,
    buf: Bytes,
}

impl std::io::Read for ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use futures::StreamExt;
        while self.buf.is_empty() {
            match self.rt.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// A local repository's LIST: the regular files below `dir` (following
/// symlinks, as object_store's local store does), named relative to
/// `root`, but staged ones (`name#<digits>`, format-spec §8.1). Each entry
/// is stat'ed relative to its directory: object_store's walk stat'ed every
/// file two or three times by its full path, which was a third of listing
/// 100,000 snapshots (perf, issue 18).
fn local_list(root: &Path, dir: &Path, stat: bool, out: &mut Vec<Listed>) -> std::io::Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        // The directory entry's own type (no stat) unless a size is wanted
        // or it is a link.
        let ft = e.file_type()?;
        let md = if stat || ft.is_symlink() {
            match std::fs::metadata(e.path()) {
                Ok(m) => Some(m),
                // A dangling link is no object.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err),
            }
        } else {
            None
        };
        let (is_dir, is_file) = match &md {
            Some(m) => (m.is_dir(), m.is_file()),
            None => (ft.is_dir(), ft.is_file()),
        };
        if is_dir {
            local_list(root, &e.path(), stat, out)?;
            continue;
        }
        if !is_file {
            continue;
        }
        let Some(file) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if file
            .split_once('#')
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let path = e.path();
        let Some(name) = path
            .strip_prefix(root)
            .ok()
            .and_then(|p| p.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        use std::os::unix::fs::MetadataExt;
        let Some(md) = md else {
            out.push(Listed {
                name,
                size: 0,
                e_tag: None,
                modified_ns: 0,
            });
            continue;
        };
        let modified_ns = md.mtime() * 1_000_000_000 + md.mtime_nsec();
        out.push(Listed {
            name,
            size: md.len(),
            // What object_store's local store makes of the same facts: a
            // token that changes when the file does.
            e_tag: Some(format!(
                "{:x}-{:x}-{:x}",
                md.ino(),
                modified_ns / 1000,
                md.len()
            )),
            modified_ns,
        });
    }
    Ok(())
}
