//! The fast unit tier: the repository and the commands (backup, restore,
//! forget, prune, check) run on object_store's in-memory store, wrapped in
//! the fault-injecting store, so that what a failed PUT, a short GET, a
//! reordered LIST or two writers at once do to a repository is proven in
//! seconds by `cargo test -p jarc-engine --lib`. The integration tests in
//! `tests/` prove the same commands against real disks and real servers.

use crate::backend::Backend;
use crate::backup::{backup_media, BackupOptions, BackupSummary};
use crate::check::{check, CheckReport};
use crate::config::Config;
use crate::fault_store::FaultStore;
use crate::pack::BlobKind;
use crate::progress::Silent;
use crate::prune::{prune, PruneOptions};
use crate::restore::{restore_media, RestoreOptions, RestoreSummary};
use crate::snapshot;
use crate::source::dir::DirSource;
use crate::{Error, Id, Repository};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Fixture {
    store: Arc<FaultStore>,
    backend: Backend,
    dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    fixture_with(Config::new_random())
}

fn fixture_with(config: Config) -> Fixture {
    let store = Arc::new(FaultStore::new(Arc::new(
        object_store::memory::InMemory::new(),
    )));
    let backend = Backend::from_store(store.clone(), "memory:unit").unwrap();
    // Encrypted, as `init` makes repositories (cheap KDF: tests unlock
    // hundreds of times).
    Repository::init_in(backend.clone(), config, Some(test_key())).unwrap();
    Fixture {
        store,
        backend,
        dir: tempfile::tempdir().unwrap(),
    }
}

pub(crate) fn test_key() -> crate::repo::NewKey {
    crate::repo::NewKey {
        password: zeroize::Zeroizing::new(TEST_PASSWORD.into()),
        kdf: crate::keys::KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
    }
}

pub(crate) const TEST_PASSWORD: &str = "unit tier";

pub(crate) fn test_password() -> crate::Result<zeroize::Zeroizing<String>> {
    Ok(zeroize::Zeroizing::new(TEST_PASSWORD.into()))
}

/// Deterministic incompressible bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

impl Fixture {
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn open(&self, command: &str, writer: bool) -> Repository {
        Repository::open_in(
            self.backend.clone(),
            Some((command, writer)),
            &test_password,
        )
        .unwrap()
    }

    fn backup(&self, src: &Path) -> crate::Result<BackupSummary> {
        let repo =
            Repository::open_in(self.backend.clone(), Some(("backup", true)), &test_password)?;
        let opts = BackupOptions {
            hostname: Some("unit".into()),
            ..Default::default()
        };
        backup_media(&repo, &DirSource::new(src)?, &opts, &Silent)
    }

    /// Restore a snapshot's media; what could not be restored fails it.
    fn restore(&self, id: &Id, out: &Path) -> crate::Result<()> {
        let s = self.restore_some(id, out)?;
        assert!(s.failed.is_empty(), "{:?}", s.failed);
        Ok(())
    }

    fn restore_some(&self, id: &Id, out: &Path) -> crate::Result<RestoreSummary> {
        let repo = self.open("restore", false);
        let snap = snapshot::load(&repo, id)?;
        restore_media(&repo, &snap, out, &RestoreOptions::default(), &Silent)
    }

    fn check(&self, read_data: bool) -> CheckReport {
        check(&self.open("check", false), read_data, &Silent).unwrap()
    }

    fn snapshots(&self) -> Vec<Id> {
        snapshot::list_ids(&self.open("snapshots", false)).unwrap()
    }

    /// Every object but session markers (which come and go with each
    /// command), by name, with its bytes.
    fn objects(&self) -> BTreeMap<String, Vec<u8>> {
        self.backend
            .list("")
            .unwrap()
            .into_iter()
            .filter(|l| !l.name.starts_with("sessions/"))
            .map(|l| {
                let bytes = self.backend.get(&l.name).unwrap().to_vec();
                (l.name, bytes)
            })
            .collect()
    }
}

fn write_files(dir: &Path, files: &[(&str, Vec<u8>)]) {
    for (name, bytes) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

/// Relative path → content of every file under `dir`.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn site(f: &Fixture) -> std::path::PathBuf {
    let src = f.path("src");
    write_files(
        &src,
        &[
            ("a.bin", noise(1, 3 << 20)),
            ("sub/b.bin", noise(2, 700_000)),
            ("sub/c.txt", b"hello".to_vec()),
            ("empty", Vec::new()),
        ],
    );
    src
}

#[test]
fn blobs_round_trip_through_a_reopened_repository() {
    let f = fixture();
    let repo = f.open("unit", true);
    let data = noise(7, 100_000);
    let (a, new_a) = repo.save_blob(BlobKind::Data, &data).unwrap();
    let (t, _) = repo.save_blob(BlobKind::Tree, b"node").unwrap();
    let (again, new_again) = repo.save_blob(BlobKind::Data, &data).unwrap();
    assert!(new_a && !new_again && again == a);
    repo.flush().unwrap();
    drop(repo);
    let repo = f.open("unit", false);
    assert_eq!(repo.index().len(), 2);
    assert_eq!(repo.load_blob(&a).unwrap(), data);
    assert_eq!(repo.load_blob(&t).unwrap(), b"node");
}

/// `open_trees` indexes the tree packs only; reading a chunk loads the
/// rest first, and until then nothing is stored (its dedup would miss).
#[test]
fn a_repository_opened_for_trees_loads_the_rest_of_the_index_to_read_a_chunk() {
    let f = fixture();
    let repo = f.open("unit", true);
    let data = noise(7, 100_000);
    let (a, _) = repo.save_blob(BlobKind::Data, &data).unwrap();
    let (t, _) = repo.save_blob(BlobKind::Tree, b"node").unwrap();
    repo.flush().unwrap();
    drop(repo);
    let repo = Repository::open_trees_in(f.backend.clone(), &test_password).unwrap();
    assert_eq!(repo.index().len(), 1);
    assert_eq!(
        repo.index().lookup(&t).map(|l| l.kind),
        Some(BlobKind::Tree)
    );
    let refused = repo.save_blob(BlobKind::Data, b"other").unwrap_err();
    assert_eq!(
        refused.to_string(),
        "a repository opened to read trees stores no blobs"
    );
    assert_eq!(repo.load_blob(&t).unwrap(), b"node");
    assert_eq!(repo.index().len(), 1);
    assert_eq!(repo.load_blob(&a).unwrap(), data);
    assert_eq!(repo.index().len(), 2);
    drop(repo);

    // Threads that miss at once: one loads the rest, the others wait for
    // it and find their chunk (none fails with "not in the index").
    let repo = f.open("unit", true);
    let chunks: Vec<Vec<u8>> = (0..8).map(|i| noise(20 + i, 5_000)).collect();
    let ids: Vec<Id> = chunks
        .iter()
        .map(|c| repo.save_blob(BlobKind::Data, c).unwrap().0)
        .collect();
    repo.flush().unwrap();
    drop(repo);
    let repo = Repository::open_trees_in(f.backend.clone(), &test_password).unwrap();
    assert_eq!(repo.index().len(), 1);
    let got: Vec<Vec<u8>> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| s.spawn(|| repo.load_blob(id).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(got, chunks);
    assert_eq!(repo.index().len(), 10);
}

#[test]
fn backup_restores_identically_and_an_unchanged_rerun_stores_nothing() {
    let f = fixture();
    let src = site(&f);
    let first = f.backup(&src).unwrap();
    assert_eq!(first.summary.files, 4);
    let second = f.backup(&src).unwrap();
    assert_eq!(second.parent, Some(first.snapshot));
    assert_eq!(
        (second.summary.blobs_new, second.summary.bytes_new_stored),
        (0, 0)
    );
    let out = f.path("out");
    f.restore(&second.snapshot, &out).unwrap();
    assert_eq!(contents(&out), contents(&src));
    let c = f.check(true);
    assert!(c.ok(), "{c:?}");
    assert_eq!(c.snapshots, 2);
}

/// A source of many scan batches (16 entries each in unit tests), with
/// keys whose order is not the walk's (`d.txt` sorts between `d` and
/// `d/x`): restored identically, and a second backup after a few changes
/// in different batches reads only those.
#[test]
fn a_backup_in_many_batches_reuses_across_them_and_restores_identically() {
    // Packs of 1 MiB, the least allowed: the backup writes several.
    let mut config = Config::new_random();
    config.pack_size = 1 << 20;
    let f = fixture_with(config);
    let src = f.path("src");
    let mut files = Vec::new();
    for i in 0..120 {
        let dir = ["d", "d-1", "d/e", "d0", "z"][i % 5];
        files.push((format!("{dir}/{i:03}.bin"), noise(i as u64, 30_000 + i)));
        files.push((format!("{dir}.{i:03}"), noise(1000 + i as u64, 50)));
    }
    // Chunks of up to 4 MiB: some larger than a whole pack here, each
    // then a pack of its own.
    files.push(("big.bin".into(), noise(9, 6 << 20)));
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    write_files(&src, &refs);
    let first = f.backup(&src).unwrap();
    assert_eq!((first.summary.files, first.summary.dirs), (241, 5));
    // Packs were indexed while the backup ran (every 8 blobs here), not
    // only before its snapshot.
    let index_files = f.backend.list("index").unwrap().len();
    assert!(index_files > 2, "{index_files} index files");
    let c = f.check(true);
    assert!(c.ok(), "{c:?}");
    let changed = ["d/000.bin", "d.005", "z/119.bin", "d/e/117.bin"];
    for k in changed {
        std::fs::write(src.join(k), b"changed").unwrap();
    }
    let second = f.backup(&src).unwrap();
    let s = &second.summary;
    assert_eq!(
        (
            s.files_changed,
            s.files_unchanged,
            s.files_new,
            s.bytes_read
        ),
        (4, 237, 0, 4 * 7)
    );
    let out = f.path("out");
    f.restore(&second.snapshot, &out).unwrap();
    assert_eq!(contents(&out), contents(&src));
}

#[test]
fn forget_then_prune_frees_only_what_the_forgotten_snapshot_held() {
    let f = fixture();
    let src = site(&f);
    let old = f.backup(&src).unwrap();
    write_files(&src, &[("a.bin", noise(3, 3 << 20))]);
    let new = f.backup(&src).unwrap();
    let repo = f.open("forget", false);
    crate::forget::remove(&repo, &[old.snapshot]).unwrap();
    drop(repo);
    let repo = f.open("prune", false);
    let opts = PruneOptions {
        max_unused_permille: 0,
        ..Default::default()
    };
    let r = prune(&repo, &opts, &Silent).unwrap();
    drop(repo);
    // The first a.bin (3 MiB of noise) is what only the old snapshot held.
    assert!(r.bytes_freed >= 3 << 20, "{r:?}");
    assert_eq!(f.snapshots(), vec![new.snapshot]);
    let c = f.check(true);
    assert!(c.ok(), "{c:?}");
    let out = f.path("out");
    f.restore(&new.snapshot, &out).unwrap();
    assert_eq!(contents(&out), contents(&src));
}

/// A backup whose every PUT can fail, one at a time: each failure leaves
/// the repository as it was (same objects, same snapshots, clean check),
/// and the next backup succeeds and restores byte-identical.
#[test]
fn a_failed_put_anywhere_in_a_backup_leaves_the_repository_as_it_was() {
    let f = fixture();
    let src = site(&f);
    let base = f.backup(&src).unwrap();
    write_files(&src, &[("new.bin", noise(9, 1 << 20))]);
    // Count the PUTs of the run to sweep, on a copy of the state.
    let before = f.objects();
    let probe = {
        let g = fixture();
        for (name, bytes) in &before {
            g.backend.put(name, bytes.clone().into()).unwrap();
        }
        g.store.fail_put(0);
        g.backup(&src).unwrap();
        g.store.puts()
    };
    assert!(probe >= 4, "only {probe} PUTs in a backup");
    // The last PUT is the session's closed marker, written after the
    // commit: failing it costs no data (the marker ages out), so that run
    // succeeds. Checked at the end.
    for n in 1..probe {
        f.store.fail_put(n);
        let e = f
            .backup(&src)
            .expect_err(&format!("PUT {n} of {probe} failed"));
        assert!(e.to_string().contains("injected fault"), "PUT {n}: {e}");
        f.store.fail_put(0);
        assert_eq!(f.snapshots(), vec![base.snapshot], "PUT {n} of {probe}");
        // What was there is untouched; what the failed run added can only
        // be packs and index files no snapshot needs (prune's to free).
        let now = f.objects();
        for (name, bytes) in &before {
            assert!(now.get(name) == Some(bytes), "PUT {n}: {name} changed");
        }
        // (A snapshot's copy goes up just before it: its failure leaves
        // the copy, never read without its snapshot; format-spec §7.3.)
        let added: Vec<&String> = now.keys().filter(|k| !before.contains_key(*k)).collect();
        assert!(
            added.iter().all(|k| k.starts_with("data/")
                || k.starts_with("tree-copies/")
                || k.starts_with("index/")
                || k.starts_with("snapshot-copies/")),
            "PUT {n} of {probe} left {added:?}"
        );
        let c = f.check(false);
        assert!(c.ok(), "PUT {n}: {c:?}");
        // Back to the state before, so that the next run makes the same
        // PUTs (packs indexed by this one would be reused).
        for k in added {
            f.backend.delete(k).unwrap();
        }
    }
    let c = f.check(true);
    assert!(c.ok(), "{c:?}");
    f.store.fail_put(probe);
    let last = f.backup(&src).unwrap();
    f.store.fail_put(0);
    assert_eq!(f.snapshots().len(), 2);
    let out = f.path("out");
    f.restore(&last.snapshot, &out).unwrap();
    assert_eq!(contents(&out), contents(&src));
}

/// Files that share their first chunks and differ after them: reading
/// the shared chunks (one blob, written into every file) leaves them all
/// started and unfinished at once, more than the restore keeps open, so
/// files are closed between writes and opened again. Every file comes
/// back whole, and no temporary is left.
#[test]
fn files_sharing_chunks_restore_whole_even_past_the_open_file_bound() {
    let mut config = Config::new_random();
    config.pack_size = 1 << 20;
    config.chunker = crate::config::ChunkerParams {
        min: 256,
        avg: 1024,
        max: 4096,
        normalization: 1,
    };
    let f = fixture_with(config);
    let src = f.path("src");
    let shared = noise(1, 8 << 10);
    let files: Vec<(String, Vec<u8>)> = (0..600)
        .map(|i| {
            let mut v = shared.clone();
            v.extend(noise(100 + i as u64, 4 << 10));
            (format!("d{}/f{i:03}.bin", i % 7), v)
        })
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = files.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    write_files(&src, &refs);
    let s = f.backup(&src).unwrap();
    let before = crate::restore::packed::PARKED.load(std::sync::atomic::Ordering::Relaxed);
    let out = f.path("out");
    f.restore(&s.snapshot, &out).unwrap();
    assert_eq!(contents(&out), contents(&src));
    assert!(
        crate::restore::packed::PARKED.load(std::sync::atomic::Ordering::Relaxed) > before,
        "no file was closed between writes"
    );
}

#[test]
fn a_short_read_of_a_pack_is_named_and_blamed_on_that_pack() {
    let f = fixture();
    let src = site(&f);
    let s = f.backup(&src).unwrap();
    let repo = f.open("unit", false);
    let a = crate::media::entries(&repo, &snapshot::load(&repo, &s.snapshot).unwrap()).unwrap();
    let chunk = a
        .iter()
        .find(|(k, _)| k == "a.bin")
        .and_then(|(_, e)| e.chunks.first().copied())
        .unwrap();
    let pack = repo.index().lookup(&chunk).unwrap().pack;
    // The files with a chunk in that pack, which a short read of it costs.
    let lost: Vec<String> = a
        .iter()
        .filter(|(_, e)| {
            e.chunks
                .iter()
                .any(|c| repo.index().lookup(c).is_some_and(|l| l.pack == pack))
        })
        .map(|(k, _)| k.clone())
        .collect();
    drop(repo);
    let name = crate::layout::pack(&pack);
    f.store.truncate_gets(&name);
    // The restore writes what it can and names what it could not, each
    // for that pack. The pack is read front to back and each blob checked
    // as it arrives, so the files whose chunks all came before the cut are
    // restored; the others fail, and nothing of them is left.
    let out = f.path("out");
    let r = f.restore_some(&s.snapshot, &out).unwrap();
    let failed: Vec<String> = r.failed.iter().map(|(k, _)| k.clone()).collect();
    assert!(
        !failed.is_empty() && failed.iter().all(|k| lost.contains(k)),
        "{failed:?} of {lost:?}"
    );
    for (k, why) in &r.failed {
        assert!(
            why.contains(&name) && why.contains("short read"),
            "{k}: {why}"
        );
    }
    let mut want = contents(&src);
    want.retain(|k, _| !failed.contains(k));
    assert_eq!(contents(&out), want);
    let c = f.check(true);
    assert!(!c.ok());
    assert!(
        c.damage.iter().all(|d| d.pack == pack.to_hex()) && !c.damage.is_empty(),
        "{:?}",
        c.damage
    );
}

#[test]
fn listings_in_any_order_change_nothing() {
    let f = fixture();
    let src = site(&f);
    let a = f.backup(&src).unwrap();
    write_files(&src, &[("x", noise(5, 10_000))]);
    let b = f.backup(&src).unwrap();
    let forward = f.snapshots();
    f.store.reverse_lists(true);
    assert_eq!(f.snapshots(), forward);
    assert_eq!(f.backend.list("").unwrap().len(), {
        f.store.reverse_lists(false);
        f.backend.list("").unwrap().len()
    });
    f.store.reverse_lists(true);
    let mut ids = vec![a.snapshot, b.snapshot];
    ids.sort();
    assert_eq!(forward, ids);
    let c = f.check(true);
    assert!(c.ok(), "{c:?}");
    let out = f.path("out");
    f.restore(&b.snapshot, &out).unwrap();
    assert_eq!(contents(&out), contents(&src));
}

/// Two backups into one repository at once, each request slowed so that
/// they overlap for certain: the test asserts they did, then that both
/// snapshots restore byte-identical.
#[test]
fn two_backups_at_once_both_commit() {
    let f = fixture();
    let (s1, s2) = (f.path("s1"), f.path("s2"));
    for i in 0..6u64 {
        let name = format!("f{i}");
        write_files(&s1, &[(name.as_str(), noise(i, 300_000))]);
        // Half shared, so both race to store the same chunks.
        let seed = if i % 2 == 0 { i } else { 100 + i };
        write_files(&s2, &[(name.as_str(), noise(seed, 300_000))]);
    }
    f.store.delay(Duration::from_millis(5));
    let run = |src: &Path| {
        let started = Instant::now();
        let r = f.backup(src);
        (started, Instant::now(), r)
    };
    let ((a0, a1, a), (b0, b1, b)) = std::thread::scope(|s| {
        let ta = s.spawn(|| run(&s1));
        let tb = s.spawn(|| run(&s2));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    f.store.delay(Duration::ZERO);
    assert!(a0 < b1 && b0 < a1, "the two backups did not overlap");
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(f.snapshots().len(), 2);
    let c = f.check(true);
    assert!(c.ok(), "{c:?}");
    for (src, s, n) in [(&s1, &a, "o1"), (&s2, &b, "o2")] {
        let out = f.path(n);
        f.restore(&s.snapshot, &out).unwrap();
        assert_eq!(contents(&out), contents(src));
    }
}

#[test]
fn an_empty_store_is_not_a_repository() {
    let b = Backend::memory("memory:empty").unwrap();
    match Repository::open_in(b, None, &test_password) {
        Err(Error::NotARepository(l)) => assert_eq!(l, "memory:empty"),
        other => panic!("{:?}", other.err()),
    }
}

/// A store's errors say which store it is: the repository's, or a Jant
/// media bucket being read or restored into.
#[test]
fn storage_errors_name_the_store_they_come_from() {
    let store = Arc::new(FaultStore::new(Arc::new(
        object_store::memory::InMemory::new(),
    )));
    let repo = Backend::from_store(store.clone(), "memory:r").unwrap();
    let bucket = Backend::from_store(store.clone(), "memory:b")
        .unwrap()
        .as_media_bucket();
    store.fail_put(1);
    let e = repo.put("x", bytes::Bytes::from_static(b"1")).unwrap_err();
    assert!(
        e.to_string().starts_with("repository storage: put x: "),
        "{e}"
    );
    store.fail_put(1);
    let e = bucket
        .put("media/a.png", bytes::Bytes::from_static(b"1"))
        .unwrap_err();
    assert!(
        e.to_string().starts_with("media bucket: put media/a.png: "),
        "{e}"
    );
}
