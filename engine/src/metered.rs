//! Request metering as a store wrapper: every request the backend makes
//! goes through `MeteredStore`, which counts it by kind (and the bytes
//! GETs bring back), so summaries can state what a run cost on a metered
//! store (S3 bills per request). Counting here, at the one door every
//! request passes, means no backend method can forget to count.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
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
    /// A GET of `bytes` served without the store (a local repository's
    /// positioned read, `Backend::get_range`).
    pub(crate) fn count_get(&self, bytes: u64) {
        bump(&self.get, 1);
        bump(&self.bytes_read, bytes);
    }

    /// A LIST made without the store (a local repository's directory walk).
    pub(crate) fn count_list(&self) {
        bump(&self.list, 1);
    }

    /// A PUT made without the store (a local repository's direct write).
    pub(crate) fn count_put(&self) {
        bump(&self.put, 1);
    }

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

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// S3 servers page listings at 1,000 keys: each page is one request.
pub const LIST_PAGE: u64 = 1000;

/// A store that counts the requests made through it.
#[derive(Debug)]
pub struct MeteredStore {
    inner: Arc<dyn ObjectStore>,
    counts: Arc<RequestCounts>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn ObjectStore>, counts: Arc<RequestCounts>) -> MeteredStore {
        MeteredStore { inner, counts }
    }
}

impl std::fmt::Display for MeteredStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Metered({})", self.inner)
    }
}

/// A multipart upload: creating it, each part and completing it are one
/// request each (aborting is not counted: it frees, it does not store).
#[derive(Debug)]
struct MeteredUpload {
    inner: Box<dyn MultipartUpload>,
    counts: Arc<RequestCounts>,
}

#[async_trait]
impl MultipartUpload for MeteredUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        bump(&self.counts.put, 1);
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        bump(&self.counts.put, 1);
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait]
impl ObjectStore for MeteredStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        bump(&self.counts.put, 1);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        bump(&self.counts.put, 1);
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(MeteredUpload {
            inner,
            counts: self.counts.clone(),
        }))
    }

    /// A GET (or a HEAD, which object_store makes through `get_opts`);
    /// the bytes are counted as they arrive, or, for a local file, as the
    /// range it will be read from.
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let c = &self.counts;
        bump(if options.head { &c.head } else { &c.get }, 1);
        let got = self.inner.get_opts(location, options).await?;
        let GetResult {
            payload,
            meta,
            range,
            attributes,
            extensions,
        } = got;
        let payload = match payload {
            GetResultPayload::Stream(s) => {
                let counts = self.counts.clone();
                GetResultPayload::Stream(
                    s.inspect_ok(move |b| bump(&counts.bytes_read, b.len() as u64))
                        .boxed(),
                )
            }
            file => {
                bump(&c.bytes_read, range.end - range.start);
                file
            }
        };
        Ok(GetResult {
            payload,
            meta,
            range,
            attributes,
            extensions,
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let counts = self.counts.clone();
        self.inner.delete_stream(
            locations
                .inspect_ok(move |_| bump(&counts.delete, 1))
                .boxed(),
        )
    }

    /// One request per page of `LIST_PAGE` keys (an empty listing is one).
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let counts = self.counts.clone();
        bump(&counts.list, 1);
        let mut seen = 0u64;
        self.inner
            .list(prefix)
            .inspect(move |_| {
                seen += 1;
                if seen > LIST_PAGE && (seen - 1).is_multiple_of(LIST_PAGE) {
                    bump(&counts.list, 1);
                }
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        bump(&self.counts.list, 1);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;

    #[tokio::test]
    async fn each_kind_of_request_is_counted_once() {
        let counts = Arc::new(RequestCounts::default());
        let s = MeteredStore::new(
            Arc::new(object_store::memory::InMemory::new()),
            counts.clone(),
        );
        for i in 0..1001 {
            s.put(
                &Path::from(format!("d/{i:04}")),
                PutPayload::from_static(b"abc"),
            )
            .await
            .unwrap();
        }
        let n = s.list(Some(&Path::from("d"))).count().await;
        assert_eq!(n, 1001);
        let _ = s.list(Some(&Path::from("none"))).count().await;
        let got = s
            .get(&Path::from("d/0001"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&got[..], b"abc");
        s.get_range(&Path::from("d/0002"), 1..3).await.unwrap();
        s.head(&Path::from("d/0003")).await.unwrap();
        s.delete(&Path::from("d/0004")).await.unwrap();
        let mut up = s.put_multipart(&Path::from("big")).await.unwrap();
        up.put_part(PutPayload::from_static(b"x")).await.unwrap();
        up.put_part(PutPayload::from_static(b"y")).await.unwrap();
        up.complete().await.unwrap();
        let c = counts.snapshot();
        // 1001 keys are two pages; the empty listing one.
        assert_eq!((c.list, c.get, c.head, c.delete), (3, 2, 1, 1));
        assert_eq!(c.put, 1001 + 4);
        assert_eq!(c.bytes_read, 3 + 2);
    }
}
