//! A parsed `db.sql` (a Jant snapshot's, or a `jant db export` dump) as a
//! database source. A dump carries rows but no schema, so each table's
//! schema object lists the dump's columns without types or statements, and
//! is keyed by Jant's primary key for that table (the whole row for a table
//! Jant does not define and that has no `id`).

use super::{DatabaseSource, RowSink};
use crate::error::{Error, Result};
use crate::jant::dump::{Dump, Table};
use crate::jant::tables;
use crate::row::{self, Value};
use crate::schema::{Column, ObjectKind, RowKey, SchemaObject};
use crate::snapshot::SourceInfo;

pub struct DumpSource {
    info: SourceInfo,
    dialect: &'static str,
    objects: Vec<SchemaObject>,
    tables: Vec<Keyed>,
    extra: Vec<(String, String)>,
}

/// A table's rows with their keys, encoded once: in file order, and the
/// row positions in key order.
struct Keyed {
    table: Table,
    keys: Vec<Vec<u8>>,
    by_key: Vec<usize>,
}

fn object(t: &Table, order: u32) -> Result<SchemaObject> {
    let key = match tables::primary_key(&t.name, t.column("id").is_some()) {
        Some(cols) => RowKey::PrimaryKey(
            cols.iter()
                .map(|c| {
                    t.column(c).map(|i| i as u32).ok_or_else(|| {
                        Error::Invalid(format!(
                            "db.sql: the INSERTs into {} do not name its key column {c}",
                            t.name
                        ))
                    })
                })
                .collect::<Result<_>>()?,
        ),
        None => RowKey::WholeRow,
    };
    Ok(SchemaObject {
        name: t.name.clone(),
        kind: ObjectKind::Table,
        layer: tables::layer(&t.name),
        columns: t
            .columns
            .iter()
            .map(|c| Column {
                name: c.clone(),
                decl_type: String::new(),
                not_null: false,
            })
            .collect(),
        key,
        statements: Vec::new(),
        order,
        row_format: row::ROW_FORMAT,
        namespace: None,
    })
}

impl DumpSource {
    pub fn new(
        info: SourceInfo,
        dialect: &'static str,
        dump: Dump,
        extra: Vec<(String, String)>,
    ) -> Result<DumpSource> {
        let mut objects = Vec::new();
        let mut tables = Vec::new();
        for (i, table) in dump.tables.into_iter().enumerate() {
            let obj = object(&table, i as u32)?;
            let positions = obj.key_positions();
            let keys: Vec<Vec<u8>> = table
                .rows
                .iter()
                .map(|r| {
                    let k: Vec<&Value> = positions.iter().map(|&p| &r[p]).collect();
                    row::encode_key(&k)
                })
                .collect();
            let mut by_key: Vec<usize> = (0..keys.len()).collect();
            by_key.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
            objects.push(obj);
            tables.push(Keyed {
                table,
                keys,
                by_key,
            });
        }
        Ok(DumpSource {
            info,
            dialect,
            objects,
            tables,
            extra,
        })
    }

    /// Each table's name and its rows' keys in the dump's own order.
    pub fn file_order(&self) -> impl Iterator<Item = (&str, &[Vec<u8>])> {
        self.tables
            .iter()
            .map(|k| (k.table.name.as_str(), k.keys.as_slice()))
    }
}

impl DatabaseSource for DumpSource {
    fn info(&self) -> SourceInfo {
        self.info.clone()
    }

    fn dialect(&self) -> &'static str {
        self.dialect
    }

    fn begin(&mut self, _warnings: &mut Vec<String>) -> Result<Vec<SchemaObject>> {
        Ok(self.objects.clone())
    }

    fn rows(&mut self, table: &SchemaObject, sink: &mut dyn RowSink) -> Result<()> {
        let Some(t) = self.tables.iter().find(|t| t.table.name == table.name) else {
            return Ok(());
        };
        // The tree wants key order.
        for &i in &t.by_key {
            sink.row(t.table.rows[i].clone())?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        Ok(())
    }

    fn extra(&self) -> Vec<(String, String)> {
        self.extra.clone()
    }
}
