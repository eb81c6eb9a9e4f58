//! A parsed `db.sql`: tables of typed rows, read with the rules Jant's
//! importer applies (jant-format.md §3.2, §4.5–§4.7): in a site snapshot
//! every statement must be an INSERT into a snapshot table; a legacy
//! (pre-site) snapshot has its `setting` rows and content rows given the
//! site's id; a version 1 snapshot has its per-post `post_collection` rows
//! folded into thread-level `thread_collection` rows.

use super::sql::{self, parse_insert, Header, Splitter, Statement};
use super::tables::{AUTH_TABLES, SNAPSHOT_TABLES};
use crate::error::{Error, Result};
use crate::row::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

/// Largest single statement accepted (a post body can be tens of MiB).
pub const MAX_STATEMENT: usize = 1 << 30;

/// How a dump is read.
#[derive(Debug, Clone)]
pub enum Rules {
    /// A site snapshot's `db.sql`.
    Snapshot {
        version: u8,
        /// Set for a legacy snapshot: the site its rows belong to.
        legacy_site: Option<String>,
    },
    /// A `jant db export` dump: INSERTs into any table.
    Export,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    /// In file order.
    pub rows: Vec<Vec<Value>>,
    /// The db.sql line of each row's statement (0: a row the v1 upgrade
    /// derived).
    pub lines: Vec<u64>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

#[derive(Debug, Default)]
pub struct Dump {
    /// In the order each table first appears.
    pub tables: Vec<Table>,
    pub header: Header,
    pub statements: u64,
}

impl Dump {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

fn at(line: u64, detail: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("db.sql line {line}: {detail}"))
}

/// Tables whose legacy rows lack `site_id` (Jant's `rewriteLegacySnapshotSql`).
const LEGACY_SITE_TABLES: [&str; 8] = [
    "collection",
    "nav_item",
    "collection_directory_item",
    "post",
    "post_collection",
    "thread_collection",
    "path_registry",
    "media",
];

/// Read and check a whole dump.
pub fn read(mut input: impl Read, rules: &Rules) -> Result<Dump> {
    let mut dump = Dump::default();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut splitter = Splitter::new(MAX_STATEMENT);
    let mut emit = |st: Statement| -> Result<()> {
        dump.statements += 1;
        let ins = parse_insert(&st.text).map_err(|msg| {
            if msg == "not an INSERT statement" {
                at(
                    st.line,
                    format!(
                        "only INSERT statements belong in a Jant dump, found: {}",
                        sql::preview(&st.text)
                    ),
                )
            } else {
                at(st.line, msg)
            }
        })?;
        let ins = check_table(ins, rules).map_err(|m| at(st.line, m))?;
        let i = match index.get(&ins.table) {
            Some(&i) => i,
            None => {
                dump.tables.push(Table {
                    name: ins.table.clone(),
                    columns: ins.columns.clone(),
                    rows: Vec::new(),
                    lines: Vec::new(),
                });
                index.insert(ins.table.clone(), dump.tables.len() - 1);
                dump.tables.len() - 1
            }
        };
        let t = &mut dump.tables[i];
        let values = if ins.columns == t.columns {
            ins.values
        } else {
            reorder(t, ins).map_err(|m| at(st.line, m))?
        };
        t.rows.push(values);
        t.lines.push(st.line);
        Ok(())
    };
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Invalid(format!("db.sql: {e}"))),
        };
        splitter.feed(&buf[..n], &mut emit)?;
    }
    dump.header = splitter.finish(&mut emit)?;
    if let Rules::Snapshot { version: 1, .. } = rules {
        upgrade_v1(&mut dump)?;
    }
    Ok(dump)
}

/// An INSERT whose columns are the table's in another order is put in the
/// table's order; one that names other columns is refused.
fn reorder(t: &Table, ins: sql::Insert) -> std::result::Result<Vec<Value>, String> {
    let mut out = vec![Value::Null; t.columns.len()];
    let mut seen = 0;
    for (c, v) in ins.columns.iter().zip(ins.values) {
        let i = t.column(c).ok_or_else(|| {
            format!(
                "an INSERT into {} names column {c}, which its first INSERT did not",
                t.name
            )
        })?;
        out[i] = v;
        seen += 1;
    }
    if seen != t.columns.len() || ins.columns.len() != t.columns.len() {
        return Err(format!(
            "the INSERTs into {} do not all name the same columns",
            t.name
        ));
    }
    Ok(out)
}

/// Jant's table checks, and the legacy rewrite.
fn check_table(mut ins: sql::Insert, rules: &Rules) -> std::result::Result<sql::Insert, String> {
    let Rules::Snapshot {
        version,
        legacy_site,
    } = rules
    else {
        return Ok(ins);
    };
    if AUTH_TABLES.contains(&ins.table.as_str()) {
        return Err(format!(
            "an INSERT into the auth table \"{}\"; a site snapshot never carries accounts, sessions or tokens",
            ins.table
        ));
    }
    if let Some(site) = legacy_site {
        if ins.table == "setting" {
            ins.table = super::tables::SETTINGS_TABLE.into();
        }
        if (ins.table == super::tables::SETTINGS_TABLE
            || LEGACY_SITE_TABLES.contains(&ins.table.as_str()))
            && !ins.columns.iter().any(|c| c == "site_id")
        {
            ins.columns.insert(0, "site_id".into());
            ins.values.insert(0, Value::Text(site.clone()));
        }
    }
    let allowed = SNAPSHOT_TABLES.contains(&ins.table.as_str())
        || (*version == 1 && ins.table == "post_collection");
    if !allowed {
        return Err(format!(
            "an INSERT into \"{}\", which is not a site snapshot table",
            ins.table
        ));
    }
    Ok(ins)
}

fn text<'a>(t: &Table, row: &'a [Value], col: &str, what: &str) -> Result<&'a str> {
    t.column(col)
        .and_then(|i| row[i].as_text())
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "db.sql: a {what} row is missing required {col}; nothing was imported"
            ))
        })
}

fn number(t: &Table, row: &[Value], col: &str, fallback: Option<f64>) -> Result<Option<f64>> {
    let Some(i) = t.column(col) else {
        return Ok(fallback);
    };
    match &row[i] {
        Value::Null if fallback.is_none() => Ok(None),
        Value::Integer(n) => Ok(Some(*n as f64)),
        Value::Real(f) => Ok(Some(*f)),
        Value::Text(s) => s.trim().parse().map(Some).map_err(|_| {
            Error::Invalid(format!(
                "db.sql: a post_collection row has invalid {col}; nothing was imported"
            ))
        }),
        _ => Err(Error::Invalid(format!(
            "db.sql: a post_collection row has invalid {col}; nothing was imported"
        ))),
    }
}

fn num_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Integer(f as i64)
    } else {
        Value::Real(f)
    }
}

/// Jant's `upgradeV1SnapshotSql`: per-post memberships become per-thread
/// ones (MAX created_at, MIN position, MAX non-null pinned_at), checked
/// against the posts and collections the dump holds.
fn upgrade_v1(dump: &mut Dump) -> Result<()> {
    let Some(pc_at) = dump.tables.iter().position(|t| t.name == "post_collection") else {
        return Ok(());
    };
    let pc = dump.tables.remove(pc_at);
    let mut posts: HashMap<(String, String), (String, String, bool)> = HashMap::new();
    if let Some(t) = dump.table("post") {
        for r in &t.rows {
            let site = text(t, r, "site_id", "post")?.to_string();
            let id = text(t, r, "id", "post")?.to_string();
            let thread = text(t, r, "thread_id", "post")?.to_string();
            let reply_null = t.column("reply_to_id").is_none_or(|i| r[i] == Value::Null);
            posts.insert((site, id.clone()), (id, thread, reply_null));
        }
    }
    let mut collections = HashSet::new();
    if let Some(t) = dump.table("collection") {
        for r in &t.rows {
            collections.insert((
                text(t, r, "site_id", "collection")?.to_string(),
                text(t, r, "id", "collection")?.to_string(),
            ));
        }
    }
    type Membership = (f64, f64, Option<f64>);
    let mut order = Vec::new();
    let mut members: BTreeMap<(String, String, String), Membership> = BTreeMap::new();
    for r in &pc.rows {
        let site = text(&pc, r, "site_id", "post_collection")?;
        let post_id = text(&pc, r, "post_id", "post_collection")?;
        let coll = text(&pc, r, "collection_id", "post_collection")?;
        let fail = |m: String| Error::Invalid(format!("db.sql: {m}; nothing was imported"));
        let Some((_, thread, _)) = posts.get(&(site.to_string(), post_id.to_string())) else {
            return Err(fail(format!(
                "a post_collection row references missing post {post_id}"
            )));
        };
        if !collections.contains(&(site.to_string(), coll.to_string())) {
            return Err(fail(format!(
                "a post_collection row references missing collection {coll}"
            )));
        }
        match posts.get(&(site.to_string(), thread.clone())) {
            None => {
                return Err(fail(format!(
                    "a post_collection row references missing thread root {thread}"
                )))
            }
            Some((id, t, reply_null)) if id != t || !reply_null => {
                return Err(fail(format!(
                    "a post_collection row references invalid thread root {thread}"
                )))
            }
            _ => {}
        }
        let created = number(&pc, r, "created_at", Some(0.0))?.unwrap_or(0.0);
        let position = number(&pc, r, "position", Some(0.0))?.unwrap_or(0.0);
        let pinned = number(&pc, r, "pinned_at", None)?;
        let key = (site.to_string(), thread.clone(), coll.to_string());
        match members.get_mut(&key) {
            None => {
                order.push(key.clone());
                members.insert(key, (created, position, pinned));
            }
            Some(m) => {
                m.0 = m.0.max(created);
                m.1 = m.1.min(position);
                if let Some(p) = pinned {
                    m.2 = Some(m.2.map_or(p, |q| q.max(p)));
                }
            }
        }
    }
    if order.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Value>> = order
        .into_iter()
        .filter_map(|k| {
            let (c, p, pin) = members.remove(&k)?;
            Some(vec![
                Value::Text(k.0),
                Value::Text(k.1),
                Value::Text(k.2),
                num_value(c),
                num_value(p),
                pin.map_or(Value::Null, num_value),
            ])
        })
        .collect();
    dump.tables.retain(|t| t.name != "thread_collection");
    let at = dump
        .tables
        .iter()
        .rposition(|t| t.name == "post" || t.name == "collection")
        .map_or(0, |i| i + 1);
    dump.tables.insert(
        at,
        Table {
            name: "thread_collection".into(),
            columns: super::tables::THREAD_COLLECTION_COLUMNS
                .iter()
                .map(|c| c.to_string())
                .collect(),
            lines: vec![0; rows.len()],
            rows,
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(version: u8) -> Rules {
        Rules::Snapshot {
            version,
            legacy_site: None,
        }
    }

    #[test]
    fn hostile_statements_are_refused_with_their_line() {
        for (sql, msg) in [
            ("-- x\nDROP TABLE \"user\";", "db.sql line 2: only INSERT statements belong in a Jant dump, found: DROP TABLE \"user\""),
            ("INSERT INTO \"user\" (\"id\") VALUES('u');", "db.sql line 1: an INSERT into the auth table \"user\"; a site snapshot never carries accounts, sessions or tokens"),
            ("\n\nINSERT INTO \"site\" (\"id\") VALUES('s');", "db.sql line 3: an INSERT into \"site\", which is not a site snapshot table"),
            ("INSERT INTO \"post\" (\"id\") VALUES('unterminated);", "db.sql: unterminated quoted value in the statement starting at line 1"),
        ] {
            assert_eq!(read(sql.as_bytes(), &snap(2)).unwrap_err().to_string(), msg);
        }
        // A db export dump may name any table.
        let d = read(
            "INSERT INTO \"user\" (\"id\") VALUES('u');".as_bytes(),
            &Rules::Export,
        )
        .unwrap();
        assert_eq!(d.tables[0].rows, vec![vec![Value::Text("u".into())]]);
    }

    #[test]
    fn v1_memberships_become_thread_memberships() {
        let sql = "\
INSERT INTO \"collection\" (\"id\") VALUES('col_A');
INSERT INTO \"post\" (\"id\", \"thread_id\", \"reply_to_id\") VALUES('p1', 'p1', NULL);
INSERT INTO \"post\" (\"id\", \"thread_id\", \"reply_to_id\") VALUES('p2', 'p1', 'p1');
INSERT INTO \"post_collection\" (\"post_id\", \"collection_id\", \"created_at\", \"position\", \"pinned_at\") VALUES('p1', 'col_A', 10, 3, NULL);
INSERT INTO \"post_collection\" (\"post_id\", \"collection_id\", \"created_at\", \"position\", \"pinned_at\") VALUES('p2', 'col_A', 20, 1, 5);
INSERT INTO \"media\" (\"id\") VALUES('m');
";
        let rules = Rules::Snapshot {
            version: 1,
            legacy_site: Some("sit_L".into()),
        };
        let d = read(sql.as_bytes(), &rules).unwrap();
        let names: Vec<&str> = d.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["collection", "post", "thread_collection", "media"]);
        let tc = d.table("thread_collection").unwrap();
        assert_eq!(
            tc.rows,
            vec![vec![
                Value::Text("sit_L".into()),
                Value::Text("p1".into()),
                Value::Text("col_A".into()),
                Value::Integer(20),
                Value::Integer(1),
                Value::Integer(5),
            ]]
        );
        let bad = sql.replace("VALUES('p2', 'col_A'", "VALUES('p9', 'col_A'");
        assert_eq!(
            read(bad.as_bytes(), &rules).unwrap_err().to_string(),
            "db.sql: a post_collection row references missing post p9; nothing was imported"
        );
    }
}
