//! An S3-compatible bucket as a media source: Jant's `S3_*` storage
//! (reference §5.3). The listing (paginated, 1,000 keys a request) gives
//! each object's key, size, ETag and last-modified time; an object whose
//! key, size, ETag and time match the parent snapshot is not downloaded at
//! all (the backup reuses its chunk list and metadata). Changed and new
//! objects are streamed through the chunker by one GET each, which also
//! brings their Content-Type, Cache-Control and Content-Disposition, so no
//! HEAD is ever needed and memory stays at the chunker's buffer per object
//! in flight.

use super::{Content, MediaSource, Meta, ScanEntry, Scanned, Skipped};
use crate::backend::{Backend, RequestSnapshot, S3Config};
use crate::error::Result;
use crate::id::Id;
use crate::media::{EntryKind, MediaEntry};
use crate::snapshot::SourceInfo;

pub struct BucketSource {
    backend: Backend,
    cfg: S3Config,
}

impl BucketSource {
    pub fn new(cfg: S3Config) -> Result<BucketSource> {
        Ok(BucketSource {
            backend: Backend::s3(&cfg)?.as_media_bucket(),
            cfg,
        })
    }
}

impl MediaSource for BucketSource {
    fn info(&self) -> SourceInfo {
        let endpoint = self.cfg.endpoint.as_deref().unwrap_or("aws");
        let mut id = format!("{endpoint}/{}", self.cfg.bucket);
        if !self.cfg.prefix.is_empty() {
            id.push('/');
            id.push_str(&self.cfg.prefix);
        }
        SourceInfo {
            kind: "s3".into(),
            id,
            description: format!("media bucket {}", self.cfg.describe()),
        }
    }

    fn scan(&self) -> Result<Scanned> {
        let listed = self.backend.list("")?;
        let mut out = Vec::with_capacity(listed.len());
        let mut skipped = Vec::new();
        for l in listed {
            // A console's "folder" (an empty object named `dir/`) holds
            // nothing: not an object of the site.
            if l.name.ends_with('/') && l.size == 0 {
                continue;
            }
            // A key that would climb out of a directory it is restored
            // into, or that no store path can name, is left out and named;
            // the rest of the bucket is backed up.
            if let Some(why) = crate::media::key_problem(&l.name)
                .map(str::to_string)
                .or_else(|| self.backend.unnameable(&l.name))
            {
                skipped.push(Skipped {
                    reason: format!(
                        "the key {why}, so it could not be restored under it; left out"
                    ),
                    key: l.name,
                });
                continue;
            }
            out.push(ScanEntry {
                key: l.name,
                entry: MediaEntry {
                    kind: EntryKind::File,
                    size: l.size,
                    mtime_ns: l.modified_ns,
                    mode: 0o644,
                    inode: 0,
                    ctime_ns: 0,
                    token: l.e_tag.unwrap_or_default(),
                    content: Id([0; 32]),
                    chunks: Vec::new(),
                    meta: Vec::new(),
                    sidecar: None,
                    target: None,
                },
            });
        }
        Ok(Scanned {
            entries: out,
            skipped,
            ..Scanned::default()
        })
    }

    fn open(&self, entry: &ScanEntry) -> Result<Content> {
        Ok(self.open_with_meta(entry)?.0)
    }

    fn open_with_meta(&self, entry: &ScanEntry) -> Result<(Content, Option<Meta>)> {
        let (reader, meta) = self.backend.get_stream(&entry.key)?;
        Ok((Content::Stream(Box::new(reader)), Some(meta)))
    }

    fn meta_from_read(&self) -> bool {
        true
    }

    fn remote(&self) -> bool {
        true
    }

    fn requests(&self) -> Option<RequestSnapshot> {
        Some(self.backend.requests.snapshot())
    }
}
