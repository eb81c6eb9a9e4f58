//! Jant site backups against real SQLite databases: discovery, round trips,
//! consistency under concurrent writes, content-only restore, referenced
//! media, dirty databases, and row diffs.

mod support;

use jarc::demo::{fixture as demo, verify};
use rusqlite::Connection;
use std::path::Path;
use support::*;

fn site(dir: &Path, posts: usize) -> std::path::PathBuf {
    let data = dir.join("data");
    demo::create_sqlite_site(&data, posts).unwrap();
    data
}

fn init(repo: &Path) {
    ok(repo, &["init"]);
}

/// A full restore of the latest snapshot into `target` that writes what
/// it can and exits 3; what it printed.
fn partial_restore(repo: &Path, target: &Path) -> String {
    let o = run(
        repo,
        &[
            "restore",
            "latest",
            "--target-data-dir",
            target.to_str().unwrap(),
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(o.status.code(), Some(3), "{out}\n{}", stderr(&o));
    out
}

fn count(db: &Path, sql: &str) -> i64 {
    let c = Connection::open(db).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn default_repository_discovery_and_exact_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 300);
    // `jarc backup` with nothing but Jant's own configuration, here a .env
    // file, and the default repository created on first use.
    std::fs::write(
        dir.path().join(".env"),
        "DATABASE_URL=file:./data/jant.sqlite\n",
    )
    .unwrap();
    let o = bare()
        .current_dir(dir.path())
        .env_remove("JARC_REPOSITORY")
        .env_remove("DATA_DIR")
        .env_remove("DATABASE_URL")
        .env_remove("LOCAL_STORAGE_PATH")
        .env_remove("STORAGE_DRIVER")
        .arg("backup")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "created the default repository at ./backups/jarc (first use)"
    );
    let root = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(
        lines[1],
        format!(
            "backing up sqlite {0}/data/jant.sqlite + media {0}/data/media into {0}/backups/jarc",
            root.display()
        )
    );
    // Every generated row.
    let rows: usize = demo::generate(demo::Dialect::Sqlite, 300)
        .tables
        .iter()
        .map(|t| t.rows.len())
        .sum::<usize>();
    assert_eq!(
        lines[3],
        format!("database: 18 tables, {rows} rows (sqlite)")
    );

    let repo = dir.path().join("backups/jarc");
    let target = dir.path().join("restored");
    let r = json(
        &repo,
        &[
            "restore",
            "latest",
            "--target-data-dir",
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(r["summary"]["database"]["rows"], rows);
    assert_eq!(
        r["summary"]["database"]["foreign_key_violations"],
        serde_json::json!([])
    );
    let src = data.join("jant.sqlite");
    let dst = target.join("jant.sqlite");
    assert_eq!(
        verify::sqlite_dump(&src).unwrap(),
        verify::sqlite_dump(&dst).unwrap()
    );
    assert_eq!(
        verify::file_digests(&data.join("media")).unwrap(),
        verify::file_digests(&target.join("media")).unwrap()
    );
    // The full-text index was rebuilt from the restored posts.
    let q = "SELECT count(*) FROM post_fts WHERE post_fts MATCH 'garden'";
    assert_eq!(count(&src, q), 300);
    assert_eq!(count(&dst, q), 300);
    assert_eq!(
        count(
            &dst,
            "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"
        ),
        0
    );
    assert_eq!(
        count(&dst, "SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
    let j: String = Connection::open(&dst)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(j, "wal");

    // A blank target only: restoring over it again is refused, untouched.
    let before = verify::sqlite_dump(&dst).unwrap();
    let o = run(
        &repo,
        &[
            "restore",
            "latest",
            "--target-data-dir",
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("already exists; a full restore needs a blank target"),
        "{}",
        stderr(&o)
    );
    assert_eq!(verify::sqlite_dump(&dst).unwrap(), before);

    // An explicit repository that does not exist is an error, not created.
    let o = bare()
        .current_dir(dir.path())
        .env_remove("JARC_REPOSITORY")
        .args(["backup", "--repo", "elsewhere"])
        .output()
        .unwrap();
    assert_eq!(
        stderr(&o),
        "jarc: error: opening repository elsewhere: elsewhere is not a jarc repository (no config object); create one with `jarc init --repo elsewhere`\n"
    );
    assert!(!dir.path().join("elsewhere").exists());
}

/// A writer keeps committing transactions that each insert a post and its
/// slug, and delete an older pair, while backups run. Every snapshot must
/// hold exactly matching pairs: a capture that read the two tables at
/// different moments would not.
#[test]
fn capture_is_consistent_while_jant_writes() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 50);
    let db = data.join("jant.sqlite");
    let repo_dir = dir.path().join("repo");
    let repo = jarc::Repository::init(
        repo_dir.to_str().unwrap(),
        jarc::config::Config::new_random(),
        Some(test_key()),
    )
    .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let c = demo::open_site_db(&db).unwrap();
            c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let id = format!("pst_w{n:08}");
                c.execute_batch("BEGIN IMMEDIATE").unwrap();
                c.execute(
                    "INSERT INTO post (id, site_id, format, body_text, thread_id, created_at, updated_at) VALUES (?1, ?2, 'note', 'w', ?1, 1, 1)",
                    [&id, demo::SITE_ID],
                )
                .unwrap();
                c.execute(
                    "INSERT INTO path_registry (id, site_id, path, kind, post_id, created_at, updated_at) VALUES (?1, ?2, ?3, 'slug', ?4, 1, 1)",
                    [&format!("pth_w{n:08}"), demo::SITE_ID, &format!("/w/{n}"), &id],
                )
                .unwrap();
                if n >= 5 && n.is_multiple_of(3) {
                    let old = format!("pst_w{:08}", n - 5);
                    c.execute("DELETE FROM path_registry WHERE post_id = ?1", [&old])
                        .unwrap();
                    c.execute("DELETE FROM post WHERE id = ?1", [&old]).unwrap();
                }
                c.execute_batch("COMMIT").unwrap();
                n += 1;
            }
            n
        })
    };
    let mut snaps = Vec::new();
    for _ in 0..6 {
        let mut src = jarc::source::sqlite::SqliteSource::open(&db).unwrap();
        let s = jarc::backup::backup_site(
            &repo,
            Some(&mut src),
            None,
            &Default::default(),
            &jarc::progress::Silent,
        )
        .unwrap();
        snaps.push(s.snapshot);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(
        written > 20,
        "the writer barely ran ({written} transactions)"
    );
    let mut sizes = std::collections::BTreeSet::new();
    for id in snaps {
        let snap = jarc::snapshot::load(&repo, &id).unwrap();
        let schema = jarc::database::schema(&repo, &snap).unwrap();
        let ids = |table: &str, col: &str| -> std::collections::BTreeSet<String> {
            let t = schema.iter().find(|t| t.name == table).unwrap();
            let c = t.column_index(col).unwrap();
            jarc::database::rows(&repo, &snap, t)
                .map(|r| r.unwrap()[c].as_text().unwrap_or_default().to_string())
                .filter(|s| s.starts_with("pst_w"))
                .collect()
        };
        let posts = ids("post", "id");
        assert_eq!(posts, ids("path_registry", "post_id"), "snapshot {id}");
        sizes.insert(posts.len());
    }
    // The snapshots caught the writer at different points.
    assert!(sizes.len() > 1, "{sizes:?}");
}

fn content_dump(db: &Path, tables: &[&str]) -> Vec<String> {
    verify::sqlite_dump(db)
        .unwrap()
        .into_iter()
        .filter(|l| tables.iter().any(|t| l.starts_with(&format!("{t} | "))))
        .collect()
}

use jarc::jant::tables::{CONTENT_INSERT_ORDER as CONTENT, PROTECTED_TABLES as AUTH};

#[test]
fn content_only_restore_rewrites_content_and_never_touches_auth() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 120);
    let db = data.join("jant.sqlite");
    let repo = dir.path().join("repo");
    init(&repo);
    let d = data.to_str().unwrap();
    ok(&repo, &["backup", "--data-dir", d]);
    let content_at_backup = content_dump(&db, &CONTENT);

    // Life goes on: content edits, a new login, a new non-snapshot setting
    // value, and an allow-listed one.
    let c = Connection::open(&db).unwrap();
    c.execute_batch(
        "UPDATE post SET title = 'changed later' WHERE id = 'pst_0000000';
         DELETE FROM nav_item WHERE id = 'nav_04';
         INSERT INTO session VALUES ('ses_new', 1, 'new-secret', 2, 2, NULL, NULL, 'usr_01jdemoowner');
         UPDATE account SET password = 'rotated-hash';
         UPDATE site_setting SET value = '50' WHERE key = 'PAGE_SIZE';
         UPDATE site_setting SET value = 'Renamed' WHERE key = 'SITE_NAME';",
    )
    .unwrap();
    drop(c);
    let auth_before = content_dump(&db, &AUTH);
    let media_before = verify::file_digests(&data.join("media")).unwrap();

    // Without --replace: refused, nothing changed.
    let o = run(
        &repo,
        &["restore", "latest", "--content", "--target-data-dir", d],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("pass --replace to confirm"),
        "{}",
        stderr(&o)
    );

    // A failure half-way through: the database and media are as before.
    let full_before = verify::sqlite_dump(&db).unwrap();
    std::fs::remove_file(
        data.join("media")
            .join(format!("media/{}/files/med_000001.png", demo::SITE_ID)),
    )
    .unwrap();
    let media_gap = verify::file_digests(&data.join("media")).unwrap();
    let o = cmd(&repo)
        .env("JARC_FAILPOINT", "content-restore-midway")
        .args([
            "restore",
            "latest",
            "--content",
            "--replace",
            "--target-data-dir",
            d,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("injected failure at content-restore-midway"),
        "{}",
        stderr(&o)
    );
    assert_eq!(verify::sqlite_dump(&db).unwrap(), full_before);
    assert!(verify::file_digests(&data.join("media")).unwrap() == media_gap);

    // The real thing.
    let r = json(
        &repo,
        &[
            "restore",
            "latest",
            "--content",
            "--replace",
            "--target-data-dir",
            d,
        ],
    );
    assert_eq!(r["summary"]["content_only"], true);
    assert_eq!(
        r["summary"]["media"]["files"], 1,
        "only the missing object is written"
    );
    assert_eq!(content_dump(&db, &CONTENT), content_at_backup);
    assert_eq!(
        content_dump(&db, &AUTH),
        auth_before,
        "auth rows must be bit-identical"
    );
    let setting = |k: &str| -> String {
        Connection::open(&db)
            .unwrap()
            .query_row("SELECT value FROM site_setting WHERE key = ?1", [k], |r| {
                r.get(0)
            })
            .unwrap()
    };
    assert_eq!(
        setting("PAGE_SIZE"),
        "50",
        "settings outside the allow-list stay"
    );
    assert_eq!(
        setting("SITE_NAME"),
        "Demo Garden ✿",
        "allow-listed settings are restored"
    );
    assert!(verify::file_digests(&data.join("media")).unwrap() == media_before);
    assert_eq!(
        count(&db, "SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
}

#[test]
fn referenced_media_missing_and_only_referenced() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 40);
    let media = data.join("media");
    let gone = format!("media/{}/posters/med_000003.webp", demo::SITE_ID);
    std::fs::remove_file(media.join(&gone)).unwrap();
    std::fs::remove_file(media.join(format!("{gone}.meta.json"))).unwrap();
    write(
        &media.join("stray/unreferenced.bin"),
        b"not named by any row",
    );
    let repo = dir.path().join("repo");
    init(&repo);
    ok(&repo, &["backup", "--data-dir", data.to_str().unwrap()]);

    let t1 = dir.path().join("t1");
    let o = run(
        &repo,
        &[
            "restore",
            "latest",
            "--target-data-dir",
            t1.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        out,
        format!("1 referenced object(s) missing from the snapshot:\n  {gone}\n")
    );
    assert!(
        stderr(&o).contains(&format!(
            "1 object(s) referenced by the restored rows are missing from the snapshot: {gone}; pass --allow-missing-objects"
        )),
        "{}",
        stderr(&o)
    );
    assert!(!t1.exists(), "a refused restore writes nothing");

    let out = ok(
        &repo,
        &[
            "restore",
            "latest",
            "--target-data-dir",
            t1.to_str().unwrap(),
            "--allow-missing-objects",
            "--only-referenced",
        ],
    );
    assert!(
        out.starts_with(&format!(
            "1 referenced object(s) missing from the snapshot:\n  {gone}\n"
        )),
        "{out}"
    );
    let got = verify::file_digests(&t1.join("media")).unwrap();
    assert!(!got.contains_key("stray/unreferenced.bin"));
    // Every referenced object that exists, with its sidecar.
    let want: Vec<String> = verify::file_digests(&media)
        .unwrap()
        .into_keys()
        .filter(|k| !k.starts_with("stray/"))
        .collect();
    assert_eq!(got.into_keys().collect::<Vec<_>>(), want);

    let t2 = dir.path().join("t2");
    ok(
        &repo,
        &[
            "restore",
            "latest",
            "--target-data-dir",
            t2.to_str().unwrap(),
            "--allow-missing-objects",
        ],
    );
    assert!(t2.join("media/stray/unreferenced.bin").exists());
}

#[test]
fn dirty_databases_round_trip_or_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("dirty.sqlite");
    let c = Connection::open(&db).unwrap();
    c.execute_batch(
        "CREATE TABLE typed (id INTEGER PRIMARY KEY, n INTEGER, t TEXT, r REAL, b BLOB);
         INSERT INTO typed VALUES (1, 'not a number', 42, 'text in real', x'00ff');
         INSERT INTO typed VALUES (2, 1.5, 3.25, 7, 'text in blob');
         INSERT INTO typed VALUES (3, NULL, 'line1\nline2 ''q'' \"dq\" ; 日本 🎉', -0.0, NULL);
         CREATE TABLE nokey (a TEXT, b INTEGER);
         INSERT INTO nokey VALUES ('same', 1), ('same', 1), ('other', 2);
         CREATE TABLE composite (a TEXT COLLATE NOCASE, b INTEGER, v TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;
         INSERT INTO composite VALUES ('b', 1, 'x'), ('A', 2, 'y'), ('a', 1, 'z');
         CREATE TABLE big (id INTEGER PRIMARY KEY, body TEXT);
         CREATE VIEW v AS SELECT id FROM typed;",
    )
    .unwrap();
    let big: String = "0123456789abcdef".repeat(50 * 1024 * 1024 / 16);
    c.execute("INSERT INTO big VALUES (1, ?1)", [&big]).unwrap();
    drop(c);
    let repo = dir.path().join("repo");
    init(&repo);
    let b = json(
        &repo,
        &["backup", "--database", db.to_str().unwrap(), "--no-media"],
    );
    assert_eq!(b["database"]["rows"], 10);
    // NOCASE orders rows differently from bytes: sorted in memory instead.
    assert_eq!(
        b["database"]["sorted_in_memory"],
        serde_json::json!(["composite"])
    );
    let t = dir.path().join("t");
    ok(
        &repo,
        &[
            "restore",
            "latest",
            "--target-data-dir",
            t.to_str().unwrap(),
        ],
    );
    assert_eq!(
        verify::sqlite_dump(&db).unwrap(),
        verify::sqlite_dump(&t.join("jant.sqlite")).unwrap()
    );
    let types: Vec<String> = {
        let c = Connection::open(t.join("jant.sqlite")).unwrap();
        let mut st = c
            .prepare(
                "SELECT typeof(n) || typeof(t) || typeof(r) || typeof(b) FROM typed ORDER BY id",
            )
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(|x| x.unwrap())
            .collect()
    };
    assert_eq!(
        types,
        ["texttexttextblob", "realtextrealtext", "nulltextrealnull"]
    );

    // Rows whose primary key is NULL (several: SQLite allows it in a
    // rowid table) and text that is not UTF-8 come back as they were: the
    // NULL-keyed table with every rowid, the text with every byte.
    let c = Connection::open(&db).unwrap();
    c.execute_batch(
        "CREATE TABLE nullpk (k TEXT PRIMARY KEY, v INTEGER);
         INSERT INTO nullpk VALUES (NULL, 1), ('a', 2), (NULL, 3);
         INSERT INTO typed (id, t) VALUES (9, CAST(x'ff00fe' AS TEXT));",
    )
    .unwrap();
    drop(c);
    let b = json(
        &repo,
        &["backup", "--database", db.to_str().unwrap(), "--no-media"],
    );
    let t2 = dir.path().join("t2");
    ok(
        &repo,
        &[
            "restore",
            b["snapshot"].as_str().unwrap(),
            "--target-data-dir",
            t2.to_str().unwrap(),
        ],
    );
    let read = |p: &Path| -> Vec<String> {
        let c = Connection::open(p).unwrap();
        let mut st = c
            .prepare(
                "SELECT rowid || ' ' || quote(k) || ' ' || v FROM nullpk
                  UNION ALL SELECT typeof(t) || ' ' || hex(t) FROM typed WHERE id = 9",
            )
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(|x| x.unwrap())
            .collect()
    };
    let got = read(&t2.join("jant.sqlite"));
    assert_eq!(got, ["1 NULL 1", "2 'a' 2", "3 NULL 3", "text FF00FE"]);
    assert_eq!(read(&db), got);
    assert_eq!(json(&repo, &["snapshots"]).as_array().unwrap().len(), 2);
}

#[test]
fn row_diff_names_rows_and_columns_and_follows_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 4000);
    let repo = dir.path().join("repo");
    init(&repo);
    let d = data.to_str().unwrap();
    let first = json(&repo, &["backup", "--data-dir", d]);
    let c = Connection::open(data.join("jant.sqlite")).unwrap();
    // 1 % of posts edited, spread over the table.
    c.execute_batch(
        "UPDATE post SET body_text = body_text || ' (edited)' WHERE CAST(substr(id, 5) AS INTEGER) % 100 = 37;
         DELETE FROM nav_item WHERE id = 'nav_04';
         UPDATE site_setting SET value = 'x' WHERE key = 'THEME';",
    )
    .unwrap();
    drop(c);
    let second = json(&repo, &["backup", "--data-dir", d]);
    let a = first["snapshot"].as_str().unwrap();
    let b = second["snapshot"].as_str().unwrap();
    let diff = json(&repo, &["diff", a, b]);
    let tables = diff["tables"].as_array().unwrap();
    let names: Vec<&str> = tables
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nav_item", "post", "site_setting"]);
    let post = &tables[1];
    assert_eq!(post["changed"], 40);
    assert_eq!(post["added"], 0);
    assert_eq!(post["rows"][0]["key"], "pst_0000037");
    assert_eq!(post["rows"][0]["columns"], serde_json::json!(["body_text"]));
    assert_eq!(
        tables[0]["rows"][0],
        serde_json::json!({"key": "nav_04", "change": "removed"})
    );
    assert_eq!(
        tables[2]["rows"][0]["key"],
        format!("({}, THEME)", demo::SITE_ID)
    );
    // Stored growth: the edited rows' leaves and the paths above them.
    let grew = second["bytes_new_stored"].as_u64().unwrap();
    let base = first["bytes_new_stored"].as_u64().unwrap();
    assert!(grew * 5 < base, "second backup stored {grew} of {base}");
    // The diff read far fewer nodes than the post table has.
    let nodes = diff["cost"]["nodes_loaded"].as_u64().unwrap();
    let skipped = diff["cost"]["entries_skipped"].as_u64().unwrap();
    assert!(skipped > 3000, "{skipped} entries skipped");
    assert!(nodes < 200, "{nodes} nodes loaded");
}

/// A content restore into a site whose id differs from the snapshot's is
/// remapped the way Jant's single-site import does: every occurrence of the
/// snapshot's site id in the rows and in the object keys becomes the
/// target's. A target with several other sites is refused, naming them.
#[test]
fn content_restore_into_another_site_remaps_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let src = site(dir.path(), 40);
    let repo = dir.path().join("repo");
    init(&repo);
    let id = json(&repo, &["backup", "--data-dir", src.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let old = demo::SITE_ID;
    let new = "sit_01jelsewhere0000000000000";
    // Another installation: the same schema, an empty site of another id.
    let dst = dir.path().join("other");
    demo::create_sqlite_site(&dst, 1).unwrap();
    let db = dst.join("jant.sqlite");
    let c = Connection::open(&db).unwrap();
    let mut wipe = String::from("PRAGMA foreign_keys = OFF;");
    for t in jarc::jant::tables::CONTENT_CLEAR_ORDER {
        wipe.push_str(&format!("DELETE FROM \"{t}\";"));
    }
    for t in [
        "site",
        "site_setting",
        "site_member",
        "site_domain",
        "api_token",
    ] {
        let col = if t == "site" { "id" } else { "site_id" };
        wipe.push_str(&format!("UPDATE \"{t}\" SET \"{col}\" = '{new}';"));
    }
    c.execute_batch(&wipe).unwrap();
    drop(c);
    std::fs::remove_dir_all(dst.join("media")).unwrap();
    let before_auth = count(&db, "SELECT count(*) FROM user");

    // One thread first, into the empty site: remapped the same way.
    let r = json(
        &repo,
        &[
            "restore",
            &id,
            "--post",
            "thread-5",
            "--target-data-dir",
            dst.to_str().unwrap(),
        ],
    );
    assert_eq!(r["summary"]["rows"]["post"], 5, "{r}");
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM post WHERE site_id = '{new}'")
        ),
        5
    );
    assert_eq!(count(&db, "SELECT count(*) FROM post"), 5);
    let image = |site: &str| format!("media/{site}/files/med_000002.png");
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM media WHERE storage_key = '{}' AND post_id = 'pst_0000006'",
                image(new)
            )
        ),
        1
    );
    assert_eq!(
        std::fs::read(dst.join("media").join(image(new))).unwrap(),
        std::fs::read(src.join("media").join(image(old))).unwrap()
    );

    ok(
        &repo,
        &[
            "restore",
            &id,
            "--content",
            "--replace",
            "--target-data-dir",
            dst.to_str().unwrap(),
        ],
    );
    let posts = count(&src.join("jant.sqlite"), "SELECT count(*) FROM post");
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM post WHERE site_id = '{new}'")
        ),
        posts
    );
    for t in jarc::jant::tables::CONTENT_CLEAR_ORDER {
        assert_eq!(
            count(
                &db,
                &format!("SELECT count(*) FROM \"{t}\" WHERE site_id = '{old}'")
            ),
            0,
            "{t} kept the snapshot's site id"
        );
    }
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count(*) FROM site_setting WHERE site_id = '{new}' AND key = 'SITE_NAME'"
            )
        ),
        1
    );
    assert_eq!(count(&db, "SELECT count(*) FROM user"), before_auth);
    assert_eq!(
        count(&db, "SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
    // Every object the remapped rows name is in storage under that key.
    let c = Connection::open(&db).unwrap();
    let keys: Vec<String> = c
        .prepare("SELECT storage_key FROM media UNION SELECT poster_key FROM media WHERE poster_key IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|k| k.unwrap())
        .collect();
    assert!(
        keys.iter().any(|k| k.contains(new)),
        "no remapped key: {keys:?}"
    );
    for k in &keys {
        assert!(!k.contains(old), "{k}");
        let original = src.join("media").join(k.replace(new, old));
        assert_eq!(
            std::fs::read(dst.join("media").join(k)).unwrap(),
            std::fs::read(&original).unwrap(),
            "{k}"
        );
    }
    drop(c);

    // Two sites, neither the snapshot's: which one is meant is not clear.
    let c = Connection::open(&db).unwrap();
    c.execute_batch("INSERT INTO site (id, key, status, created_at, updated_at) SELECT 'sit_third', 'third', status, created_at, updated_at FROM site")
        .unwrap();
    drop(c);
    let before = content_dump(&db, &jarc::jant::tables::CONTENT_INSERT_ORDER);
    let o = run(
        &repo,
        &[
            "restore",
            &id,
            "--content",
            "--replace",
            "--target-data-dir",
            dst.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "has no site {old}, the snapshot's, and 2 others ({new}, sit_third)"
        )),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        content_dump(&db, &jarc::jant::tables::CONTENT_INSERT_ORDER),
        before
    );
}

/// A database file that lost every table since the last backup of its
/// source (here emptied to 0 bytes, which SQLite opens as an empty
/// database) is not recorded unless the operator allows it: retention
/// counts snapshots, and empty ones would push the good ones out.
#[test]
fn a_database_that_lost_all_its_tables_is_not_recorded_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 10);
    let repo = dir.path().join("repo");
    init(&repo);
    let db = data.join("jant.sqlite");
    let first = json(
        &repo,
        &["backup", "--database", db.to_str().unwrap(), "--no-media"],
    );
    std::fs::write(&db, b"").unwrap();
    for f in ["jant.sqlite-wal", "jant.sqlite-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    let snapshots = |repo: &Path| {
        listing(repo)
            .into_keys()
            .filter(|k| k.starts_with("snapshots/") && !k.ends_with('/'))
            .count()
    };
    let before = snapshots(&repo);
    let o = run(
        &repo,
        &["backup", "--database", db.to_str().unwrap(), "--no-media"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let short = &first["snapshot"].as_str().unwrap()[..8];
    assert!(
        stderr(&o).contains(&format!("holds no tables, but the previous snapshot of this source ({short}) held 18; nothing was recorded")),
        "{}",
        stderr(&o)
    );
    assert_eq!(json(&repo, &["snapshots"]).as_array().unwrap().len(), 1);
    assert_eq!(snapshots(&repo), before);
    let v = json(
        &repo,
        &[
            "backup",
            "--database",
            db.to_str().unwrap(),
            "--no-media",
            "--allow-empty",
        ],
    );
    assert_eq!(v["database"]["tables"], 0);
    assert_eq!(json(&repo, &["snapshots"]).as_array().unwrap().len(), 2);
}

/// A site restore killed after its media phase (before the database is
/// renamed into place) leaves the media and a partial database file; a
/// rerun without `--overwrite` says why it stops, and one with it finishes
/// the job without manual cleanup.
#[test]
fn a_killed_site_restore_is_finished_by_a_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 30);
    let repo = dir.path().join("repo");
    init(&repo);
    ok(&repo, &["backup", "--data-dir", data.to_str().unwrap()]);
    let out = dir.path().join("out");
    let args = [
        "restore",
        "latest",
        "--target-data-dir",
        out.to_str().unwrap(),
    ];
    let o = cmd(&repo)
        .env("JARC_FAILPOINT", "before-database-rename")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), None, "not killed: {}", stderr(&o));
    assert!(out.join("media").is_dir() && !out.join("jant.sqlite").exists());
    let o = run(&repo, &args);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is not empty"), "{}", stderr(&o));
    // The database built beside the media phase is not committed when
    // that phase fails.
    assert!(!out.join("jant.sqlite").exists());
    let mut again = args.to_vec();
    again.push("--overwrite");
    ok(&repo, &again);
    assert_eq!(
        verify::sqlite_dump(&data.join("jant.sqlite")).unwrap(),
        verify::sqlite_dump(&out.join("jant.sqlite")).unwrap()
    );
    assert_eq!(
        verify::file_digests(&data.join("media")).unwrap(),
        verify::file_digests(&out.join("media")).unwrap()
    );
    assert!(!out.join("jant.sqlite.jarc-partial").exists());

    // Killed after the database was renamed into place: the rerun finds
    // the snapshot's own database there, keeps it and finishes; a database
    // that holds anything else is refused, untouched.
    std::fs::remove_file(out.join("media/big.bin")).ok();
    let some = verify::file_digests(&out.join("media")).unwrap();
    let victim = some.keys().next().unwrap().clone();
    std::fs::remove_file(out.join("media").join(&victim)).unwrap();
    ok(&repo, &again);
    assert_eq!(
        verify::file_digests(&data.join("media")).unwrap(),
        verify::file_digests(&out.join("media")).unwrap()
    );
    let conn = rusqlite::Connection::open(out.join("jant.sqlite")).unwrap();
    conn.execute(
        "UPDATE post SET title = 'changed' WHERE rowid = (SELECT min(rowid) FROM post)",
        [],
    )
    .unwrap();
    drop(conn);
    let before = std::fs::read(out.join("jant.sqlite")).unwrap();
    let o = run(&repo, &again);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("jant.sqlite already exists; a full restore needs a blank target"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(out.join("jant.sqlite")).unwrap(), before);
}

/// A damaged media object costs that object, not the recovery: a full
/// site restore writes the database and every other object, names the
/// damaged one, and exits 3.
#[test]
fn a_full_restore_writes_everything_it_can_and_names_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 40);
    let repo = dir.path().join("repo");
    init(&repo);
    ok(&repo, &["backup", "--data-dir", data.to_str().unwrap()]);
    let (victim, chunk) = {
        let r = open_repo(repo.to_str().unwrap()).unwrap();
        let (_, snap) = jarc::snapshot::resolve(&r, "latest").unwrap();
        let entries = jarc::media::entries(&r, &snap).unwrap();
        let (k, e) = entries
            .iter()
            .find(|(_, e)| e.kind == jarc::media::EntryKind::File && !e.chunks.is_empty())
            .unwrap();
        (k.clone(), e.chunks[0])
    };
    damage_blob(&repo, &chunk);
    let target = dir.path().join("restored");
    let out = partial_restore(&repo, &target);
    assert!(
        out.contains("media object(s) could not be restored; everything else was:"),
        "{out}"
    );
    assert!(out.contains(&format!("  {victim}: ")), "{out}");
    // The database is whole, and every other object is as it was.
    assert_eq!(
        verify::sqlite_dump(&target.join("jant.sqlite")).unwrap(),
        verify::sqlite_dump(&data.join("jant.sqlite")).unwrap()
    );
    let mut want = verify::file_digests(&data.join("media")).unwrap();
    let mut got = verify::file_digests(&target.join("media")).unwrap();
    assert!(
        want.keys().any(|k| k == &victim),
        "{victim} not among the media"
    );
    want.retain(|k, _| !k.starts_with(&victim));
    got.retain(|k, _| !k.starts_with(&victim));
    assert_eq!(got, want);
}

/// A database-only snapshot is listed by its database: `snapshots` shows
/// its tables and rows (not "0 files, 0 B"), `ls` its tables with their
/// row counts, and times carry their zone.
#[test]
fn listings_show_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 30);
    let repo = dir.path().join("repo");
    init(&repo);
    json(
        &repo,
        &["backup", "--data-dir", data.to_str().unwrap(), "--no-media"],
    );
    let db = data.join("jant.sqlite");
    let c = Connection::open(&db).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let posts = count(&db, "SELECT count(*) FROM post") as u64;
    assert!(posts > 0);

    let snaps = json(&repo, &["snapshots"]);
    let d = &snaps[0]["database"];
    let ls = json(&repo, &["ls", "latest"]);
    let listed: Vec<(&str, u64)> = ls
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "table")
        .map(|e| (e["key"].as_str().unwrap(), e["size"].as_u64().unwrap()))
        .collect();
    assert!(listed.contains(&("post", posts)), "{ls}");
    for t in &tables {
        if t.ends_with("_fts") || t.contains("_fts_") {
            continue;
        }
        assert!(
            listed.iter().any(|(n, _)| n == t),
            "table {t} not listed: {ls}"
        );
    }
    let rows: u64 = listed.iter().map(|(_, n)| n).sum();
    assert_eq!(d["tables"].as_u64().unwrap(), listed.len() as u64, "{d}");
    assert_eq!(d["rows"].as_u64().unwrap(), rows);
    assert_eq!(snaps[0]["summary"]["files"], 0);

    let text = ok(&repo, &["snapshots"]);
    let line = text.lines().nth(1).unwrap();
    assert!(
        line.contains(&format!("{} t / {rows} rows", listed.len())),
        "{text}"
    );
    assert!(line.contains(" UTC "), "{text}");
    let text = ok(&repo, &["ls", "latest"]);
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with(&format!("{posts} rows"))
                && l.ends_with("table post")),
        "{text}"
    );
}

/// Damaged metadata costs what is under it, not the recovery: a damaged
/// node of the media listing loses the objects under it (named as a part
/// of the listing with their count) and every other object is restored;
/// a damaged table of the database loses the database, and the media are
/// still written. Both exit 3.
#[test]
fn damaged_listings_and_tables_cost_what_is_under_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 20);
    // Enough objects for a media listing of several nodes.
    for i in 0..700 {
        write(
            &data.join(format!("media/many/object-with-a-long-name-{i:04}.txt")),
            format!("object {i}").as_bytes(),
        );
    }
    let repo = dir.path().join("repo");
    init(&repo);
    ok(&repo, &["backup", "--data-dir", data.to_str().unwrap()]);
    let (leaf, leaf_count, table_root, first_count, tables) = {
        let r = open_repo(repo.to_str().unwrap()).unwrap();
        let (_, snap) = jarc::snapshot::resolve(&r, "latest").unwrap();
        let root = snap.root(jarc::snapshot::MEDIA_ROOT).unwrap();
        let node = jarc::tree::Node::decode(&r.load_blob(&root.node).unwrap()).unwrap();
        let jarc::tree::Node::Internal { children, .. } = node else {
            panic!("a listing of 700+ objects is one leaf");
        };
        assert!(children.len() >= 3, "{}", children.len());
        let (c, first_count) = (&children[1], children[0].count);
        let tables = snap.tables().len() as u64;
        let posts = snap
            .roots
            .iter()
            .find(|(n, _)| n.ends_with("/post"))
            .unwrap()
            .1
            .node;
        (c.node, c.count, posts, first_count, tables)
    };
    let all = verify::file_digests(&data.join("media")).unwrap();
    let db_dump = verify::sqlite_dump(&data.join("jant.sqlite")).unwrap();

    // One damaged copy of a tree node costs nothing: its pack's copy
    // serves it (format-spec §4.3), and check names the damage.
    damage_blob(&repo, &leaf);
    damage_blob(&repo, &table_root);
    let target = dir.path().join("r0");
    ok(
        &repo,
        &[
            "restore",
            "latest",
            "--target-data-dir",
            target.to_str().unwrap(),
        ],
    );
    let mut got = verify::file_digests(&target.join("media")).unwrap();
    got.retain(|k, _| !k.ends_with(jarc::jant::SIDECAR_SUFFIX) || all.contains_key(k));
    assert!(got == all);
    assert_eq!(
        verify::sqlite_dump(&target.join("jant.sqlite")).unwrap(),
        db_dump
    );
    let o = run(&repo, &["check", "--read-data"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let said = String::from_utf8_lossy(&o.stdout).into_owned() + &stderr(&o);
    assert!(said.contains("is whole and serves it"), "{said}");
    // Both copies damaged: what is under the node is lost, and only that.
    damage_copy(&repo, &leaf);
    let target = dir.path().join("r1");
    let out = partial_restore(&repo, &target);
    assert!(
        out.contains(&format!(
            "  (media listing): {leaf_count} entries of the media listing: "
        )),
        "{out}"
    );
    let mut got = verify::file_digests(&target.join("media")).unwrap();
    // Jant's sidecars are written beside each restored object.
    got.retain(|k, _| !k.ends_with(jarc::jant::SIDECAR_SUFFIX) || all.contains_key(k));
    assert_eq!(got.len() as u64, all.len() as u64 - leaf_count);
    assert!(got.iter().all(|(k, v)| all.get(k) == Some(v)));
    assert_eq!(
        verify::sqlite_dump(&target.join("jant.sqlite")).unwrap(),
        verify::sqlite_dump(&data.join("jant.sqlite")).unwrap()
    );
    // `ls` prints the listing as it reads it: it stops at the damaged
    // node, after the entries before it, and says why.
    let o = run(&repo, &["--json", "ls", "latest"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("blob {leaf} in pack ")),
        "{}",
        stderr(&o)
    );
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(printed.starts_with("[\n") && !printed.trim_end().ends_with(']'));
    let items = printed.matches("\n    \"type\": ").count() as u64;
    assert_eq!(items, tables + first_count, "{printed}");

    damage_copy(&repo, &table_root);
    let target = dir.path().join("r2");
    let out = partial_restore(&repo, &target);
    assert!(
        out.contains("the database could NOT be restored (the media were): "),
        "{out}"
    );
    assert!(!target.join("jant.sqlite").exists());
    assert!(!target.join("jant.sqlite.jarc-partial").exists());
    let mut got = verify::file_digests(&target.join("media")).unwrap();
    // Jant's sidecars are written beside each restored object.
    got.retain(|k, _| !k.ends_with(jarc::jant::SIDECAR_SUFFIX) || all.contains_key(k));
    assert_eq!(got.len() as u64, all.len() as u64 - leaf_count);
}

/// One post (by its slug: the whole thread), one collection (by id) and
/// one media object (by key) restored into the live site after Jant-like
/// accidents: each comes back exactly as the snapshot has it, and every
/// other row stays as the site has it now (edits since the snapshot
/// included). An unknown name changes nothing. Into a directory, the
/// objects and a rows.sql come out.
#[test]
fn one_post_collection_or_media_object_comes_back_beside_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 60);
    let db = data.join("jant.sqlite");
    let media = data.join("media");
    let repo = dir.path().join("repo");
    init(&repo);
    let d = data.to_str().unwrap();
    ok(&repo, &["backup", "--data-dir", d]);
    let at_backup = content_dump(&db, &CONTENT);
    let media_at_backup = verify::file_digests(&media).unwrap();
    let s = demo::SITE_ID;
    let file = format!("media/{s}/files/med_000004.png");
    let avatar = format!("media/{s}/assets/avatar/med_avatar01.png");

    // Accidents, with Jant's foreign keys on: thread 10 deleted (its
    // replies, paths and membership cascade; its media row is detached)
    // and its image removed; collection col_02 deleted (its memberships
    // cascade); the avatar's row and file removed. And life since: an
    // edit and a new post, which must stay.
    let c = Connection::open(&db).unwrap();
    c.pragma_update(None, "foreign_keys", "ON").unwrap();
    c.execute_batch(
        "DELETE FROM post WHERE id = 'pst_0000010';
         DELETE FROM collection WHERE id = 'col_02';
         DELETE FROM media WHERE id = 'med_avatar01';
         UPDATE post SET title = 'edited since' WHERE id = 'pst_0000000';",
    )
    .unwrap();
    c.execute(
        "INSERT INTO post (id, site_id, format, title, thread_id, created_at, updated_at)
         VALUES ('pst_9000001', ?1, 'note', 'new since', 'pst_9000001', 1, 1)",
        [s],
    )
    .unwrap();
    drop(c);
    std::fs::remove_file(media.join(&file)).unwrap();
    std::fs::remove_file(media.join(&avatar)).unwrap();
    let now = content_dump(&db, &CONTENT);
    assert!(now.len() < at_backup.len() - 8, "the accident removed rows");
    let edits: Vec<&String> = now
        .iter()
        .filter(|l| l.contains("edited since") || l.contains("pst_9000001"))
        .collect();
    assert_eq!(edits.len(), 2, "{edits:?}");

    // A name the snapshot does not hold: refused, named, nothing changed.
    let o = run(
        &repo,
        &[
            "restore",
            "latest",
            "--post",
            "no-such-post",
            "--target-data-dir",
            d,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the snapshot holds no post with id or path \"no-such-post\""),
        "{}",
        stderr(&o)
    );
    assert_eq!(content_dump(&db, &CONTENT), now);

    // The post by its slug (without the leading slash): its thread.
    let r = json(
        &repo,
        &[
            "restore",
            "latest",
            "--post",
            "thread-10",
            "--target-data-dir",
            d,
        ],
    );
    let sum = &r["summary"];
    assert_eq!(sum["items"][0], "post pst_0000010", "{r}");
    assert_eq!(sum["rows"]["post"], 5, "{r}");
    assert_eq!(sum["rows"]["media"], 1, "{r}");
    assert_eq!(sum["rows"]["thread_collection"], 1, "{r}");
    assert_eq!(sum["media"]["files"], 1, "only the missing image: {r}");
    // The collection by id and the avatar by key, together.
    let r = json(
        &repo,
        &[
            "restore",
            "latest",
            "--collection",
            "col_02",
            "--media",
            &avatar,
            "--target-data-dir",
            d,
        ],
    );
    let sum = &r["summary"];
    assert_eq!(sum["rows"]["collection"], 1, "{r}");
    assert_eq!(sum["rows"]["thread_collection"], 2, "{r}");
    assert_eq!(sum["rows"]["media"], 1, "{r}");
    assert_eq!(sum["media"]["files"], 1, "{r}");

    // Everything is as the snapshot has it, but for the edits since.
    let mut want: Vec<String> = at_backup
        .iter()
        .filter(|l| !l.starts_with("post | t\"pst_0000000\" |"))
        .cloned()
        .chain(edits.iter().map(|l| l.to_string()))
        .collect();
    want.sort();
    let mut got = content_dump(&db, &CONTENT);
    got.sort();
    let lost: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
    let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).collect();
    assert!(
        lost.is_empty() && extra.is_empty(),
        "lost {lost:#?}\nextra {extra:#?}"
    );
    assert_eq!(verify::file_digests(&media).unwrap(), media_at_backup);
    assert_eq!(
        count(&db, "SELECT count(*) FROM pragma_foreign_key_check"),
        0
    );
    // The search index followed the rows (Jant's triggers fired).
    Connection::open(&db)
        .unwrap()
        .execute_batch("INSERT INTO post_fts(post_fts) VALUES ('integrity-check')")
        .unwrap();

    // Into a directory: the thread's objects and its rows as SQL.
    let out = dir.path().join("out");
    let o = ok(
        &repo,
        &[
            "restore",
            "latest",
            "--post",
            "pst_0000012",
            "--target",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        o.contains("post pst_0000012 (in the thread of pst_0000010)"),
        "{o}"
    );
    let sql = std::fs::read_to_string(out.join("rows.sql")).unwrap();
    assert_eq!(sql.matches("INSERT INTO \"post\" ").count(), 5, "{sql}");
    assert_eq!(sql.matches("INSERT INTO \"media\" ").count(), 1, "{sql}");
    assert_eq!(
        std::fs::read(out.join(&file)).unwrap(),
        std::fs::read(media.join(&file)).unwrap()
    );
}

/// `restore --dry-run` checks what the restore checks, counts what it
/// would write (the same counts the real restore then reports), and
/// writes nothing: for a site, a media selection and one post.
#[test]
fn dry_run_restores_count_what_the_real_ones_write_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 30);
    let db = data.join("jant.sqlite");
    let repo = dir.path().join("repo");
    init(&repo);
    let d = data.to_str().unwrap();
    ok(&repo, &["backup", "--data-dir", d]);
    let new = dir.path().join("new");
    let n = new.to_str().unwrap();

    let dry = json(
        &repo,
        &["restore", "latest", "--target-data-dir", n, "--dry-run"],
    );
    assert!(!new.exists(), "a dry run created the target");
    assert_eq!(dry["summary"]["dry_run"], true);
    let real = json(&repo, &["restore", "latest", "--target-data-dir", n]);
    assert_eq!(real["summary"]["dry_run"], false);
    for f in [
        ["database", "tables"],
        ["database", "rows"],
        ["media", "files"],
        ["media", "bytes"],
    ] {
        assert_eq!(
            dry["summary"][f[0]][f[1]], real["summary"][f[0]][f[1]],
            "{f:?}"
        );
    }
    assert!(real["summary"]["database"]["rows"].as_u64().unwrap() > 30);
    // Refused as the real one would be: the target has a database now.
    let o = run(
        &repo,
        &["restore", "latest", "--target-data-dir", n, "--dry-run"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("already"), "{}", stderr(&o));

    // A media selection: the keys it would write are the files it writes.
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let dry = json(
        &repo,
        &[
            "restore",
            "latest",
            "--target",
            o,
            "--include",
            "*.png",
            "--dry-run",
        ],
    );
    assert!(!out.exists());
    let mut would: Vec<String> = dry["summary"]["would_write"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    would.sort();
    assert!(!would.is_empty() && would.iter().all(|k| k.ends_with(".png")));
    ok(
        &repo,
        &["restore", "latest", "--target", o, "--include", "*.png"],
    );
    // Directories and Jant's sidecars come with the objects.
    let written: Vec<String> = listing(&out)
        .into_keys()
        .filter(|k| !k.ends_with('/') && !k.ends_with(jarc::jant::SIDECAR_SUFFIX))
        .collect();
    assert_eq!(written, would);

    // One post into the live site: counted, not written.
    let before = verify::sqlite_dump(&db).unwrap();
    let text = ok(
        &repo,
        &[
            "restore",
            "latest",
            "--post",
            "thread-5",
            "--target-data-dir",
            d,
            "--dry-run",
        ],
    );
    assert!(text.contains("would restore from snapshot"), "{text}");
    assert!(text.contains("post 5"), "{text}");
    assert!(text.contains("dry run: nothing was written"), "{text}");
    assert_eq!(verify::sqlite_dump(&db).unwrap(), before);
}
