//! Helpers shared by the integration tests: run the real binary, build
//! datasets, and capture a directory tree for byte-exact comparison.
#![allow(dead_code)]

pub mod jant;
pub mod s3;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn jarc_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_jarc"))
}

/// The password every test repository is made and opened with: the
/// suite's repositories are encrypted, as `init` makes them.
pub const PASSWORD: &str = "jarc test password";

/// The environment that gives jarc the test password, and a cheap KDF
/// (the default's 0.5 s per command would cost the suite minutes).
pub const KEY_ENV: [(&str, &str); 2] = [
    ("JARC_PASSWORD", PASSWORD),
    ("JARC_KDF_PARAMS", "m=256,t=1,p=1"),
];

/// Password variables a developer's shell may hold, which would clash
/// with `KEY_ENV`.
pub const OTHER_PASSWORD_VARS: [&str; 8] = [
    "JARC_PASSWORD_FILE",
    "JARC_PASSWORD_COMMAND",
    "JARC_NEW_PASSWORD",
    "JARC_NEW_PASSWORD_FILE",
    "JARC_NEW_PASSWORD_COMMAND",
    "JARC_FROM_PASSWORD",
    "JARC_FROM_PASSWORD_FILE",
    "JARC_FROM_PASSWORD_COMMAND",
];

/// `c` with the test password and nothing else that could stand in for it.
pub fn keyed(c: &mut Command) -> &mut Command {
    for v in OTHER_PASSWORD_VARS {
        c.env_remove(v);
    }
    c.envs(KEY_ENV)
}

/// jarc with the test password, and no repository or failpoint inherited.
pub fn bare() -> Command {
    let mut c = Command::new(jarc_bin());
    keyed(&mut c)
        .env_remove("JARC_REPOSITORY")
        .env_remove("JARC_FAILPOINT");
    c
}

pub fn cmd(repo: &Path) -> Command {
    let mut c = bare();
    c.arg("--repo").arg(repo);
    c
}

/// Open a test repository in this process, with the test password.
pub fn open_repo(location: &str) -> jarc::Result<jarc::Repository> {
    jarc::Repository::open(location, &test_password)
}

pub fn test_password() -> jarc::Result<zeroize::Zeroizing<String>> {
    Ok(zeroize::Zeroizing::new(PASSWORD.to_string()))
}

/// The key `init` would make from `KEY_ENV`, for repositories a test
/// creates in this process.
pub fn test_key() -> jarc::repo::NewKey {
    jarc::repo::NewKey {
        password: zeroize::Zeroizing::new(PASSWORD.to_string()),
        kdf: jarc::keys::KdfParams::parse(KEY_ENV[1].1).unwrap(),
    }
}

/// Run jarc against `repo`; returns the output whatever the exit status.
pub fn run(repo: &Path, args: &[&str]) -> Output {
    cmd(repo).args(args).output().expect("spawn jarc")
}

/// Run and require success, returning stdout.
pub fn ok(repo: &Path, args: &[&str]) -> String {
    let o = run(repo, args);
    assert!(
        o.status.success(),
        "jarc {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn json(repo: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_str(&ok(repo, &a)).expect("valid JSON")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Deterministic pseudo-random bytes (incompressible, like JPEG/MP4).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    jarc::demo::fixture::bytes(seed, len)
}

pub fn write(path: &Path, data: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, data).unwrap();
}

#[derive(Debug, PartialEq, Eq)]
pub enum Node {
    Dir {
        mode: u32,
    },
    File {
        hash: String,
        len: u64,
        mtime_ns: i64,
        mode: u32,
    },
    Link {
        target: PathBuf,
    },
}

/// Everything a restore must reproduce: names, kinds, bytes (hashed), file
/// mtimes and modes.
pub fn capture(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let md = std::fs::symlink_metadata(&p).unwrap();
            if md.file_type().is_symlink() {
                out.insert(
                    rel,
                    Node::Link {
                        target: std::fs::read_link(&p).unwrap(),
                    },
                );
            } else if md.is_dir() {
                out.insert(
                    rel,
                    Node::Dir {
                        mode: md.permissions().mode() & 0o7777,
                    },
                );
                todo.push(p);
            } else {
                let data = std::fs::read(&p).unwrap();
                out.insert(
                    rel,
                    Node::File {
                        hash: blake3::hash(&data).to_hex().to_string(),
                        len: data.len() as u64,
                        mtime_ns: md.mtime() * 1_000_000_000 + md.mtime_nsec(),
                        mode: md.permissions().mode() & 0o7777,
                    },
                );
            }
        }
    }
    out
}

/// Every file under a directory with its size: to prove nothing was written.
/// In a repository, session markers are left out: every command that
/// opens a session writes them, never deletes them (a backup host needs
/// no delete rights), and prune sweeps them (format-spec §12.1).
pub fn listing(root: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if !root.exists() {
        return out;
    }
    if root.join("config").is_file() {
        out = listing_all(root);
        out.retain(|k, _| !k.starts_with("sessions/"));
        return out;
    }
    listing_all(root)
}

/// `listing`, session markers included.
pub fn listing_all(root: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if !root.exists() {
        return out;
    }
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                todo.push(p);
                out.insert(rel + "/", 0);
            } else {
                out.insert(rel, std::fs::metadata(&p).unwrap().len());
            }
        }
    }
    out
}

/// Total bytes of the pack files in a local repository.
pub fn pack_bytes(repo: &Path) -> u64 {
    listing(&repo.join("data")).values().sum()
}

pub fn pack_count(repo: &Path) -> usize {
    listing(&repo.join("data"))
        .keys()
        .filter(|k| !k.ends_with('/'))
        .count()
}

pub fn init(repo: &Path) {
    ok(repo, &["init"]);
}

/// The checks a drill of a site runs, in order (format-spec §11).
pub const DRILL_CHECKS: [&str; 13] = [
    "media restore",
    "database restore",
    "integrity",
    "foreign keys",
    "full-text index",
    "row counts and digests",
    "schema objects",
    "published posts",
    "site name",
    "collections resolve",
    "paths resolve",
    "referenced media",
    "media content",
];

/// Flip one byte in the middle of a blob's stored bytes, so exactly that
/// blob is damaged.
pub fn damage_blob(repo: &Path, blob: &jarc::Id) {
    flip_in(repo, blob, jarc::layout::pack);
}

/// Flip the same byte in the copy of the blob's pack (a tree node's pack
/// has one, format-spec §4.3): with `damage_blob`, no whole copy is left.
pub fn damage_copy(repo: &Path, blob: &jarc::Id) {
    flip_in(repo, blob, jarc::layout::tree_copy);
}

/// Flip the byte in the middle of `blob` in the object `name` gives for
/// its pack.
fn flip_in(repo: &Path, blob: &jarc::Id, name: fn(&jarc::Id) -> String) {
    let r = open_repo(repo.to_str().unwrap()).unwrap();
    let loc = r.index().lookup(blob).unwrap();
    let path = repo.join(name(&loc.pack));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[(loc.offset + loc.length / 2) as usize] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
}

/// Wait until a command run with `JARC_FAILPOINT=<point>:pause=<go>` has
/// reached its pause (`<go>.reached` exists), failing if it ends first or
/// does not get there within `secs`.
pub fn wait_paused(child: &mut std::process::Child, go: &Path, secs: u64) {
    let mut reached = go.as_os_str().to_owned();
    reached.push(".reached");
    let t0 = std::time::Instant::now();
    while !Path::new(&reached).exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the command ended before it paused"
        );
        assert!(t0.elapsed().as_secs() < secs, "the command never paused");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
