//! Recovery drills against real SQLite sites: a clean drill passes every
//! check and is recorded; a damaged pack or a missing object fails the drill
//! and names what is affected; the scratch environment is gone afterwards
//! in every case. (The Postgres drill is in tests/postgres.rs.)

mod support;

use jarc::demo::fixture as demo;
use std::path::{Path, PathBuf};
use support::*;

struct Setup {
    _dir: tempfile::TempDir,
    data: PathBuf,
    repo: PathBuf,
    scratch: PathBuf,
}

fn setup(posts: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    demo::create_sqlite_site(&data, posts).unwrap();
    let repo = dir.path().join("repo");
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    ok(&repo, &["init"]);
    Setup {
        data,
        repo,
        scratch,
        _dir: dir,
    }
}

fn backup(s: &Setup) -> String {
    json(&s.repo, &["backup", "--data-dir", s.data.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Run a drill with --json; returns (exit code, report).
fn drill(s: &Setup, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["--json", "drill", "--scratch", s.scratch.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&s.repo, &args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "drill {args:?}: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        )
    });
    (o.status.code().unwrap_or(-1), v)
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {report}"))
}

fn failed_checks(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn assert_scratch_removed(s: &Setup) {
    let left: Vec<_> = std::fs::read_dir(&s.scratch)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "scratch left behind: {left:?}");
}

/// How many objects the snapshot's rows reference.
fn referenced(repo: &Path) -> usize {
    let r = open_repo(repo.to_str().unwrap()).unwrap();
    let (_, snap) = jarc::snapshot::resolve(&r, "latest").unwrap();
    jarc::database::referenced_keys(&r, &snap).unwrap().len()
}

fn referenced_key(data: &Path) -> String {
    let c = rusqlite::Connection::open(data.join("jant.sqlite")).unwrap();
    c.query_row(
        "SELECT storage_key FROM media ORDER BY storage_key LIMIT 1",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn clean_drill_passes_every_check_and_is_recorded() {
    let s = setup(120);
    let snap = backup(&s);
    let rows: u64 = jarc::demo::verify::sqlite_dump(&s.data.join("jant.sqlite"))
        .unwrap()
        .len() as u64;
    assert!(rows > 100);

    let (code, r) = drill(&s, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["passed"], true);
    assert_eq!(r["snapshot"], snap.as_str());
    let names: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, DRILL_CHECKS);
    assert!(failed_checks(&r).is_empty(), "{r}");
    // The digests compare every table's rows with what the backup recorded.
    let tables = open_repo(s.repo.to_str().unwrap())
        .and_then(|repo| jarc::snapshot::resolve(&repo, &snap))
        .unwrap()
        .1
        .roots
        .iter()
        .filter(|(n, _)| n.starts_with("db.rows/"))
        .count();
    let digests = check(&r, "row counts and digests")["detail"]
        .as_str()
        .unwrap();
    assert!(
        digests.starts_with(&format!("{tables} tables, ")),
        "{digests}"
    );
    assert_eq!(
        check(&r, "full-text index")["detail"],
        "post_fts consistent with its content"
    );
    // Sidecars (`.meta.json`) belong to their object's entry.
    let files = jarc::demo::verify::file_digests(&s.data.join("media"))
        .unwrap()
        .keys()
        .filter(|k| !k.ends_with(".meta.json"))
        .count();
    assert_eq!(
        check(&r, "media content")["detail"]
            .as_str()
            .unwrap()
            .split(" files")
            .next()
            .unwrap(),
        format!("{files} of {files}")
    );
    assert_eq!(r["target"], "sqlite");
    assert_eq!(r["kept"], false);
    assert!(r["rto_ms"].as_u64().unwrap() > 0);
    let phases: Vec<&str> = r["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "prepare",
            "restore media",
            "restore database",
            "verify database",
            "spot checks",
            "verify media"
        ]
    );
    assert_eq!(r["rpo"]["newest_snapshot"], snap.as_str());
    assert!(r["requests"]["get"].as_u64().unwrap() > 0);
    assert!(r["requests"]["bytes_read"].as_u64().unwrap() > 0);
    assert_scratch_removed(&s);

    // Recorded: the listing shows it, the history lists it, check accepts it.
    let list = json(&s.repo, &["snapshots"]);
    assert_eq!(list[0]["last_drill"]["passed"], true);
    let h = json(&s.repo, &["drill", "--history"]);
    assert_eq!(h.as_array().unwrap().len(), 1);
    assert_eq!(h[0]["snapshot"], snap.as_str());
    assert_eq!(h[0]["passed"], true);
    assert_eq!(h[0]["target"], "sqlite");
    assert_eq!(h[0]["checks"], DRILL_CHECKS.len());
    ok(&s.repo, &["check"]);

    // A sample reads back fewer files; --keep leaves a usable site behind.
    let (code, r) = drill(&s, &["--sample", "3", "--keep", "latest"]);
    assert_eq!(code, 0, "{r}");
    assert!(check(&r, "media content")["detail"]
        .as_str()
        .unwrap()
        .starts_with(&format!("3 of {files} files")));
    let kept = PathBuf::from(r["scratch_dir"].as_str().unwrap());
    assert!(kept.starts_with(&s.scratch));
    assert_eq!(
        jarc::demo::verify::sqlite_dump(&kept.join("jant.sqlite"))
            .unwrap()
            .len() as u64,
        rows
    );
    assert_eq!(
        jarc::demo::verify::file_digests(&kept.join("media")).unwrap(),
        jarc::demo::verify::file_digests(&s.data.join("media")).unwrap()
    );
    std::fs::remove_dir_all(&kept).unwrap();
    assert_eq!(
        json(&s.repo, &["drill", "--history"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The text report says the same.
    let o = run(
        &s.repo,
        &["drill", "-q", "--scratch", s.scratch.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with(&format!("drill of snapshot {} (", &snap[..8])),
        "{text}"
    );
    assert!(text.lines().next().unwrap().ends_with(": PASSED"), "{text}");
    assert!(text.contains("\nRTO "), "{text}");
    assert!(
        text.contains("RPO: the snapshot is ") && text.contains("it is the newest of its source"),
        "{text}"
    );
    assert_scratch_removed(&s);
}

#[test]
fn a_damaged_pack_fails_the_drill_and_names_the_table_or_object() {
    let s = setup(40);
    let snap_id = backup(&s);
    let r = open_repo(s.repo.to_str().unwrap()).unwrap();
    let (_, snap) = jarc::snapshot::resolve(&r, &snap_id).unwrap();
    let post_root = snap.root("db.rows/post").unwrap().node;
    let key = referenced_key(&s.data);
    let chunk = jarc::media::entries(&r, &snap)
        .unwrap()
        .into_iter()
        .find(|(k, _)| *k == key)
        .unwrap()
        .1
        .chunks[0];
    drop(r);

    // A media object's chunk: its restore fails, the drill names it, and
    // the database checks still run and pass.
    damage_blob(&s.repo, &chunk);
    let (code, r) = drill(&s, &[]);
    assert_eq!(code, 3, "{r}");
    assert_eq!(r["passed"], false);
    assert_eq!(failed_checks(&r), ["media restore", "referenced media"]);
    let detail = check(&r, "media restore")["detail"].as_str().unwrap();
    assert!(
        detail.starts_with(&format!("1 object(s) could not be restored: {key}: "))
            && detail.contains("does not authenticate (damaged)"),
        "{detail}"
    );
    assert_eq!(
        check(&r, "referenced media")["detail"],
        format!(
            "1 of {} referenced objects: {key}: not restored",
            referenced(&s.repo)
        )
        .as_str()
    );
    assert_scratch_removed(&s);
    damage_blob(&s.repo, &chunk); // flipped back

    // The root node of the post table, in its pack and the pack's copy
    // (one damaged copy costs nothing): the database cannot be restored,
    // and the drill says which table.
    damage_blob(&s.repo, &post_root);
    damage_copy(&s.repo, &post_root);
    let (code, r) = drill(&s, &[]);
    assert_eq!(code, 3, "{r}");
    // The post rows also name media (preview images), so the referenced
    // objects cannot be listed either.
    assert_eq!(failed_checks(&r), ["database restore", "referenced media"]);
    for name in ["database restore", "referenced media"] {
        let detail = check(&r, name)["detail"].as_str().unwrap();
        assert!(
            detail.starts_with(&format!("table post: blob {post_root} in pack "))
                && detail.contains("does not authenticate (damaged)"),
            "{name}: {detail}"
        );
    }
    assert_scratch_removed(&s);

    // Both failures are on record, and the listing shows the last one.
    let h = json(&s.repo, &["drill", "--history"]);
    let results: Vec<(bool, Vec<String>)> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["passed"].as_bool().unwrap(),
                d["failed"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            (
                false,
                vec!["media restore".to_string(), "referenced media".to_string()]
            ),
            (
                false,
                vec![
                    "database restore".to_string(),
                    "referenced media".to_string()
                ]
            )
        ]
    );
    assert_eq!(
        json(&s.repo, &["snapshots"])[0]["last_drill"]["passed"],
        false
    );
}

#[test]
fn a_missing_referenced_object_fails_the_drill() {
    let s = setup(40);
    let key = referenced_key(&s.data);
    std::fs::remove_file(s.data.join("media").join(&key)).unwrap();
    backup(&s);
    let (code, r) = drill(&s, &[]);
    assert_eq!(code, 3, "{r}");
    assert_eq!(failed_checks(&r), ["referenced media"]);
    assert_eq!(
        check(&r, "referenced media")["detail"],
        format!(
            "1 of {} referenced objects: {key}: not in the snapshot",
            referenced(&s.repo)
        )
        .as_str()
    );
    assert_scratch_removed(&s);
}

#[test]
fn all_sources_drills_each_newest_snapshot_and_skips_imports() {
    let s = setup(30);
    backup(&s);
    let newest_site = backup(&s);
    let other = s.scratch.parent().unwrap().join("other");
    write(&other.join("a.bin"), &noise(1, 70_000));
    write(&other.join("d/b.bin"), &noise(2, 5));
    let media_only = json(&s.repo, &["backup", "--media", other.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let zip = s.scratch.parent().unwrap().join("site.zip");
    ok(
        &s.repo,
        &["export", &newest_site, "--output", zip.to_str().unwrap()],
    );
    let imported = json(&s.repo, &["import", zip.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();

    let (code, r) = drill(&s, &["--all-sources"]);
    assert_eq!(code, 0, "{r}");
    let all = r.as_array().unwrap();
    assert_eq!(all.len(), 3, "{r}");
    let by_snap = |id: &str| {
        all.iter()
            .find(|d| d["snapshot"] == id)
            .unwrap_or_else(|| panic!("{id} not drilled: {r}"))
    };
    assert_eq!(by_snap(&newest_site)["passed"], true);
    let m = by_snap(&media_only);
    assert_eq!(m["passed"], true, "{m}");
    assert_eq!(m["target"], "dir");
    let names: Vec<&str> = m["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["media restore", "media content"]);
    assert_eq!(
        check(m, "media content")["detail"],
        "2 of 2 files read back and rehashed (70005 bytes)"
    );
    assert!(by_snap(&imported)["skipped"]
        .as_str()
        .unwrap()
        .starts_with("it was imported from a Jant archive"));
    assert_scratch_removed(&s);

    // Naming an imported snapshot is an error, not a silent pass.
    let o = run(&s.repo, &["drill", &imported]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "snapshot {} cannot be drilled: it was imported",
            &imported[..8]
        )),
        "{}",
        stderr(&o)
    );
    // One site among other sources: a bare `jarc drill` takes its newest.
    let (code, r) = drill(&s, &[]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["snapshot"], newest_site.as_str());
}
