//! Capture: read a whole database from a [`DatabaseSource`] at one point
//! in time into the trees `database` describes: each table's rows streamed
//! into its tree in key order (or sorted here when the source's order is
//! not the key order), the schema tree, and the facts rows carry (the
//! site, the newest migration). (format-spec/README.md §10)

use crate::database::{
    EXTRA_DIALECT, EXTRA_MIGRATION, EXTRA_SITE_ID, EXTRA_SITE_KEY, EXTRA_SOURCE,
};
use crate::error::{Error, Result};
use crate::repo::Repository;
use crate::row::{self, Value};
use crate::schema::{rows_root, RowKey, SchemaObject, SCHEMA_ROOT};
use crate::source::{DatabaseSource, RowSink};
use crate::tree::{Root, TreeBuilder};

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DatabaseSummary {
    pub dialect: String,
    pub tables: u64,
    pub rows: u64,
    /// Tables whose rows came out of key order and were sorted in memory.
    pub sorted_in_memory: Vec<String>,
}

pub struct Capture {
    pub roots: Vec<(String, Root)>,
    /// The qualified name (`SchemaObject::qualified`) of every schema
    /// object read, in the source's order.
    pub objects: Vec<String>,
    pub extra: Vec<(String, String)>,
    pub tree_nodes_new: u64,
    pub summary: DatabaseSummary,
}

/// Facts read off particular tables while their rows stream past.
#[derive(Default)]
struct Facts {
    site: Option<(String, String)>,
    migration: Option<(i64, String)>,
}

/// Which fact a table's rows carry, with the value positions to read,
/// resolved once per table rather than per row.
enum Watch {
    None,
    /// `site`: id, key.
    Site(usize, usize),
    /// `__drizzle_migrations`: created_at, hash.
    Drizzle(usize, usize),
    /// `d1_migrations`: id, name.
    D1(usize, usize),
}

impl Watch {
    fn of(t: &SchemaObject) -> Watch {
        let cols = |a: &str, b: &str| t.column_index(a).zip(t.column_index(b));
        let found = match t.name.as_str() {
            "site" => cols("id", "key").map(|(a, b)| Watch::Site(a, b)),
            "__drizzle_migrations" => cols("created_at", "hash").map(|(a, b)| Watch::Drizzle(a, b)),
            "d1_migrations" => cols("id", "name").map(|(a, b)| Watch::D1(a, b)),
            _ => None,
        };
        found.unwrap_or(Watch::None)
    }

    fn observe(&self, values: &[Value], facts: &mut Facts) {
        match *self {
            Watch::None => {}
            Watch::Site(i, k) => {
                if let (Value::Text(id), Value::Text(key)) = (&values[i], &values[k]) {
                    facts.site.get_or_insert_with(|| (id.clone(), key.clone()));
                }
            }
            Watch::Drizzle(a, h) => {
                if let (Value::Integer(at), Value::Text(hash)) = (&values[a], &values[h]) {
                    if facts.migration.as_ref().is_none_or(|(m, _)| at >= m) {
                        facts.migration = Some((*at, format!("drizzle:{at}:{hash}")));
                    }
                }
            }
            Watch::D1(i, n) => {
                if let (Value::Integer(id), Value::Text(name)) = (&values[i], &values[n]) {
                    if facts.migration.as_ref().is_none_or(|(m, _)| id >= m) {
                        let tag = name.strip_suffix(".sql").unwrap_or(name);
                        facts.migration = Some((*id, tag.to_string()));
                    }
                }
            }
        }
    }
}

/// Pushes a table's keyed rows into its tree in key order. Equal rows of a
/// keyless table are told apart by a counter (the table is a multiset);
/// equal primary keys are refused; a key below the last one means the
/// source's order is not the key order.
struct Ordered<'a, 'r> {
    table: &'a SchemaObject,
    builder: TreeBuilder<'r>,
    last: Option<Vec<u8>>,
    dup: u32,
}

impl<'a, 'r> Ordered<'a, 'r> {
    fn new(repo: &'r Repository, table: &'a SchemaObject, store: bool) -> Self {
        Ordered {
            table,
            builder: if store {
                TreeBuilder::new(repo)
            } else {
                TreeBuilder::hashing(repo)
            },
            last: None,
            dup: 0,
        }
    }

    fn push(&mut self, mut key: Vec<u8>, value: Vec<u8>) -> Result<()> {
        if self.table.key == RowKey::WholeRow {
            let same = self
                .last
                .as_ref()
                .is_some_and(|l| l[..l.len() - 4] == key[..]);
            self.dup = if same { self.dup + 1 } else { 0 };
            key.extend_from_slice(&self.dup.to_be_bytes());
        }
        match self.last.as_ref().map(|l| l.as_slice().cmp(&key)) {
            Some(std::cmp::Ordering::Greater) => {
                return Err(Error::RowOrder(self.table.name.clone()))
            }
            Some(std::cmp::Ordering::Equal) => return Err(duplicate_key(self.table, &value)),
            _ => {}
        }
        self.last = Some(key.clone());
        self.builder.push(key, value)
    }

    /// The root, and how many of the tree's nodes were new.
    fn finish(self) -> Result<(Root, u64)> {
        let new = self.builder.new_nodes;
        Ok((self.builder.finish()?, new))
    }
}

/// Where a table's rows go: straight into the tree while they arrive in
/// key order, or into memory to be sorted (the fallback).
enum Out<'a, 'r> {
    Stream(Ordered<'a, 'r>),
    Collect(Vec<(Vec<u8>, Vec<u8>)>),
}

struct TableSink<'a, 'r> {
    table: &'a SchemaObject,
    key_positions: Vec<usize>,
    width: usize,
    watch: Watch,
    out: Out<'a, 'r>,
    rows: u64,
    facts: &'a mut Facts,
}

impl<'a, 'r> TableSink<'a, 'r> {
    fn new(table: &'a SchemaObject, out: Out<'a, 'r>, facts: &'a mut Facts) -> Self {
        TableSink {
            table,
            key_positions: table.key_positions(),
            width: table.value_columns().len(),
            watch: Watch::of(table),
            out,
            rows: 0,
            facts,
        }
    }
}

impl RowSink for TableSink<'_, '_> {
    fn row(&mut self, values: Vec<Value>) -> Result<()> {
        if values.len() != self.width {
            return Err(Error::Invalid(format!(
                "table {}: a row has {} values for {} columns",
                self.table.name,
                values.len(),
                self.width
            )));
        }
        self.watch.observe(&values, self.facts);
        let kv: Vec<&Value> = self.key_positions.iter().map(|&i| &values[i]).collect();
        if matches!(self.table.key, RowKey::PrimaryKey(_)) && kv.contains(&&Value::Null) {
            // NULL keys sort first, so this is seen on the first row.
            return Err(Error::UnusableKey {
                table: self.table.name.clone(),
                key: row::display_key(&kv),
            });
        }
        let key = row::encode_key(&kv);
        let value = row::encode_row(&values);
        self.rows += 1;
        match &mut self.out {
            Out::Stream(o) => o.push(key, value),
            Out::Collect(c) => {
                c.push((key, value));
                Ok(())
            }
        }
    }
}

fn duplicate_key(table: &SchemaObject, values_bytes: &[u8]) -> Error {
    let shown = row::decode_row(values_bytes)
        .map(|v| {
            let k: Vec<&Value> = table.key_positions().iter().map(|&i| &v[i]).collect();
            row::display_key(&k)
        })
        .unwrap_or_default();
    Error::UnusableKey {
        table: table.name.clone(),
        key: shown,
    }
}

/// One table's tree: `(root, rows, new nodes)`, and the table as keyed
/// when its primary key holds NULLs or could not tell its rows apart (see
/// [`DatabaseSource::duplicate_key_fallback`]).
fn table_tree(
    repo: &Repository,
    db: &mut dyn DatabaseSource,
    table: &SchemaObject,
    facts: &mut Facts,
    sorted: &mut Vec<String>,
    store: bool,
) -> Result<((Root, u64, u64), Option<SchemaObject>)> {
    match keyed_tree(repo, db, table, facts, sorted, store) {
        Err(Error::UnusableKey { table: t, key }) if matches!(table.key, RowKey::PrimaryKey(_)) => {
            let Some(key_by) = db.duplicate_key_fallback() else {
                return Err(Error::UnusableKey { table: t, key });
            };
            let rekeyed = SchemaObject {
                key: key_by,
                ..table.clone()
            };
            // Facts are first-seen and maximum values: seeing this table's
            // rows again changes none of them.
            let t = keyed_tree(repo, db, &rekeyed, facts, sorted, store)?;
            Ok((t, Some(rekeyed)))
        }
        other => other.map(|t| (t, None)),
    }
}

fn keyed_tree(
    repo: &Repository,
    db: &mut dyn DatabaseSource,
    table: &SchemaObject,
    facts: &mut Facts,
    sorted: &mut Vec<String>,
    store: bool,
) -> Result<(Root, u64, u64)> {
    let mut sink = TableSink::new(table, Out::Stream(Ordered::new(repo, table, store)), facts);
    match db.rows(table, &mut sink) {
        Ok(()) => {
            let rows = sink.rows;
            if let Out::Stream(o) = sink.out {
                let (root, new) = o.finish()?;
                return Ok((root, rows, new));
            }
        }
        Err(Error::RowOrder(_)) => {}
        Err(e) => return Err(e),
    }
    // The database's order differs from the key encoding's (a collation,
    // mixed types): read the table again inside the same transaction and
    // sort it here. Nodes the first attempt stored stay unreferenced.
    sorted.push(table.name.clone());
    let mut again = Facts::default();
    let mut sink = TableSink::new(table, Out::Collect(Vec::new()), &mut again);
    db.rows(table, &mut sink)?;
    let rows = sink.rows;
    let Out::Collect(mut entries) = sink.out else {
        return Err(Error::Invalid("row sink lost its collected rows".into()));
    };
    entries.sort();
    let mut o = Ordered::new(repo, table, store);
    for (k, v) in entries {
        o.push(k, v)?;
    }
    let (root, new) = o.finish()?;
    Ok((root, rows, new))
}

/// Read the whole database at one point in time into trees.
pub fn capture(
    repo: &Repository,
    db: &mut dyn DatabaseSource,
    warnings: &mut Vec<String>,
) -> Result<Capture> {
    read(repo, db, warnings, true)
}

/// The roots a capture of `db` would record, computed without storing
/// anything: equal roots mean equal rows (a drill compares a restored
/// database with its snapshot this way).
pub fn digest(
    repo: &Repository,
    db: &mut dyn DatabaseSource,
    warnings: &mut Vec<String>,
) -> Result<Capture> {
    read(repo, db, warnings, false)
}

fn read(
    repo: &Repository,
    db: &mut dyn DatabaseSource,
    warnings: &mut Vec<String>,
    store: bool,
) -> Result<Capture> {
    let objects = db.begin(warnings)?;
    let result = capture_objects(repo, db, &objects, store);
    // A read-only transaction: ending it cannot lose anything, and an error
    // from the capture is the one worth reporting.
    let end = db.finish();
    let mut cap = result?;
    end?;
    cap.extra
        .insert(0, (EXTRA_SOURCE.into(), db.info().description));
    cap.extra
        .insert(0, (EXTRA_DIALECT.into(), db.dialect().into()));
    cap.summary.dialect = db.dialect().into();
    for (k, v) in db.extra() {
        cap.extra.retain(|(x, _)| *x != k);
        cap.extra.push((k, v));
    }
    Ok(cap)
}

fn capture_objects(
    repo: &Repository,
    db: &mut dyn DatabaseSource,
    objects: &[SchemaObject],
    store: bool,
) -> Result<Capture> {
    let mut facts = Facts::default();
    let mut roots = Vec::new();
    let mut tree_nodes_new = 0;
    let mut rows = 0;
    let mut tables = 0;
    let mut sorted = Vec::new();
    let mut schema: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for obj in objects {
        let mut rekeyed = None;
        if obj.has_rows() {
            let ((root, n, new), other) =
                table_tree(repo, db, obj, &mut facts, &mut sorted, store)?;
            roots.push((rows_root(&obj.qualified()), root));
            rows += n;
            tables += 1;
            tree_nodes_new += new;
            rekeyed = other;
        }
        let obj = rekeyed.as_ref().unwrap_or(obj);
        schema.push((obj.qualified().into_bytes(), obj.encode()));
    }
    schema.sort();
    let mut b = if store {
        TreeBuilder::new(repo)
    } else {
        TreeBuilder::hashing(repo)
    };
    for (k, v) in schema {
        b.push(k, v)?;
    }
    tree_nodes_new += b.new_nodes;
    roots.push((SCHEMA_ROOT.to_string(), b.finish()?));
    let mut extra = Vec::new();
    if let Some((id, key)) = facts.site {
        extra.push((EXTRA_SITE_ID.into(), id));
        extra.push((EXTRA_SITE_KEY.into(), key));
    }
    if let Some((_, tag)) = facts.migration {
        extra.push((EXTRA_MIGRATION.into(), tag));
    }
    Ok(Capture {
        roots,
        objects: objects.iter().map(|o| o.qualified()).collect(),
        extra,
        tree_nodes_new,
        summary: DatabaseSummary {
            dialect: String::new(),
            tables,
            rows,
            sorted_in_memory: sorted,
        },
    })
}
