//! Jant site backups against a real PostgreSQL server (scripts/postgres.sh
//! installs and starts it and sets JARC_TEST_PG_URL): exact round trips of
//! schema, rows and sequences; content-only restore that leaves auth alone;
//! failures that leave the target as it was.

mod support;

use jarc::demo::{fixture as demo, verify};
use std::path::Path;
use support::*;
use tokio_postgres::NoTls;

fn admin_url() -> String {
    std::env::var("JARC_TEST_PG_URL").expect(
        "JARC_TEST_PG_URL is not set: run the suite through scripts/test.sh, which starts PostgreSQL",
    )
}

/// A blocking client for checks.
struct Pg {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Pg {
    fn connect(url: &str) -> Pg {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (client, conn) = rt.block_on(tokio_postgres::connect(url, NoTls)).unwrap();
        rt.spawn(async move {
            let _ = conn.await;
        });
        Pg { rt, client }
    }
    fn exec(&self, sql: &str) {
        self.rt.block_on(self.client.batch_execute(sql)).unwrap();
    }
    fn strings(&self, sql: &str) -> Vec<String> {
        self.rt
            .block_on(self.client.query(sql, &[]))
            .unwrap()
            .iter()
            .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
            .collect()
    }
}

/// A fresh database; returns its URL.
fn fresh_db(tag: &str) -> String {
    let admin = admin_url();
    let name = format!("jarc_{tag}_{}", std::process::id());
    let pg = Pg::connect(&admin);
    pg.exec(&format!("DROP DATABASE IF EXISTS {name}"));
    pg.exec(&format!("CREATE DATABASE {name}"));
    let base = admin.rsplit_once('/').unwrap().0;
    format!("{base}/{name}")
}

/// Every table's rows (generated columns included) as sorted text, the
/// sequences' positions, and the schema as pg_dump prints it.
fn dump(url: &str) -> Vec<String> {
    let pg = Pg::connect(url);
    let mut out = Vec::new();
    // Every schema's tables: drizzle keeps its migrations in `drizzle`.
    for t in pg.strings(
        "SELECT quote_ident(nspname) || '.' || quote_ident(relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' AND relkind = 'r' ORDER BY 1",
    ) {
        out.push(format!("table {t}"));
        out.extend(pg.strings(&format!(
            "SELECT x::text FROM {t} x ORDER BY x::text COLLATE \"C\""
        )));
    }
    for e in pg.strings("SELECT extname::text FROM pg_extension ORDER BY 1") {
        out.push(format!("extension {e}"));
    }
    for s in pg.strings("SELECT format('%s.%s %s %s', schemaname, sequencename, last_value, increment_by) FROM pg_sequences ORDER BY 1") {
        out.push(format!("sequence {s}"));
    }
    let o = std::process::Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges", url])
        .output()
        .expect("pg_dump (postgresql-client) runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.extend(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            // pg_dump marks each run with a random \\restrict token.
            .filter(|l| !l.starts_with("--") && !l.trim().is_empty() && !l.contains("restrict "))
            .map(str::to_string),
    );
    out
}

fn same(a: &[String], b: &[String]) {
    if a != b {
        let only_a: Vec<&String> = a.iter().filter(|x| !b.contains(x)).take(5).collect();
        let only_b: Vec<&String> = b.iter().filter(|x| !a.contains(x)).take(5).collect();
        panic!("dumps differ:\n only in first: {only_a:#?}\n only in second: {only_b:#?}");
    }
}

fn source(dir: &Path, tag: &str, posts: usize) -> (String, std::path::PathBuf) {
    let url = fresh_db(tag);
    let media = dir.join("media");
    demo::create_postgres_site(&url, &media, posts).unwrap();
    (url, media)
}

#[test]
fn postgres_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (url, media) = source(dir.path(), "rt_src", 200);
    let repo = dir.path().join("repo");
    ok(&repo, &["init"]);
    let out = ok(
        &repo,
        &[
            "backup",
            "--database",
            &url,
            "--media",
            media.to_str().unwrap(),
        ],
    );
    let masked = url.replace("jarc:jarc@", "jarc:***@");
    assert!(
        out.starts_with(&format!(
            "backing up postgres {masked} + media {}",
            media.display()
        )),
        "{out}"
    );
    assert!(!out.contains("jarc:jarc@"), "password printed: {out}");
    let rows: usize = demo::generate(demo::Dialect::Postgres, 200)
        .tables
        .iter()
        .map(|t| t.rows.len())
        .sum();
    assert!(
        out.contains(&format!("database: 18 tables, {rows} rows (pg)")),
        "{out}"
    );

    // A brand-new database, without the extension the source had.
    let target = fresh_db("rt_dst");
    assert_eq!(
        Pg::connect(&target)
            .strings("SELECT count(*)::text FROM pg_extension WHERE extname = 'pg_trgm'"),
        ["0"]
    );
    let tmedia = dir.path().join("restored-media");
    let r = json(
        &repo,
        &[
            "restore",
            "latest",
            "--target-database",
            &target,
            "--target-media",
            tmedia.to_str().unwrap(),
        ],
    );
    assert_eq!(r["summary"]["database"]["rows"], rows);
    let (want, got) = (dump(&url), dump(&target));
    same(&want, &got);
    // What Jant's migrator reads on its next start came back, and the
    // trigram index it built on pg_trgm.
    for line in [
        "table drizzle.__drizzle_migrations",
        "extension pg_trgm",
        "CREATE SCHEMA drizzle;",
    ] {
        assert!(
            got.iter().any(|l| l == line),
            "{line} missing after restore"
        );
    }
    assert!(got.iter().any(|l| l.contains("gin_trgm_ops")));
    assert_eq!(
        Pg::connect(&target).strings("SELECT count(*)::text FROM drizzle.__drizzle_migrations"),
        ["3"]
    );
    assert_eq!(
        verify::file_digests(&media).unwrap(),
        verify::file_digests(&tmedia).unwrap()
    );
    // Foreign keys came back validated, and the generated search column works.
    let pg = Pg::connect(&target);
    let fks = "SELECT count(*)::text FROM pg_constraint WHERE contype = 'f' AND convalidated AND connamespace = 'public'::regnamespace";
    assert_eq!(pg.strings(fks), ["22"]);
    assert_eq!(Pg::connect(&url).strings(fks), ["22"]);
    assert_eq!(
        pg.strings("SELECT count(*)::text FROM post WHERE search_document @@ to_tsquery('simple', 'garden')"),
        ["200"]
    );
    // The sequence continues where the source's was.
    assert_eq!(
        pg.strings("SELECT nextval('drizzle.__drizzle_migrations_id_seq')::text"),
        ["4"]
    );

    // A second restore into the same (no longer empty) database is refused
    // and leaves it as it was.
    let before = dump(&target);
    let m2 = dir.path().join("m2");
    let o = run(
        &repo,
        &[
            "restore",
            "latest",
            "--target-database",
            &target,
            "--target-media",
            m2.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("the target database is not empty (19 tables, views or sequences)"),
        "{}",
        stderr(&o)
    );
    same(&dump(&target), &before);
    assert!(!m2.exists(), "media written for a refused restore");

    // A failure just before commit: the database stays empty, media removed.
    let target2 = fresh_db("rt_fail");
    let m3 = dir.path().join("m3");
    let o = cmd(&repo)
        .env("JARC_FAILPOINT", "pg-restore-before-commit")
        .args([
            "restore",
            "latest",
            "--target-database",
            &target2,
            "--target-media",
            m3.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("injected failure at pg-restore-before-commit"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        Pg::connect(&target2).strings("SELECT count(*)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"),
        ["0"]
    );
    assert!(!m3.exists());
}

#[test]
fn postgres_content_only_restore_keeps_auth_and_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let (url, media) = source(dir.path(), "content", 60);
    let repo = dir.path().join("repo");
    ok(&repo, &["init"]);
    ok(
        &repo,
        &[
            "backup",
            "--database",
            &url,
            "--media",
            media.to_str().unwrap(),
        ],
    );
    let table = |t: &str| {
        Pg::connect(&url).strings(&format!(
            "SELECT x::text FROM \"{t}\" x ORDER BY x::text COLLATE \"C\""
        ))
    };
    let content_at_backup: Vec<Vec<String>> = ["post", "media", "nav_item", "site_setting"]
        .iter()
        .map(|t| table(t))
        .collect();

    let pg = Pg::connect(&url);
    pg.exec(
        "UPDATE post SET title = 'later' WHERE id = 'pst_0000000';
         DELETE FROM nav_item WHERE id = 'nav_04';
         INSERT INTO session VALUES ('ses_new', now(), 'new-token', now(), now(), NULL, NULL, 'usr_01jdemoowner');
         UPDATE account SET password = 'rotated';
         UPDATE site_setting SET value = '50' WHERE key = 'PAGE_SIZE';",
    );
    let auth = || -> Vec<Vec<String>> {
        jarc::jant::tables::PROTECTED_TABLES
            .iter()
            .map(|t| table(t))
            .collect()
    };
    let auth_before = auth();
    let full_before = dump(&url);
    let m = media.to_str().unwrap();

    let o = cmd(&repo)
        .env("JARC_FAILPOINT", "content-restore-midway")
        .args([
            "restore",
            "latest",
            "--content",
            "--replace",
            "--target-database",
            &url,
            "--target-media",
            m,
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("injected failure at content-restore-midway"),
        "{}",
        stderr(&o)
    );
    same(&dump(&url), &full_before);

    ok(
        &repo,
        &[
            "restore",
            "latest",
            "--content",
            "--replace",
            "--target-database",
            &url,
            "--target-media",
            m,
        ],
    );
    assert_eq!(auth(), auth_before, "auth rows must be untouched");
    let settings = table("site_setting");
    assert!(
        settings.iter().any(|r| r.contains("PAGE_SIZE,50,")),
        "{settings:?}"
    );
    let now: Vec<Vec<String>> = ["post", "media", "nav_item"]
        .iter()
        .map(|t| table(t))
        .collect();
    assert_eq!(now, content_at_backup[..3]);
}

fn count_pg(pg: &Pg, sql: &str) -> i64 {
    pg.rt
        .block_on(pg.client.query_one(sql, &[]))
        .unwrap()
        .get::<_, i64>(0)
}

#[test]
fn postgres_snapshot_exports_replay_into_postgres_with_jants_replace_sequence() {
    const SITE: &str = "sit_01jdemo0000000000000000000";
    let dir = tempfile::tempdir().unwrap();
    let (url, media) = source(dir.path(), "exp_src", 150);
    let repo = dir.path().join("repo");
    ok(&repo, &["init"]);
    let v = json(
        &repo,
        &[
            "backup",
            "--database",
            &url,
            "--media",
            media.to_str().unwrap(),
        ],
    );
    let id = v["snapshot"].as_str().unwrap().to_string();
    let z = dir.path().join("pg.zip");
    ok(&repo, &["export", &id, "--output", z.to_str().unwrap()]);
    let entries = support::jant::unzip(&z);
    let sql = String::from_utf8(entries["db.sql"].clone()).unwrap();
    let meta = String::from_utf8(entries["meta.json"].clone()).unwrap();
    assert!(meta.contains("\"dialect\": \"pg\""), "{meta}");
    // Postgres booleans are written as Postgres reads them, and generated
    // columns (search_text, search_document) are not written at all.
    assert!(
        sql.contains(", false, ") || sql.contains(", true, "),
        "booleans as true/false"
    );
    assert!(!sql.contains("search_document") && !sql.contains("search_text"));

    // Jant's replace sequence on a live Postgres site: one transaction, no
    // PRAGMA (Postgres has no deferrable keys here; posts come parents first).
    let target = fresh_db("exp_dst");
    demo::create_postgres_site(&target, &dir.path().join("live-media"), 10).unwrap();
    let pg = Pg::connect(&target);
    let sessions = count_pg(&pg, "SELECT count(*) FROM session");
    let script = support::jant::replace_script(SITE, &sql, false);
    pg.exec(&script);
    let src = Pg::connect(&url);
    for t in jarc::jant::tables::CONTENT_INSERT_ORDER {
        let q = format!("SELECT count(*) FROM \"{t}\"");
        assert_eq!(count_pg(&pg, &q), count_pg(&src, &q), "{t}");
    }
    let q = "SELECT count(*) FROM post WHERE quiet_reply";
    assert_eq!(count_pg(&pg, q), count_pg(&src, q));
    assert_eq!(
        count_pg(&pg, "SELECT count(*) FROM session"),
        sessions,
        "auth untouched"
    );
    let body = "SELECT md5(string_agg(id || coalesce(body, '') || coalesce(summary, ''), ',' ORDER BY id)) FROM post";
    assert_eq!(
        pg.strings(body),
        src.strings(body),
        "post text byte for byte"
    );

    // import(export(S)) holds S's content rows.
    let back = json(&repo, &["import", z.to_str().unwrap()]);
    assert_eq!(back["dialect"], "pg");
    let r = open_repo(repo.to_str().unwrap()).unwrap();
    let rows = |spec: &str| {
        let (_, s) = jarc::snapshot::resolve(&r, spec).unwrap();
        jarc::restore::content::select(&r, &s, SITE)
            .unwrap()
            .into_iter()
            .map(|t| (t.table.name, t.rows))
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&id), rows(back["snapshot"].as_str().unwrap()));
}

fn drill_databases(pg: &Pg) -> Vec<String> {
    pg.strings("SELECT datname::text FROM pg_database WHERE datname LIKE 'jarc_drill_%' ORDER BY 1")
}

#[test]
fn postgres_drill_passes_then_fails_on_a_damaged_table_and_drops_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let (url, media) = source(dir.path(), "drill_src", 60);
    let repo = dir.path().join("repo");
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    ok(&repo, &["init"]);
    let snap = json(
        &repo,
        &[
            "backup",
            "--database",
            &url,
            "--media",
            media.to_str().unwrap(),
        ],
    )["snapshot"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = Pg::connect(&admin_url());
    let before = drill_databases(&admin);
    let drill = |extra: &[&str]| {
        let mut args = vec!["--json", "drill", "--scratch", scratch.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = run(&repo, &args);
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
        (o.status.code(), v)
    };

    // Without a server to drill on, a Postgres snapshot is a clear error.
    let o = run(&repo, &["drill", "--scratch", scratch.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("this snapshot's database is Postgres; pass --target-database"),
        "{}",
        stderr(&o)
    );

    let admin_arg = admin_url();
    let (code, r) = drill(&["--target-database", &admin_arg]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["snapshot"], snap.as_str());
    assert_eq!(r["target"], "pg");
    let checks: Vec<(&str, bool)> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["passed"].as_bool().unwrap()))
        .collect();
    let names: Vec<&str> = checks.iter().map(|c| c.0).collect();
    assert_eq!(names, DRILL_CHECKS);
    assert!(checks.iter().all(|c| c.1), "{r}");
    let fts = r["checks"][4]["detail"].as_str().unwrap();
    assert!(fts.starts_with("post.search_document ("), "{fts}");
    let scratch_db = r["scratch_database"].as_str().unwrap();
    assert!(scratch_db.contains("/jarc_drill_"), "{scratch_db}");
    assert!(
        !scratch_db.contains("jarc:jarc@"),
        "password shown: {scratch_db}"
    );
    assert_eq!(
        drill_databases(&admin),
        before,
        "scratch database left behind"
    );

    // Damage the post table's root node, in its pack and the pack's copy
    // (one damaged copy costs nothing): the drill fails, names the table,
    // and still drops its database and directory.
    let r0 = open_repo(repo.to_str().unwrap()).unwrap();
    let (_, s) = jarc::snapshot::resolve(&r0, &snap).unwrap();
    let node = s.root("db.rows/post").unwrap().node;
    drop(r0);
    damage_blob(&repo, &node);
    damage_copy(&repo, &node);
    let (code, r) = drill(&["--target-database", &admin_arg]);
    assert_eq!(code, Some(3), "{r}");
    assert_eq!(r["passed"], false);
    let restore = &r["checks"][1];
    assert_eq!(restore["name"], "database restore");
    assert_eq!(restore["passed"], false);
    assert!(
        restore["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("table post: blob {node} in pack ")),
        "{restore}"
    );
    assert_eq!(
        drill_databases(&admin),
        before,
        "scratch database left behind"
    );
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
}

/// Every kind of object and value a Postgres database may hold that the
/// issue lists: schemas other than the default (with odd names), extensions,
/// enum / domain / composite / range types, values of every text-form type
/// (arrays, json/jsonb, numeric with NaN and many digits, bytea, uuid,
/// interval, inet/cidr, ranges, infinite dates and timestamps), functions a
/// check, a default and a trigger use, triggers, a partitioned table with a
/// default partition, identity and serial columns, views and a
/// materialized view, a table without a key holding duplicate rows. Backed
/// up, restored into a brand-new database, and compared with `pg_dump
/// --schema-only` plus every table's sorted rows; then drilled.
#[test]
fn every_postgres_kind_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db("kinds_src");
    let pg = Pg::connect(&url);
    pg.exec(
        r#"
        CREATE EXTENSION pg_trgm;
        CREATE SCHEMA "odd schema";
        CREATE SCHEMA drizzle;
        CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint);
        INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES ('a', 1774127153796), ('b', 1774138110172);
        CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN positive AS integer NOT NULL CHECK (VALUE > 0);
        CREATE TYPE "odd schema".pair AS (a integer, b text);
        CREATE TYPE floatrange AS RANGE (SUBTYPE = float8, SUBTYPE_DIFF = float8mi);
        CREATE FUNCTION is_even(n integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT n % 2 = 0';
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := true; RETURN NEW; END $$;
        CREATE TABLE "odd schema"."my table" (
            id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            m mood, p positive, pr "odd schema".pair, fr floatrange,
            ints integer[], texts text[], j json, jb jsonb, n numeric, n2 numeric(30, 10),
            b bytea, u uuid, iv interval, ip inet, net cidr, r int4range,
            d date, ts timestamp, tz timestamptz, bits bit varying(16),
            code text DEFAULT 'x', even integer CHECK (is_even(even)),
            touched boolean DEFAULT false,
            title text
        );
        CREATE INDEX ON "odd schema"."my table" USING gin (title gin_trgm_ops);
        -- Made after the table it reads: a restore makes functions first.
        CREATE FUNCTION next_code() RETURNS text LANGUAGE sql AS $$ SELECT 'c' || (SELECT count(*) FROM "odd schema"."my table")::text $$;
        CREATE TRIGGER touch_it BEFORE INSERT OR UPDATE ON "odd schema"."my table" FOR EACH ROW EXECUTE FUNCTION touch();
        INSERT INTO "odd schema"."my table" (m, p, pr, fr, ints, texts, j, jb, n, n2, b, u, iv, ip, net, r, d, ts, tz, bits, even, title) VALUES
          ('happy', 3, ROW(1, 'x y'), '[1.5,2.5)', '{1,NULL,3}', '{"a b","c\"d",NULL}', '{"k": [1, 2.50]}', '{"b": 1, "a": [true, null]}',
           'NaN', 12345678901234567890.0123456789, '\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 year 2 mons -3 days 04:05:06.789',
           '192.168.1.5/24', '10.0.0.0/8', '[3,7)', 'infinity', '-infinity', '2026-12-04 10:00:00.123456+05', B'1011', 4, 'common title'),
          ('sad', 1, NULL, 'empty', '{}', '{}', 'null', '[]', -0.000001, 0, '', NULL, '0', '::1', '::/0', 'empty',
           '-infinity', 'infinity', 'infinity', B'', 0, 'tab	and
newline'),
          (NULL, 2, ROW(NULL, NULL), NULL, NULL, NULL, NULL, NULL, 1e-20, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           '0001-01-01 BC', '2000-02-29 23:59:59.999999', '1970-01-01 00:00:00+00', NULL, NULL, NULL);
        UPDATE "odd schema"."my table" SET code = next_code();
        CREATE TABLE events (id bigserial, at date NOT NULL, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        CREATE TABLE events_other PARTITION OF events DEFAULT;
        CREATE INDEX events_what ON events (what);
        INSERT INTO events (at, what) VALUES ('2025-03-01', 'a'), ('2026-07-01', 'b'), ('2030-01-01', 'c'), ('2026-01-01', 'd');
        CREATE TABLE bag (a integer, b text);
        INSERT INTO bag VALUES (1, 'x'), (1, 'x'), (NULL, NULL), (NULL, NULL), (2, 'y');
        CREATE VIEW happy AS SELECT id, title FROM "odd schema"."my table" WHERE m = 'happy';
        CREATE MATERIALIZED VIEW event_counts AS SELECT what, count(*) FROM events GROUP BY what;
        "#,
    );
    let repo = dir.path().join("repo");
    ok(&repo, &["init"]);
    json(&repo, &["backup", "--database", &url, "--no-media"]);
    let target = fresh_db("kinds_dst");
    ok(
        &repo,
        &[
            "restore",
            "latest",
            "--target-database",
            &target,
            "--target-media",
            dir.path().join("m").to_str().unwrap(),
        ],
    );
    let (want, got) = (dump(&url), dump(&target));
    same(&want, &got);
    for line in [
        "extension pg_trgm",
        "table \"odd schema\".\"my table\"",
        "table public.events_other",
        "table drizzle.__drizzle_migrations",
    ] {
        assert!(got.iter().any(|l| l == line), "{line} missing: {got:#?}");
    }
    // The trigger, the check's function and the partitions work as before.
    let t = Pg::connect(&target);
    t.exec("INSERT INTO \"odd schema\".\"my table\" (p, even) VALUES (5, 2); INSERT INTO events (at, what) VALUES ('2025-06-01', 'e')");
    assert_eq!(
        t.strings("SELECT touched::text FROM \"odd schema\".\"my table\" WHERE p = 5"),
        ["true"]
    );
    assert_eq!(t.strings("SELECT count(*)::text FROM events_2025"), ["2"]);
    // The rows of a partitioned table are stored once, in its partitions.
    let r = json(&repo, &["snapshots"]);
    assert!(r.as_array().unwrap().len() == 1);

    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let admin = admin_url();
    let o = run(
        &repo,
        &[
            "--json",
            "drill",
            "--scratch",
            scratch.to_str().unwrap(),
            "--target-database",
            &admin,
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
}

/// A snapshot whose database used an extension the target server does not
/// offer: the restore and the drill stop before writing anything, naming
/// it. The extension is a real one, installed into the server's extension
/// directory for the backup and removed before the restore.
#[test]
fn a_missing_extension_stops_restore_and_drill_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db("ext_src");
    let pg = Pg::connect(&url);
    let share = pg.strings("SELECT setting FROM pg_config WHERE name = 'SHAREDIR'");
    let ext_dir = Path::new(&share[0]).join("extension");
    let name = format!("jarc_test_ext_{}", std::process::id());
    let control = ext_dir.join(format!("{name}.control"));
    let script = ext_dir.join(format!("{name}--1.0.sql"));
    std::fs::write(&control, "default_version = '1.0'\nrelocatable = true\n").unwrap();
    std::fs::write(
        &script,
        "CREATE FUNCTION jarc_test_answer() RETURNS integer LANGUAGE sql AS 'SELECT 42';\n",
    )
    .unwrap();
    pg.exec(&format!(
        "CREATE EXTENSION {name}; CREATE TABLE t (id integer PRIMARY KEY, v integer DEFAULT jarc_test_answer()); INSERT INTO t (id) VALUES (1)"
    ));
    let repo = dir.path().join("repo");
    ok(&repo, &["init"]);
    json(&repo, &["backup", "--database", &url, "--no-media"]);
    std::fs::remove_file(&control).unwrap();
    std::fs::remove_file(&script).unwrap();

    let target = fresh_db("ext_dst");
    let media = dir.path().join("media-out");
    let o = run(
        &repo,
        &[
            "restore",
            "latest",
            "--target-database",
            &target,
            "--target-media",
            media.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "the server has no extension {name}, which the snapshot's database uses"
        )),
        "{}",
        stderr(&o)
    );
    assert!(!media.exists(), "media were written before the refusal");
    assert_eq!(
        Pg::connect(&target).strings(
            "SELECT count(*)::text FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        ),
        ["0"]
    );
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    let admin = admin_url();
    let o = run(
        &repo,
        &[
            "--json",
            "drill",
            "--scratch",
            scratch.to_str().unwrap(),
            "--target-database",
            &admin,
        ],
    );
    assert_ne!(o.status.code(), Some(0));
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(all.contains(&format!("no extension {name}")), "{all}");
    assert!(drill_databases(&Pg::connect(&admin)).is_empty() || !all.is_empty());
}

/// A password holding `/`, `?`, `@` and spaces, given as a percent-encoded
/// URL or a libpq keyword string: the backup works, and the password
/// appears nowhere: not in what jarc prints, not in `snapshots --json`,
/// not in any repository file. A connection that fails names the server
/// with the password masked.
#[test]
fn passwords_never_leave_the_connection_string() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_db("secret_src");
    let admin = Pg::connect(&admin_url());
    let role = format!("jarc_secret_{}", std::process::id());
    let secret = "se/cr?et@x y:z";
    admin.exec(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{secret}'"
    ));
    let (base, db) = url.rsplit_once('/').unwrap();
    let hostport = base.rsplit_once('@').unwrap().1;
    let (host, port) = hostport.split_once(':').unwrap();
    Pg::connect(&url)
        .exec("CREATE TABLE t (id integer PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'x')");
    let encoded = format!("postgres://{role}:se%2Fcr%3Fet%40x%20y%3Az@{hostport}/{db}");
    let keywords = format!("host={host} port={port} user={role} password='{secret}' dbname={db}");
    let repo = dir.path().join("repo");
    ok(&repo, &["init"]);
    let forms = [
        secret.to_string(),
        "se%2Fcr".to_string(),
        "cr?et".to_string(),
        "x y:z".to_string(),
        "y:z".to_string(),
    ];
    let mut seen = String::new();
    for conn in [&encoded, &keywords] {
        let o = run(&repo, &["backup", "--database", conn, "--no-media"]);
        seen.push_str(&String::from_utf8_lossy(&o.stdout));
        seen.push_str(&stderr(&o));
        assert!(o.status.success(), "{}", stderr(&o));
        // The same server unreachable: the error names it, masked.
        let bad = conn.replace(port, "1");
        let o = run(&repo, &["backup", "--database", &bad, "--no-media"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("***"), "{}", stderr(&o));
        seen.push_str(&stderr(&o));
    }
    seen.push_str(&ok(&repo, &["--json", "snapshots"]));
    seen.push_str(&ok(&repo, &["snapshots"]));
    for f in listing(&repo).into_keys().filter(|k| !k.ends_with('/')) {
        seen.push_str(&String::from_utf8_lossy(
            &std::fs::read(repo.join(f)).unwrap(),
        ));
    }
    for form in &forms {
        assert!(
            !seen.contains(form.as_str()),
            "the password ({form}) leaked"
        );
    }
    admin.exec(&format!("DROP DATABASE IF EXISTS {db}"));
    admin.exec(&format!("DROP ROLE IF EXISTS {role}"));
}

/// One post restored into a live Postgres site: written beside every other
/// row (an edit since stays), or, when it cannot be (a path the site gave
/// to another post since), not at all: the database and the media
/// directory are as they were, and the error names the table.
#[test]
fn postgres_one_post_comes_back_beside_everything_else_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let (url, media) = source(dir.path(), "item", 60);
    let repo = dir.path().join("repo");
    ok(&repo, &["init"]);
    let m = media.to_str().unwrap();
    ok(&repo, &["backup", "--database", &url, "--media", m]);
    let tables = ["post", "media", "thread_collection", "path_registry"];
    let content = || -> Vec<Vec<String>> {
        let pg = Pg::connect(&url);
        tables
            .iter()
            .map(|t| {
                pg.strings(&format!(
                    "SELECT x::text FROM \"{t}\" x ORDER BY x::text COLLATE \"C\""
                ))
            })
            .collect()
    };
    let at_backup = content();
    let media_at_backup = verify::file_digests(&media).unwrap();
    let file = format!("media/{}/files/med_000004.png", demo::SITE_ID);

    let pg = Pg::connect(&url);
    pg.exec(
        "DELETE FROM post WHERE id = 'pst_0000010';
         UPDATE post SET title = 'edited since' WHERE id = 'pst_0000000';",
    );
    std::fs::remove_file(media.join(&file)).unwrap();
    // The thread's path, given to another post since.
    pg.exec(&format!(
        "INSERT INTO path_registry (id, site_id, path, kind, post_id, created_at, updated_at)
         VALUES ('pth_taken', '{}', '/thread-10', 'slug', 'pst_0000005', 1, 1)",
        demo::SITE_ID
    ));
    let before = dump(&url);
    let media_before = verify::file_digests(&media).unwrap();
    let args = [
        "restore",
        "latest",
        "--post",
        "/thread-10",
        "--target-database",
        &url,
        "--target-media",
        m,
    ];
    let o = run(&repo, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("path_registry") && stderr(&o).contains("duplicate key"),
        "{}",
        stderr(&o)
    );
    same(&dump(&url), &before);
    assert!(verify::file_digests(&media).unwrap() == media_before);

    pg.exec("DELETE FROM path_registry WHERE id = 'pth_taken'");
    let r = json(&repo, &args);
    assert_eq!(r["summary"]["rows"]["post"], 5, "{r}");
    let mut want = at_backup.clone();
    let now = content();
    // Only the edit since differs from the snapshot.
    let edited: Vec<&String> = now[0]
        .iter()
        .filter(|l| l.contains("edited since"))
        .collect();
    assert_eq!(edited.len(), 1);
    want[0].retain(|l| !l.starts_with("(pst_0000000,"));
    want[0].push(edited[0].clone());
    want[0].sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(now, want);
    assert_eq!(verify::file_digests(&media).unwrap(), media_at_backup);
}
