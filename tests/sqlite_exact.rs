//! Generated-schema property test: seeded random SQLite databases drawn
//! from what SQLite accepts (NULLs in a rowid table's primary key, text
//! that is not UTF-8, values whose storage class differs from the column's
//! affinity, BLOB and REAL keys, WITHOUT ROWID and STRICT tables,
//! generated columns, FTS3/4/5 of every content kind, R*Tree, views,
//! triggers, partial and expression indexes, collations, odd identifiers,
//! AUTOINCREMENT, the header pragmas) are backed up and restored by the
//! real binary into a blank target, and SQLite's own view of both is
//! compared: the schema rows, every table's rows with each value's storage
//! class and bytes, full-text matches, and the pragmas.
//!
//! `JARC_SQLITE_CASES` sets the number of cases (default 200).

mod support;

use rusqlite::Connection;
use std::path::Path;
use support::*;

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A value literal of any storage class, sometimes one the column's
/// affinity would not choose, sometimes text that is not UTF-8.
fn literal(r: &mut Rng) -> String {
    match r.below(10) {
        0 => "NULL".into(),
        1 => format!("{}", r.next() as i64),
        2 => format!("{}", r.below(1000)),
        3 => format!("{:e}", (r.next() as i64) as f64 / 7.0),
        4 => format!("'t{}'", r.below(50)),
        5 => format!("X'{:016x}'", r.next()),
        6 => format!(
            "CAST(X'{:02x}ff{:02x}' AS TEXT)",
            r.below(128),
            r.below(256)
        ),
        7 => "'mixed ''quote'' \"dq\" ; -- 文字\n'".into(),
        8 => format!("'{}'", r.below(1000)),
        _ => format!("{}.5", r.below(100)),
    }
}

/// Identifiers SQLite accepts when quoted.
const NAMES: [&str; 6] = ["plain", "with space", "quo\"te", "ünï", "semi;colon", "x"];

fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// One table of a randomly chosen kind, with rows; returns its statements.
fn table(r: &mut Rng, n: usize) -> Vec<String> {
    let name = ident(&format!(
        "{} {n}",
        NAMES[r.below(NAMES.len() as u64) as usize]
    ));
    let mut sql = Vec::new();
    let rows = r.below(40) as usize;
    let kind = r.below(13);
    let insert = |sql: &mut Vec<String>, cols: &str, vals: Vec<String>| {
        sql.push(format!(
            "INSERT OR IGNORE INTO {name} ({cols}) VALUES ({})",
            vals.join(", ")
        ));
    };
    match kind {
        // drizzle's migrations table: a SERIAL key that is not a rowid
        // alias, so every id is NULL.
        0 => {
            sql.push(format!(
                "CREATE TABLE {name} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)"
            ));
            for i in 0..rows {
                insert(
                    &mut sql,
                    "hash, created_at",
                    vec![
                        format!("'h{i}'"),
                        format!("{}", 1_773_963_783_636u64 + i as u64),
                    ],
                );
            }
        }
        // A text key with some NULLs, and untyped values of any class.
        1 => {
            sql.push(format!(
                "CREATE TABLE {name} (k TEXT PRIMARY KEY, v, w INTEGER)"
            ));
            for _ in 0..rows {
                let k = if r.chance(30) {
                    "NULL".into()
                } else {
                    literal(r)
                };
                insert(&mut sql, "k, v, w", vec![k, literal(r), literal(r)]);
            }
        }
        2 => {
            sql.push(format!("CREATE TABLE {name} (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT COLLATE NOCASE, w REAL)"));
            for _ in 0..rows {
                insert(&mut sql, "v, w", vec![literal(r), literal(r)]);
            }
            if rows > 0 && r.chance(50) {
                sql.push(format!("DELETE FROM {name} WHERE id % 3 = 0"));
            }
        }
        3 => {
            sql.push(format!("CREATE TABLE {name} (a TEXT NOT NULL, b INTEGER NOT NULL, c, PRIMARY KEY (a, b)) WITHOUT ROWID"));
            for _ in 0..rows {
                insert(
                    &mut sql,
                    "a, b, c",
                    vec![
                        format!("'{}'", r.below(5)),
                        format!("{}", r.below(9)),
                        literal(r),
                    ],
                );
            }
        }
        4 => {
            sql.push(format!("CREATE TABLE {name} (id INTEGER PRIMARY KEY, t TEXT, b BLOB, r REAL, a ANY) STRICT"));
            for i in 0..rows {
                let t = if r.chance(20) {
                    "NULL".into()
                } else {
                    format!("'s{}'", r.below(99))
                };
                insert(
                    &mut sql,
                    "id, t, b, r, a",
                    vec![
                        format!("{}", i * 3),
                        t,
                        format!("X'{:08x}'", r.below(1 << 30)),
                        format!("{}.25", r.below(9)),
                        literal(r),
                    ],
                );
            }
        }
        5 => {
            sql.push(format!("CREATE TABLE {name} (k BLOB PRIMARY KEY, v)"));
            for _ in 0..rows {
                insert(
                    &mut sql,
                    "k, v",
                    vec![format!("X'{:04x}'", r.below(1 << 16)), literal(r)],
                );
            }
        }
        6 => {
            sql.push(format!("CREATE TABLE {name} (k REAL PRIMARY KEY, v)"));
            for _ in 0..rows {
                insert(
                    &mut sql,
                    "k, v",
                    vec![format!("{}.{}", r.below(50), r.below(10)), literal(r)],
                );
            }
        }
        // No primary key at all, with duplicate rows.
        7 => {
            sql.push(format!("CREATE TABLE {name} (a, b TEXT COLLATE RTRIM)"));
            for _ in 0..rows {
                let v = vec![format!("{}", r.below(3)), format!("'x{} '", r.below(2))];
                insert(&mut sql, "a, b", v);
            }
        }
        8 => {
            sql.push(format!("CREATE TABLE {name} (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, s INTEGER GENERATED ALWAYS AS (a * 2) STORED, v TEXT GENERATED ALWAYS AS (upper(b)) VIRTUAL)"));
            for _ in 0..rows {
                insert(
                    &mut sql,
                    "a, b",
                    vec![format!("{}", r.below(1000)), literal(r)],
                );
            }
            sql.push(format!(
                "CREATE INDEX {} ON {name} (a) WHERE a > 500",
                ident(&format!("pi{n}"))
            ));
            sql.push(format!(
                "CREATE INDEX {} ON {name} (lower(b))",
                ident(&format!("ei{n}"))
            ));
            sql.push(format!(
                "CREATE VIEW {} AS SELECT id, s FROM {name} WHERE a > 10",
                ident(&format!("v {n}"))
            ));
            sql.push(format!("CREATE TRIGGER {} AFTER UPDATE ON {name} BEGIN UPDATE {name} SET a = a WHERE 0; END", ident(&format!("tr{n}"))));
        }
        // FTS5: ordinary, contentless, and external content over a table.
        9 => {
            let opts = match r.below(3) {
                0 => "",
                1 => ", content=''",
                _ => ", content='', contentless_delete=1",
            };
            sql.push(format!(
                "CREATE VIRTUAL TABLE {name} USING fts5(title, body{opts})"
            ));
            for i in 0..rows {
                let v = vec![
                    format!("{}", i + 1),
                    format!("'word{} common'", r.below(7)),
                    format!("'body {}'", r.below(1000)),
                ];
                insert(&mut sql, "rowid, title, body", v);
            }
        }
        // External content: restores build these beside the rows (the
        // index's rowid from the content row's rowid, from no option, or
        // from a column), with an unindexed column among them.
        10 => {
            let base = ident(&format!("base{n}"));
            let (table, fts, values): (&str, &str, fn(u64, u64) -> String) = match r.below(4) {
                0 => (
                    "id TEXT PRIMARY KEY, title TEXT",
                    "title, content={base}, content_rowid='rowid', tokenize='trigram'",
                    |i, w| format!("'p{i}', 'common title {w}'"),
                ),
                1 => (
                    "id INTEGER PRIMARY KEY, title TEXT, note TEXT",
                    "title, note UNINDEXED, content={base}, content_rowid='id'",
                    |i, w| format!("{}, 'common title {w}', 'note {i}'", i * 3 + 1),
                ),
                2 => ("k, title TEXT", "title, content={base}", |i, w| {
                    format!("{i}, 'common {w} title'")
                }),
                _ => (
                    "id TEXT PRIMARY KEY, n INTEGER NOT NULL, title TEXT",
                    "title, content={base}, content_rowid=n",
                    |i, w| format!("'q{i}', {}, 'title common {w}'", 1000 - i as i64 * 7),
                ),
            };
            sql.push(format!("CREATE TABLE {base} ({table})"));
            let fts = fts.replace("{base}", &base);
            sql.push(format!("CREATE VIRTUAL TABLE {name} USING fts5({fts})"));
            for i in 0..rows {
                sql.push(format!(
                    "INSERT INTO {base} VALUES ({})",
                    values(i as u64, r.below(9))
                ));
            }
            sql.push(format!("INSERT INTO {name}({name}) VALUES('rebuild')"));
        }
        11 => {
            let module = if r.chance(50) { "fts4" } else { "fts3" };
            sql.push(format!("CREATE VIRTUAL TABLE {name} USING {module}(a, b)"));
            for _ in 0..rows {
                insert(
                    &mut sql,
                    "a, b",
                    vec![format!("'common {}'", r.below(9)), literal(r)],
                );
            }
        }
        _ => {
            sql.push(format!(
                "CREATE VIRTUAL TABLE {name} USING rtree(id, minx, maxx, +label)"
            ));
            for i in 0..rows {
                let lo = r.below(100);
                insert(
                    &mut sql,
                    "id, minx, maxx, label",
                    vec![
                        format!("{}", i + 1),
                        format!("{lo}"),
                        format!("{}", lo + r.below(9)),
                        literal(r),
                    ],
                );
            }
        }
    }
    sql
}

fn make_db(path: &Path, seed: u64) {
    let mut r = Rng(seed);
    let c = Connection::open(path).unwrap();
    c.execute_batch("PRAGMA journal_mode = WAL").unwrap();
    for n in 0..1 + r.below(4) as usize {
        for s in table(&mut r, n) {
            c.execute_batch(&s)
                .unwrap_or_else(|e| panic!("seed {seed}: {s}: {e}"));
        }
    }
    if r.chance(50) {
        c.execute_batch(&format!(
            "PRAGMA user_version = {}; PRAGMA application_id = {}",
            r.below(1 << 20),
            r.below(1 << 30)
        ))
        .unwrap();
    }
}

/// SQLite's view of a database: its schema rows, every ordinary table's
/// rows (each value as storage class and bytes, with the rowid where the
/// table's rowid is part of its identity), full-text match counts, pragmas.
fn view(path: &Path) -> Vec<String> {
    let c = Connection::open(path).unwrap();
    let mut out = Vec::new();
    let master: Vec<(String, String, String, Option<String>)> = c
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for (ty, name, tbl, sql) in &master {
        out.push(format!("schema {ty} {name} {tbl} {sql:?}"));
    }
    // Shadow tables of the FTS tables jarc fills again (ordinary and
    // external-content ones): their bytes follow the insert order, so they
    // are compared through the FTS table and its matches instead.
    let mut rebuilt = Vec::new();
    for (_, name, _, sql) in &master {
        let sql = sql.clone().unwrap_or_default();
        if sql.contains("VIRTUAL TABLE") && sql.contains("USING fts") && !sql.contains("content=''")
        {
            rebuilt.push(format!("{name}_"));
        }
    }
    for (ty, name, _, sql) in &master {
        let sql = sql.clone().unwrap_or_default();
        if ty != "table" || rebuilt.iter().any(|p| name.starts_with(p.as_str())) {
            continue;
        }
        let q = ident(name);
        if sql.contains("VIRTUAL TABLE") {
            if sql.contains("USING fts") {
                let col = if sql.contains("fts5(title") {
                    "title"
                } else {
                    "a"
                };
                let n: i64 = c
                    .query_row(
                        &format!("SELECT count(*) FROM {q} WHERE {q} MATCH '{col}:common'"),
                        [],
                        |r| r.get(0),
                    )
                    .unwrap_or(-1);
                out.push(format!("fts {name} {n}"));
            }
            if sql.contains("USING fts5") {
                // The settings a restore tunes its rebuild with are not
                // left behind, and the index is whole.
                let config: Vec<String> = c
                    .prepare(&format!(
                        "SELECT k || '=' || v FROM {} ORDER BY k",
                        ident(&format!("{name}_config"))
                    ))
                    .unwrap()
                    .query_map([], |r| r.get::<_, String>(0))
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect();
                out.push(format!("fts5 config {name} {config:?}"));
                let check = c.execute(
                    &format!("INSERT INTO {q}({q}) VALUES('integrity-check')"),
                    [],
                );
                out.push(format!("fts5 integrity {name} {}", check.is_ok()));
            }
            if sql.contains("USING fts") && !sql.contains("content=") {
                let mut rows: Vec<String> = c
                    .prepare(&format!(
                        "SELECT rowid || ' ' || typeof({col}) || ':' || hex({col}) FROM {q}",
                        col = if sql.contains("fts5(title") {
                            "body"
                        } else {
                            "b"
                        }
                    ))
                    .unwrap()
                    .query_map([], |r| r.get::<_, String>(0))
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect();
                rows.sort();
                out.push(format!("fts rows {name} {rows:?}"));
            }
            continue;
        }
        let cols: Vec<String> = c
            .prepare(&format!(
                "SELECT name FROM pragma_table_xinfo({})",
                lit(name)
            ))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        // The rowid is part of a row's identity unless a declared primary
        // key without NULLs stands for it (those tables are restored in
        // key order, so their rowids may differ by design).
        let keyed: bool = c
            .query_row(&format!("SELECT count(*) > 0 FROM pragma_table_info({}) WHERE pk > 0 AND lower(type) <> 'integer'", lit(name)), [], |r| r.get(0))
            .unwrap();
        let without_rowid = sql.to_ascii_uppercase().contains("WITHOUT ROWID");
        let nulls: bool = keyed
            && !without_rowid
            && c.query_row(
                &format!(
                    "SELECT count(*) > 0 FROM {q} WHERE {} IS NULL",
                    pk_col(&c, name)
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        let with_rowid = !without_rowid && (!keyed || nulls);
        let exprs: Vec<String> = cols
            .iter()
            .map(|col| format!("typeof({0}) || ':' || hex({0})", ident(col)))
            .collect();
        let sel = format!(
            "SELECT {}{} FROM {q}",
            if with_rowid { "rowid || ' ' || " } else { "" },
            exprs.join(" || ' ' || ")
        );
        let mut rows: Vec<String> = c
            .prepare(&sel)
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows.sort();
        out.push(format!("rows {name} {}", rows.len()));
        out.extend(rows.into_iter().map(|r| format!("  {r}")));
    }
    for p in ["user_version", "application_id"] {
        let v: i64 = c
            .query_row(&format!("PRAGMA {p}"), [], |r| r.get(0))
            .unwrap();
        out.push(format!("pragma {p} {v}"));
    }
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    out.push(format!("integrity {ok}"));
    out
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn pk_col(c: &Connection, table: &str) -> String {
    let col: String = c
        .query_row(
            &format!(
                "SELECT name FROM pragma_table_info({}) WHERE pk = 1",
                lit(table)
            ),
            [],
            |r| r.get(0),
        )
        .unwrap();
    ident(&col)
}

fn run_case(repo: &Path, scratch: &Path, seed: u64) {
    let dir = scratch.join(format!("case{seed}"));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("src.sqlite");
    make_db(&src, seed);
    let want = view(&src);
    let out = json(
        repo,
        &["backup", "--database", src.to_str().unwrap(), "--no-media"],
    );
    let id = out["snapshot"].as_str().unwrap().to_string();
    let target = dir.join("restored");
    ok(
        repo,
        &[
            "restore",
            &id,
            "--target-data-dir",
            target.to_str().unwrap(),
        ],
    );
    let got = view(&target.join("jant.sqlite"));
    if got != want {
        let first = want
            .iter()
            .zip(&got)
            .position(|(a, b)| a != b)
            .unwrap_or(want.len().min(got.len()));
        panic!(
            "seed {seed}: the restored database differs from the source at line {first}:\nsource:   {:?}\nrestored: {:?}",
            want.get(first),
            got.get(first)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generated_sqlite_databases_round_trip_exactly() {
    let cases: u64 = std::env::var("JARC_SQLITE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    init(&repo);
    // Two workers: the machine has two cores.
    std::thread::scope(|s| {
        for w in 0..2u64 {
            let (repo, scratch) = (&repo, t.path());
            s.spawn(move || {
                for seed in (w..cases).step_by(2) {
                    run_case(repo, scratch, seed);
                }
            });
        }
    });
}

/// Single values of 100 MB and more, text and blob, in one row.
#[test]
fn values_of_100_mb_round_trip() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    init(&repo);
    let src = t.path().join("big.sqlite");
    let c = Connection::open(&src).unwrap();
    c.execute_batch(
        "CREATE TABLE big (id INTEGER PRIMARY KEY, t TEXT, b BLOB);
         INSERT INTO big VALUES (1, printf('%.*c', 104857600, 'a') || 'end', randomblob(110000000));",
    )
    .unwrap();
    drop(c);
    let digest = |p: &Path| -> Vec<(String, usize, String)> {
        let c = Connection::open(p).unwrap();
        let mut st = c
            .prepare("SELECT typeof(t), t, typeof(b), b FROM big")
            .unwrap();
        let row = st
            .query_row([], |r| {
                let t = r.get_ref(1)?.as_bytes()?.to_vec();
                let b = r.get_ref(3)?.as_bytes()?.to_vec();
                Ok(vec![
                    (
                        r.get::<_, String>(0)?,
                        t.len(),
                        blake3::hash(&t).to_hex().to_string(),
                    ),
                    (
                        r.get::<_, String>(2)?,
                        b.len(),
                        blake3::hash(&b).to_hex().to_string(),
                    ),
                ])
            })
            .unwrap();
        row
    };
    let want = digest(&src);
    assert_eq!(want[0].1, 104_857_603);
    ok(
        &repo,
        &["backup", "--database", src.to_str().unwrap(), "--no-media"],
    );
    let target = t.path().join("out");
    ok(
        &repo,
        &[
            "restore",
            "latest",
            "--target-data-dir",
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(digest(&target.join("jant.sqlite")), want);
}
