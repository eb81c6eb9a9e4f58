//! Encryption at rest (format-spec §13): nothing of the site is readable in
//! the repository's bytes, every damaged object is detected and named, and
//! each key problem has its own error.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use support::*;

/// Strings and bytes only the site holds: a table name, a row value, a
/// media file name and 64 bytes from its middle, the host and the tag.
struct Needles {
    table: &'static str,
    row: &'static str,
    file: &'static str,
    media: Vec<u8>,
    host: &'static str,
    tag: &'static str,
}

/// A Jant site (SQLite + media) with the needles in it.
fn site(dir: &Path) -> (PathBuf, Needles) {
    let data = dir.join("data");
    jarc::demo::fixture::create_sqlite_site(&data, 20).unwrap();
    let n = Needles {
        table: "zz_private_ledger",
        row: "the-unmistakable-row-value-4711",
        file: "unmistakable-file-name-0815.bin",
        media: Vec::new(),
        host: "unmistakable-host-name",
        tag: "unmistakable-tag-name",
    };
    let c = rusqlite::Connection::open(data.join("jant.sqlite")).unwrap();
    c.execute_batch(&format!(
        "CREATE TABLE {} (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO {} VALUES (1, '{}');",
        n.table, n.table, n.row
    ))
    .unwrap();
    let bytes = noise(4711, 300_000);
    write(&data.join("media").join(n.file), &bytes);
    let media = bytes[150_000..150_064].to_vec();
    (data, Needles { media, ..n })
}

fn backup(repo: &Path, data: &Path, n: &Needles) {
    json(
        repo,
        &[
            "backup",
            "--data-dir",
            data.to_str().unwrap(),
            "--host",
            n.host,
            "--tag",
            n.tag,
        ],
    );
}

/// Every file of the repository, as (name, bytes).
fn objects(repo: &Path) -> Vec<(String, Vec<u8>)> {
    listing_all(repo)
        .keys()
        .filter(|k| !k.ends_with('/'))
        .map(|k| (k.clone(), fs::read(repo.join(k)).unwrap()))
        .collect()
}

fn found(objects: &[(String, Vec<u8>)], needle: &[u8]) -> Vec<String> {
    objects
        .iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle))
        .map(|(n, _)| n.clone())
        .collect()
}

#[test]
fn nothing_of_the_site_is_readable_in_an_encrypted_repository() {
    let t = tempfile::tempdir().unwrap();
    let (data, n) = site(t.path());
    let (enc, plain) = (t.path().join("enc"), t.path().join("plain"));
    init(&enc);
    ok(&plain, &["init", "--insecure-no-encryption"]);
    backup(&enc, &data, &n);
    backup(&plain, &data, &n);
    let dir = t.path().join("drill");
    json(&enc, &["drill", "--scratch", dir.to_str().unwrap()]);

    let needles: [(&str, &[u8]); 6] = [
        ("table name", n.table.as_bytes()),
        ("row value", n.row.as_bytes()),
        ("file name", n.file.as_bytes()),
        ("media bytes", &n.media),
        ("host", n.host.as_bytes()),
        ("tag", n.tag.as_bytes()),
    ];
    let enc_objects = objects(&enc);
    assert!(enc_objects.iter().any(|(k, _)| k.starts_with("keys/")));
    for (what, needle) in needles {
        assert_eq!(found(&enc_objects, needle), Vec::<String>::new(), "{what}");
    }
    // The same search finds what a plaintext repository stores verbatim
    // (raw media chunks, snapshot fields): it is not blind.
    let plain_objects = objects(&plain);
    for (what, needle) in [
        ("media bytes", &n.media[..]),
        ("host", n.host.as_bytes()),
        ("tag", n.tag.as_bytes()),
    ] {
        assert!(!found(&plain_objects, needle).is_empty(), "{what}");
    }
    // And the encrypted repository holds them all, for whoever has the key.
    let ls = ok(&enc, &["ls", "latest"]);
    assert!(ls.contains(n.file), "{ls}");
    let sql = t.path().join("dump.sql");
    ok(&enc, &["export", "latest", "--sql", sql.to_str().unwrap()]);
    let dump = fs::read_to_string(&sql).unwrap();
    assert!(dump.contains(n.table) && dump.contains(n.row));
    let snaps = json(&enc, &["snapshots"]);
    assert_eq!(snaps[0]["hostname"], n.host);
    assert_eq!(snaps[0]["tags"][0], n.tag);

    // A plaintext repository says so; an encrypted one does not.
    let o = run(&plain, &["snapshots"]);
    assert!(
        stderr(&o).contains("warning: this repository is not encrypted"),
        "{}",
        stderr(&o)
    );
    assert_eq!(json(&plain, &["stats"])["encrypted"], false);
    assert_eq!(stderr(&run(&enc, &["snapshots"])), "");
    assert_eq!(json(&enc, &["stats"])["encrypted"], true);
}

fn copy_dir(from: &Path, to: &Path) {
    for (k, _) in listing_all(from) {
        if k.ends_with('/') {
            fs::create_dir_all(to.join(&k)).unwrap();
        } else {
            fs::create_dir_all(to.join(&k).parent().unwrap()).unwrap();
            fs::copy(from.join(&k), to.join(&k)).unwrap();
        }
    }
}

fn flip(path: &Path, at: impl Fn(usize) -> usize) {
    let mut b = fs::read(path).unwrap();
    let i = at(b.len());
    b[i] ^= 0x04;
    fs::write(path, b).unwrap();
}

/// The one object under `folder` (the largest when `largest`, else the
/// smallest).
fn object_in(repo: &Path, folder: &str, largest: bool) -> String {
    let mut v: Vec<(u64, String)> = listing_all(repo)
        .into_iter()
        .filter(|(k, _)| k.starts_with(folder) && !k.ends_with('/'))
        .map(|(k, n)| (n, k))
        .collect();
    v.sort();
    let pick = if largest { v.last() } else { v.first() };
    pick.unwrap_or_else(|| panic!("nothing under {folder}"))
        .1
        .clone()
}

/// What is damaged, the object, where to flip a byte (from its length),
/// the command that must catch it, and what its output must say.
type Case = (
    &'static str,
    String,
    Box<dyn Fn(usize) -> usize>,
    &'static [&'static str],
    String,
);

/// A flipped byte in each kind of object is caught by the command that
/// reads it, and the message names the object.
#[test]
fn a_flipped_byte_in_any_object_is_detected_and_named() {
    let t = tempfile::tempdir().unwrap();
    let (src, base) = (t.path().join("src"), t.path().join("base"));
    write(&src.join("a.bin"), &noise(1, 400_000));
    write(&src.join("b.txt"), b"small");
    init(&base);
    json(&base, &["backup", "--media", src.to_str().unwrap()]);
    write(&src.join("c.bin"), &noise(2, 100_000));
    json(&base, &["backup", "--media", src.to_str().unwrap()]);
    let scratch = t.path().join("scratch");
    json(
        &base,
        &["drill", "latest", "--scratch", scratch.to_str().unwrap()],
    );
    // A plan: forget the first snapshot, then a prune killed once its plan
    // is written.
    let first = json(&base, &["snapshots"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    json(&base, &["forget", &first, "--force"]);
    let o = cmd(&base)
        .env("JARC_FAILPOINT", "prune-after-plan")
        .args(["prune", "--max-unused", "0%"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        None,
        "prune was not killed: {}",
        stderr(&o)
    );
    assert!(listing_all(&base)
        .keys()
        .any(|k| k.starts_with("plans/") && !k.ends_with('/')));

    let snap = object_in(&base, "snapshots/", true);
    let key = object_in(&base, "keys/", true);
    let index = object_in(&base, "index/", true);
    let id = |k: &str| k.rsplit('/').next().unwrap().to_string();
    let cases: Vec<Case> = {
        let data = object_in(&base, "data/", true);
        // The pack and offset of the latest snapshot's media root node.
        let r = open_repo(base.to_str().unwrap()).unwrap();
        let (_, latest) = jarc::snapshot::resolve(&r, "latest").unwrap();
        let root = latest.root(jarc::snapshot::MEDIA_ROOT).unwrap().node;
        let loc = r.index().lookup(&root).unwrap();
        let tree = jarc::layout::pack(&loc.pack);
        let tree_copy = jarc::layout::tree_copy(&loc.pack);
        let tree_at = (loc.offset + loc.length / 2) as usize;
        let drill = object_in(&base, "drills/", true);
        let plan = object_in(&base, "plans/", true);
        vec![
            (
                // Its copy opens the repository; check names the damage.
                "config",
                "config".into(),
                Box::new(|n| n - 3),
                &["check"],
                "config: config is corrupt: ".into(),
            ),
            (
                "config copy",
                "config.copy".into(),
                Box::new(|n| n / 2),
                &["check"],
                "config.copy: it differs from the config, which opens the repository: damaged"
                    .into(),
            ),
            (
                // Its copy opens the repository; check names the damage.
                "key object",
                key.clone(),
                Box::new(|n| n / 2),
                &["check"],
                format!("{key}: key object {key} is corrupt"),
            ),
            (
                "snapshot",
                snap.clone(),
                Box::new(|n| n - 1),
                // Not `snapshots`: a listing may serve the head from the
                // client's cache (format-spec §14); check reads them all.
                &["check"],
                format!("snapshot {} is corrupt", id(&snap)),
            ),
            (
                // Readers go on past it (packs indexed from their headers);
                // check names it.
                "index file",
                index.clone(),
                Box::new(|n| n / 2),
                &["check"],
                // Checked against its name before it is opened.
                format!("{index} is corrupt: content does not match its name"),
            ),
            (
                "data blob",
                data.clone(),
                Box::new(|_| 100),
                &["check", "--read-data"],
                id(&data),
            ),
            (
                "pack header",
                data.clone(),
                Box::new(|n| n - 20),
                &["check", "--read-data"],
                "pack header is corrupt: it does not authenticate (damaged)".into(),
            ),
            (
                // Readers read it from the pack's copy (format-spec §4.3);
                // check names the damage.
                "tree node",
                tree.clone(),
                Box::new(move |_| tree_at),
                &["check", "--read-data"],
                format!(
                    "does not authenticate (damaged); its copy {tree_copy} is whole and serves it"
                ),
            ),
            (
                "tree pack copy",
                tree_copy.clone(),
                Box::new(move |_| tree_at),
                &["check", "--read-data"],
                format!("its copy {tree_copy} does not match the pack's name: damaged"),
            ),
            (
                "drill record",
                drill.clone(),
                Box::new(|n| n / 2),
                &["drill", "--history"],
                format!("{drill} is corrupt"),
            ),
            (
                "plan",
                plan.clone(),
                Box::new(|n| n / 2),
                &["check"],
                format!("{plan}: "),
            ),
        ]
    };
    for (what, object, at, args, expect) in cases {
        let repo = t.path().join(format!("case-{}", what.replace(' ', "-")));
        copy_dir(&base, &repo);
        flip(&repo.join(&object), at);
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let o = run(&repo, &a);
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
        assert_ne!(o.status.code(), Some(0), "{what}: not detected: {all}");
        assert!(
            all.contains(&expect),
            "{what}: expected {expect:?} in:\n{all}"
        );
    }
    // A damaged config costs nothing while its copy is whole: every command
    // works, `repair copies` writes it again, and check is clean after.
    let repo = t.path().join("case-config");
    assert!(!json(&repo, &["snapshots"]).as_array().unwrap().is_empty());
    let r = json(&repo, &["repair", "copies"]);
    assert_eq!(r["written"], serde_json::json!(["config"]), "{r}");
    assert_eq!(json(&repo, &["check"])["ok"], true);
    let repo = t.path().join("case-config-copy");
    assert_eq!(
        json(&repo, &["repair", "copies"])["written"],
        serde_json::json!(["config.copy"])
    );
    assert_eq!(json(&repo, &["check"])["ok"], true);
    // A flipped version byte: the copy contradicts it, and opens.
    let v = t.path().join("case-config-version");
    copy_dir(&base, &v);
    flip(&v.join("config"), |_| 4);
    assert!(!json(&v, &["snapshots"]).as_array().unwrap().is_empty());
    assert_eq!(
        json(&v, &["repair", "copies"])["written"],
        serde_json::json!(["config"])
    );
    assert_eq!(json(&v, &["check"])["ok"], true);
    // Both damaged: nothing opens it, and the config is named.
    flip(&repo.join("config"), |n| n - 3);
    flip(&repo.join("config.copy"), |n| n - 3);
    let o = run(&repo, &["snapshots"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("config is corrupt"), "{}", stderr(&o));
    // Past a damaged index file a reader restores everything (and says
    // so); a writer stops, naming it.
    let repo = t.path().join("case-index-file");
    let out = t.path().join("past-index");
    let o = run(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("damaged index file(s)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(capture(&out), capture(&src));
    let o = run(&repo, &["backup", "--media", src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("{index} is corrupt")),
        "{}",
        stderr(&o)
    );
    // A damaged key object is served by its copy, and written again.
    let repo = t.path().join("case-key-object");
    assert!(!json(&repo, &["snapshots"]).as_array().unwrap().is_empty());
    let r = json(&repo, &["repair", "copies"]);
    assert_eq!(r["written"], serde_json::json!([key]), "{r}");
    assert_eq!(json(&repo, &["check"])["ok"], true);
    // A damaged snapshot is served by its copy: restore works, check names
    // it, `repair copies` writes it again; a missing copy is written.
    let repo = t.path().join("case-snapshot");
    let out = t.path().join("from-copy");
    let want = t.path().join("from-base");
    ok(
        &repo,
        &[
            "restore",
            &id(&snap)[..8],
            "--target",
            out.to_str().unwrap(),
        ],
    );
    ok(
        &base,
        &[
            "restore",
            &id(&snap)[..8],
            "--target",
            want.to_str().unwrap(),
        ],
    );
    assert_eq!(capture(&out), capture(&want));
    let r = json(&repo, &["repair", "copies"]);
    assert_eq!(r["written"], serde_json::json!([snap]), "{r}");
    assert_eq!(json(&repo, &["check"])["ok"], true);
    fs::remove_file(repo.join(format!("snapshot-copies/{}", id(&snap)))).unwrap();
    let c = json(&repo, &["check"]);
    assert!(
        c["report"]["warnings"]
            .to_string()
            .contains("1 snapshot(s) and key object(s) have no copy"),
        "{c}"
    );
    let r = json(&repo, &["repair", "copies"]);
    assert_eq!(
        r["written"],
        serde_json::json!([format!("snapshot-copies/{}", id(&snap))]),
        "{r}"
    );
    assert!(!json(&repo, &["check"])["report"]["warnings"]
        .to_string()
        .contains("no copy"));
    // The data blob's damage is named down to the file that uses it.
    let repo = t.path().join("case-data-blob");
    let r: serde_json::Value =
        serde_json::from_slice(&run(&repo, &["--json", "check", "--read-data"]).stdout).unwrap();
    let damage = r["report"]["damage"].to_string();
    assert!(damage.contains("does not authenticate (damaged)"), "{r}");
    assert!(damage.contains("a.bin"), "{r}");
}

/// A wrong password, a removed key, a damaged key object and no password
/// each stop the command at once with their own message.
#[test]
fn key_problems_each_have_their_own_error() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    init(&repo);
    let loc = repo.display().to_string();
    let with = |pw: &str, args: &[&str]| {
        cmd(&repo)
            .env("JARC_PASSWORD", pw)
            .args(args)
            .output()
            .unwrap()
    };
    let o = with("not the password", &["snapshots"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!("jarc: error: opening repository {loc}: wrong password: it opens none of the 1 key(s) of the repository\n")
    );
    let o = with("not the password", &["--json", "snapshots"]);
    let e: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(e["error"]["kind"], "wrong-password");

    let o = cmd(&repo)
        .env_remove("JARC_PASSWORD")
        .arg("snapshots")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the repository is encrypted and no password was given: set JARC_PASSWORD, JARC_PASSWORD_FILE or JARC_PASSWORD_COMMAND"),
        "{}",
        stderr(&o)
    );

    // A second key; the first one removed: its password no longer opens.
    let o = cmd(&repo)
        .env("JARC_NEW_PASSWORD", "second")
        .args(["key", "add"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let keys = json(&repo, &["key", "list"]);
    let current = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = with("second", &["key", "remove", &current[..10]]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = with(PASSWORD, &["snapshots"]);
    assert_eq!(
        stderr(&o),
        format!("jarc: error: opening repository {loc}: wrong password: it opens none of the 1 key(s) of the repository\n")
    );
    // Not hex: it can match no key id (a hex prefix would, 1 time in 16).
    let o = with("second", &["key", "remove", "not-a-key"]);
    assert!(
        stderr(&o).contains("no key object matches \"not-a-key\""),
        "{}",
        stderr(&o)
    );
    let last = json_with(&repo, "second", &["key", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = with("second", &["key", "remove", &last]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("it is the repository's last key"),
        "{}",
        stderr(&o)
    );
    // `passwd`: the new password opens, the old one no longer does.
    let o = cmd(&repo)
        .env("JARC_PASSWORD", "second")
        .env("JARC_NEW_PASSWORD", "third")
        .args(["key", "passwd"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(with("third", &["snapshots"]).status.success());
    assert!(!with("second", &["snapshots"]).status.success());

    // The one key object damaged: its copy opens; both damaged: named,
    // whatever the password.
    let key = object_in(&repo, "keys/", true);
    flip(&repo.join(&key), |n| n - 1);
    assert!(with("third", &["snapshots"]).status.success());
    let copy = format!("key-copies/{}", key.rsplit('/').next().unwrap());
    flip(&repo.join(&copy), |n| n - 1);
    let o = with("third", &["snapshots"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        format!("jarc: error: opening repository {loc}: key object {key} is corrupt: content does not match its name; the password opens none of the other 0 key(s)\n")
    );
}

fn json_with(repo: &Path, pw: &str, args: &[&str]) -> serde_json::Value {
    let o = cmd(repo)
        .env("JARC_PASSWORD", pw)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A repository made before encryption (format version 1: plaintext,
/// markers rewritten in place) opens and takes backups as it is.
#[test]
fn a_version_1_repository_still_opens_and_works() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo, out) = (
        t.path().join("src"),
        t.path().join("repo"),
        t.path().join("out"),
    );
    write(&src.join("a.bin"), &noise(3, 200_000));
    ok(&repo, &["init", "--insecure-no-encryption"]);
    // What a version 1 build wrote: config version 1, and a marker left
    // by a killed run under a v1 name.
    let mut config = fs::read(repo.join("config")).unwrap();
    assert_eq!(&config[..6], b"JRCF\x02\x00");
    config[4] = 1;
    fs::write(repo.join("config"), &config).unwrap();
    fs::remove_file(repo.join("config.copy")).unwrap();
    json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    write(&src.join("b.bin"), &noise(4, 10_000));
    json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    ok(
        &repo,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(capture(&out), capture(&src));
    assert_eq!(json(&repo, &["check", "--read-data"])["ok"], true);
    assert_eq!(
        &fs::read(repo.join("config")).unwrap()[..6],
        b"JRCF\x01\x00"
    );
}

/// A repository of format version 2 (every object sealed with
/// XChaCha20-Poly1305) opens and works as it is, and stays version 2; a
/// new one is version 3 (AES-256-GCM objects, the config still XChaCha).
#[test]
fn a_version_2_xchacha_repository_still_opens_and_works() {
    let t = tempfile::tempdir().unwrap();
    let (src, v2, v3, out) = (
        t.path().join("src"),
        t.path().join("v2"),
        t.path().join("v3"),
        t.path().join("out"),
    );
    write(&src.join("a.bin"), &noise(5, 300_000));
    write(&src.join("sub/b.txt"), b"hello");
    let config = jarc::config::Config {
        encryption: jarc::config::Encryption::XChaCha20Poly1305,
        ..jarc::config::Config::new_random()
    };
    jarc::Repository::init(v2.to_str().unwrap(), config, Some(test_key())).unwrap();
    ok(&v3, &["init"]);
    for (repo, prefix, cipher) in [
        (&v2, b"JRCE\x02\x00", "XChaCha20-Poly1305"),
        (&v3, b"JRCE\x03\x00", "AES-256-GCM"),
    ] {
        json(repo, &["backup", "--media", src.to_str().unwrap()]);
        let _ = fs::remove_dir_all(&out);
        ok(
            repo,
            &["restore", "latest", "--target", out.to_str().unwrap()],
        );
        assert_eq!(capture(&out), capture(&src));
        assert_eq!(json(repo, &["check", "--read-data"])["ok"], true);
        assert_eq!(json(repo, &["stats"])["cipher"], cipher);
        assert_eq!(&fs::read(repo.join("config")).unwrap()[..6], prefix);
    }
}
