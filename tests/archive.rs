//! Jant site snapshot archives: export any snapshot as an archive Jant
//! imports, import Jant-made archives (v2, v1, legacy), round trips byte for
//! byte, Jant's replace sequence on the exported SQL, secrets kept out,
//! hostile archives refused, deduplication across nightly archives, and
//! `db export` dumps both ways.

mod support;

use jarc::demo::fixture as demo;
use jarc::restore::content;
use jarc::row::Value;
use jarc::snapshot;
use rusqlite::Connection;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::jant::{self as jz, RawEntry};
use support::*;

const SITE: &str = "sit_01jdemo0000000000000000000";

fn site(dir: &Path, posts: usize) -> PathBuf {
    let data = dir.join("data");
    demo::create_sqlite_site(&data, posts).unwrap();
    data
}

fn snap_id(v: &serde_json::Value) -> String {
    v["snapshot"].as_str().unwrap().to_string()
}

/// Content rows of a snapshot's site, by table, in export order.
fn content_rows(repo: &Path, id: &str) -> BTreeMap<String, (Vec<String>, Vec<Vec<Value>>)> {
    let r = open_repo(repo.to_str().unwrap()).unwrap();
    let (_, s) = snapshot::resolve(&r, id).unwrap();
    content::select(&r, &s, SITE)
        .unwrap()
        .into_iter()
        .map(|t| {
            let cols = t.table.columns.iter().map(|c| c.name.clone()).collect();
            (t.table.name.clone(), (cols, t.rows))
        })
        .collect()
}

fn count(c: &Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn without_exported_line(sql: &[u8]) -> String {
    String::from_utf8(sql.to_vec())
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-- Exported: "))
        .collect::<Vec<_>>()
        .join("\n")
}

const META_V2: &str = "{\n  \"format\": \"jant-site-snapshot\",\n  \"version\": 2,\n  \"dialect\": \"sqlite\",\n  \"jant\": \"0.10.0\",\n  \"schema\": \"0034_cheerful_rumiko_fujikawa\",\n  \"site\": {\n    \"id\": \"sit_01jdemo0000000000000000000\",\n    \"key\": \"default\"\n  }\n}\n";

#[test]
fn jant_made_archive_round_trips_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 250);
    let z = dir.path().join("jant.zip");
    jz::archive(
        &data.join("jant.sqlite"),
        &data.join("media"),
        SITE,
        META_V2,
        "2026-03-04T05:06:07.089Z",
        &z,
    );
    let repo = dir.path().join("repo");
    init(&repo);
    let imported = json(&repo, &["import", z.to_str().unwrap()]);
    assert_eq!(imported["site_id"], SITE);
    assert_eq!(imported["snapshot_version"], 2);
    let id = snap_id(&imported);
    let out = dir.path().join("again.zip");
    ok(&repo, &["export", &id, "--output", out.to_str().unwrap()]);

    let a = jz::unzip(&z);
    let b = jz::unzip(&out);
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "same entries"
    );
    assert_eq!(
        without_exported_line(&a["db.sql"]),
        without_exported_line(&b["db.sql"])
    );
    assert_eq!(a["meta.json"], b["meta.json"], "meta.json byte for byte");
    let objects = a.keys().filter(|k| k.starts_with("objects/")).count();
    assert!(objects > 50, "the site has objects ({objects})");
    for (k, v) in &a {
        assert_eq!(&b[k], v, "{k}");
    }
    // The imported snapshot holds what the archive said.
    let s = ok(&repo, &["snapshots"]);
    assert!(
        s.contains("2026-03-04 05:06:07"),
        "capture time from the header: {s}"
    );

    // A directory archive (Jant writes one when --output has no .zip) imports
    // to the same rows and objects.
    let d = dir.path().join("jant-dir");
    for (k, v) in &a {
        write(&d.join(k), v);
    }
    let id2 = snap_id(&json(&repo, &["import", d.to_str().unwrap()]));
    assert_eq!(content_rows(&repo, &id), content_rows(&repo, &id2));
    let out2 = dir.path().join("again-dir");
    ok(&repo, &["export", &id2, "--output", out2.to_str().unwrap()]);
    for (k, v) in &a {
        if k != "db.sql" {
            assert_eq!(&std::fs::read(out2.join(k)).unwrap(), v, "{k}");
        }
    }
}

#[test]
fn snapshot_exports_replay_with_jants_replace_sequence_and_import_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 300);
    let db = data.join("jant.sqlite");
    // Secrets and excluded settings that must never leave the database.
    {
        let c = Connection::open(&db).unwrap();
        c.execute_batch(
            "INSERT INTO site_setting VALUES ('sit_01jdemo0000000000000000000', 'PASSWORD_RESET_TOKEN', 'prt-secret-7d1c0a', 1);
             INSERT INTO site_setting VALUES ('sit_01jdemo0000000000000000000', 'GITHUB_SYNC_TOKEN', 'ghs-secret-55aa01', 1);",
        )
        .unwrap();
    }
    let secrets: Vec<String> = {
        let c = Connection::open(&db).unwrap();
        let mut v = Vec::new();
        for q in [
            "SELECT token FROM session",
            "SELECT coalesce(password, '') || '|' || coalesce(access_token, '') FROM account",
            "SELECT password FROM account",
            "SELECT access_token FROM account",
            "SELECT value FROM verification",
            "SELECT token_hash FROM api_token",
            "SELECT email FROM user",
            "SELECT host FROM site_domain",
            "SELECT value FROM site_setting WHERE key IN ('TELEGRAM_BOT_TOKEN', 'PASSWORD_RESET_TOKEN', 'GITHUB_SYNC_TOKEN')",
        ] {
            let mut st = c.prepare(q).unwrap();
            let rows: Vec<Option<String>> =
                st.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
            v.extend(rows.into_iter().flatten().filter(|s| s.len() >= 10));
        }
        v
    };
    assert!(secrets.len() >= 8, "{secrets:?}");
    let repo = dir.path().join("repo");
    init(&repo);
    let id = snap_id(&json(
        &repo,
        &["backup", "--data-dir", data.to_str().unwrap()],
    ));
    let z = dir.path().join("site.zip");
    let e = json(&repo, &["export", &id, "--output", z.to_str().unwrap()]);
    assert_eq!(e["site_key"], "default");
    assert!(!dir.path().join("site.zip.partial").exists());

    // The archive as Jant writes one.
    let entries = jz::unzip(&z);
    let mut names: Vec<&String> = entries.keys().collect();
    names.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
    let mut raw = zip::ZipArchive::new(std::fs::File::open(&z).unwrap()).unwrap();
    let order: Vec<String> = (0..raw.len())
        .map(|i| raw.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    assert_eq!(
        order.iter().collect::<Vec<_>>(),
        names,
        "entries in Jant's order"
    );
    for i in 0..raw.len() {
        let f = raw.by_index(i).unwrap();
        assert!(!f.is_dir(), "no directory entries");
        let n = f.name().unwrap().to_string();
        let media = [".png", ".webp", ".jpg", ".mp4", ".mp3"]
            .iter()
            .any(|e| n.ends_with(e));
        let want = if media {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        assert_eq!(f.compression(), want, "{n}");
        assert!(!n.ends_with(".meta.json"), "no sidecars: {n}");
    }
    let sql = String::from_utf8(entries["db.sql"].clone()).unwrap();
    assert!(sql.starts_with("-- Jant database export\n-- Exported: "));
    assert!(sql.contains("\n-- Source: node\n\n-- site_setting\nINSERT INTO \"site_setting\" (\"site_id\", \"key\", \"value\", \"updated_at\") VALUES("));
    assert!(sql.ends_with(");\n\n"));
    let tables: Vec<&str> = sql
        .lines()
        .filter_map(|l| l.strip_prefix("-- "))
        .filter(|l| !l.contains(':') && *l != "Jant database export")
        .collect();
    assert_eq!(
        tables,
        [
            "site_setting",
            "collection",
            "smart_collection",
            "post",
            "thread_collection",
            "nav_item",
            "collection_directory_item",
            "path_registry",
            "media"
        ]
    );
    assert_eq!(
        sql.matches("INSERT INTO \"site_setting\"").count(),
        jarc::jant::tables::SNAPSHOT_SETTING_KEYS.len()
    );
    // The schema tag is the journal tag of the newest migration drizzle
    // recorded (the demo's third, 0002); no Jant version is guessed.
    let meta = String::from_utf8(entries["meta.json"].clone()).unwrap();
    assert_eq!(meta, "{\n  \"format\": \"jant-site-snapshot\",\n  \"version\": 2,\n  \"dialect\": \"sqlite\",\n  \"schema\": \"0002_site_aware_core\",\n  \"site\": {\n    \"id\": \"sit_01jdemo0000000000000000000\",\n    \"key\": \"default\"\n  }\n}\n");
    // Every object the media rows name is there, byte for byte.
    for k in jz::object_keys(&db, SITE) {
        assert_eq!(
            entries[&format!("objects/{k}")],
            std::fs::read(data.join("media").join(&k)).unwrap(),
            "{k}"
        );
    }
    // Auth never enters: grep every byte of every entry (and the zip itself).
    let zip_bytes = std::fs::read(&z).unwrap();
    for s in &secrets {
        for (k, v) in entries
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain([("zip", &zip_bytes)])
        {
            assert!(
                !v.windows(s.len()).any(|w| w == s.as_bytes()),
                "secret {s:?} found in {k}"
            );
        }
    }
    for t in [
        "\"user\"",
        "\"session\"",
        "\"account\"",
        "\"verification\"",
        "\"api_token\"",
        "\"site_member\"",
        "\"site_domain\"",
        "\"site\" ",
    ] {
        assert!(!sql.contains(&format!("INSERT INTO {t}")), "{t}");
    }

    // Jant's replace sequence (reference §4.6) on a live Jant database of the
    // same site: deferred foreign keys, the DELETEs in Jant's order, db.sql,
    // the provider UPDATE, all in one transaction.
    let target = dir.path().join("live.sqlite");
    demo::create_sqlite_db(&target, 20).unwrap();
    let c = Connection::open(&target).unwrap();
    c.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let users_before = count(&c, "SELECT count(*) FROM session");
    let script = support::jant::replace_script(SITE, &sql, true);
    c.execute_batch(&script).unwrap();
    let fk: i64 = count(&c, "SELECT count(*) FROM pragma_foreign_key_check");
    assert_eq!(fk, 0, "foreign_key_check is clean");
    let ic: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ic, "ok");
    let src = Connection::open(&db).unwrap();
    for t in jarc::jant::tables::CONTENT_INSERT_ORDER {
        assert_eq!(
            count(&c, &format!("SELECT count(*) FROM \"{t}\"")),
            count(&src, &format!("SELECT count(*) FROM \"{t}\"")),
            "{t}"
        );
    }
    assert_eq!(
        count(&c, "SELECT count(*) FROM session"),
        users_before,
        "auth untouched"
    );

    // import(export(S)) holds S's content rows and objects.
    let back = snap_id(&json(&repo, &["import", z.to_str().unwrap()]));
    assert_eq!(content_rows(&repo, &id), content_rows(&repo, &back));
    let restored = dir.path().join("objects-back");
    ok(
        &repo,
        &["restore", &back, "--target", restored.to_str().unwrap()],
    );
    for k in jz::object_keys(&db, SITE) {
        assert_eq!(
            std::fs::read(restored.join(&k)).unwrap(),
            std::fs::read(data.join("media").join(&k)).unwrap()
        );
    }
    // The same snapshot exports to the same bytes.
    let z2 = dir.path().join("site2.zip");
    ok(&repo, &["export", &id, "--output", z2.to_str().unwrap()]);
    assert_eq!(std::fs::read(&z).unwrap(), std::fs::read(&z2).unwrap());
    // An existing output is never overwritten.
    let o = run(&repo, &["export", &id, "--output", z2.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("already exists; export into a new name"),
        "{}",
        stderr(&o)
    );
    // A full restore of an imported snapshot says why it cannot work.
    let o = run(
        &repo,
        &[
            "restore",
            &back,
            "--target-data-dir",
            dir.path().join("full").to_str().unwrap(),
        ],
    );
    assert!(
        stderr(&o).contains("holds rows but not the schema"),
        "{}",
        stderr(&o)
    );
    // ... and a content restore into a live Jant database does.
    ok(
        &repo,
        &[
            "restore",
            &back,
            "--content",
            "--replace",
            "--target-data-dir",
            data.to_str().unwrap(),
        ],
    );
}

fn hostile(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn hostile_and_broken_archives_are_refused_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    init(&repo);
    let meta = META_V2.as_bytes();
    let sql = b"-- Jant database export\n-- Exported: 2026-01-01T00:00:00.000Z\n-- Source: node\n\n-- post\nINSERT INTO \"collection\" (\"id\", \"site_id\") VALUES('col_1', 'sit_01jdemo0000000000000000000');\n";
    let good = |extra: Vec<RawEntry>| {
        let mut v = vec![
            RawEntry::new("db.sql", sql),
            RawEntry::new("meta.json", meta),
        ];
        v.extend(extra);
        jz::raw_zip(&v)
    };
    // The baseline imports, so each case below fails for its own reason.
    let base = hostile(dir.path(), "base.zip", &good(vec![]));
    ok(&repo, &["import", base.to_str().unwrap()]);
    let before = ok(&repo, &["snapshots"]);
    let packs_before = pack_count(&repo);

    let mut symlink = RawEntry::new("objects/link.png", b"/etc/passwd");
    symlink.unix_mode = 0o120777;
    let mut encrypted = RawEntry::new("objects/x.png", b"secret");
    encrypted.flags |= 1;
    let mut non_utf8 = RawEntry::new("objects/x.png", b"x");
    non_utf8.name = b"objects/\xff\xfe.png".to_vec();
    non_utf8.flags = 0;
    let bomb = RawEntry::new("objects/zeros.bin", &vec![0u8; 64 << 20]).deflated();
    let mut liar = RawEntry::new("db.sql", &[b' '; 4 << 20]).deflated();
    liar.declared_size = Some(1000);
    let mut huge_meta = RawEntry::new("meta.json", &[b' '; 4096]).deflated();
    huge_meta.declared_size = Some(1 << 30);
    let bad_meta = |m: &str| {
        jz::raw_zip(&[
            RawEntry::new("db.sql", sql),
            RawEntry::new("meta.json", m.as_bytes()),
        ])
    };
    let bad_sql = |s: &str| {
        jz::raw_zip(&[
            RawEntry::new("db.sql", s.as_bytes()),
            RawEntry::new("meta.json", meta),
        ])
    };
    let truncated = {
        let g = good(vec![RawEntry::new("objects/a.png", &noise(1, 100_000))]);
        g[..g.len() / 2].to_vec()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("dotdot.zip", good(vec![RawEntry::new("objects/../../evil.png", b"x")]), "entry name \"objects/../../evil.png\" contains a .. component"),
        ("absolute.zip", good(vec![RawEntry::new("/tmp/evil.png", b"x")]), "entry name \"/tmp/evil.png\" is an absolute path"),
        ("backslash.zip", good(vec![RawEntry::new("objects\\..\\evil.png", b"x")]), "entry name \"objects\\\\..\\\\evil.png\" contains a backslash"),
        ("symlink.zip", jz::raw_zip(&[RawEntry::new("db.sql", sql), RawEntry::new("meta.json", meta), symlink]), "entry objects/link.png is a symbolic link"),
        ("duplicate.zip", good(vec![RawEntry::new("objects/a.png", b"1"), RawEntry::new("objects/a.png", b"2")]), "two entries have the same name"),
        ("non-utf8.zip", jz::raw_zip(&[RawEntry::new("db.sql", sql), RawEntry::new("meta.json", meta), non_utf8]), "is not UTF-8"),
        ("encrypted.zip", jz::raw_zip(&[RawEntry::new("db.sql", sql), RawEntry::new("meta.json", meta), encrypted]), "entry objects/x.png is encrypted"),
        ("bomb.zip", jz::raw_zip(&[RawEntry::new("db.sql", sql), RawEntry::new("meta.json", meta), bomb]), "(more than 200:1); refusing a likely zip bomb"),
        ("liar.zip", jz::raw_zip(&[liar, RawEntry::new("meta.json", meta)]), "entry db.sql: holds more than the 1000 bytes its header declares (a zip bomb?)"),
        ("truncated.zip", truncated, "is it truncated?"),
        ("huge-meta.zip", jz::raw_zip(&[RawEntry::new("db.sql", sql), huge_meta]), "meta.json is 1073741824 bytes; a Jant meta.json is far smaller"),
        ("format.zip", bad_meta("{\"format\":\"other\",\"version\":2}"), "meta.json: format is \"other\", expected \"jant-site-snapshot\""),
        ("version.zip", bad_meta("{\"format\":\"jant-site-snapshot\",\"version\":3,\"site\":{\"id\":\"s\",\"key\":\"k\"}}"), "meta.json: version 3 is not supported (Jant snapshots are version 1 or 2)"),
        ("unterminated.zip", bad_sql("INSERT INTO \"post\" (\"id\") VALUES('open);\n"), "db.sql: unterminated quoted value in the statement starting at line 1"),
        ("drop.zip", bad_sql("-- x\nINSERT INTO \"collection\" (\"id\") VALUES('c');\nDROP TABLE \"user\";\n"), "db.sql line 3: only INSERT statements belong in a Jant dump, found: DROP TABLE \"user\""),
        ("auth.zip", bad_sql("INSERT INTO \"session\" (\"id\", \"token\") VALUES('s', 't');"), "db.sql line 1: an INSERT into the auth table \"session\"; a site snapshot never carries accounts, sessions or tokens"),
        ("missing.zip", bad_sql("INSERT INTO \"media\" (\"id\", \"site_id\", \"storage_key\", \"poster_key\") VALUES('m', 'sit_01jdemo0000000000000000000', 'media/a.png', '');"), "1 object(s) named by media rows are not in objects/: media/a.png; pass --allow-missing-objects"),
        ("no-meta.zip", jz::raw_zip(&[RawEntry::new("db.sql", sql)]), "has no meta.json at its root"),
    ];
    for (name, bytes, want) in cases {
        let p = hostile(dir.path(), name, &bytes);
        let o = run(&repo, &["import", p.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains(want), "{name}: expected {want:?} in:\n{err}");
        assert!(err.contains(name), "{name}: the archive is named: {err}");
        assert_eq!(ok(&repo, &["snapshots"]), before, "{name}: no snapshot");
    }
    assert!(!dir.path().join("evil.png").exists() && !Path::new("/tmp/evil.png").exists());
    // Only the liar and truncated cases could get as far as storing data;
    // nothing they stored is referenced, and the repository checks clean.
    assert!(pack_count(&repo) <= packs_before + 1);
    ok(&repo, &["check", "--read-data"]);
    // A file that is not named .zip is refused before it is read.
    let o = run(
        &repo,
        &["import", dir.path().join("base.tar").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    // The missing-object preflight gives way to --allow-missing-objects.
    let p = dir.path().join("missing.zip");
    let v = json(
        &repo,
        &["import", p.to_str().unwrap(), "--allow-missing-objects"],
    );
    assert_eq!(v["missing_objects"], serde_json::json!(["media/a.png"]));
}

#[test]
fn v1_and_legacy_archives_are_upgraded_as_jant_does() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    init(&repo);
    let meta = r#"{"format":"jant-site-snapshot","version":1,"scope":"content","createdAt":"2025-01-01T00:00:00.000Z","source":"node","tables":["setting","collection","post","post_collection","media"],"settingKeys":["SITE_NAME"]}"#;
    let sql = "-- Jant database export\n-- Exported: 2025-01-01T00:00:00.000Z\n-- Source: node\n\n\
INSERT INTO \"setting\" (\"key\", \"value\", \"updated_at\") VALUES('SITE_NAME', 'Old ''Blog''', 1700000000);\n\
INSERT INTO \"collection\" (\"id\", \"title\", \"created_at\", \"updated_at\") VALUES('col_A', 'A', 1, 1);\n\
INSERT INTO \"post\" (\"id\", \"format\", \"thread_id\", \"reply_to_id\", \"created_at\", \"updated_at\") VALUES('pst_1', 'note', 'pst_1', NULL, 10, 10);\n\
INSERT INTO \"post\" (\"id\", \"format\", \"thread_id\", \"reply_to_id\", \"created_at\", \"updated_at\") VALUES('pst_2', 'note', 'pst_1', 'pst_1', 20, 20);\n\
INSERT INTO \"post_collection\" (\"post_id\", \"collection_id\", \"created_at\", \"position\", \"pinned_at\") VALUES('pst_1', 'col_A', 100, 4, NULL);\n\
INSERT INTO \"post_collection\" (\"post_id\", \"collection_id\", \"created_at\", \"position\", \"pinned_at\") VALUES('pst_2', 'col_A', 200, 2, 300);\n\
INSERT INTO \"media\" (\"id\", \"post_id\", \"storage_key\", \"mime_type\") VALUES('med_1', 'pst_1', 'media/2025/01/a.png', 'image/png');\n";
    let z = hostile(
        dir.path(),
        "v1.zip",
        &jz::raw_zip(&[
            RawEntry::new("db.sql", sql.as_bytes()),
            RawEntry::new("meta.json", meta.as_bytes()),
            RawEntry::new("objects/media/2025/01/a.png", &noise(7, 5000)),
            RawEntry::new("storage-manifest.json", b"{\"version\":1,\"objects\":[]}"),
        ]),
    );
    let o = run(&repo, &["import", z.to_str().unwrap()]);
    assert!(
        stderr(&o)
            .contains("this archive predates sites (its meta.json names none); pass --site-id ID"),
        "{}",
        stderr(&o)
    );
    let v = json(
        &repo,
        &["import", z.to_str().unwrap(), "--site-id", "sit_OLD"],
    );
    assert_eq!(v["snapshot_version"], 1);
    let id = snap_id(&v);
    let out = dir.path().join("v2.zip");
    ok(&repo, &["export", &id, "--output", out.to_str().unwrap()]);
    let e = jz::unzip(&out);
    let sql = String::from_utf8(e["db.sql"].clone()).unwrap();
    assert!(sql.contains("INSERT INTO \"site_setting\" (\"site_id\", \"key\", \"value\", \"updated_at\") VALUES('sit_OLD', 'SITE_NAME', 'Old ''Blog''', 1700000000);"), "{sql}");
    assert!(sql.contains("-- thread_collection\nINSERT INTO \"thread_collection\" (\"site_id\", \"thread_id\", \"collection_id\", \"created_at\", \"position\", \"pinned_at\") VALUES('sit_OLD', 'pst_1', 'col_A', 200, 2, 300);\n\n"), "{sql}");
    assert!(!sql.contains("post_collection"));
    assert!(
        sql.contains("VALUES('sit_OLD', 'pst_2', 'note', 'pst_1', 'pst_1', 20, 20);"),
        "{sql}"
    );
    assert_eq!(e["objects/media/2025/01/a.png"], noise(7, 5000));
    let meta = String::from_utf8(e["meta.json"].clone()).unwrap();
    assert!(
        meta.contains("\"id\": \"sit_OLD\"") && meta.contains("\"version\": 2"),
        "{meta}"
    );
}

#[test]
fn nightly_archives_store_unchanged_objects_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 200);
    let db = data.join("jant.sqlite");
    let repo = dir.path().join("repo");
    init(&repo);
    let mut stored = Vec::new();
    let mut added = 0u64;
    for night in 0..30u64 {
        if night > 0 {
            // Each night: one post edited, one new 40 KB image.
            let c = Connection::open(&db).unwrap();
            let key = format!("media/{SITE}/files/med_night{night:02}.png");
            let bytes = noise(1000 + night, 40_000);
            write(&data.join("media").join(&key), &bytes);
            added += bytes.len() as u64;
            c.execute_batch(&format!(
                "UPDATE post SET body_text = 'night {night}' WHERE id = (SELECT id FROM post ORDER BY id LIMIT 1);
                 INSERT INTO media (id, site_id, post_id, filename, original_name, mime_type, size, storage_key, provider, position, media_kind, created_at, updated_at)
                 VALUES ('med_night{night:02}', '{SITE}', NULL, 'n.png', 'n.png', 'image/png', 40000, '{key}', 'local', 'a0', 'image', 1775000000, 1775000000);"
            ))
            .unwrap();
        }
        let z = dir.path().join(format!("night-{night:02}.zip"));
        jz::archive(
            &db,
            &data.join("media"),
            SITE,
            META_V2,
            &format!("2026-01-{:02}T03:00:00.000Z", night + 1),
            &z,
        );
        let v = json(&repo, &["import", z.to_str().unwrap()]);
        stored.push(v["bytes_new_stored"].as_u64().unwrap());
    }
    let media_bytes: u64 = jz::object_keys(&db, SITE)
        .iter()
        .map(|k| std::fs::metadata(data.join("media").join(k)).unwrap().len())
        .sum();
    let later: u64 = stored[1..].iter().sum();
    // 29 nights added `added` bytes of new images; the rest is rows and
    // tree nodes. Without deduplication they would add 29 × the media.
    assert!(
        later < added + 29 * 64 * 1024,
        "29 nightly imports stored {later} bytes for {added} new bytes (media total {media_bytes})"
    );
    assert!(
        media_bytes * 29 > 10 * later,
        "dedup works: {later} vs {media_bytes}"
    );
    let snaps = ok(&repo, &["snapshots"]);
    assert!(snaps.contains("30 snapshots"), "{snaps}");
    ok(&repo, &["check"]);
}

#[test]
fn sites_missing_objects_and_db_export_dumps() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 120);
    let db = data.join("jant.sqlite");
    {
        let c = Connection::open(&db).unwrap();
        c.execute_batch(
            "INSERT INTO site (id, key, status, created_at, updated_at) VALUES ('sit_02second', 'blog', 'active', 1, 1);
             INSERT INTO collection (id, site_id, title, sort_order, created_at, updated_at) VALUES ('col_second', 'sit_02second', 'Other site', 'newest', 1, 1);",
        )
        .unwrap();
    }
    let repo = dir.path().join("repo");
    init(&repo);
    let id = snap_id(&json(
        &repo,
        &["backup", "--data-dir", data.to_str().unwrap()],
    ));
    let out = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let o = run(&repo, &["export", &id, "--output", &out("a.zip")]);
    assert_eq!(
        stderr(&o).lines().last().unwrap_or_default(),
        format!("jarc: error: exporting snapshot {} to {}: the snapshot holds 2 sites: {SITE} (key default), sit_02second (key blog); choose one with --site KEY|ID", &id[..8], out("a.zip"))
    );
    ok(
        &repo,
        &[
            "export",
            &id,
            "--output",
            &out("blog.zip"),
            "--site",
            "blog",
        ],
    );
    let e = jz::unzip(Path::new(&out("blog.zip")));
    let sql = String::from_utf8(e["db.sql"].clone()).unwrap();
    assert!(sql.contains("'col_second'") && !sql.contains(SITE), "{sql}");
    assert_eq!(e.keys().filter(|k| k.starts_with("objects/")).count(), 0);
    // --skip-objects leaves objects/ out.
    ok(
        &repo,
        &[
            "export",
            &id,
            "--output",
            &out("skip.zip"),
            "--site",
            SITE,
            "--skip-objects",
        ],
    );
    assert_eq!(jz::unzip(Path::new(&out("skip.zip"))).len(), 2);

    // A snapshot missing an object its media rows name refuses to export.
    let victim = jz::object_keys(&db, SITE)[3].clone();
    std::fs::remove_file(data.join("media").join(&victim)).unwrap();
    let id2 = snap_id(&json(
        &repo,
        &["backup", "--data-dir", data.to_str().unwrap()],
    ));
    let o = run(
        &repo,
        &["export", &id2, "--output", &out("m.zip"), "--site", SITE],
    );
    assert!(
        stderr(&o).contains(&format!("1 object(s) named by the site's media rows are missing from the snapshot: {victim}; pass --allow-missing-objects")),
        "{}",
        stderr(&o)
    );
    assert!(!Path::new(&out("m.zip")).exists() && !Path::new(&out("m.zip.partial")).exists());
    let v = json(
        &repo,
        &[
            "export",
            &id2,
            "--output",
            &out("m.zip"),
            "--site",
            SITE,
            "--allow-missing-objects",
        ],
    );
    assert_eq!(v["missing_objects"], serde_json::json!([victim]));

    // An interrupted export leaves neither the archive nor its .partial.
    let o = cmd(&repo)
        .env("JARC_FAILPOINT", "export-before-rename")
        .args(["export", &id, "--output", &out("f.zip"), "--site", SITE])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!Path::new(&out("f.zip")).exists() && !Path::new(&out("f.zip.partial")).exists());

    // db export: every table, auth included, in Jant's table order; it
    // imports back with the media directory to the same rows.
    ok(&repo, &["export", &id, "--sql", &out("dump.sql")]);
    let dump = std::fs::read_to_string(out("dump.sql")).unwrap();
    let order: Vec<&str> = dump
        .lines()
        .filter_map(|l| l.strip_prefix("-- "))
        .filter(|l| !l.contains(':') && *l != "Jant database export")
        .collect();
    assert_eq!(
        &order[..5],
        ["site", "user", "account", "verification", "session"]
    );
    assert!(!dump.contains("__drizzle_migrations") && !dump.contains("post_fts"));
    let v = json(
        &repo,
        &[
            "import",
            "--sql",
            &out("dump.sql"),
            "--media",
            data.join("media").to_str().unwrap(),
            "--allow-missing-objects",
        ],
    );
    let back = snap_id(&v);
    let r = open_repo(repo.to_str().unwrap()).unwrap();
    let (_, a) = snapshot::resolve(&r, &id).unwrap();
    let (_, b) = snapshot::resolve(&r, &back).unwrap();
    let sa = jarc::database::schema(&r, &a).unwrap();
    let sb = jarc::database::schema(&r, &b).unwrap();
    let mut compared = 0;
    for t in sb {
        let ta = sa.iter().find(|x| x.name == t.name).unwrap();
        let ra: Vec<Vec<Value>> = jarc::database::rows(&r, &a, ta)
            .map(Result::unwrap)
            .collect();
        let rb: Vec<Vec<Value>> = jarc::database::rows(&r, &b, &t)
            .map(Result::unwrap)
            .collect();
        let skip = (ta.key == jarc::schema::RowKey::RowId) as usize;
        let ra: Vec<Vec<Value>> = ra.into_iter().map(|x| x[skip..].to_vec()).collect();
        let mut ra = ra;
        let mut rb = rb;
        ra.sort_by_key(|x| format!("{x:?}"));
        rb.sort_by_key(|x| format!("{x:?}"));
        assert_eq!(ra, rb, "table {}", t.name);
        compared += 1;
    }
    assert!(compared >= 17, "{compared} tables compared");
    assert_eq!(jarc::database::extra(&b, "site.id"), Some(SITE));
}

/// yauzl (the streaming zip reader Jant's importer uses) reads an exported
/// archive entry for entry, byte for byte.
#[test]
fn jants_zip_reader_reads_exported_archives() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 80);
    let repo = dir.path().join("repo");
    init(&repo);
    let id = snap_id(&json(
        &repo,
        &["backup", "--data-dir", data.to_str().unwrap()],
    ));
    let z = dir.path().join("site.zip");
    ok(&repo, &["export", &id, "--output", z.to_str().unwrap()]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/node/yauzl-extract.js");
    assert!(
        script.with_file_name("node_modules").join("yauzl").exists(),
        "yauzl is not installed: run the suite through scripts/test.sh (npm ci --prefix tests/node)"
    );
    let out = dir.path().join("yauzl-out");
    let o = std::process::Command::new("node")
        .arg(&script)
        .arg(&z)
        .arg(&out)
        .output()
        .expect("node runs (scripts/test.sh installs it)");
    assert!(
        o.status.success(),
        "yauzl refused the archive: {}",
        stderr(&o)
    );
    let listed: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ours = jz::unzip(&z);
    assert_eq!(
        listed.len(),
        ours.len(),
        "every entry, no directory entries"
    );
    for e in &listed {
        let name = e["name"].as_str().unwrap();
        assert_eq!(std::fs::read(out.join(name)).unwrap(), ours[name], "{name}");
        let stored = [".png", ".webp", ".jpg", ".mp4"]
            .iter()
            .any(|x| name.ends_with(x));
        assert_eq!(e["method"], if stored { 0 } else { 8 }, "{name}");
    }
}

const SITE_ID: &str = demo::SITE_ID;

const HEADER: &str =
    "-- Jant database export\n-- Exported: 2026-01-01T00:00:00.000Z\n-- Source: node\n\n";

fn meta_of(dialect: &str, schema: &str) -> String {
    format!("{{\n  \"format\": \"jant-site-snapshot\",\n  \"version\": 2,\n  \"dialect\": \"{dialect}\",\n  \"schema\": \"{schema}\",\n  \"site\": {{\n    \"id\": \"{SITE_ID}\",\n    \"key\": \"default\"\n  }}\n}}\n")
}

/// A small v2 archive: a collection, a post with a reply, a media row of
/// the post with its object, and `extra` statements; `objects` beyond it.
fn rule_archive(meta: &str, extra: &str, objects: &[&str]) -> Vec<u8> {
    let sql = format!(
        "{HEADER}-- site_setting\nINSERT INTO \"site_setting\" (\"site_id\", \"key\", \"value\", \"updated_at\") VALUES('{SITE_ID}', 'SITE_NAME', 'N', 1);\n\n\
-- collection\nINSERT INTO \"collection\" (\"id\", \"site_id\", \"title\", \"created_at\", \"updated_at\") VALUES('col_1', '{SITE_ID}', 'C', 1, 1);\n\n\
-- post\nINSERT INTO \"post\" (\"id\", \"site_id\", \"format\", \"thread_id\", \"reply_to_id\", \"quiet_reply\", \"created_at\", \"updated_at\") VALUES('pst_1', '{SITE_ID}', 'note', 'pst_1', NULL, false, 1, 1);\n\
INSERT INTO \"post\" (\"id\", \"site_id\", \"format\", \"thread_id\", \"reply_to_id\", \"quiet_reply\", \"created_at\", \"updated_at\") VALUES('pst_2', '{SITE_ID}', 'note', 'pst_1', 'pst_1', true, 2, 2);\n\n\
-- media\nINSERT INTO \"media\" (\"id\", \"site_id\", \"post_id\", \"storage_key\", \"mime_type\") VALUES('med_1', '{SITE_ID}', 'pst_1', 'media/a.png', 'image/png');\n\
{extra}"
    );
    let mut v = vec![
        RawEntry::new("db.sql", sql.as_bytes()),
        RawEntry::new("meta.json", meta.as_bytes()),
        RawEntry::new("objects/media/a.png", &noise(3, 1000)),
    ];
    for o in objects {
        v.push(RawEntry::new(&format!("objects/{o}"), b"{}"));
    }
    jz::raw_zip(&v)
}

#[test]
fn import_refuses_exactly_what_jants_importer_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    init(&repo);
    let sqlite = meta_of("sqlite", "0034_cheerful_rumiko_fujikawa");
    let pg = meta_of("pg", "0032_furry_multiple_man");
    let other = "sit_01jother000000000000000000";
    // (name, archive Jant accepts, archive Jant refuses, the refusal)
    let cases: Vec<(&str, Vec<u8>, Vec<u8>, String)> = vec![
        (
            "schema-tag",
            rule_archive(&meta_of("sqlite", "0001_fts_setup"), "", &[]),
            // A pg tag in a SQLite archive, and a tag no Jant ships.
            rule_archive(&meta_of("sqlite", "0032_furry_multiple_man"), "", &[]),
            "rule schema-tag: meta.json names schema \"0032_furry_multiple_man\", which is not a migration Jant ships for the sqlite dialect (its newest is 0034_cheerful_rumiko_fujikawa)".into(),
        ),
        (
            "no-sidecars",
            rule_archive(&sqlite, "", &["media/b.json"]),
            rule_archive(&sqlite, "", &["media/a.png.meta.json"]),
            "rule no-sidecars: objects/media/a.png.meta.json is a .meta.json sidecar".into(),
        ),
        (
            "excluded-setting",
            rule_archive(&sqlite, &format!("INSERT INTO \"site_setting\" (\"site_id\", \"key\", \"value\", \"updated_at\") VALUES('{SITE_ID}', 'THEME', 'x', 1);\n"), &[]),
            rule_archive(&sqlite, &format!("INSERT INTO \"site_setting\" (\"site_id\", \"key\", \"value\", \"updated_at\") VALUES('{SITE_ID}', 'TELEGRAM_BOT_TOKEN', 'secret', 1);\n"), &[]),
            "rule excluded-setting: db.sql line 17: table site_setting, row \"TELEGRAM_BOT_TOKEN\": setting \"TELEGRAM_BOT_TOKEN\" is one Jant's snapshots exclude".into(),
        ),
        (
            "site-id",
            rule_archive(&sqlite, &format!("INSERT INTO \"nav_item\" (\"id\", \"site_id\", \"label\", \"url\") VALUES('nav_1', '{SITE_ID}', 'L', '/');\n"), &[]),
            rule_archive(&sqlite, &format!("INSERT INTO \"nav_item\" (\"id\", \"site_id\", \"label\", \"url\") VALUES('nav_1', '{other}', 'L', '/');\n"), &[]),
            format!("rule site-id: db.sql line 17: table nav_item, row \"nav_1\": site_id is \"{other}\", not the archive's site \"{SITE_ID}\""),
        ),
        (
            "foreign-key",
            rule_archive(&sqlite, &format!("INSERT INTO \"media\" (\"id\", \"site_id\", \"post_id\", \"storage_key\", \"mime_type\") VALUES('med_2', '{SITE_ID}', 'pst_2', 'media/a.png', 'image/png');\n"), &[]),
            rule_archive(&sqlite, &format!("INSERT INTO \"media\" (\"id\", \"site_id\", \"post_id\", \"storage_key\", \"mime_type\") VALUES('med_2', '{SITE_ID}', 'pst_gone', 'media/a.png', 'image/png');\n"), &[]),
            "rule foreign-key: db.sql line 17: table media, row \"med_2\": post_id names post \"pst_gone\", which the archive does not hold".into(),
        ),
        (
            "pg-boolean",
            rule_archive(&pg, "", &[]),
            rule_archive(&pg, &format!("INSERT INTO \"post\" (\"id\", \"site_id\", \"format\", \"thread_id\", \"reply_to_id\", \"quiet_reply\", \"created_at\", \"updated_at\") VALUES('pst_3', '{SITE_ID}', 'note', 'pst_1', 'pst_1', 0, 3, 3);\n"), &[]),
            "rule pg-boolean: db.sql line 17: table post, row \"pst_3\": quiet_reply is written as the number 0, which Postgres refuses for a boolean column".into(),
        ),
        (
            "pg-integer",
            rule_archive(&pg, &format!("INSERT INTO \"thread_collection\" (\"site_id\", \"thread_id\", \"collection_id\", \"created_at\", \"position\") VALUES('{SITE_ID}', 'pst_1', 'col_1', 1, '7');\n"), &[]),
            rule_archive(&pg, &format!("INSERT INTO \"thread_collection\" (\"site_id\", \"thread_id\", \"collection_id\", \"created_at\", \"position\") VALUES('{SITE_ID}', 'pst_1', 'col_1', 1, 'first');\n"), &[]),
            "rule pg-integer: db.sql line 17: table thread_collection, row \"pst_1\": position is \"first\", which Postgres refuses for an integer column".into(),
        ),
    ];
    for (rule, good, bad, want) in cases {
        let before = listing(&repo);
        let p = hostile(dir.path(), &format!("{rule}-bad.zip"), &bad);
        let o = run(&repo, &["import", p.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{rule}: {err}");
        assert!(err.contains(&want), "{rule}: expected {want:?} in:\n{err}");
        assert!(err.contains("nothing was imported"), "{rule}: {err}");
        assert_eq!(
            listing(&repo),
            before,
            "{rule}: a refused import changed the repository"
        );
        let p = hostile(dir.path(), &format!("{rule}-good.zip"), &good);
        let v = json(&repo, &["import", p.to_str().unwrap()]);
        // Every archive jarc accepts exports again as one Jant accepts:
        // re-imported here, it passes every rule.
        let id = v["snapshot"].as_str().unwrap().to_string();
        let z = dir.path().join(format!("{rule}-again.zip"));
        ok(&repo, &["export", &id, "--output", z.to_str().unwrap()]);
        ok(&repo, &["import", z.to_str().unwrap()]);
    }
}

#[test]
fn export_never_writes_an_archive_that_would_empty_a_site() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    init(&repo);
    // Settings only: a valid archive, but no content rows.
    let sql = format!("{HEADER}-- site_setting\nINSERT INTO \"site_setting\" (\"site_id\", \"key\", \"value\", \"updated_at\") VALUES('{SITE_ID}', 'SITE_NAME', 'N', 1);\n");
    let z = hostile(
        dir.path(),
        "settings-only.zip",
        &jz::raw_zip(&[
            RawEntry::new("db.sql", sql.as_bytes()),
            RawEntry::new(
                "meta.json",
                meta_of("sqlite", "0034_cheerful_rumiko_fujikawa").as_bytes(),
            ),
        ]),
    );
    let id = json(&repo, &["import", z.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let out = dir.path().join("empty.zip");
    let o = run(&repo, &["export", &id, "--output", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("the snapshot holds no content rows (posts, collections, media, …) for site {SITE_ID} (key default); Jant's --replace import of such an archive deletes the site's content, so none was written")),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists() && !dir.path().join("empty.zip.partial").exists());
    ok(
        &repo,
        &[
            "export",
            &id,
            "--output",
            out.to_str().unwrap(),
            "--allow-empty",
        ],
    );
    assert!(jz::unzip(&out)["db.sql"].starts_with(HEADER.as_bytes()));
}

#[test]
fn sql_dumps_need_a_site_and_export_with_their_dialect() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    init(&repo);
    let no_site = hostile(
        dir.path(),
        "no-site.sql",
        format!("{HEADER}-- post\nINSERT INTO \"post\" (\"id\", \"site_id\", \"format\", \"thread_id\") VALUES('pst_1', '{SITE_ID}', 'note', 'pst_1');\n").as_bytes(),
    );
    let before = listing(&repo);
    let o = run(&repo, &["import", "--sql", no_site.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the dump holds no row of table \"site\" (with its id and key), so it names no Jant site"),
        "{}",
        stderr(&o)
    );
    assert_eq!(listing(&repo), before);
    // A Postgres dump (booleans say so) exports as a pg archive.
    let pg = hostile(
        dir.path(),
        "pg.sql",
        format!("{HEADER}-- site\nINSERT INTO \"site\" (\"id\", \"key\", \"status\") VALUES('{SITE_ID}', 'default', 'active');\n\n-- post\nINSERT INTO \"post\" (\"id\", \"site_id\", \"format\", \"thread_id\", \"reply_to_id\", \"quiet_reply\") VALUES('pst_1', '{SITE_ID}', 'note', 'pst_1', NULL, false);\n").as_bytes(),
    );
    let id = json(&repo, &["import", "--sql", pg.to_str().unwrap()])["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let out = dir.path().join("pg.zip");
    ok(&repo, &["export", &id, "--output", out.to_str().unwrap()]);
    let meta = String::from_utf8(jz::unzip(&out)["meta.json"].clone()).unwrap();
    assert!(meta.contains("\"dialect\": \"pg\""), "{meta}");
}

/// Objects of an imported archive restored into a site's local storage get
/// the sidecar Jant's import would have written: the content type guessed
/// from the extension (whatever `media.mime_type` says), none when the
/// extension says nothing.
#[test]
fn imported_objects_restore_with_jants_sidecars() {
    let dir = tempfile::tempdir().unwrap();
    let data = site(dir.path(), 5);
    let repo = dir.path().join("repo");
    init(&repo);
    let id = snap_id(&json(
        &repo,
        &["backup", "--data-dir", data.to_str().unwrap()],
    ));
    let z = dir.path().join("site.zip");
    ok(&repo, &["export", &id, "--output", z.to_str().unwrap()]);
    // Two more objects: one whose extension names a type (in capitals),
    // one whose extension says nothing.
    let mut entries: Vec<(String, Vec<u8>)> = jz::unzip(&z).into_iter().collect();
    entries.push(("objects/media/doc.PDF".into(), noise(7, 300)));
    entries.push(("objects/media/notes.bin".into(), noise(8, 300)));
    let z2 = dir.path().join("site2.zip");
    jz::write_zip(&z2, &entries);
    let imported = snap_id(&json(&repo, &["import", z2.to_str().unwrap()]));
    // Into a live site whose storage is empty.
    std::fs::remove_dir_all(data.join("media")).unwrap();
    ok(
        &repo,
        &[
            "restore",
            &imported,
            "--content",
            "--replace",
            "--target-data-dir",
            data.to_str().unwrap(),
        ],
    );
    let media = data.join("media");
    let mut checked = 0;
    for (name, _) in entries.iter().filter(|(n, _)| n.starts_with("objects/")) {
        let key = &name["objects/".len()..];
        assert!(media.join(key).is_file(), "{key}");
        let want = match jarc::source::archive::guess_content_type(key) {
            Some(t) => format!("{{\"contentType\":\"{t}\"}}"),
            None => "{}".to_string(),
        };
        let got = std::fs::read_to_string(media.join(format!("{key}.meta.json"))).unwrap();
        assert_eq!(got, want, "{key}");
        checked += 1;
    }
    assert!(checked >= 3, "{checked}");
    assert_eq!(
        std::fs::read_to_string(media.join("media/doc.PDF.meta.json")).unwrap(),
        "{\"contentType\":\"application/pdf\"}"
    );
    assert_eq!(
        std::fs::read_to_string(media.join("media/notes.bin.meta.json")).unwrap(),
        "{}"
    );
}
