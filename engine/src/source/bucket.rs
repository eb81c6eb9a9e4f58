//! An S3-compatible bucket as a media source: Jant's `S3_*` storage
//! (reference §5.3). The listing (paginated, 1,000 keys a request) gives
//! each object's key, size, ETag and last-modified time; an object whose
//! key, size, ETag and time match the parent snapshot is not downloaded at
//! all (the backup reuses its chunk list and metadata). Changed and new
//! objects are streamed through the chunker by one GET each, which also
//! brings their Content-Type, Cache-Control and Content-Disposition, so no
//! HEAD is ever needed and memory stays at the chunker's buffer per object
//! in flight.

use super::{Content, MediaSource, Meta, Scan, ScanEntry, ScanItem, Skipped};
use crate::backend::{Backend, Listed, RequestSnapshot, S3Config};
use crate::error::{Error, Result};
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

/// A bucket's scan: its listing a page at a time, each key checked.
struct Listing<'a> {
    source: &'a BucketSource,
    next_page: Box<dyn FnMut() -> Result<Option<Vec<Listed>>> + 'a>,
    page: std::vec::IntoIter<Listed>,
    /// The last key listed: a backup merges the listing with its parent's
    /// by key, so the order S3 promises is checked, not assumed.
    last: Option<String>,
}

impl Listing<'_> {
    fn item(&mut self, l: Listed) -> Result<Option<ScanItem>> {
        // A console's "folder" (an empty object named `dir/`) holds
        // nothing: not an object of the site.
        if l.name.ends_with('/') && l.size == 0 {
            return Ok(None);
        }
        match &self.last {
            // A server that repeats the last key of a page on the next.
            Some(last) if *last == l.name => return Ok(None),
            Some(last) if last.as_bytes() > l.name.as_bytes() => {
                return Err(Error::Invalid(format!(
                    "media bucket {}: the listing gave {:?} after {:?}, out of the key order S3 lists in",
                    self.source.cfg.describe(),
                    l.name,
                    last
                )))
            }
            _ => self.last = Some(l.name.clone()),
        }
        // A key that would climb out of a directory it is restored into,
        // or that no store path can name, is left out and named; the rest
        // of the bucket is backed up.
        if let Some(why) = crate::media::key_problem(&l.name)
            .map(str::to_string)
            .or_else(|| self.source.backend.unnameable(&l.name))
        {
            return Ok(Some(ScanItem::Skipped(Skipped {
                reason: format!("the key {why}, so it could not be restored under it; left out"),
                key: l.name,
            })));
        }
        Ok(Some(ScanItem::Entry(ScanEntry {
            key: l.name,
            entry: MediaEntry {
                size: l.size,
                mtime_ns: l.modified_ns,
                mode: 0o644,
                token: l.e_tag.unwrap_or_default(),
                ..MediaEntry::new(EntryKind::File)
            },
        })))
    }
}

impl Iterator for Listing<'_> {
    type Item = Result<ScanItem>;

    fn next(&mut self) -> Option<Result<ScanItem>> {
        loop {
            let Some(l) = self.page.next() else {
                match (self.next_page)() {
                    Ok(Some(page)) => self.page = page.into_iter(),
                    Ok(None) => return None,
                    Err(e) => {
                        self.next_page = Box::new(|| Ok(None));
                        return Some(Err(e));
                    }
                }
                continue;
            };
            match self.item(l) {
                Ok(None) => {}
                Ok(Some(item)) => return Some(Ok(item)),
                Err(e) => {
                    self.next_page = Box::new(|| Ok(None));
                    self.page = Vec::new().into_iter();
                    return Some(Err(e));
                }
            }
        }
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

    fn scan(&self) -> Result<Scan<'_>> {
        let mut pages = self.backend.media_pages("")?;
        Ok(Box::new(Listing {
            source: self,
            next_page: Box::new(move || pages.next_page()),
            page: Vec::new().into_iter(),
            last: None,
        }))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(name: &str) -> Listed {
        Listed {
            name: name.into(),
            size: 1,
            e_tag: None,
            modified_ns: 0,
        }
    }

    /// A backup merges the listing with its parent's by key: a key listed
    /// out of order is named (a repeat of the last key is passed over),
    /// never silently mis-merged.
    #[test]
    fn a_listing_out_of_key_order_is_named() {
        let source = BucketSource::new(S3Config {
            endpoint: Some("http://127.0.0.1:9".into()),
            bucket: "media".into(),
            prefix: String::new(),
            region: "garage".into(),
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
            session_token: None,
        })
        .unwrap();
        let mut pages = vec![
            vec![
                listed("a"),
                Listed {
                    size: 0,
                    ..listed("dir/")
                },
            ],
            vec![listed("c"), listed("c"), listed("e")],
            vec![listed("d"), listed("f")],
            vec![listed("g")],
        ];
        pages.reverse();
        let scan = Listing {
            source: &source,
            next_page: Box::new(move || Ok(pages.pop())),
            page: Vec::new().into_iter(),
            last: None,
        };
        let got: Vec<std::result::Result<String, String>> = scan
            .map(|i| match i {
                Ok(ScanItem::Entry(e)) => Ok(e.key),
                Ok(other) => Err(format!("{other:?}")),
                Err(e) => Err(e.to_string()),
            })
            .collect();
        let keys: Vec<String> = got.iter().take(3).cloned().map(Result::unwrap).collect();
        assert_eq!(
            (keys, got.len()),
            (vec!["a".into(), "c".into(), "e".into()], 4)
        );
        let err = got[3].clone().unwrap_err();
        assert!(
            err.contains("the listing gave \"d\" after \"e\", out of the key order S3 lists in"),
            "{err}"
        );
    }
}
