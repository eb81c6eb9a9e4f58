//! `--json` prints exactly the documents the README's "JSON output"
//! section lists: each command's fields, by name. A field renamed, added
//! or dropped in a report fails this test until the README says so too.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use support::*;

/// Command → its documented fields, from the README section.
fn documented() -> BTreeMap<String, Vec<String>> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = readme
        .split("\n## JSON output\n")
        .nth(1)
        .expect("README has a JSON output section");
    let section = section.split("\n## ").next().unwrap();
    let mut out = BTreeMap::new();
    for line in section.lines() {
        // | `command` | `field`, `field`, … |
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        let fields = cells[2]
            .split(',')
            .map(|f| f.trim().trim_matches('`').to_string())
            .filter(|f| !f.is_empty())
            .collect();
        out.insert(cells[1].trim_matches('`').to_string(), fields);
    }
    out
}

/// The field names of a document: an object's keys, or the keys of a
/// list's first item.
fn fields(v: &serde_json::Value) -> Vec<String> {
    let obj = match v {
        serde_json::Value::Array(items) => items.first().unwrap_or(&serde_json::Value::Null),
        other => other,
    };
    let mut keys: Vec<String> = obj
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

#[test]
fn every_json_document_has_the_documented_fields() {
    let t = tempfile::tempdir().unwrap();
    let (src, repo) = (t.path().join("src"), t.path().join("repo"));
    write(&src.join("a.bin"), &noise(1, 100_000));
    write(&src.join("sub/b.txt"), b"hello");
    let mut got: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let o = run(&repo, &["--json", "init"]);
    got.insert("init".into(), serde_json::from_slice(&o.stdout).unwrap());
    got.insert(
        "backup".into(),
        json(&repo, &["backup", "--media", src.to_str().unwrap()]),
    );
    write(&src.join("c.txt"), b"new");
    json(&repo, &["backup", "--media", src.to_str().unwrap()]);
    got.insert(
        "backup --dry-run".into(),
        json(
            &repo,
            &["backup", "--media", src.to_str().unwrap(), "--dry-run"],
        ),
    );
    got.insert("snapshots".into(), json(&repo, &["snapshots"]));
    got.insert("find".into(), json(&repo, &["find", "*.bin"]));
    got.insert("ls".into(), json(&repo, &["ls", "latest"]));
    let ids: Vec<String> = got["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    got.insert("diff".into(), json(&repo, &["diff", &ids[0], &ids[1]]));
    let out = t.path().join("out");
    got.insert(
        "restore".into(),
        json(
            &repo,
            &["restore", "latest", "--target", out.to_str().unwrap()],
        ),
    );
    got.insert("check".into(), json(&repo, &["check"]));
    got.insert("stats".into(), json(&repo, &["stats"]));
    let scratch = t.path().join("scratch");
    got.insert(
        "drill".into(),
        json(
            &repo,
            &["drill", "latest", "--scratch", scratch.to_str().unwrap()],
        ),
    );
    got.insert(
        "drill --history".into(),
        json(&repo, &["drill", "--history"]),
    );
    got.insert(
        "forget".into(),
        json(&repo, &["forget", "--keep-last", "1", "--dry-run"]),
    );
    got.insert("prune".into(), json(&repo, &["prune", "--dry-run"]));
    got.insert("repair index".into(), json(&repo, &["repair", "index"]));
    std::fs::remove_file(repo.join("config.copy")).unwrap();
    got.insert("repair copies".into(), json(&repo, &["repair", "copies"]));
    let copy = repo.with_extension("copy");
    let src = repo.to_str().unwrap();
    json(&copy, &["init", "--copy-from", src]);
    got.insert("copy".into(), json(&copy, &["copy", "--from", src]));
    got.insert("tag".into(), json(&repo, &["tag", "latest", "--add", "t"]));
    got.insert("key list".into(), json(&repo, &["key", "list"]));
    let added = cmd(&repo)
        .env("JARC_NEW_PASSWORD", "second")
        .args(["--json", "key", "add"])
        .output()
        .unwrap();
    assert!(added.status.success(), "{}", stderr(&added));
    let added: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    let id = added["added"].as_str().unwrap().to_string();
    got.insert("key add".into(), added);
    let passwd = cmd(&repo)
        .env("JARC_PASSWORD", "second")
        .env("JARC_NEW_PASSWORD", "third")
        .args(["--json", "key", "passwd"])
        .output()
        .unwrap();
    assert!(passwd.status.success(), "{}", stderr(&passwd));
    got.insert(
        "key passwd".into(),
        serde_json::from_slice(&passwd.stdout).unwrap(),
    );
    // Left: the test password's key (current) and the third one.
    let listed = json(&repo, &["key", "list"]);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(
        !ids.contains(&id.as_str()),
        "passwd removed the key it was opened with"
    );
    let other = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    got.insert("key remove".into(), json(&repo, &["key", "remove", &other]));
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
    got.insert("error".into(), serde_json::from_slice(&o.stderr).unwrap());
    got.insert("error.error".into(), got["error"]["error"].clone());

    let docs = documented();
    let mut wrong = Vec::new();
    for (cmd, v) in &got {
        let mut want = docs.get(cmd).cloned().unwrap_or_default();
        want.sort();
        let have = fields(v);
        if have != want {
            wrong.push(format!("{cmd}: prints {have:?}, README lists {want:?}"));
        }
    }
    for cmd in docs.keys() {
        if !got.contains_key(cmd) {
            wrong.push(format!("{cmd}: documented but not exercised here"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}
