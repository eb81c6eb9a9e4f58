//! Writing a whole file with direct I/O (`O_DIRECT`), past the page cache.
//!
//! A first backup writes every byte of the site once into packs. Written
//! the ordinary way, each byte is first copied into the page cache by the
//! kernel: a profile of a 2.2 GB first backup put 36 % of all CPU time in
//! that copy (`copy_folio_from_iter_atomic`, perf, issue 18), on a machine
//! whose two cores the chunker, hasher and cipher also need. Direct writes
//! hand page-aligned buffers to the device instead (here, 2 GiB: 0.3 s of
//! system time against 2–5 s buffered, `dd oflag=direct`). A pack is never
//! read back by the backup that writes it, so the cache gains nothing.
//!
//! Direct I/O wants the buffer, offset and length aligned: the bytes go
//! through one reused aligned buffer, the last block is padded with zeros
//! and the file is then cut to its length. A filesystem that refuses direct
//! I/O (tmpfs) says so with `EINVAL`, and the caller writes the ordinary
//! way.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// The alignment direct I/O asks for on every Linux block device we meet
/// (logical blocks of 512 or 4096 bytes).
const ALIGN: usize = 4096;
/// Bytes handed to the device per write of a whole file.
const STEP: usize = 8 << 20;
/// Bytes per direct write of `write_at`, whose callers are many restore
/// threads at once: each touches this much of its buffer, not `STEP`
/// (8 threads from S3 held 64 MiB more at `STEP`).
const PIECE: usize = 1 << 20;

/// Why a direct write did not happen.
pub(crate) enum DirectError {
    /// The filesystem does not do direct I/O: write the ordinary way.
    Unsupported,
    Io(io::Error),
}

impl From<io::Error> for DirectError {
    fn from(e: io::Error) -> DirectError {
        if e.raw_os_error() == Some(libc::EINVAL) {
            DirectError::Unsupported
        } else {
            DirectError::Io(e)
        }
    }
}

thread_local! {
    /// The aligned buffer each writing thread reuses (allocated once: a
    /// fresh one per file would page-fault its way through 8 MiB).
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Create `path` (which must not exist; mode 0600) holding `data`, synced.
/// On any error the file is removed again.
pub(crate) fn write_new(path: &Path, data: &[u8]) -> Result<(), DirectError> {
    let f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_DIRECT)
        .open(path)?;
    let r = fill(&f, data).and_then(|()| {
        f.set_len(data.len() as u64)?;
        f.sync_all()
    });
    if let Err(e) = r {
        drop(f);
        let _ = std::fs::remove_file(path);
        return Err(e.into());
    }
    Ok(())
}

fn fill(f: &File, data: &[u8]) -> io::Result<()> {
    // Bytes that start on a page (a pack: `pack::PACK_ALIGN`) go to the
    // device as they are, but for the last partial block: no copy.
    if data.as_ptr().align_offset(ALIGN) == 0 {
        let whole = data.len() / ALIGN * ALIGN;
        let mut offset = 0;
        while offset < whole {
            let n = (whole - offset).min(STEP);
            f.write_all_at(&data[offset..offset + n], offset as u64)?;
            offset += n;
        }
        if whole == data.len() {
            return Ok(());
        }
        let mut last = vec![0u8; 2 * ALIGN];
        let start = last.as_ptr().align_offset(ALIGN);
        let block = &mut last[start..start + ALIGN];
        block[..data.len() - whole].copy_from_slice(&data[whole..]);
        return f.write_all_at(block, whole as u64);
    }
    BUFFER.with(|cell| {
        let mut owned = cell.borrow_mut();
        if owned.len() < STEP + ALIGN {
            *owned = vec![0u8; STEP + ALIGN];
        }
        let start = owned.as_ptr().align_offset(ALIGN);
        let buf = &mut owned[start..start + STEP];
        let mut offset = 0usize;
        while offset < data.len() {
            let n = (data.len() - offset).min(STEP);
            buf[..n].copy_from_slice(&data[offset..offset + n]);
            // The last block padded to the alignment; `set_len` cuts it.
            let padded = n.next_multiple_of(ALIGN);
            buf[n..padded].fill(0);
            f.write_all_at(&buf[..padded], offset as u64)?;
            offset += n;
        }
        Ok(())
    })
}

/// A second handle on an open file that writes past the page cache, for
/// [`write_at`]. `None` where the filesystem refuses direct I/O or /proc
/// is not mounted: the caller writes through its own handle only.
pub(crate) fn reopen_direct(f: &File) -> Option<File> {
    use std::os::fd::AsRawFd;
    // A new open file description of the same inode (a `dup` would share
    // the status flags, O_DIRECT included, with the caller's handle).
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(format!("/proc/self/fd/{}", f.as_raw_fd()))
        .ok()
}

/// Write `data` at `at`: the whole aligned blocks it covers through
/// `direct` (in `PIECE`s through the thread's aligned buffer), the
/// partial blocks at either end through `buffered`. Blocks written one way
/// are never written the other, so the two handles do not overlap even
/// when neighbouring writes share a partial block (both buffered). A
/// restore writes most of its bytes this way: the page-cache copy was a
/// quarter of its CPU (perf, issue 18).
pub(crate) fn write_at(
    direct: Option<&File>,
    buffered: &File,
    data: &[u8],
    at: u64,
) -> io::Result<()> {
    let align = ALIGN as u64;
    let end = at + data.len() as u64;
    let first = at.next_multiple_of(align);
    let last = end / align * align;
    let Some(direct) = direct.filter(|_| last > first) else {
        return buffered.write_all_at(data, at);
    };
    let head = (first - at) as usize;
    let tail = (last - at) as usize;
    buffered.write_all_at(&data[..head], at)?;
    BUFFER.with(|cell| -> io::Result<()> {
        let mut owned = cell.borrow_mut();
        if owned.len() < STEP + ALIGN {
            *owned = vec![0u8; STEP + ALIGN];
        }
        let start = owned.as_ptr().align_offset(ALIGN);
        let buf = &mut owned[start..start + STEP];
        let mut off = head;
        while off < tail {
            let n = (tail - off).min(PIECE);
            buf[..n].copy_from_slice(&data[off..off + n]);
            match direct.write_all_at(&buf[..n], at + off as u64) {
                Ok(()) => off += n,
                // A device that wants a larger alignment than ours: the
                // rest goes the ordinary way.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    return buffered.write_all_at(&data[off..tail], at + off as u64);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })?;
    buffered.write_all_at(&data[tail..], last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_exact_bytes_of_any_length() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0usize, 1, 4095, 4096, 4097, STEP - 1, STEP, STEP + 12_345] {
            let all: Vec<u8> = (0..len + 2 * ALIGN).map(|i| (i * 31 % 251) as u8).collect();
            // From a page boundary (written as it is) and from one byte
            // past it (copied through the aligned buffer).
            let at = all.as_ptr().align_offset(ALIGN);
            for (start, how) in [(at, "aligned"), (at + 1, "unaligned")] {
                let data = &all[start..start + len];
                let p = dir.path().join(format!("f{len}-{how}"));
                match write_new(&p, data) {
                    Ok(()) => assert_eq!(std::fs::read(&p).unwrap(), data, "length {len}, {how}"),
                    // tmpfs: nothing may be left behind.
                    Err(DirectError::Unsupported) => assert!(!p.exists()),
                    Err(DirectError::Io(e)) => panic!("{e}"),
                }
            }
        }
    }

    /// Pieces at every alignment, written out of order through both
    /// handles, make exactly the bytes.
    #[test]
    fn positioned_writes_mix_direct_and_buffered_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let total = 3 * STEP + 5_000;
        let data: Vec<u8> = (0..total).map(|i| (i * 7 % 253) as u8).collect();
        let f = File::create(&p).unwrap();
        f.set_len(total as u64).unwrap();
        let direct = reopen_direct(&f);
        let cuts = [0, 1, 4095, 4096, 10_000, 12_288, STEP + 3, 2 * STEP, total];
        let mut pieces: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
        pieces.reverse();
        for (a, b) in pieces {
            write_at(direct.as_ref(), &f, &data[a..b], a as u64).unwrap();
        }
        drop((f, direct));
        assert_eq!(std::fs::read(&p).unwrap(), data);
    }

    #[test]
    fn refuses_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"there").unwrap();
        assert!(matches!(write_new(&p, b"new"), Err(DirectError::Io(_))));
        assert_eq!(std::fs::read(&p).unwrap(), b"there");
    }
}
