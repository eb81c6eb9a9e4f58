//! Proof that a restore is exact: a logical dump of a SQLite database
//! (schema and every row, independent of page layout and rowids) and a
//! digest of every file under a directory.

use crate::dbclient::db_err;
use crate::error::{Error, Result};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeMap;
use std::path::Path;

/// Schema lines (`type name: sql`, FTS shadow tables excluded) followed by
/// every row of every ordinary table as text, sorted. Two databases with
/// equal dumps hold the same schema and the same rows.
pub fn sqlite_dump(path: &Path) -> Result<Vec<String>> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| db_err(path, e))?;
    let e = |x| db_err(path, x);
    let mut st = conn
        .prepare(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY type, name",
        )
        .map_err(e)?;
    let master: Vec<(String, String, String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(e)?
        .collect::<std::result::Result<_, _>>()
        .map_err(e)?;
    let virtuals: Vec<String> = master
        .iter()
        .filter(|m| m.3.to_ascii_uppercase().starts_with("CREATE VIRTUAL TABLE"))
        .map(|m| m.1.clone())
        .collect();
    let shadow = |n: &str| virtuals.iter().any(|v| n.starts_with(&format!("{v}_")));
    let mut out = Vec::new();
    for (ty, name, tbl, sql) in &master {
        if shadow(tbl) || name.starts_with("sqlite_autoindex") {
            continue;
        }
        out.push(format!("{ty} {name}: {sql}"));
        if ty != "table" || virtuals.contains(name) || name.starts_with("sqlite_stat") {
            continue;
        }
        let q = format!("SELECT * FROM \"{}\"", name.replace('"', "\"\""));
        let mut st = conn.prepare(&q).map_err(e)?;
        let n = st.column_count();
        let mut rows = st.query([]).map_err(e)?;
        let mut lines = Vec::new();
        while let Some(r) = rows.next().map_err(e)? {
            let mut cells = Vec::with_capacity(n);
            for i in 0..n {
                cells.push(match r.get_ref(i).map_err(e)? {
                    ValueRef::Null => "NULL".to_string(),
                    ValueRef::Integer(x) => format!("i{x}"),
                    ValueRef::Real(x) => format!("r{:016x}", x.to_bits()),
                    ValueRef::Text(t) => format!("t{:?}", String::from_utf8_lossy(t)),
                    ValueRef::Blob(b) => format!("b{}", hex::encode(b)),
                });
            }
            lines.push(format!("{name} | {}", cells.join(" | ")));
        }
        lines.sort();
        out.extend(lines);
    }
    Ok(out)
}

/// Every regular file under `dir` (relative path → blake3 of its bytes).
pub fn file_digests(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && d == dir => return Ok(out),
            Err(err) => return Err(Error::io(&d, err)),
        };
        for ent in rd {
            let ent = ent.map_err(|err| Error::io(&d, err))?;
            let p = ent.path();
            let ft = ent.file_type().map_err(|err| Error::io(&p, err))?;
            if ft.is_dir() {
                todo.push(p);
            } else if ft.is_file() {
                let bytes = std::fs::read(&p).map_err(|err| Error::io(&p, err))?;
                let rel = p
                    .strip_prefix(dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, blake3::hash(&bytes).to_hex().to_string());
            }
        }
    }
    Ok(out)
}
