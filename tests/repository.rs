//! Backup, restore, dedup, change detection, diff and snapshot listing
//! against a real local repository, through the real `jarc` binary.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use support::*;

fn set_mtime(p: &Path, secs: i64, nanos: u32) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::new(secs as u64, nanos);
    fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[test]
fn round_trip_of_awkward_trees_is_byte_identical() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo, out) = (
        t.path().join("src"),
        t.path().join("repo"),
        t.path().join("out"),
    );
    fs::create_dir_all(src.join("empty/dir")).unwrap();
    write(&src.join("zero"), b"");
    write(&src.join("nested/zero too"), b"");
    write(
        &src.join("名前 with spaces/ünïcödé file.txt"),
        "snow ☃ and\nnewlines\n".as_bytes(),
    );
    let mut deep = src.clone();
    for i in 0..40 {
        deep = deep.join(format!("d{i}"));
    }
    write(&deep.join("leaf.bin"), &noise(1, 10_000));
    let big = noise(7, 300 * 1024 * 1024);
    write(&src.join("video/big.mp4"), &big);
    let dup = noise(8, 3_000_000);
    write(&src.join("dup/a.jpg"), &dup);
    write(&src.join("dup/b.jpg"), &dup);
    std::os::unix::fs::symlink("../zero", src.join("nested/link")).unwrap();
    fs::set_permissions(src.join("zero"), fs::Permissions::from_mode(0o600)).unwrap();
    set_mtime(&src.join("dup/a.jpg"), 1_600_000_000, 123_456_789);

    init(&repo);
    let b = json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    assert_eq!(b["files"], 8, "{b}");
    // The duplicated 3 MB file is stored once: 300 MiB + 3 MB + metadata
    // (blobs as stored; packs add their headers and padding, §13.4).
    let stored = json(&repo, &["stats"])["stored_blob_bytes"]
        .as_u64()
        .unwrap();
    assert!(stored > big.len() as u64 + 3_000_000, "stored {stored}");
    assert!(stored < big.len() as u64 + 3_500_000, "stored {stored}");
    let packs = pack_bytes(&repo);
    assert!(
        packs >= stored && packs <= stored + stored * 3 / 100,
        "{packs} vs {stored}"
    );

    ok(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(capture(&src), capture(&out));
    ok(&repo, &["check", "--read-data"]);
}

#[test]
fn unchanged_rerun_stores_nothing_and_one_percent_change_stores_about_one_percent() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    for i in 0..200 {
        write(&src.join(format!("media/{i:04}.jpg")), &noise(i, 100_000));
    }
    init(&repo);
    let first = json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    assert_eq!(first["files_new"], 200);
    let packs = pack_count(&repo);
    let bytes = pack_bytes(&repo);

    let second = json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    assert_eq!(second["files_unchanged"], 200);
    assert_eq!(second["bytes_read"], 0);
    assert_eq!(second["blobs_new"], 0);
    assert_eq!(pack_count(&repo), packs, "an unchanged rerun wrote a pack");

    for i in 0..2 {
        write(
            &src.join(format!("media/{i:04}.jpg")),
            &noise(1000 + i, 100_000),
        );
    }
    let third = json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    assert_eq!(third["files_changed"], 2);
    assert_eq!(third["bytes_read"], 200_000);
    let growth = pack_bytes(&repo) - bytes;
    // 1 % of 20 MB of data plus one tree's worth of changed nodes.
    assert!((200_000..260_000).contains(&growth), "growth {growth}");

    let forced = json(
        &repo,
        &["backup", "--force-read", "--media", src.to_str().unwrap()],
    );
    assert_eq!(forced["bytes_read"], 20_000_000);
    assert_eq!(forced["blobs_new"], 0);
}

#[test]
fn metadata_change_is_seen_without_rereading_content() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo, out) = (
        t.path().join("src"),
        t.path().join("repo"),
        t.path().join("out"),
    );
    write(&src.join("a.png"), &noise(3, 5000));
    init(&repo);
    ok(&repo, &["backup", "--media", src.to_str().unwrap()]);
    set_mtime(&src.join("a.png"), 1_000_000_000, 5);
    let b = json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    assert_eq!(b["files_changed"], 1);
    assert_eq!(b["blobs_new"], 1, "only the changed tree node is new: {b}");
    let d = json(&repo, &["diff", &first_id(&repo), "latest"]);
    assert_eq!(d["media"][0]["change"], "metadata");
    ok(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(capture(&src), capture(&out));
}

fn first_id(repo: &Path) -> String {
    json(repo, &["snapshots"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn jant_sidecars_are_metadata_and_multipart_is_skipped() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo, out) = (
        t.path().join("src"),
        t.path().join("repo"),
        t.path().join("out"),
    );
    let key = "media/site1/files/med_1.png";
    write(&src.join(key), &noise(5, 2000));
    let sidecar = br#"{"contentType":"image/png","contentDisposition":"inline","cacheControl":"public, max-age=31536000, immutable"}"#;
    write(&src.join(format!("{key}.meta.json")), sidecar);
    // Not Jant's serialisation (spaces): must still come back byte for byte.
    write(&src.join("media/site1/files/med_2.webp"), b"RIFF");
    write(
        &src.join("media/site1/files/med_2.webp.meta.json"),
        b"{ \"contentType\": \"image/webp\" }\n",
    );
    // A sidecar with no object is an ordinary file.
    write(&src.join("media/orphan.meta.json"), b"{}");
    write(&src.join(".multipart/upl_1/part-1"), b"partial upload");

    init(&repo);
    ok(&repo, &["backup", "--media", src.to_str().unwrap()]);
    let ls = json(&repo, &["ls", "latest"]);
    let keys: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "file")
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        vec![
            key,
            "media/site1/files/med_2.webp",
            "media/orphan.meta.json"
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    let png = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == key)
        .unwrap();
    assert_eq!(png["meta"]["contentType"], "image/png");
    assert_eq!(
        png["meta"]["cacheControl"],
        "public, max-age=31536000, immutable"
    );

    ok(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    fs::remove_dir_all(src.join(".multipart")).unwrap();
    assert_eq!(capture(&src), capture(&out));
}

#[test]
fn diff_cost_follows_the_changes_not_the_listing() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    for i in 0..10_000u64 {
        write(
            &src.join(format!("media/{:02}/{i:05}.txt", i % 50)),
            format!("object {i}").as_bytes(),
        );
    }
    init(&repo);
    ok(&repo, &["backup", "--media", src.to_str().unwrap()]);
    write(&src.join("media/07/00007.txt"), b"changed");
    write(&src.join("media/new.txt"), b"new");
    fs::remove_file(src.join("media/49/09999.txt")).unwrap();
    let b = json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    assert_eq!(b["files_unchanged"], 9_998);
    let stats = json(&repo, &["stats"]);
    let tree_nodes = stats["tree_blobs"].as_u64().unwrap();

    let d = json(&repo, &["diff", &first_id(&repo), "latest"]);
    let changes: Vec<(String, String)> = d["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                c["change"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        changes.contains(&("media/07/00007.txt".into(), "modified".into())),
        "{changes:?}"
    );
    assert!(changes.contains(&("media/new.txt".into(), "added".into())));
    assert!(changes.contains(&("media/49/09999.txt".into(), "removed".into())));
    // Directories whose mtime changed show as metadata changes; nothing else.
    assert!(
        changes
            .iter()
            .all(|(k, c)| c != "metadata" || !k.ends_with(".txt")),
        "{changes:?}"
    );
    let loaded = d["cost"]["nodes_loaded"].as_u64().unwrap();
    assert!(
        loaded * 10 < tree_nodes,
        "diff read {loaded} of {tree_nodes} nodes"
    );
    assert!(d["cost"]["entries_skipped"].as_u64().unwrap() > 9_000);
}

#[test]
fn snapshot_ids_prefixes_and_latest() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    write(&src.join("a"), b"1");
    init(&repo);
    let mut ids = Vec::new();
    for i in 0..20 {
        write(&src.join("a"), format!("{i}").as_bytes());
        ids.push(
            json(
                &repo,
                &[
                    "backup",
                    "--media",
                    src.to_str().unwrap(),
                    "--tag",
                    "nightly",
                ],
            )["snapshot"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let list = json(&repo, &["snapshots"]);
    assert_eq!(list.as_array().unwrap().len(), 20);
    assert_eq!(list[19]["id"], ids[19].as_str());
    assert_eq!(list[0]["tags"][0], "nightly");
    // A unique prefix resolves; a one-character prefix shared by two ids is ambiguous.
    let ls = ok(&repo, &["ls", &ids[3][..8]]);
    assert!(ls.contains(" a"), "{ls}");
    let mut by_first: std::collections::HashMap<char, usize> = Default::default();
    for id in &ids {
        *by_first.entry(id.chars().next().unwrap()).or_default() += 1;
    }
    if let Some((c, _)) = by_first.iter().find(|(_, n)| **n > 1) {
        let o = run(&repo, &["ls", &c.to_string()]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("is ambiguous"), "{}", stderr(&o));
    }
    let o = run(&repo, &["ls", "ffffffffffff0"]);
    assert!(
        stderr(&o).contains("no snapshot matches \"ffffffffffff0\""),
        "{}",
        stderr(&o)
    );
    let restored = t.path().join("out");
    ok(
        &repo,
        &["restore", "latest", "--target", restored.to_str().unwrap()],
    );
    assert_eq!(fs::read(restored.join("a")).unwrap(), b"19");
}

#[test]
fn two_backups_into_one_repository_at_once() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    let (s1, s2) = (t.path().join("s1"), t.path().join("s2"));
    for i in 0..30 {
        write(&s1.join(format!("f{i}")), &noise(i, 400_000));
        // Half the content is shared, so both runs race to store the same chunks.
        write(
            &s2.join(format!("f{i}")),
            &noise(if i % 2 == 0 { i } else { 500 + i }, 400_000),
        );
    }
    init(&repo);
    // The first backup pauses with its packs written and its index not
    // yet: the second runs from start to end inside that window, storing
    // the shared chunks again (it cannot see unindexed packs), so the two
    // provably overlap.
    let go = t.path().join("go");
    let a = support::cmd(&repo)
        .env(
            "JARC_FAILPOINT",
            format!("before-index:pause={}", go.display()),
        )
        .args(["--json", "backup", "--media", s1.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut a = a;
    wait_paused(&mut a, &go, 60);
    let b = support::cmd(&repo)
        .args(["--json", "backup", "--media", s2.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        a.try_wait().unwrap().is_none(),
        "the backups did not overlap"
    );
    fs::write(&go, b"").unwrap();
    let a = a.wait_with_output().unwrap();
    assert!(a.status.success() && b.status.success());
    assert_eq!(json(&repo, &["snapshots"]).as_array().unwrap().len(), 2);
    let c = json(&repo, &["check", "--read-data"]);
    assert_eq!(c["ok"], true, "{c}");
    for (src, n) in [(&s1, 0), (&s2, 1)] {
        let id = json(&repo, &["snapshots"])
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"]["id"] == fs::canonicalize(src).unwrap().to_str().unwrap())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let out = t.path().join(format!("out{n}"));
        ok(&repo, &["restore", &id, "--target", out.to_str().unwrap()]);
        assert_eq!(capture(src), capture(&out));
    }
}

#[test]
fn restore_refuses_a_non_empty_target_without_overwrite() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo, out) = (
        t.path().join("src"),
        t.path().join("repo"),
        t.path().join("out"),
    );
    write(&src.join("a"), b"new");
    write(&out.join("a"), b"old");
    write(&out.join("keep"), b"mine");
    init(&repo);
    ok(&repo, &["backup", "--media", src.to_str().unwrap()]);
    let o = run(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is not empty; pass --overwrite"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read(out.join("a")).unwrap(), b"old");
    // Usage errors exit 2: no target at all, or a flag that does not apply.
    let o = run(&repo, &["restore", "latest"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("say where to restore"),
        "{}",
        stderr(&o)
    );
    let o = run(&repo, &["demo", t.path().join("d").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--repo does not apply"),
        "{}",
        stderr(&o)
    );
    // Under --json the error is one JSON document on stderr: its kind, the
    // message, and the flag that gets past it.
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
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(e["error"]["kind"], "target-not-empty");
    assert_eq!(e["error"]["hint"], "pass --overwrite to write into it");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with(&format!("restore target {} is not empty", out.display())),
        "{message}"
    );
    ok(
        &repo,
        &[
            "restore",
            "latest",
            "--overwrite",
            "--target",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(fs::read(out.join("a")).unwrap(), b"new");
    assert_eq!(fs::read(out.join("keep")).unwrap(), b"mine");
}

/// `jarc ls latest | head -c 10`: a closed stdout ends jarc quietly, with
/// no panic and no backtrace.
#[test]
fn a_closed_stdout_ends_quietly() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    for i in 0..3000 {
        write(
            &src.join(format!("dir/file-with-a-long-name-{i:05}.txt")),
            b"x",
        );
    }
    init(&repo);
    ok(&repo, &["backup", "--media", src.to_str().unwrap()]);
    let mut child = cmd(&repo)
        .args(["ls", "latest"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 10];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    drop(out);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("panicked") && o.status.code() != Some(101),
        "{:?}: {err}",
        o.status
    );
}

/// `JARC_REPOSITORY` in the site's `.env` names the repository, as Jant's
/// own variables there do; the shell's value wins over it.
#[test]
fn jarc_variables_in_dot_env_are_honoured() {
    let t = tempfile::tempdir().unwrap();
    let (site, repo) = (t.path().join("site"), t.path().join("repo"));
    fs::create_dir_all(&site).unwrap();
    init(&repo);
    fs::write(
        site.join(".env"),
        format!("DATA_DIR=./data\nJARC_REPOSITORY={}\n", repo.display()),
    )
    .unwrap();
    let o = support::bare()
        .current_dir(&site)
        .env_remove("JARC_REPOSITORY")
        .args(["--json", "snapshots"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
    let o = support::bare()
        .current_dir(&site)
        .env("JARC_REPOSITORY", t.path().join("elsewhere"))
        .args(["snapshots"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("elsewhere is not a jarc repository"),
        "{}",
        stderr(&o)
    );
}

/// `snapshots` filters by host, tag and source; `dump` writes one object's
/// bytes exactly, and names what it cannot find.
#[test]
fn snapshot_filters_and_dump() {
    let t = tempfile::tempdir().unwrap();
    let (a, b, repo) = (
        t.path().join("a"),
        t.path().join("b"),
        t.path().join("repo"),
    );
    let big = noise(11, 5_000_000);
    write(&a.join("dir/big.bin"), &big);
    write(&b.join("small.txt"), b"small");
    init(&repo);
    let sa = a.to_str().unwrap();
    let sb = b.to_str().unwrap();
    json(
        &repo,
        &[
            "backup", "--media", sa, "--host", "h1", "--tag", "x", "--tag", "y",
        ],
    );
    json(
        &repo,
        &["backup", "--media", sb, "--host", "h2", "--tag", "x"],
    );
    let count = |args: &[&str]| {
        let mut v = vec!["snapshots"];
        v.extend_from_slice(args);
        json(&repo, &v).as_array().unwrap().len()
    };
    assert_eq!(count(&[]), 2);
    assert_eq!(count(&["--host", "h1"]), 1);
    assert_eq!(count(&["--tag", "x"]), 2);
    assert_eq!(count(&["--tag", "x", "--tag", "y"]), 1);
    assert_eq!(count(&["--tag", "z"]), 0);
    assert_eq!(count(&["--source", sb]), 1);
    assert_eq!(count(&["--host", "h2", "--tag", "y"]), 0);

    let id = json(&repo, &["snapshots", "--host", "h1"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = run(&repo, &["dump", &id, "dir/big.bin"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout.len(), big.len());
    assert!(o.stdout == big, "dumped bytes differ");
    let o = run(&repo, &["dump", &id, "dir/nope.bin"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "jarc: error: the snapshot holds no media object \"dir/nope.bin\"\n"
    );
    let o = run(&repo, &["dump", &id, "dir"]);
    assert!(stderr(&o).contains("is not a file"), "{}", stderr(&o));
}

/// `backup --exclude` leaves matching objects (and directories, with what
/// is under them) out of the snapshot; `restore --include/--exclude` picks
/// objects of a media restore; a bad pattern is a usage error.
#[test]
fn exclude_on_backup_and_include_exclude_on_restore() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    for k in [
        "2026/01/a.jpg",
        "2026/01/a.tmp",
        "2026/02/b.jpg",
        "cache/thumbs/x.jpg",
        "keep/cache/y.jpg",
        ".trash/z.jpg",
    ] {
        write(&src.join(k), k.as_bytes());
    }
    init(&repo);
    let s = src.to_str().unwrap();
    let b = json(
        &repo,
        &[
            "backup",
            "--media",
            s,
            "--exclude",
            "*.tmp",
            "--exclude",
            "/cache",
            "--exclude",
            ".trash",
        ],
    );
    let keys: Vec<String> = json(&repo, &["ls", "latest"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "file")
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        keys,
        ["2026/01/a.jpg", "2026/02/b.jpg", "keep/cache/y.jpg"],
        "{b}"
    );
    assert_eq!(b["files"], 3, "{b}");

    let out = t.path().join("out");
    json(
        &repo,
        &[
            "restore",
            "latest",
            "--target",
            out.to_str().unwrap(),
            "--include",
            "2026/*",
            "--exclude",
            "02",
        ],
    );
    let got: Vec<String> = capture(&out).into_keys().collect();
    assert_eq!(got, ["2026", "2026/01", "2026/01/a.jpg"]);

    let o = run(&repo, &["backup", "--media", s, "--exclude", "["]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--exclude: pattern \"[\": "),
        "{}",
        stderr(&o)
    );
    let o = run(
        &repo,
        &[
            "restore",
            "latest",
            "--target-data-dir",
            "x",
            "--include",
            "a",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// `backup --dry-run` says exactly what the backup then does (new,
/// changed, unchanged, bytes to read), and writes nothing at all.
#[test]
fn a_dry_run_predicts_the_backup_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    write(&src.join("a.bin"), &noise(1, 300_000));
    write(&src.join("b.bin"), &noise(2, 200_000));
    init(&repo);
    let s = src.to_str().unwrap();
    let first = json(&repo, &["backup", "--media", s, "--dry-run"]);
    assert_eq!(first["parent"], serde_json::Value::Null);
    assert_eq!(
        (first["files_new"].as_u64(), first["bytes_read"].as_u64()),
        (Some(2), Some(500_000))
    );
    json(&repo, &["backup", "--media", s]);
    write(&src.join("b.bin"), &noise(3, 250_000));
    write(&src.join("c.bin"), &noise(4, 1_000));
    let before = listing_all(&repo);
    let dry = json(&repo, &["backup", "--media", s, "--dry-run"]);
    assert_eq!(listing_all(&repo), before, "a dry run wrote something");
    let real = json(&repo, &["backup", "--media", s]);
    for f in [
        "files",
        "bytes",
        "files_new",
        "files_changed",
        "files_unchanged",
        "bytes_read",
    ] {
        assert_eq!(dry[f], real[f], "{f}: {dry} vs {real}");
    }
    assert_eq!(
        (dry["files_new"].as_u64(), dry["files_changed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(dry["bytes_read"], 251_000);
    let text = ok(&repo, &["backup", "--media", s, "--dry-run"]);
    assert!(
        text.starts_with("dry run: nothing was read or written\n"),
        "{text}"
    );
}

/// `find` lists matching media objects in each snapshot; `tag` retags
/// snapshots (new ids), and filters and restores see the new tags.
#[test]
fn find_and_tag() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    write(&src.join("2026/a.jpg"), b"a");
    write(&src.join("2026/b.txt"), b"b");
    init(&repo);
    let s = src.to_str().unwrap();
    json(&repo, &["backup", "--media", s, "--tag", "old"]);
    write(&src.join("2027/c.jpg"), b"c");
    json(&repo, &["backup", "--media", s]);
    let found = json(&repo, &["find", "*.jpg"]);
    let keys: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["2026/a.jpg", "2026/a.jpg", "2027/c.jpg"]);
    assert_eq!(
        json(&repo, &["find", "*.jpg", "--tag", "old"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        json(&repo, &["find", "nothing*"]).as_array().unwrap().len(),
        0
    );

    let first = json(&repo, &["snapshots", "--tag", "old"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = json(
        &repo,
        &["tag", &first[..8], "--add", "keep", "--remove", "old"],
    );
    let new = r[0]["to"].as_str().unwrap().to_string();
    assert_eq!(r[0]["from"], first);
    assert_ne!(new, first);
    assert_eq!(
        json(&repo, &["snapshots", "--tag", "old"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let kept = json(&repo, &["snapshots", "--tag", "keep"]);
    assert_eq!(kept.as_array().unwrap().len(), 1);
    assert_eq!(kept[0]["id"], new);
    assert_eq!(json(&repo, &["snapshots"]).as_array().unwrap().len(), 2);
    let same = json(&repo, &["tag", &new, "--add", "keep"]);
    assert_eq!(same[0]["to"], new, "nothing to change, same snapshot");
    let out = t.path().join("out");
    ok(&repo, &["restore", &new, "--target", out.to_str().unwrap()]);
    assert_eq!(capture(&out).len(), 3, "2026/, a.jpg, b.txt");
    assert_eq!(json(&repo, &["check", "--read-data"])["ok"], true);
    let o = run(&repo, &["tag", &new]);
    assert_eq!(o.status.code(), Some(2));
}

/// A backup finds its parent, and `snapshots` lists, from the client's
/// snapshot cache (format-spec §14): with it, a backup's GETs do not grow
/// with the number of snapshots; without it they do. The cache of an
/// encrypted repository shows nothing of what it caches, one that is
/// damaged is rebuilt, and a forgotten snapshot leaves the listing even
/// while its head is cached.
#[test]
fn the_snapshot_cache_keeps_parent_lookups_flat() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo, cache) = (
        t.path().join("site-media-source"),
        t.path().join("repo"),
        t.path().join("cache"),
    );
    write(&src.join("a.txt"), b"a");
    init(&repo);
    let backup = |cache_dir: &Path| -> u64 {
        let o = cmd(&repo)
            .env("JARC_CACHE_DIR", cache_dir)
            .args(["--json", "backup", "--media"])
            .arg(&src)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["requests"]["get"].as_u64().unwrap()
    };
    backup(&cache);
    let early = backup(&cache);
    for _ in 0..25 {
        backup(&cache);
    }
    assert_eq!(backup(&cache), early, "GETs grew with the snapshots");
    // With the cache off, every snapshot is read to find the parent.
    let off = backup(Path::new(""));
    assert!(
        off > early + 25,
        "{off} GETs without the cache, {early} with"
    );

    let files: Vec<_> = fs::read_dir(&cache).unwrap().collect();
    assert_eq!(files.len(), 1, "one directory, named by the repository id");
    let file = files[0].as_ref().unwrap().path().join("snapshots");
    let bytes = fs::read(&file).unwrap();
    assert!(bytes.len() > 29 * 40, "{} bytes", bytes.len());
    let shows = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!shows(b"site-media-source") && !shows(b"JRSC"));

    let list = |cache_dir: &Path| {
        let o = cmd(&repo)
            .env("JARC_CACHE_DIR", cache_dir)
            .args(["--json", "snapshots"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let all = list(&cache);
    assert_eq!(all.as_array().unwrap().len(), 29);
    assert_eq!(list(Path::new("")), all);
    fs::write(&file, b"damaged").unwrap();
    assert_eq!(list(&cache), all);
    assert!(fs::read(&file).unwrap().len() > 29 * 40, "rebuilt");

    let gone = all[0]["id"].as_str().unwrap();
    ok(&repo, &["forget", gone]);
    let after = list(&cache);
    assert_eq!(after.as_array().unwrap().len(), 28);
    assert!(after.as_array().unwrap().iter().all(|s| s["id"] != gone));
}

/// `restore --at TIME` takes the newest snapshot of one source at or before
/// TIME; two sources need a filter; a time before every snapshot is named;
/// `snapshots --latest N` keeps the N newest of each source.
#[test]
fn point_in_time_restore_and_latest_snapshots() {
    let t = tempfile::tempdir().unwrap();
    let (a, b, repo) = (
        t.path().join("a"),
        t.path().join("b"),
        t.path().join("repo"),
    );
    init(&repo);
    let sa = a.to_str().unwrap();
    let mut times = Vec::new();
    for v in 1..=3u8 {
        write(&a.join("page.txt"), format!("version {v}").as_bytes());
        let s = json(&repo, &["backup", "--media", sa]);
        let id = s["snapshot"].as_str().unwrap().to_string();
        let listed = json(&repo, &["snapshots"]);
        let me = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id.as_str())
            .unwrap()
            .clone();
        times.push(me["time"].as_str().unwrap().to_string());
    }
    let restored = |at: &str, extra: &[&str], n: u32| {
        let dir = t.path().join(format!("r{n}"));
        let mut args = vec!["restore", "--at", at, "--target", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = run(&repo, &args);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(", the newest at or before "),
            "{}",
            stderr(&o)
        );
        std::fs::read_to_string(dir.join("page.txt")).unwrap()
    };
    assert_eq!(restored(&times[0], &[], 0), "version 1");
    assert_eq!(restored(&times[1], &[], 1), "version 2");
    assert_eq!(restored("2999-01-01", &[], 2), "version 3");

    let o = run(
        &repo,
        &["restore", "--at", "2001-02-03 04:05", "--target", "x"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!(
            "jarc: error: no snapshot was taken at or before 2001-02-03T04:05:00Z (the oldest is of {})\n",
            times[0]
        )
    );
    let o = run(&repo, &["restore", "--at", "noon", "--target", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("time \"noon\": give RFC 3339"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &repo,
        &["restore", "latest", "--at", "2999-01-01", "--target", "x"],
    );
    assert_eq!(o.status.code(), Some(2), "a snapshot and --at conflict");

    write(&b.join("other.txt"), b"other");
    json(&repo, &["backup", "--media", b.to_str().unwrap()]);
    let o = run(&repo, &["restore", "--at", "2999-01-01", "--target", "x"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.starts_with("jarc: error: the snapshots come from 2 sources (")
            && e.contains("pick one with --source"),
        "{e}"
    );
    assert_eq!(restored("2999-01-01", &["--source", sa], 3), "version 3");

    let latest = |n: &str| -> Vec<String> {
        json(&repo, &["snapshots", "--latest", n])
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["time"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(latest("1").len(), 2);
    let two = latest("2");
    assert_eq!(two.len(), 3);
    assert_eq!(two[..2], times[1..]);
}

/// `jarc copy` moves snapshots into a repository made with `init
/// --copy-from` (its own password), storing only what it lacks: the copy
/// checks clean and restores byte-identical; a second copy stores nothing,
/// a copy after a small change stores only it; an unrelated repository is
/// refused, and snapshots can be named.
#[test]
fn copy_between_repositories_is_incremental() {
    let t = tempfile::tempdir().unwrap();
    let (data, src, dst, other) = (
        t.path().join("data"),
        t.path().join("src"),
        t.path().join("dst"),
        t.path().join("other"),
    );
    write(&data.join("big.bin"), &noise(1, 3_000_000));
    write(&data.join("d/small.txt"), b"small");
    init(&src);
    let sd = data.to_str().unwrap();
    let first = json(&src, &["backup", "--media", sd])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    write(&data.join("d/new.bin"), &noise(2, 200_000));
    json(&src, &["backup", "--media", sd]);

    let with_pw = |c: &mut Command| {
        c.env("JARC_PASSWORD", "the copy's own password")
            .env("JARC_FROM_PASSWORD", PASSWORD);
    };
    let run2 = |repo: &Path, args: &[&str]| {
        let mut c = cmd(repo);
        with_pw(&mut c);
        c.args(args).output().unwrap()
    };
    let ok2 = |repo: &Path, args: &[&str]| -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let o = run2(repo, &a);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let s = src.to_str().unwrap();
    ok2(&dst, &["init", "--copy-from", s]);
    // One named snapshot first, then the rest.
    let r = ok2(&dst, &["copy", "--from", s, &first[..10]]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 1);
    assert_eq!(r["copied"][0]["source"], first.as_str());
    let one = r["bytes_copied"].as_u64().unwrap();
    assert!(one >= 3_000_005, "{r}");
    let r = ok2(&dst, &["copy", "--from", s]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 1);
    assert_eq!(r["already_present"], serde_json::json!([first]));
    let two = r["bytes_copied"].as_u64().unwrap();
    assert!(
        (200_000..400_000).contains(&two),
        "only the new file and tree nodes: {r}"
    );
    let r = ok2(&dst, &["copy", "--from", s]);
    assert_eq!(
        (r["copied"].as_array().unwrap().len(), &r["blobs_copied"]),
        (0, &serde_json::json!(0))
    );

    assert_eq!(ok2(&dst, &["check", "--read-data"])["ok"], true);
    let out = t.path().join("out");
    ok2(
        &dst,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(
        capture(&out),
        capture(&data),
        "the copy restores byte-identical"
    );
    // The copy opens with its own password only.
    let o = cmd(&dst).args(["snapshots"]).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "the source's password does not open the copy"
    );

    init(&other);
    // Without JARC_FROM_PASSWORD, the source is opened with the same one.
    let o = run(&other, &["copy", "--from", s]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(
        "the destination names its blobs differently from the source (another blob-id key or chunker): a copy would store every byte again under other ids; make the destination with `jarc init --copy-from SOURCE`"
    ), "{}", stderr(&o));
}
