//! Where an export's files go, and how a finished one is committed.

use crate::error::{Error, Result};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Extensions Jant's zip writer STOREs rather than deflates.
pub(super) const STORED_EXTENSIONS: [&str; 18] = [
    "avif", "gif", "heic", "jpeg", "jpg", "m4a", "mov", "mp3", "mp4", "ogg", "opus", "pdf", "png",
    "webm", "webp", "woff", "woff2", "zip",
];

/// Where the archive's files go: a zip, or a directory as Jant writes one.
pub(super) trait Sink {
    fn file(
        &mut self,
        name: &str,
        size: u64,
        mtime_ns: i64,
        write: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()>;
}

pub(super) struct ZipSink {
    pub(super) zip: zip::ZipWriter<BufWriter<File>>,
    pub(super) path: PathBuf,
}

pub(super) fn dos_time(ns: i64) -> zip::DateTime {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // DOS dates start in 1980.
    zip::DateTime::from_date_and_time(
        t.year().clamp(1980, 2107) as u16,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .unwrap_or_default()
}

pub(super) fn stored(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    file.rsplit_once('.')
        .is_some_and(|(_, e)| STORED_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

impl Sink for ZipSink {
    fn file(
        &mut self,
        name: &str,
        size: u64,
        mtime_ns: i64,
        write: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        let method = if stored(name) {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .unix_permissions(0o644)
            .last_modified_time(dos_time(mtime_ns))
            .large_file(size >= u32::MAX as u64);
        let path = self.path.clone();
        let zerr = |e: zip::result::ZipError| Error::Invalid(format!("{}: {e}", path.display()));
        self.zip.start_file(name, opts).map_err(zerr)?;
        write(&mut self.zip)
    }
}

pub(super) struct DirSink {
    pub(super) root: PathBuf,
}

impl Sink for DirSink {
    fn file(
        &mut self,
        name: &str,
        _size: u64,
        _mtime_ns: i64,
        write: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        let p = self.root.join(name);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let f = File::create(&p).map_err(|e| Error::io(&p, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        write(&mut w)?;
        w.flush().map_err(|e| Error::io(&p, e))
    }
}

pub(super) fn partial_path(out: &Path) -> PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

pub(super) fn refuse_existing(out: &Path) -> Result<()> {
    if fs::symlink_metadata(out).is_ok() {
        return Err(Error::Invalid(format!(
            "{} already exists; export into a new name",
            out.display()
        )));
    }
    Ok(())
}

/// The commit point of an export: a failed write removes `<out>.partial`;
/// a complete one is renamed into place.
pub(super) fn finish<T>(result: Result<T>, partial: &Path, out: &Path) -> Result<T> {
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_file(partial);
            let _ = fs::remove_dir_all(partial);
            return Err(e);
        }
    };
    fs::rename(partial, out).map_err(|e| Error::io(out, e))?;
    sync_parent(out);
    Ok(value)
}

pub(super) fn sync_parent(p: &Path) {
    if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
}
