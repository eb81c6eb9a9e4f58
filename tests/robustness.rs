//! Interruption, corruption and bad input: the repository stays valid,
//! damage is named, and errors say what is wrong without writing anything.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use support::*;

fn dataset(src: &Path, files: u64, size: usize) {
    for i in 0..files {
        write(&src.join(format!("media/{i:03}.jpg")), &noise(i + 1, size));
    }
}

fn assert_check_clean(repo: &Path) {
    let c = json(repo, &["check", "--read-data"]);
    assert_eq!(c["ok"], true, "check after interruption: {c}");
}

#[test]
fn interrupted_backups_leave_a_valid_repository() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    // 80 MB: more than two 32 MiB packs, so "after-pack" fires mid-run.
    dataset(&src, 80, 1_000_000);
    init(&repo);
    let mut committed = 0;
    for point in [
        "after-pack",
        "before-tree-copy",
        "before-index",
        "before-snapshot",
    ] {
        let o = cmd(&repo)
            .env("JARC_FAILPOINT", point)
            .args(["backup", "--media", src.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            !o.status.success(),
            "failpoint {point} did not stop the backup"
        );
        assert!(stderr(&o).contains(&format!("failpoint {point}")));
        assert_check_clean(&repo);
        assert_eq!(
            json(&repo, &["snapshots"]).as_array().unwrap().len(),
            committed
        );
    }
    // A kill that provably lands before the commit: the backup pauses
    // with its packs and index written, and is killed there.
    let go = t.path().join("go");
    let mut child = cmd(&repo)
        .env(
            "JARC_FAILPOINT",
            format!("before-snapshot:pause={}", go.display()),
        )
        .args(["backup", "--force-read", "--media", src.to_str().unwrap()])
        .spawn()
        .unwrap();
    wait_paused(&mut child, &go, 120);
    child.kill().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    assert_check_clean(&repo);
    assert_eq!(
        json(&repo, &["snapshots"]).as_array().unwrap().len(),
        committed
    );
    // Real kills at several moments of a run.
    for delay_ms in [30u64, 120, 400] {
        let mut child = cmd(&repo)
            .args(["backup", "--force-read", "--media", src.to_str().unwrap()])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let status = child.wait().unwrap();
        assert_check_clean(&repo);
        // A kill that lands after the snapshot was written but before the
        // process exited still leaves a committed snapshot.
        let now = json(&repo, &["snapshots"]).as_array().unwrap().len();
        if status.success() {
            assert_eq!(now, committed + 1);
        } else {
            assert!(
                now == committed || now == committed + 1,
                "{now} after {committed}"
            );
        }
        committed = now;
    }
    ok(&repo, &["backup", "--media", src.to_str().unwrap()]);
    let out = t.path().join("out");
    ok(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(capture(&src), capture(&out));
    assert_check_clean(&repo);
}

#[test]
fn a_flipped_byte_is_found_named_and_contained() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo, out) = (
        t.path().join("src"),
        t.path().join("repo"),
        t.path().join("out"),
    );
    // Small files are one chunk each, so the first blob of the pack is one file.
    dataset(&src, 10, 100_000);
    init(&repo);
    let snap = json(&repo, &["backup", "--media", src.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let packs: Vec<String> = listing(&repo.join("data"))
        .keys()
        .filter(|k| !k.ends_with('/'))
        .cloned()
        .collect();
    // The data pack is the big one; the other holds tree nodes.
    let data_pack = packs
        .iter()
        .max_by_key(|p| fs::metadata(repo.join("data").join(p)).unwrap().len())
        .unwrap();
    let path = repo.join("data").join(data_pack);
    let mut bytes = fs::read(&path).unwrap();
    bytes[50] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let pack_id = data_pack.rsplit('/').next().unwrap();

    // Structure alone does not read data, so it passes.
    ok(&repo, &["check"]);
    let o = run(&repo, &["check", "--read-data"]);
    assert_eq!(o.status.code(), Some(3));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&format!("damaged: pack {pack_id}")), "{text}");
    assert!(text.contains("ERRORS FOUND"));
    let report = json_status(&repo, &["check", "--read-data"]);
    let damage = report["report"]["damage"].as_array().unwrap();
    let affected: Vec<&str> = damage
        .iter()
        .flat_map(|d| {
            d["affects"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
        })
        .collect();
    assert_eq!(affected.len(), 1, "{report}");
    let (short, key) = affected[0].split_once(':').unwrap();
    assert!(snap.starts_with(short));

    let o = run(
        &repo,
        &[
            "--json",
            "restore",
            "latest",
            "--target",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let failed = r["summary"]["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0][0], key);
    assert!(
        // Encrypted: the damaged blob's box does not authenticate.
        failed[0][1]
            .as_str()
            .unwrap()
            .ends_with("is corrupt: it does not authenticate (damaged)"),
        "{r}"
    );
    let mut want = capture(&src);
    want.remove(key);
    assert_eq!(capture(&out), want);
    assert!(
        !out.join(key).exists(),
        "a damaged file must not be left half-written"
    );
}

fn json_status(repo: &Path, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    serde_json::from_slice(&run(repo, &a).stdout).unwrap()
}

#[test]
fn missing_source_is_a_clear_error_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    init(&repo);
    let before = listing(&repo);
    let missing = t.path().join("no-such-dir");
    let o = run(&repo, &["backup", "--media", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "jarc: error: source directory {} does not exist",
            missing.display()
        )
    );
    assert_eq!(listing(&repo), before);
}

#[test]
fn an_unreadable_file_is_skipped_named_and_the_rest_saved() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    write(&src.join("ok.jpg"), &noise(1, 1000));
    write(&src.join("secret.jpg"), &noise(2, 1000));
    write(&src.join("sub/hidden.jpg"), &noise(3, 1000));
    fs::set_permissions(src.join("secret.jpg"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(src.join("sub"), fs::Permissions::from_mode(0o000)).unwrap();
    init(&repo);
    let root = unsafe { libc::geteuid() } == 0;
    let o = if root {
        // root reads anything: run as `nobody` so the permission bites.
        for p in [t.path(), &src] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::process::Command::new("chmod")
            .args(["-R", "a+rwX"])
            .arg(&repo)
            .status()
            .unwrap();
        // The checkout may sit under a directory `nobody` cannot enter.
        let bin = t.path().join("jarc");
        fs::copy(jarc_bin(), &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .arg("--repo")
            .arg(&repo)
            .args(["backup", "--media", src.to_str().unwrap()])
            .envs(KEY_ENV)
            .env_remove("JARC_REPOSITORY")
            .output()
            .unwrap()
    } else {
        run(&repo, &["backup", "--media", src.to_str().unwrap()])
    };
    // Saved, with everything it could read; each object left out named;
    // exit 3 so that a monitor tells it from success and from failure.
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let base = fs::canonicalize(&src).unwrap();
    for want in [
        format!(
            "secret.jpg: skipped: cannot read {}: Permission denied",
            base.join("secret.jpg").display()
        ),
        format!(
            "sub: skipped: cannot read {}: Permission denied",
            base.join("sub").display()
        ),
        "2 media object(s) could not be read and are not in the snapshot: secret.jpg, sub"
            .to_string(),
    ] {
        assert!(stderr(&o).contains(&want), "{want}\n{}", stderr(&o));
    }
    let snaps = json(&repo, &["snapshots"]);
    assert_eq!(snaps.as_array().unwrap().len(), 1);
    assert_eq!(snaps[0]["skipped"], 2);
    assert_eq!(snaps[0]["summary"]["files"], 1);
    let out = t.path().join("out");
    ok(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(fs::read(out.join("ok.jpg")).unwrap(), noise(1, 1000));
    assert!(!out.join("secret.jpg").exists());
    let c = json(&repo, &["check"]);
    assert_eq!(c["ok"], true, "{c}");
}

/// A file deleted between the scan and the read (Jant deleting a media
/// object mid-backup) is left out and named; the rest is saved.
#[test]
fn a_file_that_vanishes_mid_backup_is_skipped_and_the_rest_saved() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    write(&src.join("a.jpg"), &noise(1, 300_000));
    write(&src.join("gone.jpg"), &noise(2, 300_000));
    init(&repo);
    let go = t.path().join("go");
    let mut child = cmd(&repo)
        .env(
            "JARC_FAILPOINT",
            format!("after-scan:pause={}", go.display()),
        )
        .args(["--json", "backup", "--media", src.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_paused(&mut child, &go, 60);
    fs::remove_file(src.join("gone.jpg")).unwrap();
    fs::write(&go, b"").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["skipped"][0]["key"], "gone.jpg", "{s}");
    assert!(
        s["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("No such file"),
        "{s}"
    );
    assert_eq!(
        (s["files"].as_u64(), s["files_new"].as_u64()),
        (Some(1), Some(1))
    );
    let out = t.path().join("out");
    ok(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(capture(&out), capture(&src));
}

#[test]
fn not_a_repository_foreign_format_and_unknown_version() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write(&src.join("a"), b"x");

    let empty = t.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let o = run(&empty, &["snapshots"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "{} is not a jarc repository (no config object); create one with `jarc init --repo {}`",
            empty.display(),
            empty.display()
        )),
        "{}",
        stderr(&o)
    );
    assert!(listing(&empty).is_empty());

    let missing = t.path().join("missing");
    let o = run(&missing, &["backup", "--media", src.to_str().unwrap()]);
    assert!(
        stderr(&o).contains("is not a jarc repository"),
        "{}",
        stderr(&o)
    );
    assert!(!missing.exists());

    let foreign = t.path().join("restic-like");
    write(
        &foreign.join("config"),
        br#"{"version":2,"id":"5f1b","chunker_polynomial":"3dea92648f6e83"}"#,
    );
    let before = listing(&foreign);
    let o = run(&foreign, &["backup", "--media", src.to_str().unwrap()]);
    assert!(
        stderr(&o).contains("is not a jarc repository: its config object is not in jarc's format"),
        "{}",
        stderr(&o)
    );
    assert_eq!(listing(&foreign), before);

    let future = t.path().join("future");
    init(&future);
    // A newer jarc writes the copy first, then the config (format-spec §3).
    let cfg = future.join("config");
    let mut b = fs::read(&cfg).unwrap();
    b[4..6].copy_from_slice(&99u16.to_le_bytes());
    fs::write(future.join("config.copy"), &b).unwrap();
    fs::write(&cfg, &b).unwrap();
    let before = listing(&future);
    let o = run(&future, &["backup", "--media", src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "config has format version 99, which this jarc does not support (it reads version 1 to 3)"
        ),
        "{}",
        stderr(&o)
    );
    assert_eq!(listing(&future), before);

    let o = run(&future, &["init"]);
    assert!(
        stderr(&o).contains("already holds a jarc repository; refusing to initialise over it"),
        "{}",
        stderr(&o)
    );
    assert_eq!(listing(&future), before);

    let nowhere = tempfile::tempdir().unwrap();
    let o = bare()
        .env_remove("JARC_REPOSITORY")
        .current_dir(nowhere.path())
        .arg("snapshots")
        .output()
        .unwrap();
    assert_eq!(
        stderr(&o),
        "jarc: error: no repository given and ./backups/jarc does not exist: pass --repo PATH, set JARC_REPOSITORY, or run `jarc backup` to create the default one\n"
    );
}

/// A media file that another process truncates and rewrites while
/// backups read it never kills jarc (a mapped file would, with SIGBUS):
/// each backup ends with an exit code, and once the file holds still the
/// next backup restores byte-identical.
#[test]
fn a_file_truncated_while_it_is_read_never_kills_the_backup() {
    let d = tempfile::tempdir().unwrap();
    let (src, repo) = (d.path().join("src"), d.path().join("repo"));
    fs::create_dir_all(&src).unwrap();
    let body = noise(5, 16 << 20);
    fs::write(src.join("video.mp4"), &body).unwrap();
    fs::write(src.join("still.png"), noise(6, 100_000)).unwrap();
    ok(&repo, &["init"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let (stop, path, body) = (stop.clone(), src.join("video.mp4"), body.clone());
        std::thread::spawn(move || {
            let mut rounds = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && rounds < 100_000 {
                let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
                f.set_len(0).unwrap();
                f.set_len(1 << 20).unwrap();
                drop(f);
                fs::write(&path, &body).unwrap();
                rounds += 1;
            }
            rounds
        })
    };
    for i in 0..10 {
        let o = run(&repo, &["backup", "--media", src.to_str().unwrap()]);
        assert!(
            o.status.code().is_some(),
            "backup {i} was killed by a signal: {:?}\n{}",
            o.status,
            stderr(&o)
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(churn.join().unwrap() > 0, "the file never changed");
    fs::write(src.join("video.mp4"), &body).unwrap();
    ok(&repo, &["backup", "--media", src.to_str().unwrap()]);
    let out = d.path().join("out");
    ok(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(capture(&out), capture(&src));
    assert_check_clean(&repo);
}

/// `restore --overwrite` into a target that already holds a symlink where
/// the snapshot has a directory (or a file) never writes through it: the
/// link's target is untouched, the entries below it are named as failed
/// (exit 3), a symlink where a file goes is replaced by the file, and no
/// temporary file is left behind.
#[test]
fn restore_never_writes_through_a_symlink_in_the_target() {
    let d = tempfile::tempdir().unwrap();
    let (src, repo, tgt, victim) = (
        d.path().join("src"),
        d.path().join("repo"),
        d.path().join("tgt"),
        d.path().join("victim"),
    );
    write(&src.join("sub/b.txt"), b"from the snapshot");
    write(&src.join("top.txt"), b"top");
    ok(&repo, &["init"]);
    ok(&repo, &["backup", "--media", src.to_str().unwrap()]);
    write(&victim.join("b.txt"), b"victim's own");
    write(&victim.join("secret"), b"keep");
    fs::create_dir_all(&tgt).unwrap();
    std::os::unix::fs::symlink(&victim, tgt.join("sub")).unwrap();
    std::os::unix::fs::symlink(victim.join("secret"), tgt.join("top.txt")).unwrap();
    let o = run(
        &repo,
        &[
            "restore",
            "latest",
            "--target",
            tgt.to_str().unwrap(),
            "--overwrite",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("is a symbolic link or not a directory; a restore never writes through one"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read(victim.join("b.txt")).unwrap(), b"victim's own");
    assert_eq!(fs::read(victim.join("secret")).unwrap(), b"keep");
    // The file replaced the symlink that stood in its place.
    assert!(!fs::symlink_metadata(tgt.join("top.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(tgt.join("top.txt")).unwrap(), b"top");
    let names: Vec<String> = fs::read_dir(&tgt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains("jarc-partial")),
        "{names:?}"
    );
}

/// A media restore killed while a file is being written leaves nothing
/// under that file's final name (no zero-filled file that looks restored),
/// and a rerun with `--overwrite` finishes the job byte-identical, leaving
/// no temporary file.
#[test]
fn a_killed_restore_leaves_no_partial_file_and_a_rerun_finishes_it() {
    let d = tempfile::tempdir().unwrap();
    let (src, repo, tgt) = (
        d.path().join("src"),
        d.path().join("repo"),
        d.path().join("tgt"),
    );
    dataset(&src, 6, 300_000);
    ok(&repo, &["init"]);
    ok(&repo, &["backup", "--media", src.to_str().unwrap()]);
    let o = cmd(&repo)
        .env("JARC_FAILPOINT", "restore-mid-file")
        .args(["restore", "latest", "--target", tgt.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        None,
        "the restore was not killed: {}",
        stderr(&o)
    );
    let mut partial = 0;
    for rel in listing(&tgt).into_keys().filter(|k| !k.ends_with('/')) {
        if rel.ends_with(".jarc-partial") {
            partial += 1;
        } else {
            // Anything under a final name is complete.
            assert_eq!(
                fs::read(tgt.join(&rel)).unwrap(),
                fs::read(src.join(&rel)).unwrap(),
                "{rel}"
            );
        }
    }
    assert!(partial >= 1, "the kill did not land inside a file");
    ok(
        &repo,
        &[
            "restore",
            "latest",
            "--target",
            tgt.to_str().unwrap(),
            "--overwrite",
        ],
    );
    assert_eq!(capture(&tgt), capture(&src));
}

/// Commands that only read work on a repository they cannot write (here
/// owned by root and run as `nobody`, as with a read-only mount or bucket
/// key): restore, check and export succeed, saying that they run without
/// a session marker; the repository is left exactly as it was.
#[test]
fn reading_commands_work_on_a_read_only_repository() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo, out) = (
        t.path().join("src"),
        t.path().join("repo"),
        t.path().join("out"),
    );
    let data = src.join("data");
    jarc::demo::fixture::create_sqlite_site(&data, 5).unwrap();
    init(&repo);
    ok(&repo, &["backup", "--data-dir", data.to_str().unwrap()]);
    // A repository is its owner's alone (0700/0600); shared read-only here,
    // as a read-only mount or bucket key would share it.
    std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&repo)
        .status()
        .unwrap();
    let before = listing(&repo);
    fs::create_dir_all(&out).unwrap();
    let root = unsafe { libc::geteuid() } == 0;
    for p in [t.path(), &out] {
        fs::set_permissions(
            p,
            fs::Permissions::from_mode(if p == out { 0o777 } else { 0o755 }),
        )
        .unwrap();
    }
    let bin = t.path().join("jarc");
    fs::copy(jarc_bin(), &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    if !root {
        std::process::Command::new("chmod")
            .args(["-R", "a-w"])
            .arg(&repo)
            .status()
            .unwrap();
    }
    let as_reader = |args: &[&str]| {
        let mut c = if root {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&bin);
            c
        } else {
            std::process::Command::new(&bin)
        };
        keyed(&mut c)
            .env_remove("JARC_REPOSITORY")
            .arg("--repo")
            .arg(&repo)
            .args(args);
        c.output().unwrap()
    };
    let cases: Vec<Vec<String>> = vec![
        vec![
            "restore".into(),
            "latest".into(),
            "--target-data-dir".into(),
            out.join("site").display().to_string(),
        ],
        vec!["check".into(), "--read-data".into()],
        vec![
            "export".into(),
            "latest".into(),
            "--output".into(),
            out.join("site.zip").display().to_string(),
        ],
        vec![
            "drill".into(),
            "--scratch".into(),
            out.join("scratch").display().to_string(),
        ],
    ];
    for args in &cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = as_reader(&a);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("the repository cannot be written")
                && stderr(&o).contains("reading without a session marker"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert!(out.join("site/jant.sqlite").is_file() && out.join("site.zip").is_file());
    if !root {
        std::process::Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(&repo)
            .status()
            .unwrap();
    }
    assert_eq!(listing(&repo), before);
}

/// Repository files are 0600 and directories 0700 whatever the umask: the
/// repository holds the site's auth tables.
#[test]
fn repository_files_are_private_whatever_the_umask() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    dataset(&src, 3, 50_000);
    init(&repo);
    ok(&repo, &["backup", "--media", src.to_str().unwrap()]);
    ok(&repo, &["check"]);
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&repo), 0o700);
    let mut files = 0;
    for (rel, _) in listing(&repo) {
        let want = if rel.ends_with('/') { 0o700 } else { 0o600 };
        assert_eq!(mode(&repo.join(rel.trim_end_matches('/'))), want, "{rel}");
        files += !rel.ends_with('/') as usize;
    }
    assert!(files >= 4, "{files}");
}

fn sigint(child: &std::process::Child) {
    let ok = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Ctrl-C mid-backup: jarc says so, commits nothing, and indexes what it
/// uploaded, so the next backup stores less than half the data again.
#[test]
fn an_interrupted_backup_stops_cleanly_and_the_next_reuses_its_uploads() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    // 60 MB: the first 32 MiB pack is more than half of it.
    dataset(&src, 60, 1_000_000);
    init(&repo);
    let go = t.path().join("go");
    let mut child = cmd(&repo)
        .env(
            "JARC_FAILPOINT",
            format!("after-pack:pause={}", go.display()),
        )
        .args(["backup", "--media", src.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_paused(&mut child, &go, 60);
    sigint(&child);
    std::thread::sleep(Duration::from_millis(200));
    fs::write(&go, b"").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("jarc: interrupted: stopping after the current files"),
        "{err}"
    );
    assert!(
        err.contains("interrupted: nothing was committed; the ")
            && err.contains("pack(s) it uploaded"),
        "{err}"
    );
    assert_eq!(json(&repo, &["snapshots"]).as_array().unwrap().len(), 0);
    assert_check_clean(&repo);
    let again = json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    let stored = again["bytes_new_stored"].as_u64().unwrap();
    assert!(
        stored < 30_000_000,
        "the next backup stored {stored} bytes again"
    );
    let out = t.path().join("out");
    ok(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(capture(&src), capture(&out));
}

/// A deleted index file costs no data and a damaged one stops nothing for
/// good: `repair index` rebuilds both from the packs' own headers, after
/// which check is clean (no unindexed packs left for prune to take) and
/// every snapshot restores identical.
#[test]
fn repair_index_rebuilds_deleted_and_damaged_index_files() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    dataset(&src, 3, 400_000);
    init(&repo);
    json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    write(&src.join("later.bin"), &noise(77, 300_000));
    json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    let index: Vec<String> = listing(&repo)
        .into_keys()
        .filter(|k| k.starts_with("index/") && !k.ends_with('/'))
        .collect();
    assert_eq!(index.len(), 2, "{index:?}");

    // One deleted: its packs look like leftovers.
    fs::remove_file(repo.join(&index[0])).unwrap();
    let o = run(&repo, &["--json", "check"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        !c["report"]["warnings"].as_array().unwrap().is_empty(),
        "{c}"
    );
    let r = json(&repo, &["repair", "index"]);
    assert!(r["packs_indexed"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(r["index_files_written"], 1, "{r}");
    assert_eq!(r["packs_unreadable"], serde_json::json!([]), "{r}");
    let c = json(&repo, &["check", "--read-data"]);
    assert_eq!(c["ok"], true, "{c}");
    assert_eq!(c["report"]["warnings"], serde_json::json!([]), "{c}");
    let p = json(&repo, &["prune", "--unindexed-now", "--dry-run"])["report"].clone();
    assert_eq!(p["packs_unindexed"], 0, "{p}");

    // One damaged: readers go on past it and say so, a backup and a
    // prune stop naming it; repair replaces it.
    let damaged = index[1].clone();
    let mut b = fs::read(repo.join(&damaged)).unwrap();
    b[10] ^= 1;
    fs::write(repo.join(&damaged), b).unwrap();
    let o = run(&repo, &["snapshots"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with(&format!(
            "jarc: warning: 1 damaged index file(s) ({damaged}: content does not match its name (hash mismatch)); this run indexed "
        )),
        "{}",
        stderr(&o)
    );
    for args in [
        &["prune"][..],
        &["prune", "--dry-run"],
        &["backup", "--media", src.to_str().unwrap()],
    ] {
        let o = run(&repo, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains(&format!(
                "{damaged} is corrupt: content does not match its name"
            )),
            "{}",
            stderr(&o)
        );
    }
    let r = json(&repo, &["repair", "index"]);
    assert_eq!(
        r["damaged_index_files_removed"],
        serde_json::json!([damaged]),
        "{r}"
    );
    assert!(r["packs_indexed"].as_u64().unwrap() >= 1, "{r}");
    assert_check_clean(&repo);
    for s in json(&repo, &["snapshots"]).as_array().unwrap() {
        let out = t
            .path()
            .join(format!("out-{}", s["short_id"].as_str().unwrap()));
        ok(
            &repo,
            &[
                "restore",
                s["id"].as_str().unwrap(),
                "--target",
                out.to_str().unwrap(),
            ],
        );
    }
    let out = t.path().join(format!(
        "out-{}",
        json(&repo, &["snapshots"])[1]["short_id"].as_str().unwrap()
    ));
    assert_eq!(capture(&out), capture(&src));
    // Nothing left to repair.
    let r = json(&repo, &["repair", "index"]);
    assert_eq!(
        (
            r["packs_indexed"].as_u64(),
            r["index_files_written"].as_u64()
        ),
        (Some(0), Some(0))
    );
}

/// Packs of tree nodes are kept twice (format-spec §4.3): each has a copy
/// of the same bytes and data packs have none; a lost tree pack costs no
/// file and `repair copies` writes it back from its copy (and a lost copy
/// from its pack); prune deletes a copy with its pack, and a copy whose
/// pack is gone.
#[test]
fn tree_packs_are_kept_twice_and_a_lost_one_costs_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    dataset(&src, 40, 50_000);
    init(&repo);
    let snap = json(&repo, &["backup", "--media", src.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let copies: Vec<String> = listing(&repo.join("tree-copies"))
        .into_keys()
        .filter(|k| !k.ends_with('/'))
        .collect();
    let tree_packs: Vec<jarc::Id> = {
        let r = open_repo(repo.to_str().unwrap()).unwrap();
        let set: std::collections::BTreeSet<jarc::Id> = r
            .index()
            .iter()
            .filter(|(_, l)| l.kind == jarc::pack::BlobKind::Tree)
            .map(|(_, l)| l.pack)
            .collect();
        set.into_iter().collect()
    };
    assert_eq!(pack_count(&repo), tree_packs.len() + 1, "one data pack");
    assert_eq!(
        copies,
        tree_packs.iter().map(|p| p.to_hex()).collect::<Vec<_>>()
    );
    let pack = repo.join(jarc::layout::pack(&tree_packs[0]));
    let copy = repo.join(jarc::layout::tree_copy(&tree_packs[0]));
    assert_eq!(fs::read(&pack).unwrap(), fs::read(&copy).unwrap());
    let copy_bytes: u64 = listing(&repo.join("tree-copies")).values().sum();
    assert!(copy_bytes > 0);
    assert_eq!(json(&repo, &["stats"])["tree_copy_bytes"], copy_bytes);
    assert_check_clean(&repo);

    // The tree pack lost: everything restores; check names it; repair
    // writes it back.
    fs::remove_file(&pack).unwrap();
    let out = t.path().join("out");
    ok(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert!(capture(&out) == capture(&src));
    let o = run(&repo, &["check"]);
    assert_eq!(o.status.code(), Some(3));
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.contains("is missing"), "{said}");
    let r = json(&repo, &["repair", "copies"]);
    assert_eq!(
        r["written"],
        serde_json::json!([jarc::layout::pack(&tree_packs[0])]),
        "{r}"
    );
    assert_check_clean(&repo);

    // The copy lost: a warning; repair writes it back.
    fs::remove_file(&copy).unwrap();
    let c = json(&repo, &["check"]);
    assert_eq!(c["ok"], true, "{c}");
    assert!(
        c["report"]["warnings"].to_string().contains("have no copy"),
        "{c}"
    );
    let r = json(&repo, &["repair", "copies"]);
    assert_eq!(
        r["written"],
        serde_json::json!([jarc::layout::tree_copy(&tree_packs[0])]),
        "{r}"
    );
    assert_eq!(fs::read(&pack).unwrap(), fs::read(&copy).unwrap());

    // Prune takes copies with their packs, and copies left without one.
    let orphan = repo.join(jarc::layout::tree_copy(&jarc::Id([7; 32])));
    fs::write(&orphan, b"left by a killed prune").unwrap();
    let c = json(&repo, &["check"]);
    assert!(
        c["report"]["warnings"].to_string().contains("has no pack"),
        "{c}"
    );
    json(&repo, &["forget", "--force", &snap]);
    let p = json(&repo, &["prune"])["report"].clone();
    assert_eq!(p["tree_copies_deleted"], tree_packs.len() as u64 + 1, "{p}");
    assert_eq!(listing(&repo.join("tree-copies")).len(), 0);
    assert_eq!(pack_count(&repo), 0);
}
