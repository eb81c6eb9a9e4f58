//! A live Postgres database as a source: pg_dump's model. One
//! `REPEATABLE READ, READ ONLY` transaction sees the whole database at the
//! moment of its first query, whatever commits meanwhile; the schema comes
//! from the catalogs (`format_type`, `pg_get_constraintdef`,
//! `pg_get_indexdef`, `pg_get_expr`), so a restore recreates tables,
//! defaults, generated columns, constraints, indexes, views and sequence
//! positions. Every schema but the system ones is captured (drizzle keeps
//! its migration table in `drizzle`), with the extensions the database
//! has (Jant's `pg_trgm`); objects that belong to an extension are the
//! extension's, made again by `CREATE EXTENSION`.

use super::{DatabaseSource, RowSink};
use crate::dbclient::{pg_message, Col, PgClient};
use crate::error::{Error, Result};
use crate::jant::tables;
use crate::row::{Value, ROW_FORMAT};
use crate::schema::{quote_ident, Column, ObjectKind, Phase, RowKey, SchemaObject};
use crate::snapshot::SourceInfo;
use futures::StreamExt;
use tokio_postgres::types::{FromSql, Type};

pub struct PostgresSource {
    url: String,
    pg: PgClient,
    /// How each captured column of each table is read, learned in `begin`.
    reads: std::collections::HashMap<String, Vec<Read>>,
}

impl PostgresSource {
    pub fn connect(url: &str) -> Result<PostgresSource> {
        Ok(PostgresSource {
            url: url.to_string(),
            pg: PgClient::connect(url)?,
            reads: Default::default(),
        })
    }
}

/// Timestamps and dates in Postgres' own binary form, so no precision or
/// range is lost on the way through a date library.
struct RawTime(i64);
impl<'a> FromSql<'a> for RawTime {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawTime(i64::from_be_bytes(raw.try_into()?)))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::TIMESTAMPTZ || *ty == Type::TIMESTAMP
    }
}
struct RawDate(i32);
impl<'a> FromSql<'a> for RawDate {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawDate(i32::from_be_bytes(raw.try_into()?)))
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }
}

/// How a column's values are read.
#[derive(Clone, Copy)]
enum Read {
    Bool,
    I16,
    I32,
    I64,
    F32,
    F64,
    Text,
    Bytea,
    Time,
    LocalTime,
    Date,
    /// Any other type, read as `col::text`.
    AsText,
}

fn read_kind(typname: &str) -> Read {
    match typname {
        "bool" => Read::Bool,
        "int2" => Read::I16,
        "int4" => Read::I32,
        "int8" => Read::I64,
        "float4" => Read::F32,
        "float8" => Read::F64,
        "text" | "varchar" | "bpchar" | "name" => Read::Text,
        "bytea" => Read::Bytea,
        "timestamptz" => Read::Time,
        "timestamp" => Read::LocalTime,
        "date" => Read::Date,
        _ => Read::AsText,
    }
}

/// A catalog condition: namespace `n` is one a user's objects live in.
const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// A catalog condition: relation `c` is not a member of an extension.
const NOT_EXTENSION_MEMBER: &str =
    "NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_class'::regclass AND x.objid = c.oid AND x.deptype = 'e')";

/// `None` for the default schema, whose objects a restore puts into the
/// target's default schema.
fn namespace_of(nspname: String, current: &str) -> Option<String> {
    (nspname != current).then_some(nspname)
}

impl DatabaseSource for PostgresSource {
    fn info(&self) -> SourceInfo {
        SourceInfo::postgres(&self.url)
    }

    fn dialect(&self) -> &'static str {
        "pg"
    }

    fn begin(&mut self, _warnings: &mut Vec<String>) -> Result<Vec<SchemaObject>> {
        self.reads.clear();
        let pg = &self.pg;
        pg.batch(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;
             SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres';
             SET LOCAL extra_float_digits = 3; SET LOCAL TimeZone = 'UTC';",
        )?;
        let mut objects = Vec::new();
        let current: String = pg.one("SELECT current_schema()::text", &[], String::new())?;

        // Schemas, then extensions: the `Setup` phase, before anything
        // that may live in them or use them.
        let schemas = pg.query(
            &format!(
                "SELECT n.nspname::text FROM pg_namespace n
                  WHERE {USER_SCHEMA} AND n.nspname <> current_schema()
                    AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_namespace'::regclass AND x.objid = n.oid AND x.deptype = 'e')
                  ORDER BY n.oid"
            ),
            &[],
        )?;
        for (i, r) in schemas.iter().enumerate() {
            let name: String = r.col(0)?;
            let mut o = SchemaObject::without_rows(
                &name,
                ObjectKind::Schema,
                crate::schema::Layer::Other,
                vec![(
                    Phase::Setup,
                    format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(&name)),
                )],
                i as u32,
            );
            o.namespace = Some(name);
            objects.push(o);
        }
        let extensions = pg.query(
            "SELECT e.extname::text, n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY e.oid",
            &[],
        )?;
        for (i, r) in extensions.iter().enumerate() {
            let (name, ns): (String, String) = (r.col(0)?, r.col(1)?);
            let namespace = namespace_of(ns, &current);
            // In the default schema: wherever the target's default is.
            let with = namespace
                .as_ref()
                .map(|n| format!(" WITH SCHEMA {}", quote_ident(n)))
                .unwrap_or_default();
            let mut o = SchemaObject::without_rows(
                &name,
                ObjectKind::Extension,
                crate::schema::Layer::Other,
                vec![(
                    Phase::Setup,
                    format!(
                        "CREATE EXTENSION IF NOT EXISTS {}{with}",
                        quote_ident(&name)
                    ),
                )],
                (schemas.len() + i) as u32,
            );
            o.namespace = namespace;
            objects.push(o);
        }
        self.types_and_functions(&current, &mut objects)?;
        let setup = objects.len();

        // Sequences that are not an identity column's own: created before
        // the tables whose defaults call them, positioned at the end.
        for r in pg.query(
            &format!("SELECT c.relname::text, format_type(s.seqtypid, NULL), s.seqincrement, s.seqmin, s.seqmax, s.seqstart, s.seqcache, s.seqcycle,
                    (SELECT format('%s.%I', CASE WHEN tn.nspname = current_schema() THEN format('%I', t.relname) ELSE format('%I.%I', tn.nspname, t.relname) END, a.attname)
                       FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
                       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                      WHERE d.objid = c.oid AND d.deptype = 'a' AND d.classid = 'pg_class'::regclass LIMIT 1),
                    n.nspname::text
               FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE {USER_SCHEMA} AND {NOT_EXTENSION_MEMBER}
                AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')
              ORDER BY c.oid"),
            &[],
        )?
        .iter()
        .enumerate()
        {
            let (seq_no, r) = r;
            let name: String = r.col(0)?;
            let (ty, inc, min, max, start, cache, cycle): (String, i64, i64, i64, i64, i64, bool) =
                (r.col(1)?, r.col(2)?, r.col(3)?, r.col(4)?, r.col(5)?, r.col(6)?, r.col(7)?);
            let owned: Option<String> = r.col(8)?;
            let namespace = namespace_of(r.col(9)?, &current);
            let mut seq = SchemaObject::without_rows(
                &name,
                ObjectKind::Sequence,
                crate::schema::Layer::Other,
                Vec::new(),
                (setup + seq_no) as u32,
            );
            seq.namespace = namespace;
            let q = seq.sql_name();
            let pos = pg.query(&format!("SELECT last_value, is_called FROM {q}"), &[])?;
            let (last, called): (i64, bool) = pos
                .first()
                .map(|p| Ok::<_, Error>((p.col(0)?, p.col(1)?)))
                .transpose()?
                .unwrap_or((start, false));
            let mut statements = vec![(
                Phase::Create,
                format!(
                    "CREATE SEQUENCE {q} AS {ty} INCREMENT {inc} MINVALUE {min} MAXVALUE {max} START {start} CACHE {cache}{}",
                    if cycle { " CYCLE" } else { "" }
                ),
            )];
            statements.push((Phase::Final, format!("SELECT setval('{}', {last}, {called})", q.replace('\'', "''"))));
            if let Some(o) = owned {
                statements.push((Phase::Final, format!("ALTER SEQUENCE {q} OWNED BY {o}")));
            }
            // Ordered before every table, whose defaults may call it.
            seq.statements = statements;
            objects.push(seq);
        }

        for r in pg.query(
            &format!("SELECT c.oid::int8, c.relname::text, c.relkind::text, n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE {USER_SCHEMA} AND {NOT_EXTENSION_MEMBER} AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.oid"),
            &[],
        )? {
            let (oid, name, kind): (i64, String, String) = (r.col(0)?, r.col(1)?, r.col(2)?);
            let namespace = namespace_of(r.col(3)?, &current);
            if kind == "v" || kind == "m" {
                let def: String = pg.one(
                    "SELECT pg_get_viewdef($1::int8::oid, true)",
                    &[&oid],
                    String::new(),
                )?;
                let what = if kind == "m" { "MATERIALIZED VIEW" } else { "VIEW" };
                let mut view = SchemaObject::without_rows(
                    &name,
                    ObjectKind::View,
                    tables::layer(&name),
                    Vec::new(),
                    oid as u32,
                );
                view.namespace = namespace;
                view.statements = vec![(Phase::View, format!("CREATE {what} {} AS {def}", view.sql_name()))];
                objects.push(view);
                continue;
            }
            let (obj, reads) = self.table(oid, &name, namespace)?;
            self.reads.insert(obj.qualified(), reads);
            objects.push(obj);
        }
        // Two objects may not share a snapshot name (a table named
        // "drizzle.x" in the default schema beside table x of schema
        // drizzle): refuse, naming both, rather than lose one.
        let mut seen = std::collections::HashSet::new();
        for o in &objects {
            if !seen.insert(o.qualified()) {
                return Err(Error::Database {
                    source_name: pg.name.clone(),
                    message: format!(
                        "two objects are both named {:?} once qualified by their schema; rename one",
                        o.qualified()
                    ),
                });
            }
        }
        objects.sort_by_key(|o| o.order);
        Ok(objects)
    }

    fn rows(&mut self, t: &SchemaObject, sink: &mut dyn RowSink) -> Result<()> {
        let reads = self.reads.get(&t.qualified()).cloned().ok_or_else(|| {
            Error::Invalid(format!("table {} was not part of this capture", t.name))
        })?;
        let cols: Vec<String> = t
            .columns
            .iter()
            .zip(&reads)
            .map(|(c, r)| match r {
                Read::AsText => format!("{}::text", quote_ident(&c.name)),
                _ => quote_ident(&c.name),
            })
            .collect();
        let order = match &t.key {
            RowKey::PrimaryKey(k) => format!(
                " ORDER BY {}",
                k.iter()
                    .map(|&i| {
                        let c = &t.columns[i as usize];
                        match reads[i as usize] {
                            Read::Text => format!("{} COLLATE \"C\"", quote_ident(&c.name)),
                            _ => quote_ident(&c.name),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            // A table without a key is sorted by the backup itself.
            _ => String::new(),
        };
        // ONLY: a partitioned table's rows are its partitions', read there.
        let sql = format!(
            "SELECT {} FROM ONLY {}{order}",
            cols.join(", "),
            t.sql_name()
        );
        let pg = &self.pg;
        pg.rt.block_on(async {
            let stream = pg
                .client
                .query_raw(sql.as_str(), std::iter::empty::<i32>())
                .await
                .map_err(|e| pg.err(e))?;
            futures::pin_mut!(stream);
            while let Some(row) = stream.next().await {
                let row = row.map_err(|e| pg.err(e))?;
                let mut values = Vec::with_capacity(reads.len());
                for (i, r) in reads.iter().enumerate() {
                    values.push(read_value(&row, i, *r).map_err(|e| Error::Database {
                        source_name: pg.name.clone(),
                        message: format!(
                            "table {}, column {}: {}",
                            t.name,
                            t.columns[i].name,
                            pg_message(&e)
                        ),
                    })?);
                }
                sink.row(values)?;
            }
            Ok(())
        })
    }

    fn finish(&mut self) -> Result<()> {
        self.pg.batch("COMMIT")
    }
}

fn read_value(
    row: &tokio_postgres::Row,
    i: usize,
    r: Read,
) -> std::result::Result<Value, tokio_postgres::Error> {
    fn v<T>(x: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
        x.map(f).unwrap_or(Value::Null)
    }
    Ok(match r {
        Read::Bool => v(row.try_get::<_, Option<bool>>(i)?, Value::Bool),
        Read::I16 => v(row.try_get::<_, Option<i16>>(i)?, |x| {
            Value::Integer(x as i64)
        }),
        Read::I32 => v(row.try_get::<_, Option<i32>>(i)?, |x| {
            Value::Integer(x as i64)
        }),
        Read::I64 => v(row.try_get::<_, Option<i64>>(i)?, Value::Integer),
        Read::F32 => v(row.try_get::<_, Option<f32>>(i)?, |x| Value::Real(x as f64)),
        Read::F64 => v(row.try_get::<_, Option<f64>>(i)?, Value::Real),
        Read::Text => v(row.try_get::<_, Option<String>>(i)?, Value::Text),
        Read::Bytea => v(row.try_get::<_, Option<Vec<u8>>>(i)?, Value::Blob),
        Read::Time => v(row.try_get::<_, Option<RawTime>>(i)?, |x| {
            Value::Timestamp(x.0)
        }),
        Read::LocalTime => v(row.try_get::<_, Option<RawTime>>(i)?, |x| {
            Value::LocalTimestamp(x.0)
        }),
        Read::Date => v(row.try_get::<_, Option<RawDate>>(i)?, |x| Value::Date(x.0)),
        Read::AsText => v(row.try_get::<_, Option<String>>(i)?, Value::Other),
    })
}

impl PostgresSource {
    /// User-defined types (enum, domain, composite, range) and functions,
    /// in creation (oid) order, as `Setup` statements after the schemas and
    /// extensions: a column, default, check or trigger may use them. A
    /// restore turns `check_function_bodies` off, as pg_dump's output does,
    /// so a function may name a table created after it.
    fn types_and_functions(&self, current: &str, objects: &mut Vec<SchemaObject>) -> Result<()> {
        let pg = &self.pg;
        let mut found: Vec<(i64, ObjectKind, String, Option<String>, String)> = Vec::new();
        for r in pg.query(
            &format!(
                "SELECT t.oid::int8, t.typname::text, n.nspname::text, t.typtype::text,
                        CASE t.typtype
                          WHEN 'e' THEN (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
                          WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod)
                              || CASE WHEN t.typcollation <> 0 AND t.typcollation <> (SELECT b.typcollation FROM pg_type b WHERE b.oid = t.typbasetype)
                                      THEN ' COLLATE ' || (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) ELSE '' END
                              || coalesce(' DEFAULT ' || t.typdefault, '')
                              || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END
                              || coalesce((SELECT string_agg(' CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid), '' ORDER BY c.oid) FROM pg_constraint c WHERE c.contypid = t.oid), '')
                          WHEN 'c' THEN (SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                                           FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
                          WHEN 'r' THEN (SELECT 'SUBTYPE = ' || format_type(r.rngsubtype, NULL)
                                              || CASE WHEN r.rngsubdiff <> 0 THEN ', SUBTYPE_DIFF = ' || r.rngsubdiff::regproc::text ELSE '' END
                                              || CASE WHEN r.rngcanonical <> 0 THEN ', CANONICAL = ' || r.rngcanonical::regproc::text ELSE '' END
                                              || ', MULTIRANGE_TYPE_NAME = ' || format('%I.%I', mn.nspname, m.typname)
                                           FROM pg_range r JOIN pg_type m ON m.oid = r.rngmultitypid JOIN pg_namespace mn ON mn.oid = m.typnamespace WHERE r.rngtypid = t.oid)
                        END
                   FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                  WHERE {USER_SCHEMA}
                    AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c'))
                    AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_type'::regclass AND x.objid = t.oid AND x.deptype = 'e')
                  ORDER BY t.oid"
            ),
            &[],
        )? {
            let (oid, name, ns, typtype): (i64, String, String, String) =
                (r.col(0)?, r.col(1)?, r.col(2)?, r.col(3)?);
            let body: Option<String> = r.col(4)?;
            let body = body.unwrap_or_default();
            let namespace = namespace_of(ns, current);
            let q = crate::schema::sql_name(namespace.as_deref(), &name);
            let sql = match typtype.as_str() {
                "e" => format!("CREATE TYPE {q} AS ENUM ({body})"),
                "d" => format!("CREATE DOMAIN {q} AS {body}"),
                "c" => format!("CREATE TYPE {q} AS ({body})"),
                _ => format!("CREATE TYPE {q} AS RANGE ({body})"),
            };
            found.push((oid, ObjectKind::Type, name, namespace, sql));
        }
        for r in pg.query(
            &format!(
                "SELECT p.oid::int8, p.oid::regprocedure::text, n.nspname::text, pg_get_functiondef(p.oid)
                   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE {USER_SCHEMA} AND p.prokind IN ('f', 'p')
                    AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_proc'::regclass AND x.objid = p.oid AND x.deptype IN ('e', 'i'))
                  ORDER BY p.oid"
            ),
            &[],
        )? {
            let (oid, signature, ns, def): (i64, String, String, String) =
                (r.col(0)?, r.col(1)?, r.col(2)?, r.col(3)?);
            // regprocedure text is qualified outside the search path.
            let bare = signature
                .strip_prefix(&format!("{}.", quote_ident(&ns)))
                .unwrap_or(&signature)
                .to_string();
            found.push((oid, ObjectKind::Function, bare, namespace_of(ns, current), def));
        }
        // Creation order across both kinds: a domain's check may call a
        // function, a function may take a type.
        found.sort_by_key(|f| f.0);
        let base = objects.len();
        for (i, (_, kind, name, namespace, sql)) in found.into_iter().enumerate() {
            let mut o = SchemaObject::without_rows(
                &name,
                kind,
                crate::schema::Layer::Other,
                vec![(Phase::Setup, sql)],
                (base + i) as u32,
            );
            o.namespace = namespace;
            objects.push(o);
        }
        Ok(())
    }

    fn table(
        &self,
        oid: i64,
        name: &str,
        namespace: Option<String>,
    ) -> Result<(SchemaObject, Vec<Read>)> {
        let pg = &self.pg;
        let q = crate::schema::sql_name(namespace.as_deref(), name);
        let mut defs = Vec::new();
        let mut columns = Vec::new();
        let mut reads = Vec::new();
        let mut identity_setvals = Vec::new();
        for c in pg.query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
                    a.attgenerated::text, a.attidentity::text, t.typname::text, t.typtype::text,
                    pg_get_serial_sequence(format('%I.%I', cn.nspname, c.relname), a.attname)
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
               JOIN pg_type t ON t.oid = a.atttypid
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&oid],
        )? {
            let (cname, ty, not_null): (String, String, bool) = (c.col(0)?, c.col(1)?, c.col(2)?);
            let default: Option<String> = c.col(3)?;
            let (generated, identity, typname, typtype): (String, String, String, String) =
                (c.col(4)?, c.col(5)?, c.col(6)?, c.col(7)?);
            let serial_seq: Option<String> = c.col(8)?;
            // Any type, user-defined ones included (their DDL is captured
            // as `Type` objects): values not read natively go through the
            // type's own text form, as COPY does.
            let _ = typtype;
            let mut def = format!("{} {ty}", quote_ident(&cname));
            if generated == "s" {
                def.push_str(&format!(" GENERATED ALWAYS AS ({}) STORED", default.unwrap_or_default()));
                defs.push(def);
                // Derived from the other columns: not captured.
                continue;
            }
            match identity.as_str() {
                "a" => def.push_str(" GENERATED ALWAYS AS IDENTITY"),
                "d" => def.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
                _ => {
                    if let Some(d) = default {
                        def.push_str(&format!(" DEFAULT {d}"));
                    }
                }
            }
            if not_null {
                def.push_str(" NOT NULL");
            }
            if !identity.is_empty() {
                if let Some(seq) = serial_seq {
                    let pos = pg.query(&format!("SELECT last_value, is_called FROM {seq}"), &[])?;
                    if let Some(p) = pos.first() {
                        let (last, called): (i64, bool) = (p.col(0)?, p.col(1)?);
                        identity_setvals.push(format!(
                            "SELECT setval(pg_get_serial_sequence('{}', '{}'), {last}, {called})",
                            q.replace('\'', "''"),
                            cname.replace('\'', "''")
                        ));
                    }
                }
            }
            defs.push(def);
            reads.push(read_kind(&typname));
            columns.push(Column {
                name: cname,
                decl_type: ty,
                not_null,
            });
        }
        // A partitioned table keeps its partition key; a partition is made
        // as one (its columns, defaults and inherited constraints come from
        // its parent); its rows are its own (`rows` reads `FROM ONLY`).
        // Classic inheritance is refused, naming the table.
        let (partkey, bound, parent, inherits): (
            Option<String>,
            Option<String>,
            Option<String>,
            bool,
        ) = {
            let r = pg.query(
                "SELECT CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,
                        CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,
                        (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid LIMIT 1),
                        c.relispartition
                   FROM pg_class c WHERE c.oid = $1::int8::oid",
                &[&oid],
            )?;
            let r = r.first().ok_or_else(|| Error::Database {
                source_name: pg.name.clone(),
                message: format!("table {name} vanished while it was read"),
            })?;
            let (pk, b, p, is_part): (Option<String>, Option<String>, Option<String>, bool) =
                (r.col(0)?, r.col(1)?, r.col(2)?, r.col(3)?);
            (pk, b, p.clone(), p.is_some() && !is_part)
        };
        if inherits {
            return Err(Error::Database {
                source_name: pg.name.clone(),
                message: format!(
                    "table {name} inherits from {} (table inheritance, not partitioning), which jarc cannot recreate; back up with pg_dump instead",
                    parent.unwrap_or_default()
                ),
            });
        }
        let create = match (&bound, &parent) {
            (Some(b), Some(p)) => format!("CREATE TABLE {q} PARTITION OF {p} {b}"),
            _ => format!(
                "CREATE TABLE {q} ({}){}",
                defs.join(", "),
                partkey
                    .map(|k| format!(" PARTITION BY {k}"))
                    .unwrap_or_default()
            ),
        };
        let mut statements = vec![(Phase::Create, create)];
        // Constraints a partition inherits are its parent's to make.
        for c in pg.query(
            "SELECT conname, contype::text, pg_get_constraintdef(oid) FROM pg_constraint
              WHERE conrelid = $1::int8::oid AND contype IN ('p', 'u', 'c', 'x', 'f') AND conislocal AND conparentid = 0
              ORDER BY contype = 'f', oid",
            &[&oid],
        )? {
            let (cname, ty, def): (String, String, String) = (c.col(0)?, c.col(1)?, c.col(2)?);
            let phase = if ty == "f" { Phase::ForeignKey } else { Phase::Constraint };
            statements.push((phase, format!("ALTER TABLE {q} ADD CONSTRAINT {} {def}", quote_ident(&cname))));
        }
        // An index of a partitioned table is made `ON ONLY` it; each
        // partition's index is made on the partition and attached once all
        // exist, as pg_dump does, so every name comes back as it was.
        for i in pg.query(
            "SELECT pg_get_indexdef(i.indexrelid),
                    (SELECT format('ALTER INDEX %s ATTACH PARTITION %s', h.inhparent::regclass, i.indexrelid::regclass)
                       FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
               FROM pg_index i WHERE i.indrelid = $1::int8::oid
                AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
              ORDER BY i.indexrelid",
            &[&oid],
        )? {
            statements.push((Phase::Index, i.col(0)?));
            if let Some(attach) = i.col::<Option<String>>(1)? {
                statements.push((Phase::Final, attach));
            }
        }
        // Triggers (their functions are `Function` objects); a partition's
        // clones of its parent's triggers are the parent's.
        for t in pg.query(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = $1::int8::oid AND NOT tgisinternal AND tgparentid = 0 ORDER BY oid",
            &[&oid],
        )? {
            statements.push((Phase::Trigger, t.col(0)?));
        }
        statements.extend(identity_setvals.into_iter().map(|s| (Phase::Final, s)));
        let pk: Vec<String> = pg
            .query(
                "SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE i.indrelid = $1::int8::oid AND i.indisprimary ORDER BY k.ord",
                &[&oid],
            )?
            .iter()
            .map(|r| r.col(0))
            .collect::<Result<_>>()?;
        let key = if pk.is_empty() {
            RowKey::WholeRow
        } else {
            let mut idx = Vec::new();
            for p in &pk {
                match columns.iter().position(|c| &c.name == p) {
                    Some(i) => idx.push(i as u32),
                    None => {
                        return Err(Error::Database {
                            source_name: pg.name.clone(),
                            message: format!(
                                "table {name}: primary-key column {p} is not a stored column"
                            ),
                        })
                    }
                }
            }
            RowKey::PrimaryKey(idx)
        };
        let obj = SchemaObject {
            name: name.to_string(),
            kind: ObjectKind::Table,
            layer: tables::layer(name),
            columns,
            key,
            statements,
            order: oid as u32,
            row_format: ROW_FORMAT,
            namespace,
        };
        Ok((obj, reads))
    }
}
