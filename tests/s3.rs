//! S3 against real servers on 127.0.0.1 (scripts/s3.sh starts them):
//! Garage 2.5.0 for repositories and media buckets, moto for a server that
//! enforces If-None-Match. Requests are counted by a proxy on loopback that
//! parses what the client sends, independently of jarc's own counters.

mod support;

use jarc::backend::{Backend, S3Config};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use support::s3::*;
use support::*;

fn config(bucket: &str, endpoint: &str) -> S3Config {
    S3Config {
        endpoint: Some(endpoint.to_string()),
        bucket: bucket.into(),
        prefix: String::new(),
        region: var("JARC_TEST_S3_REGION"),
        access_key_id: var("JARC_TEST_S3_KEY"),
        secret_access_key: var("JARC_TEST_S3_SECRET"),
        session_token: None,
    }
}

/// jarc with the repository on the Garage server and the site's S3_*
/// pointing at `endpoint` (the server, or a proxy in front of it).
fn jarc(repo: &str, endpoint: &str, args: &[&str]) -> std::process::Output {
    repo_cmd(
        &var("JARC_TEST_S3_ENDPOINT"),
        &var("JARC_TEST_S3_REGION"),
        &var("JARC_TEST_S3_SECRET"),
    )
    .env("S3_ENDPOINT", endpoint)
    .env("S3_REGION", var("JARC_TEST_S3_REGION"))
    .env("S3_ACCESS_KEY_ID", var("JARC_TEST_S3_KEY"))
    .env("S3_SECRET_ACCESS_KEY", var("JARC_TEST_S3_SECRET"))
    .arg("--repo")
    .arg(repo)
    .args(args)
    .output()
    .unwrap()
}

fn jarc_ok(repo: &str, endpoint: &str, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = jarc(repo, endpoint, &a);
    assert!(
        o.status.success(),
        "jarc {args:?}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
}

/// Requests seen by the proxy, by kind.
#[derive(Default)]
struct Counts {
    list: AtomicU64,
    get: AtomicU64,
    head: AtomicU64,
    put: AtomicU64,
    delete: AtomicU64,
    /// The object path of every PUT (query left off).
    put_paths: std::sync::Mutex<Vec<String>>,
}

/// A TCP proxy to `upstream` that reads each HTTP request's head (and skips
/// its body by Content-Length) to count it, and passes every byte through.
fn counting_proxy(upstream: &str) -> (String, Arc<Counts>) {
    let up = upstream.trim_start_matches("http://").to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(&up) else {
                continue;
            };
            let (c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut c2 = c2;
                let _ = std::io::copy(&mut s2, &mut c2);
            });
            let counts = c.clone();
            std::thread::spawn(move || forward_requests(client, server, &counts));
        }
    });
    (format!("http://{addr}"), counts)
}

fn forward_requests(client: TcpStream, mut server: TcpStream, counts: &Counts) {
    let mut r = BufReader::new(client);
    loop {
        let mut head = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            match r.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            head.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let first = head.lines().next().unwrap_or_default().to_string();
        let mut parts = first.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let slot = match method {
            "GET" if target.contains("list-type=") => &counts.list,
            "GET" => &counts.get,
            "HEAD" => &counts.head,
            // object_store deletes through the bulk DeleteObjects call.
            "DELETE" => &counts.delete,
            "POST" if target.ends_with("?delete") => &counts.delete,
            _ => &counts.put,
        };
        slot.fetch_add(1, Ordering::Relaxed);
        if method == "PUT" {
            let path = target.split('?').next().unwrap_or_default().to_string();
            counts.put_paths.lock().unwrap().push(path);
        }
        let len: u64 = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        if server.write_all(head.as_bytes()).is_err() {
            return;
        }
        let mut body = (&mut r).take(len);
        if std::io::copy(&mut body, &mut server).is_err() {
            return;
        }
    }
}

#[test]
fn repository_on_s3_round_trips_checks_and_an_unchanged_nightly_is_cheap() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    write(&src.join("empty"), b"");
    write(&src.join("big/video.mp4"), &noise(1, 110 << 20));
    write(&src.join("a b/ü + %20.jpg"), &noise(2, 300_000));
    let b = bucket("repo");
    let repo = format!("s3://{b}/nightly/jarc");
    let ep = var("JARC_TEST_S3_ENDPOINT");
    jarc_ok(&repo, &ep, &["init"]);
    let again = jarc(&repo, &ep, &["init"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains(&format!("{repo} already holds a jarc repository")),
        "{}",
        stderr(&again)
    );
    let first = jarc_ok(&repo, &ep, &["backup", "--media", src.to_str().unwrap()]);
    assert_eq!(first["files_new"], 3);
    // The 110 MiB of noise fill several packs, each above the multipart
    // threshold: each is create + parts + complete.
    assert!(first["requests"]["put"].as_u64().unwrap() > first["packs_written"].as_u64().unwrap());

    // An unchanged nightly through a counting proxy: O(1) LISTs.
    let before: Vec<String> = jarc_ok(&repo, &ep, &["snapshots"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    let (proxy, counts) = counting_proxy(&ep);
    let o = repo_cmd(
        &proxy,
        &var("JARC_TEST_S3_REGION"),
        &var("JARC_TEST_S3_SECRET"),
    )
    .args(["--json", "--repo", &repo, "backup", "--media"])
    .arg(&src)
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let second: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(second["files_unchanged"], 3);
    assert_eq!(second["bytes_new_raw"], 0);
    // keys/, plans/, index/ and snapshots/; config, the key object, one
    // index file, two snapshots; two session markers, the snapshot's copy
    // and the snapshot (format-spec §7.3); the closed marker at exit, after
    // the summary was taken (§8.7). No DELETE, and no PUT to a name that
    // existed: the backup host needs no delete or overwrite rights (§12.1).
    assert_eq!(counts.list.load(Ordering::Relaxed), 4);
    assert_eq!(counts.get.load(Ordering::Relaxed), 5);
    assert_eq!(counts.put.load(Ordering::Relaxed), 5);
    assert_eq!(counts.delete.load(Ordering::Relaxed), 0);
    assert_eq!(second["requests"]["list"], 4);
    assert_eq!(second["requests"]["get"], 5);
    assert_eq!(second["requests"]["put"], 4);
    let puts = counts.put_paths.lock().unwrap().clone();
    let distinct: std::collections::BTreeSet<&String> = puts.iter().collect();
    assert_eq!(
        distinct.len(),
        puts.len(),
        "a name was written twice: {puts:?}"
    );
    let new_snapshot = second["snapshot"].as_str().unwrap();
    assert!(!before.iter().any(|b| b == new_snapshot));
    for p in &puts {
        let name = p.split("/nightly/jarc/").nth(1).unwrap_or(p);
        assert!(
            name.starts_with("sessions/")
                || name == format!("snapshots/{new_snapshot}")
                || name == format!("snapshot-copies/{new_snapshot}"),
            "{name}"
        );
    }
    assert_eq!(
        puts.iter().filter(|p| p.contains("/sessions/")).count(),
        3,
        "{puts:?}"
    );

    let out = t.path().join("out");
    jarc_ok(
        &repo,
        &ep,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(capture(&src), capture(&out));
    // The same restore through the proxy: each stretch of a pack is read
    // once, one streamed ranged GET for all the files it serves, and tree
    // nodes with their siblings (9 GETs in all, the repository's own
    // objects included; 41 or 42 when each file's chunks were read on
    // their own, 105 at one GET per chunk).
    let (proxy, counts) = counting_proxy(&ep);
    let out2 = t.path().join("out2");
    let o = repo_cmd(
        &proxy,
        &var("JARC_TEST_S3_REGION"),
        &var("JARC_TEST_S3_SECRET"),
    )
    .args(["--repo", &repo, "restore", "latest", "--target"])
    .arg(&out2)
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(capture(&src), capture(&out2));
    let gets = counts.get.load(Ordering::Relaxed);
    assert!(gets <= 12, "{gets} GETs");
    let check = jarc_ok(&repo, &ep, &["check", "--read-data"]);
    assert_eq!(check["report"]["errors"], serde_json::json!([]), "{check}");
    assert_eq!(
        jarc_ok(&repo, &ep, &["snapshots"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (code, drill) = {
        let o = jarc(
            &repo,
            &ep,
            &[
                "--json",
                "drill",
                "latest",
                "--scratch",
                t.path().to_str().unwrap(),
            ],
        );
        (
            o.status.code(),
            serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap(),
        )
    };
    assert_eq!(code, Some(0), "{drill}");
    assert_eq!(drill["target"], "dir");
    jarc_ok(&repo, &ep, &["stats"]);
}

#[test]
fn media_bucket_backup_is_incremental_and_restores_to_a_bucket_with_metadata() {
    let src_bucket = bucket("media");
    let ep = var("JARC_TEST_S3_ENDPOINT");
    let site = Backend::s3(&config(&src_bucket, &ep)).unwrap();
    let meta = |i: usize| -> Vec<(String, String)> {
        if i.is_multiple_of(3) {
            vec![
                ("contentType".into(), "image/webp".into()),
                (
                    "cacheControl".into(),
                    "public, max-age=31536000, immutable".into(),
                ),
                (
                    "contentDisposition".into(),
                    format!("inline; filename=\"p{i}.webp\""),
                ),
            ]
        } else {
            vec![("contentType".into(), "image/jpeg".into())]
        }
    };
    let key = |i: usize| format!("media/2026/{i:05}.jpg");
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..1050 {
        let data = noise(i as u64, 200 + i * 7);
        site.put_with_meta(&key(i), data.clone().into(), &meta(i))
            .unwrap();
        expected.insert(key(i), (data, meta(i)));
    }
    for (k, data) in [
        ("media/empty", Vec::new()),
        ("media/with space/ünïcödé + 100%.png", noise(9001, 5000)),
        ("media/a%2Fb+c.txt", b"percent".to_vec()),
        // Multipart both ways: uploaded in parts, streamed through the
        // chunker on backup, restored in parts.
        ("media/video/talk.mp4", noise(9002, 110 << 20)),
    ] {
        site.put_with_meta(k, data.clone().into(), &[]).unwrap();
        expected.insert(k.to_string(), (data, Vec::new()));
    }

    let repo_dir = tempfile::tempdir().unwrap();
    let repo = repo_dir.path().join("repo");
    let repo = repo.to_str().unwrap();
    jarc_ok(repo, &ep, &["init"]);
    // Both backups go through the proxy: the endpoint is part of the
    // source's identity, so the second finds the first as its parent.
    let (proxy, counts) = counting_proxy(&ep);
    let first = jarc_ok(repo, &proxy, &["backup", "--media-bucket", &src_bucket]);
    assert_eq!(first["files_new"], 1054);
    assert_eq!(first["source_requests"]["get"], 1054);
    assert_eq!(first["source_requests"]["list"], 2);

    // 1 % churn: 8 rewritten, 2 added, 1 deleted.
    for i in [3, 100, 200, 300, 400, 500, 600, 1049] {
        let data = noise(50_000 + i as u64, 999);
        site.put_with_meta(&key(i), data.clone().into(), &meta(i))
            .unwrap();
        expected.insert(key(i), (data, meta(i)));
    }
    for i in [2000, 2001] {
        let data = noise(i as u64, 1234);
        site.put_with_meta(&key(i), data.clone().into(), &meta(i))
            .unwrap();
        expected.insert(key(i), (data, meta(i)));
    }
    site.delete(&key(7)).unwrap();
    expected.remove(&key(7));

    assert_eq!(counts.get.load(Ordering::Relaxed), 1054);
    for c in [&counts.list, &counts.get, &counts.head, &counts.put] {
        c.store(0, Ordering::Relaxed);
    }
    let second = jarc_ok(repo, &proxy, &["backup", "--media-bucket", &src_bucket]);
    assert_eq!(second["files_changed"], 8);
    assert_eq!(second["files_new"], 2);
    assert_eq!(second["files_unchanged"], 1045);
    // Only the changed and new objects were downloaded; nothing was HEADed.
    assert_eq!(counts.get.load(Ordering::Relaxed), 10);
    assert_eq!(counts.list.load(Ordering::Relaxed), 2);
    assert_eq!(counts.head.load(Ordering::Relaxed), 0);
    assert_eq!(counts.put.load(Ordering::Relaxed), 0);
    assert_eq!(second["source_requests"]["get"], 10);
    assert_eq!(second["source_requests"]["list"], 2);
    assert_eq!(second["source_requests"]["head"], 0);

    // Restore into an empty bucket: same keys, bytes and metadata.
    let target = bucket("restored");
    let restore = [
        "restore",
        "latest",
        "--target-bucket",
        &target,
        "--media-only",
    ];
    jarc_ok(repo, &ep, &restore);
    let out = Backend::s3(&config(&target, &ep)).unwrap();
    let listed: Vec<String> = out.list("").unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(listed, expected.keys().cloned().collect::<Vec<_>>());
    for (k, (data, m)) in &expected {
        let (mut r, got_meta) = out.get_stream(k).unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert!(got == *data, "{k}: bytes differ");
        let mut want = m.clone();
        want.sort();
        let mut got_meta = got_meta;
        got_meta
            .retain(|(n, v)| !(n == "contentType" && v == "binary/octet-stream" && m.is_empty()));
        got_meta.sort();
        assert_eq!(got_meta, want, "{k}");
    }
    // A second restore into the now full bucket is refused.
    let o = jarc(repo, &ep, &restore);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("is not empty (1055 objects)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_wrong_secret_is_a_clear_403_that_never_shows_the_secret() {
    let b = bucket("denied");
    let secret = "wrong-secret-0123456789abcdef";
    let o = repo_cmd(
        &var("JARC_TEST_S3_ENDPOINT"),
        &var("JARC_TEST_S3_REGION"),
        secret,
    )
    .args(["--repo", &format!("s3://{b}/r"), "init"])
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("access denied by bucket {b}")),
        "{err}"
    );
    assert!(!err.contains(secret), "{err}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains(secret));
}

#[test]
fn create_if_absent_is_probed_not_assumed() {
    // Garage accepts `If-None-Match: *` and overwrites anyway.
    let b = bucket("probe");
    let garage = Backend::s3(&config(&b, &var("JARC_TEST_S3_ENDPOINT"))).unwrap();
    assert!(!garage.probe_create_if_absent("probe").unwrap());
    assert!(
        garage.list("").unwrap().is_empty(),
        "the probe object is removed"
    );
    // moto enforces it (any key is accepted there).
    let moto_ep = var("JARC_TEST_MOTO_ENDPOINT");
    let mk = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT"])
        .arg(format!("{moto_ep}/probe-{}", std::process::id()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&mk.stdout), "200");
    let moto_cfg = S3Config {
        region: "us-east-1".into(),
        ..config(&format!("probe-{}", std::process::id()), &moto_ep)
    };
    let moto = Backend::s3(&moto_cfg).unwrap();
    assert!(moto.probe_create_if_absent("probe").unwrap());
    assert!(moto.put_if_absent("x", "1".into()).unwrap());
    assert!(!moto.put_if_absent("x", "2".into()).unwrap());
    assert_eq!(&moto.get("x").unwrap()[..], b"1");

    // init works on both, and a second init is refused on both.
    for (ep, bucket, region) in [
        (
            var("JARC_TEST_S3_ENDPOINT"),
            b.clone(),
            var("JARC_TEST_S3_REGION"),
        ),
        (
            moto_ep.clone(),
            moto_cfg.bucket.clone(),
            "us-east-1".to_string(),
        ),
    ] {
        let run = || {
            repo_cmd(&ep, &region, &var("JARC_TEST_S3_SECRET"))
                .args(["--repo", &format!("s3://{bucket}/repo"), "init"])
                .output()
                .unwrap()
        };
        let o = run();
        assert!(o.status.success(), "{ep}: {}", stderr(&o));
        let o = run();
        assert_eq!(o.status.code(), Some(1), "{ep}");
        assert!(
            stderr(&o).contains("already holds a jarc repository"),
            "{}",
            stderr(&o)
        );
    }
}

/// A second Garage of its own, so stopping it disturbs no other test.
fn own_garage(data: &Path) -> (String, impl Fn(&str)) {
    let toml_path = data.join("garage.toml");
    let data = data.to_path_buf();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/s3-garage.sh");
    let ctl = move |what: &str| {
        let o = Command::new("bash")
            .arg(&script)
            .arg(what)
            .env("S3_DATA", &data)
            .env("S3_BUCKET", "own")
            .output()
            .unwrap();
        assert!(o.status.success(), "garage {what}: {}", stderr(&o));
    };
    ctl("start");
    let toml = std::fs::read_to_string(toml_path).unwrap();
    let port = toml
        .lines()
        .find_map(|l| l.strip_prefix("api_bind_addr = \"127.0.0.1:"))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    (format!("http://127.0.0.1:{port}"), ctl)
}

#[test]
fn a_server_outage_mid_backup_is_retried_or_fails_cleanly() {
    let t = tempfile::tempdir().unwrap();
    let (ep, ctl) = own_garage(&t.path().join("garage"));
    let src = t.path().join("src");
    for i in 0..6 {
        write(&src.join(format!("f{i}.bin")), &noise(100 + i, 24 << 20));
    }
    let repo = "s3://own/r";
    let cmd = |args: &[&str]| {
        let mut c = repo_cmd(&ep, "garage", &var("JARC_TEST_S3_SECRET"));
        c.args(["--repo", repo]).args(args);
        c
    };
    let o = cmd(&["init"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let backup = cmd(&["--json", "backup", "--media", src.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut backup = backup;
    std::thread::sleep(std::time::Duration::from_millis(400));
    // The outage must overlap the backup: it is still running when the
    // server goes away.
    assert!(
        backup.try_wait().unwrap().is_none(),
        "the backup ended before the outage began"
    );
    ctl("stop");
    std::thread::sleep(std::time::Duration::from_secs(2));
    ctl("start");
    let o = backup.wait_with_output().unwrap();
    // A backup that succeeded rode out the whole outage: it was running
    // when the server stopped, and could not finish before it was back.
    if o.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let ms = v["duration_ms"].as_u64().unwrap();
        assert!(ms >= 2000, "a backup of {ms} ms did not span the outage");
    }
    // Either the retries carried it through, or it failed and said so; in
    // both cases the repository is valid and the next backup succeeds.
    let snaps_after_first = if o.status.success() { 1 } else { 0 };
    if !o.status.success() {
        assert!(stderr(&o).contains("backup failed"), "{}", stderr(&o));
    }
    let check = cmd(&["--json", "check"]).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let o = cmd(&["backup", "--media", src.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let list = cmd(&["--json", "snapshots"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), snaps_after_first + 1);
    let out = t.path().join("out");
    let o = cmd(&["restore", "latest", "--target", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(capture(&src), capture(&out));
    ctl("stop");
}

/// A site whose media live in a bucket, restored into a data directory:
/// every object gets the sidecar Jant's local storage keeps, from the
/// headers the bucket returned.
#[test]
fn a_bucket_site_restores_into_a_data_dir_with_jants_sidecars() {
    let src = bucket("sidecars");
    let ep = var("JARC_TEST_S3_ENDPOINT");
    let site = Backend::s3(&config(&src, &ep)).unwrap();
    let with = [
        ("contentType".to_string(), "image/webp".to_string()),
        (
            "cacheControl".to_string(),
            "public, max-age=31536000, immutable".to_string(),
        ),
        (
            "contentDisposition".to_string(),
            "inline; filename=\"a.webp\"".to_string(),
        ),
    ];
    site.put_with_meta("media/a.webp", noise(1, 5000).into(), &with)
        .unwrap();
    let plain = [("contentType".to_string(), "text/plain".to_string())];
    site.put_with_meta("media/b.txt", b"hello".to_vec().into(), &plain)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    jarc::demo::fixture::create_sqlite_site(&data, 3).unwrap();
    std::fs::remove_dir_all(data.join("media")).unwrap();
    let repo = dir.path().join("repo");
    let repo = repo.to_str().unwrap();
    jarc_ok(repo, &ep, &["init"]);
    let o = repo_cmd(
        &ep,
        &var("JARC_TEST_S3_REGION"),
        &var("JARC_TEST_S3_SECRET"),
    )
    .env("DATA_DIR", &data)
    .env("STORAGE_DRIVER", "s3")
    .env("S3_BUCKET", &src)
    .env("S3_ENDPOINT", &ep)
    .env("S3_REGION", var("JARC_TEST_S3_REGION"))
    .env("S3_ACCESS_KEY_ID", var("JARC_TEST_S3_KEY"))
    .env("S3_SECRET_ACCESS_KEY", var("JARC_TEST_S3_SECRET"))
    .current_dir(dir.path())
    .args(["--repo", repo, "backup"])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("restored");
    jarc_ok(
        repo,
        &ep,
        &[
            "restore",
            "latest",
            "--target-data-dir",
            out.to_str().unwrap(),
            "--allow-missing-objects",
        ],
    );
    let media = out.join("media");
    assert_eq!(
        std::fs::read_to_string(media.join("media/a.webp.meta.json")).unwrap(),
        "{\"contentType\":\"image/webp\",\"contentDisposition\":\"inline; filename=\\\"a.webp\\\"\",\"cacheControl\":\"public, max-age=31536000, immutable\"}"
    );
    assert_eq!(
        std::fs::read_to_string(media.join("media/b.txt.meta.json")).unwrap(),
        "{\"contentType\":\"text/plain\"}"
    );
    assert_eq!(std::fs::read(media.join("media/b.txt")).unwrap(), b"hello");
}

/// The off-platform copy: a local repository's snapshots copied to a
/// repository on the S3 server (made with `init --copy-from`), checked
/// there, restored from there byte-identical; a second copy after a small
/// change uploads only it.
#[test]
fn copy_to_s3_then_restore_from_the_copy() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("data");
    write(&data.join("video.mp4"), &noise(5, 6 << 20));
    write(&data.join("d/e.txt"), b"text");
    let local = t.path().join("local");
    let local = local.to_str().unwrap();
    let ep = var("JARC_TEST_S3_ENDPOINT");
    jarc_ok(local, &ep, &["init"]);
    jarc_ok(local, &ep, &["backup", "--media", data.to_str().unwrap()]);
    let remote = format!("s3://{}/offsite", bucket("copy"));
    jarc_ok(&remote, &ep, &["init", "--copy-from", local]);
    let first = jarc_ok(&remote, &ep, &["copy", "--from", local]);
    assert_eq!(first["copied"].as_array().unwrap().len(), 1);
    assert!(
        first["bytes_copied"].as_u64().unwrap() >= 6 << 20,
        "{first}"
    );
    write(&data.join("d/f.txt"), b"one more");
    jarc_ok(local, &ep, &["backup", "--media", data.to_str().unwrap()]);
    let second = jarc_ok(&remote, &ep, &["copy", "--from", local]);
    assert_eq!(second["copied"].as_array().unwrap().len(), 1);
    assert!(
        second["bytes_copied"].as_u64().unwrap() < 100_000,
        "{second}"
    );
    assert_eq!(jarc_ok(&remote, &ep, &["check", "--read-data"])["ok"], true);
    let out = t.path().join("out");
    jarc_ok(
        &remote,
        &ep,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    assert_eq!(capture(&out), capture(&data));
}

/// Keys another S3 client may write that no path can hold (`../x`,
/// `a//c`, `b/./y`) and a console's empty "folder" object: the bucket is
/// backed up but for those keys, each named, exit 3; the folder is passed
/// over; the rest restores byte for byte.
#[test]
fn a_bucket_with_keys_no_path_can_hold_is_backed_up_but_for_them() {
    let b = bucket("oddkeys");
    let ep = var("JARC_TEST_S3_ENDPOINT");
    // Written raw (jarc's own client would refuse these names).
    let put = |key: &str, body: &[u8]| {
        let o = Command::new("curl")
            .args([
                "-s",
                "--path-as-is",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
            .args([
                "--aws-sigv4",
                &format!("aws:amz:{}:s3", var("JARC_TEST_S3_REGION")),
            ])
            .args([
                "--user",
                &format!("{}:{}", var("JARC_TEST_S3_KEY"), var("JARC_TEST_S3_SECRET")),
            ])
            .args(["-X", "PUT", "--data-binary", "@-"])
            .arg(format!("{ep}/{b}/{key}"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(body)?;
                c.wait_with_output()
            })
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout), "200", "PUT {key}");
    };
    let good = [
        ("media/a.png", noise(1, 3000)),
        ("media/sub/b.webp", noise(2, 70_000)),
    ];
    for (k, v) in &good {
        put(k, v);
    }
    for k in ["../x", "a//c", "b/./y"] {
        put(k, b"odd");
    }
    put("media/folder/", b"");

    let repo_dir = tempfile::tempdir().unwrap();
    let repo = repo_dir.path().join("repo");
    let repo = repo.to_str().unwrap();
    jarc_ok(repo, &ep, &["init"]);
    let o = jarc(repo, &ep, &["--json", "backup", "--media-bucket", &b]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["files_new"], 2, "{r}");
    let skipped: Vec<String> = r["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(skipped, ["../x", "a//c", "b/./y"], "{r}");
    assert!(
        r["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("contains a .. component"),
        "{r}"
    );
    let out = repo_dir.path().join("out");
    jarc_ok(
        repo,
        &ep,
        &["restore", "latest", "--target", out.to_str().unwrap()],
    );
    for (k, v) in &good {
        assert_eq!(&std::fs::read(out.join(k)).unwrap(), v, "{k}");
    }
    assert!(!out.join("media/folder").exists());
}
