//! The scheduling files in scripts/ (systemd units, a cron fragment) run as
//! written: each command line is taken from the file, with only the
//! install paths (/srv/jant, /etc/jarc/…, /usr/local/bin/jarc) pointed at a
//! test site, and must succeed against a real site and repository.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

struct Site {
    _t: tempfile::TempDir,
    site: PathBuf,
    workdir: PathBuf,
    env_file: PathBuf,
    repo: PathBuf,
}

/// A Jant site as Jant's own .env describes it, and /etc/jarc/jant.env.
fn site() -> Site {
    let t = tempfile::tempdir().unwrap();
    let site = t.path().join("srv-jant");
    jarc::demo::fixture::create_sqlite_site(&site.join("data"), 20).unwrap();
    fs::write(site.join(".env"), "DATABASE_URL=file:./data/jant.sqlite\n").unwrap();
    let repo = t.path().join("backups");
    let pw = t.path().join("password");
    fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let env_file = t.path().join("jant.env");
    fs::write(
        &env_file,
        format!(
            "JARC_REPOSITORY={}\nJARC_PASSWORD_FILE={}\nJARC_KDF_PARAMS={}\n",
            repo.display(),
            pw.display(),
            KEY_ENV[1].1
        ),
    )
    .unwrap();
    init(&repo);
    let workdir = t.path().join("var-lib-jarc");
    fs::create_dir_all(&workdir).unwrap();
    Site {
        site,
        workdir,
        env_file,
        repo,
        _t: t,
    }
}

/// An install path in the files, and where it points in the test.
fn paths(s: &Site) -> Vec<(&'static str, String)> {
    vec![
        ("/usr/local/bin/jarc", jarc_bin().display().to_string()),
        ("/etc/jarc/jant-prune.env", s.env_file.display().to_string()),
        ("/etc/jarc/jant.env", s.env_file.display().to_string()),
        ("/srv/jant", s.site.display().to_string()),
        ("/var/lib/jarc", s.workdir.display().to_string()),
    ]
}

fn localize(s: &Site, text: &str) -> String {
    paths(s)
        .into_iter()
        .fold(text.to_string(), |t, (from, to)| t.replace(from, &to))
}

fn env_file(path: &Path) -> BTreeMap<String, String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A command with nothing of the test's own jarc environment.
fn clean(mut c: Command) -> Command {
    for v in [
        "JARC_REPOSITORY",
        "JARC_PASSWORD",
        "JARC_FAILPOINT",
        "JARC_KDF_PARAMS",
    ]
    .into_iter()
    .chain(OTHER_PASSWORD_VARS)
    {
        c.env_remove(v);
    }
    c
}

fn script(name: &str) -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scripts")
            .join(name),
    )
    .unwrap()
}

/// Run a unit's Exec lines the way systemd would: in WorkingDirectory,
/// with EnvironmentFile's variables, each line split on whitespace.
fn run_unit(s: &Site, unit: &str) -> usize {
    let text = localize(s, &script(unit));
    let value = |key: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
            .collect()
    };
    let dir = value("WorkingDirectory").pop().expect("WorkingDirectory");
    let env = env_file(Path::new(
        &value("EnvironmentFile").pop().expect("EnvironmentFile"),
    ));
    let mut ran = 0;
    for line in value("ExecStart").into_iter().chain(value("ExecStartPost")) {
        let argv: Vec<&str> = line.split_whitespace().collect();
        let mut c = clean(Command::new(argv[0]));
        let o = c
            .args(&argv[1..])
            .current_dir(&dir)
            .envs(&env)
            .output()
            .unwrap();
        assert!(o.status.success(), "{unit}: {line}: {}", stderr(&o));
        ran += 1;
    }
    ran
}

#[test]
fn the_systemd_units_run_as_written() {
    let s = site();
    assert_eq!(run_unit(&s, "systemd/jarc-backup.service"), 1);
    assert_eq!(json(&s.repo, &["snapshots"]).as_array().unwrap().len(), 1);
    assert_eq!(run_unit(&s, "systemd/jarc-backup.service"), 1);
    assert_eq!(run_unit(&s, "systemd/jarc-db.service"), 1);
    assert_eq!(run_unit(&s, "systemd/jarc-db.service"), 1);
    assert_eq!(run_unit(&s, "systemd/jarc-prune.service"), 2);
    // --keep-within 2d keeps all of them: 2 site backups, 2 database ones.
    let all = json(&s.repo, &["snapshots"]);
    let tagged: Vec<&serde_json::Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["tags"] == serde_json::json!(["pitr"]))
        .collect();
    assert_eq!((all.as_array().unwrap().len(), tagged.len()), (4, 2));
    assert_eq!(tagged[1]["summary"]["files"], 0, "database only");
    // The point-in-time restores the database unit's comment gives: into
    // the live site (its media are there), and into a new directory after
    // the nightly (whose media the rows name).
    let restore = |args: &[&str]| {
        let o = clean(Command::new(jarc_bin()))
            .args(args)
            .current_dir(&s.site)
            .envs(env_file(&s.env_file))
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stderr(&o)
    };
    let newest = tagged[1]["id"].as_str().unwrap();
    let live = s.site.join("data");
    let at_pitr = |target: &Path| {
        restore(&[
            "restore",
            "--at",
            "2200-01-01",
            "--tag",
            "pitr",
            "--content",
            "--replace",
            "--target-data-dir",
            target.to_str().unwrap(),
        ])
    };
    let said = at_pitr(&live);
    assert!(
        said.contains(&format!("snapshot {} of ", &newest[..8])),
        "{said}"
    );
    let out = s.workdir.join("restored");
    let o = out.to_str().unwrap();
    let nightly = all
        .as_array()
        .unwrap()
        .iter()
        .rfind(|x| x["tags"] != serde_json::json!(["pitr"]))
        .unwrap();
    restore(&[
        "restore",
        nightly["id"].as_str().unwrap(),
        "--target-data-dir",
        o,
    ]);
    at_pitr(&out);
    for timer in [
        "systemd/jarc-backup.timer",
        "systemd/jarc-prune.timer",
        "systemd/jarc-db.timer",
    ] {
        let t = script(timer);
        assert!(t.lines().any(|l| l.starts_with("OnCalendar=")), "{timer}");
        assert!(t.contains("WantedBy=timers.target"), "{timer}");
    }
}

#[test]
fn the_cron_fragment_runs_as_written() {
    let s = site();
    let text = localize(&s, &script("cron/jarc"));
    let mut ran = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        // minute hour day month weekday user command
        let command = line
            .split_whitespace()
            .skip(6)
            .collect::<Vec<_>>()
            .join(" ");
        let o = clean(Command::new("sh"))
            .args(["-c", &command])
            .output()
            .unwrap();
        assert!(o.status.success(), "{command}: {}", stderr(&o));
        ran += 1;
    }
    assert_eq!(ran, 3);
    assert_eq!(json(&s.repo, &["snapshots"]).as_array().unwrap().len(), 2);
}

#[test]
fn completion_scripts_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let o = bare().args(["completion", shell]).output().unwrap();
        assert!(o.status.success(), "{shell}");
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(
            text.contains("jarc") && text.contains("backup") && text.contains("dry-run"),
            "{shell}"
        );
    }
    let o = bare().args(["completion", "tcsh"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// The README's first command: the demo passes, and its encrypted
/// repository opens with the password file it names.
#[test]
fn the_demo_passes_and_its_repository_opens_with_its_password_file() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("d");
    let o = clean(Command::new(jarc_bin()))
        .args(["demo", dir.to_str().unwrap(), "--posts", "20"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("identical"), "{out}");
    let pw = dir.join("repository.password");
    assert!(
        out.contains(&format!("its password is in {}", pw.display())),
        "{out}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&pw).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let o = clean(Command::new(jarc_bin()))
        .env("JARC_PASSWORD_FILE", &pw)
        .args([
            "--json",
            "--repo",
            dir.join("repository").to_str().unwrap(),
            "snapshots",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let snaps: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 2);
}

/// `-v` says each step of a backup on stderr, `-vv` each pack, `JARC_LOG`
/// the same by directive (a bad one is a usage error naming it); without
/// them, no log lines.
#[test]
fn verbose_and_jarc_log() {
    let s = site();
    let backup = |flags: &[&str], log: Option<&str>| {
        let mut c = clean(Command::new(jarc_bin()));
        c.args(flags)
            .arg("backup")
            .current_dir(&s.site)
            .envs(env_file(&s.env_file));
        if let Some(l) = log {
            c.env("JARC_LOG", l);
        }
        let o = c.output().unwrap();
        (o.status.code(), stderr(&o))
    };
    let (code, err) = backup(&[], None);
    assert_eq!(code, Some(0));
    assert!(!err.contains(" INFO "), "{err}");
    let (code, err) = backup(&["-v"], None);
    assert_eq!(code, Some(0));
    for step in [
        "index loaded",
        "backup started",
        "database captured",
        "media backed up",
        "snapshot saved",
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(" INFO jarc::") && l.contains(step)),
            "{step}: {err}"
        );
    }
    assert!(!err.contains(" DEBUG "), "{err}");
    fs::write(s.site.join("data/media/new.bin"), noise(3, 100_000)).unwrap();
    let (code, err) = backup(&["-vv"], None);
    assert_eq!(code, Some(0));
    assert!(
        err.contains(" DEBUG jarc::upload: pack uploaded pack="),
        "{err}"
    );
    assert!(
        err.contains(" DEBUG jarc::repo: index file written"),
        "{err}"
    );
    let (code, err) = backup(&[], Some("jarc::backup=info"));
    assert_eq!(code, Some(0));
    assert!(
        err.contains("backup started") && !err.contains("index loaded"),
        "{err}"
    );
    let (code, err) = backup(&[], Some("jarc=loud"));
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("jarc: error: JARC_LOG=\"jarc=loud\": "),
        "{err}"
    );
}

/// `jarc man DIR` writes a page per command, generated from the same
/// definitions as --help; `jarc man` prints the top page.
#[test]
fn manual_pages_are_generated() {
    let t = tempfile::tempdir().unwrap();
    let o = bare().args(["man"]).arg(t.path()).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let restore = fs::read_to_string(t.path().join("jarc-restore.1")).unwrap();
    assert!(
        restore.starts_with(".ie") && restore.contains(".TH jarc-restore 1"),
        "{restore}"
    );
    assert!(restore.contains("\\-\\-at"), "the restore page lists --at");
    for page in [
        "jarc.1",
        "jarc-backup.1",
        "jarc-key-add.1",
        "jarc-repair-index.1",
    ] {
        assert!(t.path().join(page).is_file(), "{page}");
    }
    let o = bare().arg("man").output().unwrap();
    let top = String::from_utf8(o.stdout).unwrap();
    assert!(
        top.contains(".TH jarc 1") && top.contains("backup"),
        "{top}"
    );
}

/// The Compose service beside Jant's compose.yml (no Docker here): read as
/// written, it mounts the volume Jant's services mount at the same path,
/// reads the same .env, and its entrypoint and command, run with the
/// environment its env_files give (the container path pointed at a test
/// site), back the site up.
#[test]
fn the_compose_service_runs_as_written() {
    let text = script("compose/compose.jarc.yml");
    let list = |key: &str| -> Vec<String> {
        // The items of a block list `key:` (one level, `- item` lines).
        let mut out = Vec::new();
        let mut inside = false;
        for l in text.lines() {
            let t = l.trim();
            if t == format!("{key}:") {
                inside = true;
            } else if inside && t.starts_with("- ") {
                out.push(t[2..].split(" #").next().unwrap().trim().to_string());
            } else if inside && !t.starts_with('#') {
                inside = false;
            }
        }
        out
    };
    let inline = |key: &str| -> Vec<String> {
        let line = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("{key}"));
        serde_json::from_str(line).unwrap()
    };
    // Jant's compose.yml mounts ./data at /var/lib/jant and reads .env.
    assert!(list("volumes").contains(&"./data:/var/lib/jant".to_string()));
    assert_eq!(list("env_file"), [".env", "./jarc/jarc.env"]);
    assert_eq!(inline("entrypoint"), ["/jarc/jarc"]);
    let command = inline("command");
    assert_eq!(command, ["--quiet", "backup"]);
    assert!(
        text.contains("profiles: [\"backup\"]"),
        "not started by `up`"
    );

    let s = site();
    // Jant's .env as Compose users write it: the container's path.
    let jant_env = s.site.join(".env");
    fs::write(&jant_env, "DATA_DIR=/var/lib/jant\n").unwrap();
    let mut env = env_file(&jant_env);
    env.extend(env_file(&s.env_file));
    env.insert("DATA_DIR".into(), s.site.join("data").display().to_string());
    let o = clean(Command::new(jarc_bin()))
        .args(&command)
        .envs(&env)
        .current_dir(&s.workdir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let snaps = json(&s.repo, &["snapshots"]);
    assert_eq!(snaps.as_array().unwrap().len(), 1);
    assert!(
        snaps[0]["summary"]["files"].as_u64().unwrap() > 0,
        "media backed up"
    );
}
