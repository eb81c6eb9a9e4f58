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
    tables: Vec<Table>,
    extra: Vec<(String, String)>,
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
        for (i, t) in dump.tables.iter().enumerate() {
            objects.push(object(t, i as u32)?);
        }
        Ok(DumpSource {
            info,
            dialect,
            objects,
            tables: dump.tables,
            extra,
        })
    }
}

impl DumpSource {
    /// Each table's schema object and its rows, in file order.
    pub fn tables(&self) -> impl Iterator<Item = (&SchemaObject, &Table)> {
        self.objects.iter().zip(self.tables.iter())
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
        let Some(t) = self.tables.iter().find(|t| t.name == table.name) else {
            return Ok(());
        };
        // Rows arrive in file order; the tree wants key order.
        let positions = table.key_positions();
        let mut keyed: Vec<(Vec<u8>, usize)> = t
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let k: Vec<&Value> = positions.iter().map(|&p| &r[p]).collect();
                (row::encode_key(&k), i)
            })
            .collect();
        keyed.sort();
        for (_, i) in keyed {
            sink.row(t.rows[i].clone())?;
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
