//! A Jant site snapshot archive (a `.zip` or the directory Jant writes when
//! the output name does not end in `.zip`) as a source: every entry is
//! checked before anything is read, and `objects/` is a [`MediaSource`].
//!
//! Archives come from outside and may be hostile. Opening one refuses, with
//! the entry named: names that are not UTF-8, absolute, contain `..`, `.`,
//! empty components or backslashes; duplicate names; symlinks; encrypted
//! entries; compression other than stored and deflate; and entries whose
//! declared size is more than [`MAX_RATIO`] times their compressed size
//! (a zip bomb). Reading an entry then checks its declared size and CRC as
//! it streams: an entry that inflates past its declared size stops at once.
//! Nothing is extracted to disk.

use super::{Content, MediaSource, Scan, ScanEntry};
use crate::error::{Error, Result};
use crate::media::{EntryKind, MediaEntry};
use crate::snapshot::SourceInfo;
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest expansion accepted for an entry above [`RATIO_FLOOR`] bytes.
/// Deflate tops out near 1032:1; real media and SQL text stay far below 100:1.
pub const MAX_RATIO: u64 = 200;
pub const RATIO_FLOOR: u64 = 1 << 20;
pub const OBJECTS_PREFIX: &str = "objects/";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Stored,
    Deflated,
}

#[derive(Debug, Clone)]
enum Location {
    Zip {
        data_start: u64,
        compressed: u64,
        method: Method,
        crc: u32,
    },
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub mtime_ns: i64,
    loc: Location,
}

pub struct Archive {
    path: PathBuf,
    file: Option<Arc<File>>,
    /// Regular files only, sorted by name.
    entries: Vec<Entry>,
}

fn refuse(path: &Path, detail: impl std::fmt::Display) -> Error {
    Error::Invalid(format!(
        "{}: {detail}; nothing was imported",
        path.display()
    ))
}

/// Why an entry name is unsafe, if it is: what makes any object key unsafe
/// (`media::key_problem`), and on top of it what only an archive brings,
/// Windows separators and drive letters. A trailing `/` marks a directory.
pub fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.contains('\\') {
        return Some("contains a backslash");
    }
    if name.as_bytes().get(1) == Some(&b':') {
        return Some("is an absolute path");
    }
    crate::media::key_problem(name.strip_suffix('/').unwrap_or(name))
}

impl Archive {
    /// Open and check a `.zip` file or an archive directory. `limits`
    /// caps the size of named entries (`meta.json`), checked first.
    pub fn open(path: &Path, limits: &[(&str, u64)]) -> Result<Archive> {
        let md = fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if md.is_dir() {
            let a = Self::open_dir(path)?;
            for (name, limit) in limits {
                if let Some(e) = a.entry(name) {
                    check_limit(path, name, e.size, *limit)?;
                }
            }
            return Ok(a);
        }
        let is_zip = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        if !is_zip {
            return Err(refuse(
                path,
                "a Jant snapshot is a directory or a file whose name ends in .zip",
            ));
        }
        Self::open_zip(path, limits)
    }

    fn open_zip(path: &Path, limits: &[(&str, u64)]) -> Result<Archive> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let reader = BufReader::new(file.try_clone().map_err(|e| Error::io(path, e))?);
        let mut zip = zip::ZipArchive::new(reader).map_err(|e| {
            refuse(
                path,
                format!("not a readable zip archive ({e}); is it truncated?"),
            )
        })?;
        if zip.has_duplicate_names() {
            return Err(refuse(path, "two entries have the same name"));
        }
        let file_len = md_len(&file, path)?;
        let mut entries = Vec::new();
        for i in 0..zip.len() {
            let f = zip
                .by_index_raw(i)
                .map_err(|e| refuse(path, format!("entry {i} is unreadable ({e})")))?;
            let Ok(name) = std::str::from_utf8(f.name_raw()) else {
                return Err(refuse(
                    path,
                    format!(
                        "entry name {:?} is not UTF-8",
                        String::from_utf8_lossy(f.name_raw())
                    ),
                ));
            };
            let name = name.to_string();
            if let Some(why) = unsafe_name(&name) {
                return Err(refuse(path, format!("entry name {name:?} {why}")));
            }
            if f.is_symlink() {
                return Err(refuse(path, format!("entry {name} is a symbolic link")));
            }
            if f.encrypted() {
                return Err(refuse(path, format!("entry {name} is encrypted")));
            }
            if f.is_dir() {
                continue;
            }
            let method = match f.compression() {
                zip::CompressionMethod::Stored => Method::Stored,
                zip::CompressionMethod::Deflated => Method::Deflated,
                other => {
                    return Err(refuse(
                        path,
                        format!("entry {name} uses compression {other}; Jant archives use stored or deflate"),
                    ))
                }
            };
            let (size, compressed) = (f.size(), f.compressed_size());
            if let Some((_, limit)) = limits.iter().find(|(n, _)| *n == name) {
                check_limit(path, &name, size, *limit)?;
            }
            if method == Method::Stored && size != compressed {
                return Err(refuse(
                    path,
                    format!("stored entry {name} declares {size} bytes but holds {compressed}"),
                ));
            }
            if size > RATIO_FLOOR && size / compressed.max(1) > MAX_RATIO {
                return Err(refuse(
                    path,
                    format!("entry {name} would expand {compressed} bytes to {size} (more than {MAX_RATIO}:1); refusing a likely zip bomb"),
                ));
            }
            let Some(data_start) = f.data_start() else {
                return Err(refuse(path, format!("entry {name} has no data offset")));
            };
            if data_start.saturating_add(compressed) > file_len {
                return Err(refuse(
                    path,
                    format!("entry {name} runs past the end of the file; is it truncated?"),
                ));
            }
            let mtime_ns = f
                .last_modified()
                .and_then(|d| {
                    let month = time::Month::try_from(d.month()).ok()?;
                    let date =
                        time::Date::from_calendar_date(d.year() as i32, month, d.day()).ok()?;
                    let t = time::Time::from_hms(d.hour(), d.minute(), d.second()).ok()?;
                    Some(
                        time::PrimitiveDateTime::new(date, t)
                            .assume_utc()
                            .unix_timestamp(),
                    )
                })
                .unwrap_or(0)
                .saturating_mul(1_000_000_000);
            let crc = f.crc32();
            entries.push(Entry {
                name,
                size,
                mtime_ns,
                loc: Location::Zip {
                    data_start,
                    compressed,
                    method,
                    crc,
                },
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Archive {
            path: path.to_path_buf(),
            file: Some(Arc::new(file)),
            entries,
        })
    }

    fn open_dir(root: &Path) -> Result<Archive> {
        let mut entries = Vec::new();
        let mut stack = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            for item in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                let item = item.map_err(|e| Error::io(&dir, e))?;
                let p = item.path();
                let Some(n) = item.file_name().to_str().map(str::to_string) else {
                    return Err(refuse(
                        root,
                        format!("{} has a name that is not UTF-8", p.display()),
                    ));
                };
                let name = format!("{prefix}{n}");
                if let Some(why) = unsafe_name(&name) {
                    return Err(refuse(root, format!("entry name {name:?} {why}")));
                }
                let md = fs::symlink_metadata(&p).map_err(|e| Error::io(&p, e))?;
                if md.file_type().is_symlink() {
                    return Err(refuse(root, format!("entry {name} is a symbolic link")));
                } else if md.is_dir() {
                    stack.push((p, format!("{name}/")));
                } else if md.is_file() {
                    use std::os::unix::fs::MetadataExt;
                    entries.push(Entry {
                        name,
                        size: md.len(),
                        mtime_ns: md.mtime().saturating_mul(1_000_000_000) + md.mtime_nsec(),
                        loc: Location::File(p),
                    });
                } else {
                    return Err(refuse(root, format!("entry {name} is not a regular file")));
                }
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Archive {
            path: root.to_path_buf(),
            file: None,
            entries,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Entries under `objects/`, with their storage keys, in key order.
    pub fn objects(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().filter_map(|e| {
            e.name
                .strip_prefix(OBJECTS_PREFIX)
                .filter(|k| !k.is_empty())
                .map(|k| (k, e))
        })
    }

    /// Stream an entry's bytes, checking its size and CRC as it goes.
    pub fn open_entry(&self, e: &Entry) -> Result<Box<dyn Read + Send>> {
        match (&e.loc, &self.file) {
            (Location::File(p), _) => {
                let f = File::open(p).map_err(|err| Error::io(p, err))?;
                Ok(Box::new(Checked::new(
                    Box::new(f.take(e.size + 1)),
                    e,
                    None,
                )))
            }
            (
                Location::Zip {
                    data_start,
                    compressed,
                    method,
                    crc,
                },
                Some(file),
            ) => {
                let raw = Range {
                    file: file.clone(),
                    pos: *data_start,
                    end: data_start + compressed,
                };
                let inner: Box<dyn Read + Send> = match method {
                    Method::Stored => Box::new(raw),
                    Method::Deflated => Box::new(flate2::read::DeflateDecoder::new(
                        BufReader::with_capacity(256 << 10, raw),
                    )),
                };
                Ok(Box::new(Checked::new(inner, e, Some(*crc))))
            }
            (Location::Zip { .. }, None) => Err(Error::Invalid("archive file is closed".into())),
        }
    }

    /// Read a whole entry that must be small (`meta.json`): its declared
    /// size is checked before a byte is inflated.
    pub fn read_small(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let Some(e) = self.entry(name) else {
            return Ok(None);
        };
        check_limit(&self.path, name, e.size, limit)?;
        let mut out = Vec::with_capacity(e.size as usize);
        self.open_entry(e)?
            .read_to_end(&mut out)
            .map_err(|err| refuse(&self.path, err))?;
        Ok(Some(out))
    }
}

fn check_limit(path: &Path, name: &str, size: u64, limit: u64) -> Result<()> {
    if size > limit {
        return Err(refuse(
            path,
            format!("{name} is {size} bytes; a Jant {name} is far smaller (limit {limit} bytes)"),
        ));
    }
    Ok(())
}

fn md_len(file: &File, path: &Path) -> Result<u64> {
    Ok(file.metadata().map_err(|e| Error::io(path, e))?.len())
}

/// A byte range of the archive file, read with positioned reads so that any
/// number of entries can stream at once from one descriptor.
struct Range {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for Range {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the archive ends inside an entry (truncated?)",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Holds an entry to what its header declares: never more bytes than its
/// size (a bomb stops there), exactly its size, and its CRC-32.
struct Checked {
    inner: Box<dyn Read + Send>,
    name: String,
    size: u64,
    crc: Option<u32>,
    seen: u64,
    hasher: crc32fast::Hasher,
}

impl Checked {
    fn new(inner: Box<dyn Read + Send>, e: &Entry, crc: Option<u32>) -> Checked {
        Checked {
            inner,
            name: e.name.clone(),
            size: e.size,
            crc,
            seen: 0,
            hasher: crc32fast::Hasher::new(),
        }
    }

    fn bad(&self, detail: String) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("entry {}: {detail}", self.name),
        )
    }
}

impl Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self
            .inner
            .read(buf)
            .map_err(|e| self.bad(format!("unreadable ({e})")))?;
        self.seen += n as u64;
        if self.seen > self.size {
            return Err(self.bad(format!(
                "holds more than the {} bytes its header declares (a zip bomb?)",
                self.size
            )));
        }
        if n == 0 {
            if self.seen != self.size {
                return Err(self.bad(format!(
                    "ends after {} of its {} bytes (truncated?)",
                    self.seen, self.size
                )));
            }
            if let Some(want) = self.crc {
                let got = self.hasher.clone().finalize();
                if got != want {
                    return Err(self.bad(format!(
                        "CRC-32 is {got:08x}, its header says {want:08x} (corrupt)"
                    )));
                }
            }
        } else if self.crc.is_some() {
            self.hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// The `Content-Type` Jant's importer gives an object (jant-format.md §5.6).
pub fn guess_content_type(key: &str) -> Option<&'static str> {
    let ext = key.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "pdf" => "application/pdf",
        "json" => "application/json",
        "txt" => "text/plain",
        _ => return None,
    })
}

/// The archive's `objects/` as a media source. Each object gets the
/// `Content-Type` Jant's importer uploads it with: the one guessed from its
/// extension (jant-format.md §4.6 step 8, §5.6), whatever `media.mime_type`
/// says, so that a restore writes the sidecar Jant's import would have.
pub struct ArchiveObjects<'a> {
    pub archive: &'a Archive,
    pub description: String,
    pub id: String,
}

impl MediaSource for ArchiveObjects<'_> {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "jant-archive-objects".into(),
            id: self.id.clone(),
            description: self.description.clone(),
        }
    }

    fn scan(&self) -> Result<Scan<'_>> {
        let mut out = Vec::new();
        for (key, e) in self.archive.objects() {
            let ct = guess_content_type(key);
            out.push(ScanEntry {
                key: key.to_string(),
                entry: MediaEntry {
                    size: e.size,
                    mtime_ns: e.mtime_ns,
                    mode: 0o644,
                    meta: ct
                        .map(|c| vec![("contentType".to_string(), c.to_string())])
                        .unwrap_or_default(),
                    ..MediaEntry::new(EntryKind::File)
                },
            });
        }
        Ok(super::scan_of(out))
    }

    fn open(&self, entry: &ScanEntry) -> Result<Content> {
        let name = format!("{OBJECTS_PREFIX}{}", entry.key);
        let e = self
            .archive
            .entry(&name)
            .ok_or_else(|| Error::Invalid(format!("archive entry {name} vanished")))?;
        Ok(Content::Stream(self.archive.open_entry(e)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_caught() {
        for (n, why) in [
            ("../x", "contains a .. component"),
            ("objects/a/../../x", "contains a .. component"),
            ("/etc/passwd", "is an absolute path"),
            ("C:/x", "is an absolute path"),
            ("objects\\x", "contains a backslash"),
            ("objects//x", "contains an empty component"),
            ("./meta.json", "contains a . component"),
        ] {
            assert_eq!(unsafe_name(n), Some(why), "{n}");
        }
        assert_eq!(unsafe_name("objects/media/sit_A/files/med_1.png"), None);
        assert_eq!(unsafe_name("objects/"), None);
    }
}
