//! A captured database schema: one [`SchemaObject`] per table, view,
//! virtual table or sequence, each stored as one entry of the snapshot's
//! `db.schema` tree (format-spec/README.md §10).
//!
//! An object carries the statements that recreate it, each tagged with the
//! [`Phase`] in which a restore runs it. Restores run phases in order across
//! all objects, and load rows between `Create` and the rest, so indexes are
//! built once, triggers do not fire on restored rows, and foreign keys are
//! checked against complete tables.

use crate::codec;
use crate::error::Result;
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 4] = b"JRTS";
/// Version 2 added `namespace`; version 1 objects still decode (with none).
pub const VERSION: u16 = 2;
/// Snapshot root holding the schema tree (object name → [`SchemaObject`]).
pub const SCHEMA_ROOT: &str = "db.schema";
/// Prefix of the snapshot roots that hold each table's rows.
pub const ROWS_ROOT_PREFIX: &str = "db.rows/";

pub fn rows_root(table: &str) -> String {
    format!("{ROWS_ROOT_PREFIX}{table}")
}

/// Which part of a Jant site a table belongs to (jant-format.md §4.4, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Content,
    Configuration,
    Auth,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Phase {
    /// Before rows: sequences, then tables (without foreign keys on Postgres).
    Create,
    /// After rows: primary-key, unique and check constraints.
    Constraint,
    Index,
    ForeignKey,
    /// Virtual tables (and FTS rebuilds), after the tables they index.
    Virtual,
    Trigger,
    View,
    /// Sequence positions and anything that must see the finished database.
    Final,
    /// Before everything else: schemas, then extensions (Postgres). Last
    /// in the enum only so that older objects keep their encoding.
    Setup,
}

impl Phase {
    /// The phases a restore runs after loading rows, in order.
    pub const AFTER_ROWS: [Phase; 7] = [
        Phase::Constraint,
        Phase::Index,
        Phase::ForeignKey,
        Phase::Virtual,
        Phase::Trigger,
        Phase::View,
        Phase::Final,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The type as declared (SQLite) or formatted by `format_type` (Postgres).
    pub decl_type: String,
    pub not_null: bool,
}

/// How rows are keyed in the table's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowKey {
    /// The primary key: indexes into `columns`.
    PrimaryKey(Vec<u32>),
    /// SQLite rowid of a table without a primary key; rows carry it as an
    /// extra first value.
    RowId,
    /// Postgres table without a primary key: the whole row plus a
    /// duplicate counter (the table is a multiset).
    WholeRow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectKind {
    Table,
    /// A virtual table whose data lives elsewhere (an FTS index over another
    /// table): not captured, rebuilt by its statements.
    Derived,
    View,
    Sequence,
    /// A Postgres schema other than the default one (drizzle's `drizzle`).
    Schema,
    /// A Postgres extension (`pg_trgm`), created before anything uses it.
    Extension,
    /// A Postgres user-defined type: enum, domain, composite or range.
    Type,
    /// A Postgres function or procedure (`pg_get_functiondef`).
    Function,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaObject {
    pub name: String,
    pub kind: ObjectKind,
    pub layer: Layer,
    /// Captured columns, in the order row values are stored. Generated
    /// columns are not captured; their definition is in the statements.
    pub columns: Vec<Column>,
    pub key: RowKey,
    pub statements: Vec<(Phase, String)>,
    /// Position in the source's own creation order (restores keep it).
    pub order: u32,
    pub row_format: u16,
    /// The Postgres schema holding the object when it is not the source's
    /// default one (`current_schema()`, `public` for Jant); `None` there
    /// and for SQLite. A restore puts `None` objects into the target's
    /// default schema.
    pub namespace: Option<String>,
}

/// Version 1 of [`SchemaObject`]: the same fields without `namespace`.
#[derive(Deserialize)]
struct SchemaObjectV1 {
    name: String,
    kind: ObjectKind,
    layer: Layer,
    columns: Vec<Column>,
    key: RowKey,
    statements: Vec<(Phase, String)>,
    order: u32,
    row_format: u16,
}

impl SchemaObject {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(MAGIC, VERSION, self)
    }

    pub fn decode(bytes: &[u8]) -> Result<SchemaObject> {
        if bytes.len() >= 6 && bytes[..4] == *MAGIC && bytes[4..6] == 1u16.to_le_bytes() {
            let v1: SchemaObjectV1 = codec::decode("schema object", MAGIC, 1, bytes)?;
            return Ok(SchemaObject {
                name: v1.name,
                kind: v1.kind,
                layer: v1.layer,
                columns: v1.columns,
                key: v1.key,
                statements: v1.statements,
                order: v1.order,
                row_format: v1.row_format,
                namespace: None,
            });
        }
        codec::decode("schema object", MAGIC, VERSION, bytes)
    }

    /// The name that identifies the object in the snapshot: its schema tree
    /// key and, for a table, its rows root (`db.rows/<this>`). `schema.name`
    /// outside the default schema; Postgres schemas and extensions, which
    /// share no namespace with tables, start with a NUL (never part of a
    /// Postgres identifier) so they cannot collide with one.
    pub fn qualified(&self) -> String {
        match (&self.kind, &self.namespace) {
            (ObjectKind::Schema, _) => format!("\0schema:{}", self.name),
            (ObjectKind::Extension, _) => format!("\0extension:{}", self.name),
            (ObjectKind::Type, ns) => format!("\0type:{}", qualify(ns, &self.name)),
            (ObjectKind::Function, ns) => format!("\0function:{}", qualify(ns, &self.name)),
            (_, Some(ns)) => format!("{ns}.{}", self.name),
            (_, None) => self.name.clone(),
        }
    }

    /// The object's name for people: `schema.table`, `extension pg_trgm`.
    pub fn label(&self) -> String {
        match self.kind {
            ObjectKind::Schema => format!("schema {}", self.name),
            ObjectKind::Extension => format!("extension {}", self.name),
            ObjectKind::Type => format!("type {}", qualify(&self.namespace, &self.name)),
            ObjectKind::Function => format!("function {}", qualify(&self.namespace, &self.name)),
            _ => self.qualified(),
        }
    }

    /// The object's name as SQL: quoted, and qualified by its schema when
    /// it has one.
    pub fn sql_name(&self) -> String {
        sql_name(self.namespace.as_deref(), &self.name)
    }

    /// A view, sequence or derived index: statements only, no rows.
    pub fn without_rows(
        name: &str,
        kind: ObjectKind,
        layer: Layer,
        statements: Vec<(Phase, String)>,
        order: u32,
    ) -> SchemaObject {
        SchemaObject {
            name: name.to_string(),
            kind,
            layer,
            columns: Vec::new(),
            key: RowKey::RowId,
            statements,
            order,
            row_format: crate::row::ROW_FORMAT,
            namespace: None,
        }
    }

    pub fn has_rows(&self) -> bool {
        self.kind == ObjectKind::Table
    }

    /// Column names of the stored row values (a leading `rowid` for
    /// [`RowKey::RowId`] tables).
    pub fn value_columns(&self) -> Vec<&str> {
        let mut v = Vec::with_capacity(self.columns.len() + 1);
        if self.key == RowKey::RowId {
            v.push("rowid");
        }
        v.extend(self.columns.iter().map(|c| c.name.as_str()));
        v
    }

    /// Positions in the stored row values that form the key.
    pub fn key_positions(&self) -> Vec<usize> {
        match &self.key {
            RowKey::PrimaryKey(cols) => cols.iter().map(|&c| c as usize).collect(),
            RowKey::RowId => vec![0],
            RowKey::WholeRow => (0..self.columns.len()).collect(),
        }
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        let off = (self.key == RowKey::RowId) as usize;
        self.columns
            .iter()
            .position(|c| c.name == name)
            .map(|i| i + off)
    }
}

fn qualify(ns: &Option<String>, name: &str) -> String {
    match ns {
        Some(ns) => format!("{ns}.{name}"),
        None => name.to_string(),
    }
}

/// `name` as SQL: quoted, and qualified by `namespace` when there is one.
pub fn sql_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{}.{}", quote_ident(ns), quote_ident(name)),
        None => quote_ident(name),
    }
}

/// Quote an SQL identifier the way both SQLite and Postgres accept.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
