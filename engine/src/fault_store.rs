//! A fault-injecting object store for the unit tier: it wraps another
//! store (the in-memory one) and, on request, fails the Nth PUT, truncates
//! GETs of chosen objects, delays every request, or hands listings back in
//! reverse order. Each fault is one a real store produces (a dropped
//! connection, a short body, a slow link, S3's unordered LIST pages), so
//! the engine's handling of each can be proven in milliseconds without a
//! server.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug)]
pub struct FaultStore {
    inner: Arc<dyn ObjectStore>,
    /// PUTs seen so far (single and multipart).
    puts: AtomicU64,
    /// Fail the PUT with this 1-based number; 0 fails none.
    fail_put: AtomicU64,
    /// Names of objects whose GETs return only the first half.
    truncate: Mutex<Vec<String>>,
    delay_ms: AtomicU64,
    reverse_lists: AtomicBool,
}

impl std::fmt::Display for FaultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FaultStore({})", self.inner)
    }
}

fn injected(what: &str, path: &Path) -> object_store::Error {
    object_store::Error::Generic {
        store: "FaultStore",
        source: format!("injected fault: {what} {path}").into(),
    }
}

impl FaultStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> FaultStore {
        FaultStore {
            inner,
            puts: AtomicU64::new(0),
            fail_put: AtomicU64::new(0),
            truncate: Mutex::new(Vec::new()),
            delay_ms: AtomicU64::new(0),
            reverse_lists: AtomicBool::new(false),
        }
    }

    /// Fail the `n`th PUT from now (1-based); 0 fails none.
    pub fn fail_put(&self, n: u64) {
        self.puts.store(0, Ordering::SeqCst);
        self.fail_put.store(n, Ordering::SeqCst);
    }

    /// PUTs since the last `fail_put`.
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::SeqCst)
    }

    /// GETs of `name` return only the first half of its bytes.
    pub fn truncate_gets(&self, name: &str) {
        if let Ok(mut t) = self.truncate.lock() {
            t.push(name.to_string());
        }
    }

    pub fn delay(&self, d: Duration) {
        self.delay_ms.store(d.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn reverse_lists(&self, on: bool) {
        self.reverse_lists.store(on, Ordering::SeqCst);
    }

    async fn wait(&self) {
        let ms = self.delay_ms.load(Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }

    fn put_fails(&self) -> bool {
        let n = self.puts.fetch_add(1, Ordering::SeqCst) + 1;
        n == self.fail_put.load(Ordering::SeqCst)
    }

    fn truncated(&self, path: &Path) -> bool {
        self.truncate
            .lock()
            .map(|t| t.iter().any(|n| n.as_str() == path.as_ref()))
            .unwrap_or(false)
    }

    fn order(&self, mut metas: Vec<ObjectMeta>) -> Vec<ObjectMeta> {
        if self.reverse_lists.load(Ordering::SeqCst) {
            metas.reverse();
        }
        metas
    }
}

#[async_trait]
impl ObjectStore for FaultStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.wait().await;
        if self.put_fails() {
            return Err(injected("put", location));
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.wait().await;
        if self.put_fails() {
            return Err(injected("put", location));
        }
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.wait().await;
        let got = self.inner.get_opts(location, options).await?;
        if !self.truncated(location) {
            return Ok(got);
        }
        let (meta, range, attributes, extensions) = (
            got.meta.clone(),
            got.range.clone(),
            got.attributes.clone(),
            got.extensions.clone(),
        );
        let bytes = got.bytes().await?;
        let half: Bytes = bytes.slice(..bytes.len() / 2);
        let len = half.len() as u64;
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream::once(async move { Ok(half) }).boxed()),
            meta,
            range: range.start..range.start + len,
            attributes,
            extensions,
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let inner = self.inner.clone();
        let prefix = prefix.cloned();
        let reverse = self.reverse_lists.load(Ordering::SeqCst);
        stream::once(async move {
            let metas: Vec<object_store::Result<ObjectMeta>> =
                inner.list(prefix.as_ref()).collect().await;
            let mut metas = metas;
            if reverse {
                metas.reverse();
            }
            stream::iter(metas)
        })
        .flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.wait().await;
        let mut r = self.inner.list_with_delimiter(prefix).await?;
        r.objects = self.order(r.objects);
        Ok(r)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.wait().await;
        self.inner.copy_opts(from, to, options).await
    }
}
