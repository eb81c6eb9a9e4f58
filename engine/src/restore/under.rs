//! Writing under a restore target without ever following a symlink.
//!
//! A restore target may already hold symlinks (a live site's storage, a
//! rerun with `--overwrite`), and one in place of a directory the snapshot
//! has (`sub -> /etc`) would send a path-based write outside the target.
//! So every directory below the target is reached with
//! `openat(…, O_DIRECTORY | O_NOFOLLOW)` from the one above it, and every
//! file is made with `O_NOFOLLOW | O_EXCL` under a temporary name in its
//! directory and renamed into place once complete: an interrupted restore
//! never leaves a half-written file under its final name, and a rerun
//! replaces what it finds, symlinks included (a rename replaces the link,
//! never what it points to).

use crate::error::{Error, Result};
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The restore target, opened once.
pub(crate) struct Under {
    fd: OwnedFd,
    path: PathBuf,
}

/// A directory below the target, and the path it stands for (for messages).
pub(crate) struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::other("a name holds a NUL byte"))
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `openat(dir, name)` as a directory, never through a symlink.
fn open_dir_at(dir: &OwnedFd, name: &CString) -> io::Result<OwnedFd> {
    // SAFETY: a valid directory fd and NUL-terminated name; the returned fd
    // is owned by the OwnedFd from here on.
    let fd = check(unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    })?;
    // SAFETY: fd was just returned by openat and is not owned elsewhere.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The temporary name a file is written under before it is renamed.
fn temp_name(name: &str) -> String {
    format!(".{name}.jarc-partial")
}

impl Under {
    /// Open (creating it and its parents if needed) the target directory.
    /// The target itself is the operator's choice and may be a symlink.
    pub fn open(path: &Path) -> Result<Under> {
        std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
        let dir = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(Under {
            fd: OwnedFd::from(dir),
            path: path.to_path_buf(),
        })
    }

    /// The directory `components` name below the target, each reached
    /// without following a symlink, created (mode 0755) where missing when
    /// `create`.
    pub fn dir(&self, components: &[&str], create: bool) -> Result<Dir> {
        let mut path = self.path.clone();
        // SAFETY: dup of a valid fd; the copy is owned by the OwnedFd.
        let mut fd = unsafe {
            OwnedFd::from_raw_fd(
                check(libc::dup(self.fd.as_raw_fd())).map_err(|e| Error::io(&path, e))?,
            )
        };
        for c in components {
            path.push(c);
            let name = cstr(c).map_err(|e| Error::io(&path, e))?;
            let next = match open_dir_at(&fd, &name) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create => {
                    // SAFETY: valid fd and name. A racing mkdir of the same
                    // directory (EEXIST) is fine: it is opened below.
                    let rc = unsafe { libc::mkdirat(fd.as_raw_fd(), name.as_ptr(), 0o755) };
                    if rc < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
                        return Err(Error::io(&path, io::Error::last_os_error()));
                    }
                    open_dir_at(&fd, &name)
                }
                other => other,
            };
            fd = next.map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) | Some(libc::ENOTDIR) => Error::io(
                    &path,
                    io::Error::other(
                        "is a symbolic link or not a directory; a restore never writes through one",
                    ),
                ),
                _ => Error::io(&path, e),
            })?;
        }
        Ok(Dir { fd, path })
    }
}

impl Dir {
    /// Write `name` through `fill` on a fresh temporary file, then rename
    /// it into place (replacing a file or symlink of that name).
    pub fn write(&self, name: &str, fill: impl FnOnce(&File) -> Result<()>) -> Result<()> {
        let f = self.create_temp(name)?;
        let filled = fill(&f);
        drop(f);
        if let Err(e) = filled {
            self.discard(name);
            return Err(e);
        }
        self.commit(name)
    }

    /// A fresh, empty temporary file for `name` (mode 0600), to be filled
    /// and then `commit`ted or `discard`ed.
    pub fn create_temp(&self, name: &str) -> Result<File> {
        self.temp_file(name, true)
    }

    /// The temporary file `create_temp` made for `name`, opened again for
    /// writing (never through a symlink).
    pub fn reopen_temp(&self, name: &str) -> Result<File> {
        self.temp_file(name, false)
    }

    fn temp_file(&self, name: &str, create: bool) -> Result<File> {
        let err = |e: io::Error| Error::io(self.path.join(name), e);
        let tmp = cstr(&temp_name(name)).map_err(err)?;
        if !create {
            return self.open_at(&tmp, 0).map_err(err);
        }
        // O_EXCL | O_NOFOLLOW make a fresh file or fail. A temporary left
        // by an interrupted run (even a planted symlink) is removed and the
        // create tried again. Not removed first: an unlink takes the
        // directory's lock even when there is nothing to remove, and
        // restore threads creating files in one directory queued on it
        // (perf: a tenth of a media restore's CPU spinning on that lock).
        match self.open_at(&tmp, libc::O_CREAT | libc::O_EXCL) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                // SAFETY: valid fd and name.
                unsafe { libc::unlinkat(self.fd.as_raw_fd(), tmp.as_ptr(), 0) };
                self.open_at(&tmp, libc::O_CREAT | libc::O_EXCL)
            }
            other => other,
        }
        .map_err(err)
    }

    fn open_at(&self, name: &CString, flags: libc::c_int) -> io::Result<File> {
        // SAFETY: valid fd and name; the fd is owned by the File.
        let fd = check(unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | flags,
                0o600 as libc::c_uint,
            )
        })?;
        // SAFETY: fd was just returned by openat and is owned only here.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// Rename `name`'s temporary file into place.
    pub fn commit(&self, name: &str) -> Result<()> {
        let final_path = self.path.join(name);
        let err = |e: io::Error| Error::io(&final_path, e);
        let tmp = cstr(&temp_name(name)).map_err(err)?;
        let dst = cstr(name).map_err(err)?;
        self.rename(&tmp, &dst).map_err(err)
    }

    /// Remove `name`'s temporary file, if there is one.
    pub fn discard(&self, name: &str) {
        if let Ok(tmp) = cstr(&temp_name(name)) {
            // SAFETY: valid fd and name.
            unsafe { libc::unlinkat(self.fd.as_raw_fd(), tmp.as_ptr(), 0) };
        }
    }

    /// Make `name` a symlink to `target`, replacing what is there.
    pub fn symlink(&self, name: &str, target: &str) -> Result<()> {
        let final_path = self.path.join(name);
        let err = |e: io::Error| Error::io(&final_path, e);
        let tmp = cstr(&temp_name(name)).map_err(err)?;
        let dst = cstr(name).map_err(err)?;
        let to = cstr(target).map_err(err)?;
        // SAFETY: valid fd and names throughout.
        unsafe { libc::unlinkat(self.fd.as_raw_fd(), tmp.as_ptr(), 0) };
        check(unsafe { libc::symlinkat(to.as_ptr(), self.fd.as_raw_fd(), tmp.as_ptr()) })
            .map_err(err)?;
        self.rename(&tmp, &dst).map_err(err)
    }

    /// Rename `tmp` over `dst` within this directory: atomic, and a `dst`
    /// that is a symlink is replaced, never followed.
    fn rename(&self, tmp: &CString, dst: &CString) -> io::Result<()> {
        // SAFETY: valid fds and NUL-terminated names.
        check(unsafe {
            libc::renameat(
                self.fd.as_raw_fd(),
                tmp.as_ptr(),
                self.fd.as_raw_fd(),
                dst.as_ptr(),
            )
        })
        .map(|_| ())
    }

    /// The directory itself as a file handle (to set its mode and times).
    pub fn handle(self) -> File {
        File::from(self.fd)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A key's parent components and last name (keys are checked safe first).
pub(crate) fn split_key(key: &str) -> (Vec<&str>, &str) {
    let mut parts: Vec<&str> = key.split('/').collect();
    let name = parts.pop().unwrap_or_default();
    (parts, name)
}
