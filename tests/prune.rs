//! Forget and prune against real repositories: space comes back, every
//! remaining snapshot restores byte-identical, a prune killed anywhere is
//! finished by the next one, and backups running in two processes while
//! prune runs in a loop never fail or lose a snapshot (local directory and
//! the test S3 server).

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use support::*;

/// A repository, local or on the test S3 server.
#[derive(Clone)]
struct Repo {
    loc: String,
    s3: bool,
}

impl Repo {
    fn local(p: &Path) -> Repo {
        Repo {
            loc: p.to_str().unwrap().to_string(),
            s3: false,
        }
    }

    fn on_s3(tag: &str) -> Repo {
        Repo {
            loc: format!("s3://{}/jarc", s3::bucket(tag)),
            s3: true,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = if self.s3 {
            s3::repo_cmd(
                &s3::var("JARC_TEST_S3_ENDPOINT"),
                &s3::var("JARC_TEST_S3_REGION"),
                &s3::var("JARC_TEST_S3_SECRET"),
            )
        } else {
            bare()
        };
        c.arg("--repo").arg(&self.loc).arg("-q");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("spawn jarc")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let o = self.cmd().arg("--json").args(args).output().unwrap();
        assert!(
            o.status.success(),
            "jarc {args:?} failed ({:?}):\n{}\n{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        );
        serde_json::from_slice(&o.stdout).expect("valid JSON")
    }

    fn backup(&self, dir: &Path) -> String {
        let r = self.json(&["backup", "--media", dir.to_str().unwrap()]);
        r["snapshot"].as_str().unwrap().to_string()
    }

    fn check_read_data(&self) {
        let o = self.run(&["check", "--read-data"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "check: {}{}",
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        );
    }

    /// Restore `id` and compare it with what the backup read.
    fn assert_restores(&self, id: &str, want: &BTreeMap<String, Node>, scratch: &Path) {
        let out = scratch.join(format!("restore-{id}"));
        let o = self.run(&["restore", id, "--target", out.to_str().unwrap()]);
        assert!(o.status.success(), "restore {id}: {}", stderr(&o));
        assert_eq!(
            &capture(&out),
            want,
            "snapshot {id} did not restore byte-identical"
        );
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// A file's content for `seed`: the size differs per seed, so a rewrite
/// within one timestamp tick is still seen as a change.
fn content(seed: u64) -> Vec<u8> {
    noise(seed, 600_000 + (seed % 997) as usize * 64)
}

/// A snapshot id, what it held, and the content seeds of its files.
type Snap = (String, BTreeMap<String, Node>, HashSet<u64>);
type Snaps = Vec<Snap>;

/// Eight backups of a directory of six files, two of which are replaced
/// before each next backup. Returns each snapshot with what it held.
fn churn(repo: &Repo, src: &Path) -> Snaps {
    let mut seeds: Vec<u64> = (0..6).collect();
    let mut out = Vec::new();
    for round in 0..8u64 {
        if round > 0 {
            for k in 0..2 {
                let slot = ((round * 2 + k) % 6) as usize;
                seeds[slot] = 100 + round * 10 + k;
            }
        }
        for (i, s) in seeds.iter().enumerate() {
            write(&src.join(format!("f{i}.bin")), &content(*s));
        }
        let id = repo.backup(src);
        out.push((id, capture(src), seeds.iter().copied().collect()));
    }
    out
}

/// Forget the even rounds (the newest, round 7, stays); return the bytes of
/// content that only the forgotten snapshots held.
fn forget_even(repo: &Repo, snaps: &Snaps) -> u64 {
    let (gone, kept): (Vec<_>, Vec<_>) = snaps.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let mut args = vec!["forget".to_string()];
    args.extend(gone.iter().map(|(_, s)| s.0.clone()));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = repo.run(&a);
    assert!(o.status.success(), "{}", stderr(&o));
    let live: HashSet<u64> = kept.iter().flat_map(|(_, s)| s.2.iter().copied()).collect();
    let only_gone: HashSet<u64> = gone
        .iter()
        .flat_map(|(_, s)| s.2.iter().copied())
        .filter(|s| !live.contains(s))
        .collect();
    only_gone.iter().map(|s| content(*s).len() as u64).sum()
}

fn kept(snaps: &Snaps) -> impl Iterator<Item = &Snap> {
    snaps
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
}

/// Bytes of the distinct blobs as stored. Prune's gains are measured in
/// these: pack sizes also move with each new pack's padding (§13.4).
fn blob_bytes(repo: &Repo) -> u64 {
    repo.json(&["stats"])["stored_blob_bytes"].as_u64().unwrap()
}

/// A local repository after `churn` and `forget_even`: the repository, its
/// directory, the snapshots, the stored blob bytes before forgetting, and
/// the bytes only the forgotten snapshots held.
fn churned_and_half_forgotten(t: &Path) -> (Repo, PathBuf, Snaps, u64, u64) {
    let (src, dir) = (t.join("src"), t.join("repo"));
    let repo = Repo::local(&dir);
    init(&dir);
    let snaps = churn(&repo, &src);
    let before = blob_bytes(&repo);
    let only_gone = forget_even(&repo, &snaps);
    (repo, dir, snaps, before, only_gone)
}

/// Every snapshot `forget_even` kept restores byte-identical, and
/// `check --read-data` is clean.
fn assert_kept_intact(repo: &Repo, snaps: &Snaps, scratch: &Path) {
    for (id, want, _) in kept(snaps) {
        repo.assert_restores(id, want, scratch);
    }
    repo.check_read_data();
}

#[test]
fn prune_frees_what_forgotten_snapshots_alone_held() {
    let t = tempfile::tempdir().unwrap();
    let (repo, dir, snaps, before, only_gone) = churned_and_half_forgotten(t.path());
    assert_eq!(repo.json(&["snapshots"]).as_array().unwrap().len(), 4);

    let packs_before = pack_bytes(&dir);
    let dry = repo.json(&["prune", "--dry-run"]);
    assert_eq!(dry["report"]["plan"], serde_json::Value::Null);
    assert_eq!(
        pack_bytes(&dir),
        packs_before,
        "a dry run deleted something"
    );

    let r = repo.json(&["prune"])["report"].clone();
    assert_eq!(r["plans_executed"].as_array().unwrap().len(), 1, "{r}");
    assert!(r["packs_repacked"].as_u64().unwrap() > 0, "{r}");
    let after = pack_bytes(&dir);
    let shrink = before - blob_bytes(&repo);
    // On disk too, within the padding of the packs written (≤ 3 % each
    // at these sizes).
    let disk = packs_before - after;
    assert!(
        disk + disk / 30 >= shrink,
        "packs shrank by {disk}, blobs by {shrink}"
    );
    // The data only the forgotten snapshots held, give or take their tree
    // nodes and the pack headers (a few KiB).
    assert!(
        shrink >= only_gone && shrink <= only_gone + (only_gone / 50) + (64 << 10),
        "shrank by {shrink}, the forgotten snapshots alone held {only_gone}"
    );
    assert_eq!(r["unused_bytes_after"], 0);
    assert_kept_intact(&repo, &snaps, t.path());
    let again = repo.json(&["prune"])["report"].clone();
    assert_eq!(again["plan"], serde_json::Value::Null, "{again}");
    assert_eq!(pack_bytes(&dir), after);
}

#[test]
fn a_prune_killed_anywhere_is_finished_by_the_next() {
    for point in [
        "prune-after-repack",
        "prune-after-plan",
        "prune-after-new-index",
        "prune-after-index-delete",
        "prune-mid-delete",
        "prune-before-copy-delete",
        "prune-after-delete",
    ] {
        let t = tempfile::tempdir().unwrap();
        let (repo, dir, snaps, before, only_gone) = churned_and_half_forgotten(t.path());
        let o = repo
            .cmd()
            .env("JARC_FAILPOINT", point)
            .args(["prune"])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            None,
            "{point}: prune was not killed: {}",
            stderr(&o)
        );
        assert_kept_intact(&repo, &snaps, t.path());
        let r = repo.json(&["prune"])["report"].clone();
        assert!(
            r["plans_deferred"].as_array().unwrap().is_empty(),
            "{point}: {r}"
        );
        assert!(!dir.join("plans").exists(), "{point}: a plan is left: {r}");
        assert_kept_intact(&repo, &snaps, t.path());
        // No copy of a tree pack outlives its pack (format-spec §4.3).
        for name in listing(&dir.join("tree-copies")).into_keys() {
            let pack = jarc::layout::pack(&jarc::Id::from_hex(&name).unwrap());
            assert!(dir.join(&pack).exists(), "{point}: {name} has no pack");
        }
        // A prune that follows one killed after repacking may copy the
        // killed run's pack again, byte for byte; that copy carries one
        // blob twice so that it differs (format-spec §12.6). The report
        // counts it as unused, and a prune told to leave nothing unused
        // frees it.
        let left = repo.json(&["prune", "--dry-run"])["report"]["unused_bytes"].clone();
        assert_eq!(r["unused_bytes_after"], left, "{point}: {r}");
        repo.json(&["prune", "--max-unused", "0%"]);
        let gone = repo.json(&["prune", "--dry-run"])["report"].clone();
        assert_eq!(gone["unused_bytes"], 0, "{point}: {gone}");
        let shrink = before - blob_bytes(&repo);
        assert!(
            shrink >= only_gone,
            "{point}: shrank by {shrink} < {only_gone}"
        );
    }
}

/// Two processes back up in a loop while a third makes garbage (backs up,
/// forgets, prunes) in a loop; the backups keep writing files whose content
/// the garbage held, so they dedup against blobs prune is condemning.
fn backups_race_prune(repo: Repo, scratch: &Path) {
    let rounds = 6u64;
    let garbage = |r: u64, k: u64| 9_000 + r * 10 + k;
    let pruner = {
        let repo = repo.clone();
        let g = scratch.join("garbage");
        std::thread::spawn(move || {
            let mut freed = 0;
            for r in 0..rounds {
                let _ = std::fs::remove_dir_all(&g);
                for k in 0..3 {
                    write(&g.join(format!("g{k}")), &content(garbage(r, k)));
                }
                let id = repo.backup(&g);
                let o = repo.run(&["forget", "--force", &id]);
                assert!(o.status.success(), "{}", stderr(&o));
                let rep = repo.json(&["prune", "--max-unused", "0%"]);
                freed += rep["report"]["bytes_freed"].as_u64().unwrap();
            }
            freed
        })
    };
    let workers: Vec<_> = (0..2u64)
        .map(|w| {
            let repo = repo.clone();
            let src: PathBuf = scratch.join(format!("src{w}"));
            std::thread::spawn(move || {
                let mut made = Vec::new();
                for i in 0..8u64 {
                    write(&src.join("own.bin"), &content(50_000 + w * 100 + i));
                    let r = (i + w) % rounds;
                    write(&src.join("shared.bin"), &content(garbage(r, i % 3)));
                    if i % 3 == 0 {
                        write(
                            &src.join(format!("keep{i}.bin")),
                            &content(60_000 + w * 100 + i),
                        );
                    }
                    let id = repo.backup(&src);
                    made.push((id, capture(&src)));
                }
                made
            })
        })
        .collect();
    let made: Vec<_> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let freed = pruner.join().unwrap();
    assert!(
        freed > 0,
        "prune never freed anything: the race was not exercised"
    );
    assert_eq!(made.len(), 16);
    for (id, want) in &made {
        repo.assert_restores(id, want, scratch);
    }
    repo.check_read_data();
    // Nothing is left held back once everyone has finished.
    let r = repo.json(&["prune"])["report"].clone();
    assert!(r["plans_deferred"].as_array().unwrap().is_empty(), "{r}");
    for (id, want) in &made {
        repo.assert_restores(id, want, scratch);
    }
}

#[test]
fn backups_never_fail_or_lose_data_while_prune_runs_local() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("repo");
    init(&dir);
    backups_race_prune(Repo::local(&dir), t.path());
}

#[test]
fn backups_never_fail_or_lose_data_while_prune_runs_on_s3() {
    let t = tempfile::tempdir().unwrap();
    let repo = Repo::on_s3("prune-race");
    let o = repo.run(&["init"]);
    assert!(o.status.success(), "{}", stderr(&o));
    backups_race_prune(repo, t.path());
}

#[test]
fn forget_explains_itself_and_guards_the_newest() {
    let t = tempfile::tempdir().unwrap();
    let (src, dir) = (t.path().join("src"), t.path().join("repo"));
    let repo = Repo::local(&dir);
    init(&dir);
    let mut ids = Vec::new();
    for i in 0..3 {
        write(&src.join("f"), &content(i));
        ids.push(repo.backup(&src));
    }
    let o = repo.run(&["forget", &ids[2]]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("snapshot {} is the newest of dir ", &ids[2][..8]))
            && stderr(&o).contains("pass --force to forget it"),
        "{}",
        stderr(&o)
    );
    // No policy is a usage error: exit 2, as the README's exit codes say.
    let o = repo.run(&["forget"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no retention policy given"),
        "{}",
        stderr(&o)
    );

    let dry = repo.json(&["forget", "--keep-last", "1", "--dry-run"]);
    let d = &dry["groups"][0]["decisions"];
    assert_eq!(dry["dry_run"], true);
    assert_eq!(d[0]["id"], ids[2].as_str());
    assert_eq!(d[0]["reasons"], serde_json::json!(["last"]));
    assert_eq!(
        (d[1]["keep"].clone(), d[2]["keep"].clone()),
        (false.into(), false.into())
    );
    let text = String::from_utf8(
        repo.run(&["forget", "--keep-last", "1", "--dry-run"])
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains("keep 1, would forget 2") && text.contains("last"),
        "{text}"
    );
    assert_eq!(repo.json(&["snapshots"]).as_array().unwrap().len(), 3);

    let r = repo.json(&["forget", "--keep-last", "1", "--prune"]);
    assert_eq!(r["groups"][0]["decisions"].as_array().unwrap().len(), 3);
    assert_eq!(repo.json(&["snapshots"]).as_array().unwrap().len(), 1);
    repo.assert_restores(&ids[2], &capture(&src), t.path());
    repo.check_read_data();
}

/// Space a killed writer leaves: its staged upload files, which listings do
/// not show, are reported by `check` and removed by `prune` once an hour
/// old (a fresh one may be a live writer's); its packs that no index names
/// wait 24 hours unless the operator asserts nothing is running.
#[test]
fn staged_files_and_unindexed_packs_can_be_freed() {
    let t = tempfile::tempdir().unwrap();
    let (src, dir) = (t.path().join("src"), t.path().join("repo"));
    let repo = Repo::local(&dir);
    init(&dir);
    write(&src.join("a.bin"), &content(1));
    repo.backup(&src);
    let shard = std::fs::read_dir(dir.join("data"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let old_staged = shard.join(format!("{}#1", "ab".repeat(32)));
    let new_staged = shard.join(format!("{}#2", "cd".repeat(32)));
    std::fs::write(&old_staged, vec![1u8; 300_000]).unwrap();
    std::fs::write(&new_staged, vec![2u8; 1000]).unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&old_staged)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    // A killed backup's pack: written, never indexed.
    let pack = std::fs::read_dir(&shard)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| !p.to_string_lossy().contains('#'))
        .unwrap();
    std::fs::create_dir_all(dir.join("data/ef")).unwrap();
    let orphan = dir.join("data/ef").join("ef".repeat(32));
    std::fs::copy(&pack, &orphan).unwrap();

    let o = repo.run(&["check"]);
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(
        out.contains("2 staged upload file(s), 301000 bytes, left by interrupted writers"),
        "{out}"
    );
    assert!(out.contains("is not in any index"), "{out}");

    let r = repo.json(&["prune"])["report"].clone();
    assert_eq!(r["staged_removed"], 1, "{r}");
    assert_eq!(r["staged_bytes_freed"], 300_000, "{r}");
    assert_eq!(r["packs_unindexed"], 0, "{r}");
    assert!(!old_staged.exists() && new_staged.exists() && orphan.exists());

    let r = repo.json(&["prune", "--unindexed-now"])["report"].clone();
    assert_eq!(r["packs_unindexed"], 1, "{r}");
    assert!(!orphan.exists(), "{r}");
    repo.check_read_data();
}

/// What prune holds back, it names with a time: a killed backup's packs
/// (no index names them) until they are a day old, and a plan until the
/// session holding it ends or goes stale.
#[test]
fn prune_says_what_it_holds_back_and_until_when() {
    let t = tempfile::tempdir().unwrap();
    let (src, dir) = (t.path().join("src"), t.path().join("repo"));
    write(&src.join("a.bin"), &noise(1, 2_000_000));
    init(&dir);
    let o = cmd(&dir)
        .env("JARC_FAILPOINT", "after-pack")
        .args(["backup", "--media", src.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        None,
        "backup was not killed: {}",
        stderr(&o)
    );
    let r = json(&dir, &["prune"])["report"].clone();
    assert_eq!(r["packs_unindexed"], 0, "{r}");
    assert!(r["packs_unindexed_held"].as_u64().unwrap() >= 1, "{r}");
    let until = r["unindexed_held_until"].as_str().unwrap();
    let day = time::Duration::days(1);
    let t_until =
        time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339).unwrap();
    let now = time::OffsetDateTime::now_utc();
    assert!(
        t_until > now + day - time::Duration::minutes(5)
            && t_until < now + day + time::Duration::minutes(5),
        "{until}"
    );
    let text = ok(&dir, &["prune"]);
    assert!(
        text.contains("held back: ") && text.contains(&until[..13]),
        "{text}"
    );
}
