//! A local directory as a media source, read with Jant's local-storage
//! rules: `.multipart/` is skipped and `<file>.meta.json` sidecars become
//! their object's metadata (reference §5.3).

use super::{Content, MediaSource, Scan, ScanEntry, ScanItem, Skipped};
use crate::error::{Error, Result};
use crate::jant;
use crate::media::{EntryKind, MediaEntry, Sidecar};
use crate::snapshot::SourceInfo;
use std::fs::{self, File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Files up to this size are read whole; larger ones stream through the
/// chunker's fixed buffer, so memory stays bounded. Files are never mapped:
/// a mapped file that another process truncates while it is chunked kills
/// the reader with SIGBUS, and the media directory belongs to a live site.
/// The same size as the stream buffer: a larger limit only raises the peak.
const READ_WHOLE_LIMIT: u64 = 5 << 20;

/// How many of a directory's sidecars the disk is asked for ahead of the
/// one being read.
const SIDECARS_AHEAD: usize = 64;

/// Open a file the scan listed, refusing what it no longer is: the last
/// component is not followed if it became a symlink (`O_NOFOLLOW`), a FIFO
/// put in its place does not block the open (`O_NONBLOCK`), and the opened
/// file must be a regular file with the inode the scan saw, so a parent
/// directory swapped for a symlink cannot redirect the read either. Anyone
/// who can write to the media directory could otherwise have a backup run
/// as root read files they cannot.
fn open_listed(path: &Path, inode: u64) -> Result<File> {
    open_listed_with_metadata(path, inode).map(|(f, _)| f)
}

/// `open_listed`, and the opened file's metadata.
fn open_listed_with_metadata(path: &Path, inode: u64) -> Result<(File, Metadata)> {
    use std::os::unix::fs::OpenOptionsExt;
    let replaced = |what: &str| Error::Unreadable {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("{what} since it was listed; not read")),
    };
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => replaced("became a symbolic link"),
            _ => Error::Unreadable {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
    let md = f.metadata().map_err(|e| Error::Unreadable {
        path: path.to_path_buf(),
        source: e,
    })?;
    if !md.file_type().is_file() {
        return Err(replaced("stopped being a regular file"));
    }
    if inode != 0 && md.ino() != inode {
        return Err(replaced("was replaced by another file"));
    }
    Ok((f, md))
}

/// Ask the disk for the first `len` bytes (all, when `None`) of a file the
/// scan listed, ahead of its read (`util::read_ahead`). The open is
/// `open_listed`'s: a hint never touches what the file stopped being, nor
/// waits on a FIFO put in its place.
pub(super) fn read_ahead_listed(path: &Path, inode: u64, len: Option<u64>) {
    if let Ok((f, md)) = open_listed_with_metadata(path, inode) {
        crate::util::read_ahead(&f, len.unwrap_or(md.len()));
    }
}

pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// Checks that `root` is a readable directory; nothing is read yet.
    pub fn new(root: &Path) -> Result<DirSource> {
        let md = match fs::metadata(root) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::SourceMissing(root.to_path_buf()))
            }
            Err(e) => {
                return Err(Error::Unreadable {
                    path: root.to_path_buf(),
                    source: e,
                })
            }
        };
        if !md.is_dir() {
            return Err(Error::SourceNotDirectory(root.to_path_buf()));
        }
        let root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
        Ok(DirSource { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `scan` would list `key`, found without walking the tree:
    /// the same rules (no `.multipart/`, no sidecars of an existing file,
    /// symlinks not followed).
    pub fn has_entry(&self, key: &str) -> bool {
        if crate::media::key_problem(key).is_some() {
            return false;
        }
        let parts: Vec<&str> = key.split('/').collect();
        if jant::is_skipped_dir(parts[0]) {
            return false;
        }
        let mut path = self.root.clone();
        for (i, part) in parts.iter().enumerate() {
            path.push(part);
            let Ok(md) = fs::symlink_metadata(&path) else {
                return false;
            };
            let ft = md.file_type();
            if i + 1 < parts.len() {
                if !ft.is_dir() {
                    return false;
                }
                continue;
            }
            if ft.is_file() {
                let sidecar_of = jant::sidecar_target(part).map(|obj| path.with_file_name(obj));
                return !sidecar_of.is_some_and(|o| o.is_file());
            }
            return ft.is_dir() || ft.is_symlink();
        }
        false
    }

    fn path_of(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

fn time_ns(sec: i64, nsec: i64) -> i64 {
    sec.saturating_mul(1_000_000_000).saturating_add(nsec)
}

fn entry_from(key: String, kind: EntryKind, md: &Metadata) -> ScanEntry {
    ScanEntry {
        key,
        entry: MediaEntry {
            size: if kind == EntryKind::File { md.len() } else { 0 },
            mtime_ns: time_ns(md.mtime(), md.mtime_nsec()),
            mode: md.mode() & 0o7777,
            inode: md.ino(),
            ctime_ns: time_ns(md.ctime(), md.ctime_nsec()),
            ..MediaEntry::new(kind)
        },
    }
}

/// What is left of one directory's listing, in reverse key order (the next
/// at the end).
enum Pending {
    Item(ScanItem),
    /// A subdirectory (its path, and its keys' prefix) whose entries come
    /// next.
    Descend(PathBuf, String),
}

/// A depth-first walk that yields keys in bytewise order while holding
/// only the directories on the current path. A directory `d` is listed
/// where `d/` sorts among its siblings, which is not where `d` does:
/// `d.txt` comes between `d` and `d/x`.
struct Walk {
    stack: Vec<Vec<Pending>>,
}

impl Iterator for Walk {
    type Item = Result<ScanItem>;

    fn next(&mut self) -> Option<Result<ScanItem>> {
        loop {
            match self.stack.last_mut()?.pop() {
                None => {
                    self.stack.pop();
                }
                Some(Pending::Item(item)) => return Some(Ok(item)),
                Some(Pending::Descend(dir, prefix)) => match list_dir(&dir, &prefix) {
                    Ok(items) => self.stack.push(items),
                    Err(e) => {
                        self.stack.clear();
                        return Some(Err(e));
                    }
                },
            }
        }
    }
}

/// One directory's entries, with its sidecars read into their objects'
/// metadata, in reverse key order. A subdirectory that cannot be listed is
/// a skipped item; the root (`prefix` empty) failing is an error.
fn list_dir(dir: &Path, prefix: &str) -> Result<Vec<Pending>> {
    let unreadable = |e| Error::Unreadable {
        path: dir.to_path_buf(),
        source: e,
    };
    let listed: std::io::Result<Vec<fs::DirEntry>> = fs::read_dir(dir).and_then(|rd| rd.collect());
    let listed = match listed {
        Ok(l) => l,
        Err(e) if !prefix.is_empty() => {
            return Ok(vec![Pending::Item(ScanItem::Skipped(Skipped {
                key: prefix.trim_end_matches('/').to_string(),
                reason: unreadable(e).to_string(),
            }))])
        }
        Err(e) => return Err(unreadable(e)),
    };
    let mut names = Vec::with_capacity(listed.len());
    for ent in listed {
        let name = ent.file_name();
        let Some(name) = name.to_str() else {
            return Err(Error::Invalid(format!(
                "{}: file name is not valid UTF-8; object keys must be UTF-8",
                ent.path().display()
            )));
        };
        names.push(name.to_string());
    }
    names.sort();
    let present: std::collections::HashSet<&str> = names.iter().map(|s| s.as_str()).collect();
    // (sort key, item): an entry sorts by its key, a subdirectory's
    // contents by its key and a slash.
    let mut out: Vec<(String, Pending)> = Vec::new();
    let mut entries: Vec<ScanEntry> = Vec::new();
    let mut sidecars: Vec<(String, PathBuf)> = Vec::new();
    let skip = |out: &mut Vec<(String, Pending)>, key: &str, e: Error| {
        out.push((
            key.to_string(),
            Pending::Item(ScanItem::Skipped(Skipped {
                key: key.to_string(),
                reason: e.to_string(),
            })),
        ))
    };
    for name in &names {
        let key = format!("{prefix}{name}");
        let path = dir.join(name);
        if jant::is_skipped_dir(&key) {
            continue;
        }
        let unreadable = |e| Error::Unreadable {
            path: path.clone(),
            source: e,
        };
        let md = match fs::symlink_metadata(&path) {
            Ok(md) => md,
            Err(e) => {
                skip(&mut out, &key, unreadable(e));
                continue;
            }
        };
        let ft = md.file_type();
        if ft.is_dir() {
            entries.push(entry_from(key.clone(), EntryKind::Dir, &md));
            out.push((format!("{key}/"), Pending::Descend(path, format!("{key}/"))));
        } else if ft.is_symlink() {
            let target = match fs::read_link(&path) {
                Ok(t) => t,
                Err(e) => {
                    skip(&mut out, &key, unreadable(e));
                    continue;
                }
            };
            let mut e = entry_from(key, EntryKind::Symlink, &md);
            e.entry.target = Some(target.to_string_lossy().into_owned());
            entries.push(e);
        } else if ft.is_file() {
            if let Some(obj) = jant::sidecar_target(name) {
                if present.contains(obj) && dir.join(obj).is_file() {
                    sidecars.push((format!("{prefix}{obj}"), path));
                    continue;
                }
            }
            // Opening now finds an unreadable file before a single byte
            // is written: it is left out, named.
            if let Err(e) = open_listed(&path, md.ino()) {
                skip(&mut out, &key, e);
                continue;
            }
            entries.push(entry_from(key, EntryKind::File, &md));
        } else {
            out.push((
                key,
                Pending::Item(ScanItem::Warning(format!(
                    "{}: not a regular file, directory or symlink; skipped",
                    path.display()
                ))),
            ));
        }
    }
    // Cold, each sidecar read alone is a round trip to the disk before
    // the next is asked for (a fifth of a second for the datapath site's
    // 2,295): the disk is asked for the next ones while one is read.
    let hint = |(_, path): &(String, PathBuf)| read_ahead_listed(path, 0, None);
    sidecars.iter().take(SIDECARS_AHEAD).for_each(hint);
    for (i, (obj_key, path)) in sidecars.iter().enumerate() {
        if let Some(next) = sidecars.get(i + SIDECARS_AHEAD) {
            hint(next);
        }
        // The same care as for objects: a sidecar swapped for a symlink
        // must not pull another file into the metadata. An object whose
        // sidecar cannot be read is left out with it: restored without its
        // metadata, Jant would serve it wrongly.
        let read = || -> Result<(Vec<u8>, fs::Metadata)> {
            let unreadable = |e| Error::Unreadable {
                path: path.clone(),
                source: e,
            };
            let mut bytes = Vec::new();
            open_listed(path, 0)?
                .read_to_end(&mut bytes)
                .map_err(unreadable)?;
            Ok((bytes, fs::metadata(path).map_err(unreadable)?))
        };
        let (bytes, md) = match read() {
            Ok(r) => r,
            Err(e) => {
                entries.retain(|x| &x.key != obj_key);
                skip(&mut out, obj_key, e);
                continue;
            }
        };
        let mtime_ns = time_ns(md.mtime(), md.mtime_nsec());
        let (meta, raw) = match jant::parse_sidecar(&bytes) {
            Some(meta) if jant::render_sidecar(&meta) == bytes => (meta, None),
            Some(meta) => (meta, Some(bytes)),
            None => {
                out.push((
                    obj_key.clone(),
                    Pending::Item(ScanItem::Warning(format!(
                        "{}: sidecar is not Jant's JSON; kept verbatim",
                        path.display()
                    ))),
                ));
                (Vec::new(), Some(bytes))
            }
        };
        if let Some(e) = entries.iter_mut().rev().find(|e| &e.key == obj_key) {
            e.entry.meta = meta;
            e.entry.sidecar = Some(Sidecar { raw, mtime_ns });
        }
    }
    out.extend(
        entries
            .into_iter()
            .map(|e| (e.key.clone(), Pending::Item(ScanItem::Entry(e)))),
    );
    // Reverse order: the walk pops the next from the end.
    out.sort_by(|a, b| b.0.as_bytes().cmp(a.0.as_bytes()));
    Ok(out.into_iter().map(|(_, p)| p).collect())
}

impl MediaSource for DirSource {
    fn info(&self) -> SourceInfo {
        SourceInfo {
            kind: "dir".into(),
            id: self.root.display().to_string(),
            description: format!("media directory {}", self.root.display()),
        }
    }

    fn scan(&self) -> Result<Scan<'_>> {
        // The root failing to list is the backup failing; below it, what
        // cannot be listed is left out and named.
        let root = list_dir(&self.root, "")?;
        Ok(Box::new(Walk { stack: vec![root] }))
    }

    fn open(&self, entry: &ScanEntry) -> Result<Content> {
        let path = self.path_of(&entry.key);
        let mut f = open_listed(&path, entry.entry.inode)?;
        if entry.entry.size > READ_WHOLE_LIMIT {
            return Ok(Content::Stream(Box::new(f)));
        }
        // A file that shrank or grew since the scan is read as it is now;
        // the backup then notices the change (`changed_since_scan`).
        let mut buf = Vec::with_capacity(entry.entry.size as usize);
        f.read_to_end(&mut buf)
            .map_err(|e| Error::Unreadable { path, source: e })?;
        Ok(Content::Bytes(buf))
    }

    fn read_ahead(&self, entry: &ScanEntry, len: u64) {
        read_ahead_listed(&self.path_of(&entry.key), entry.entry.inode, Some(len));
    }

    fn changed_since_scan(&self, entry: &ScanEntry) -> bool {
        match fs::symlink_metadata(self.path_of(&entry.key)) {
            Ok(md) => {
                md.len() != entry.entry.size
                    || time_ns(md.mtime(), md.mtime_nsec()) != entry.entry.mtime_ns
            }
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(src: &DirSource) -> Vec<ScanEntry> {
        src.scan()
            .unwrap()
            .filter_map(|i| match i.unwrap() {
                ScanItem::Entry(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    /// The walk yields keys in bytewise order although a directory's
    /// entries do not follow it directly (`d.txt` sorts between `d` and
    /// `d/x`), and what cannot be listed is an item where it was found.
    #[test]
    fn the_walk_yields_keys_in_bytewise_order() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        let files = [
            "d/x", "d.txt", "d-1/y", "d0", "d/e/f", "d/e.png", "a", "é/z", "Z", "d/e0",
        ];
        for p in files {
            fs::create_dir_all(r.join(p).parent().unwrap()).unwrap();
            fs::write(r.join(p), p).unwrap();
        }
        let keys: Vec<String> = entries(&DirSource::new(r).unwrap())
            .into_iter()
            .map(|e| e.key)
            .collect();
        let mut want: Vec<String> = files.iter().map(|s| s.to_string()).collect();
        want.extend(["d", "d-1", "d/e", "é"].map(String::from));
        want.sort();
        assert_eq!(keys, want);
    }

    /// What the scan listed is read only while it is still that file:
    /// swapped for a symlink (to a file only root may read), for another
    /// file, for a FIFO, or reached through a parent swapped for a symlink,
    /// it is refused by name; a file truncated after the scan is read as
    /// it is and reported changed, never a crash.
    #[test]
    fn a_file_replaced_after_the_scan_is_never_read_through() {
        let d = tempfile::tempdir().unwrap();
        let (r, secret) = (d.path().join("media"), d.path().join("secret"));
        fs::write(&secret, b"root only").unwrap();
        for k in [
            "link.png",
            "other.png",
            "fifo.png",
            "sub/deep.png",
            "big.bin",
        ] {
            fs::create_dir_all(r.join(k).parent().unwrap()).unwrap();
            fs::write(r.join(k), vec![7u8; 3 << 20]).unwrap();
        }
        let src = DirSource::new(&r).unwrap();
        let entries = entries(&src);
        let entry = |k: &str| entries.iter().find(|e| e.key == k).unwrap();

        fs::remove_file(r.join("link.png")).unwrap();
        std::os::unix::fs::symlink(&secret, r.join("link.png")).unwrap();
        fs::write(d.path().join("x"), b"another").unwrap();
        fs::rename(d.path().join("x"), r.join("other.png")).unwrap();
        fs::remove_file(r.join("fifo.png")).unwrap();
        let fifo = std::ffi::CString::new(r.join("fifo.png").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        fs::rename(r.join("sub"), d.path().join("sub-moved")).unwrap();
        fs::create_dir(d.path().join("decoy")).unwrap();
        fs::write(d.path().join("decoy/deep.png"), b"decoy").unwrap();
        std::os::unix::fs::symlink(d.path().join("decoy"), r.join("sub")).unwrap();

        // A read-ahead hint for what was replaced returns at once: a FIFO
        // in a file's place would block an open made without O_NONBLOCK.
        let (tx, rx) = std::sync::mpsc::channel();
        let hinted: Vec<ScanEntry> = entries.clone();
        let root = r.clone();
        std::thread::spawn(move || {
            let src = DirSource::new(&root).unwrap();
            for e in &hinted {
                src.read_ahead(e, 1 << 20);
            }
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_secs(20)).is_ok(),
            "a read-ahead hint blocked"
        );

        for (k, why) in [
            (
                "link.png",
                "became a symbolic link since it was listed; not read",
            ),
            (
                "other.png",
                "was replaced by another file since it was listed; not read",
            ),
            (
                "fifo.png",
                "stopped being a regular file since it was listed; not read",
            ),
            (
                "sub/deep.png",
                "was replaced by another file since it was listed; not read",
            ),
        ] {
            let e = match src.open(entry(k)) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("{k} was read"),
            };
            assert!(e.contains(why) && e.contains(k), "{k}: {e}");
        }

        let f = fs::OpenOptions::new()
            .write(true)
            .open(r.join("big.bin"))
            .unwrap();
        f.set_len(1000).unwrap();
        match src.open(entry("big.bin")).unwrap() {
            Content::Bytes(b) => assert_eq!(b.len(), 1000),
            _ => panic!("a 3 MiB file is read whole"),
        }
        assert!(src.changed_since_scan(entry("big.bin")));
    }

    #[test]
    fn has_entry_agrees_with_scan() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for (p, body) in [
            ("a.png", "x"),
            ("a.png.meta.json", "{}"),
            ("lone.meta.json", "{}"),
            ("sub/b.txt", "y"),
            (".multipart/u1/part", "z"),
            ("outside/c.txt", "w"),
        ] {
            fs::create_dir_all(r.join(p).parent().unwrap()).unwrap();
            fs::write(r.join(p), body).unwrap();
        }
        std::os::unix::fs::symlink("outside", r.join("link")).unwrap();
        let src = DirSource::new(r).unwrap();
        let scanned = entries(&src);
        let listed: Vec<&str> = scanned.iter().map(|s| s.key.as_str()).collect();
        for k in [
            "a.png",
            "a.png.meta.json",
            "lone.meta.json",
            "sub",
            "sub/b.txt",
            ".multipart/u1/part",
            "link",
            "link/c.txt",
            "outside/c.txt",
            "missing.png",
            "../a.png",
            "/a.png",
        ] {
            assert_eq!(src.has_entry(k), listed.contains(&k), "{k}");
        }
    }
}
