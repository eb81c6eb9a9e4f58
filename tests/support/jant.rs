//! An independent writer of Jant site snapshot archives, following
//! jant-format.md §2–§4 the way Jant's own exporter does (ordered SELECTs,
//! `orderSnapshotPostRows`, `sqlValue`, yazl-style streamed zip entries with
//! data descriptors), so that tests can import "Jant-made" archives without
//! going through jarc's export code. And a raw zip writer that can write
//! what no well-behaved library would: the hostile archives.

use jarc::jant::tables::SNAPSHOT_SETTING_KEYS;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::path::Path;

const SNAPSHOT_TABLES: [(&str, &str); 9] = [
    ("site_setting", "\"key\""),
    ("collection", "\"created_at\", \"id\""),
    ("smart_collection", "\"created_at\", \"id\""),
    ("post", "\"created_at\", \"id\""),
    (
        "thread_collection",
        "\"created_at\", \"thread_id\", \"collection_id\"",
    ),
    ("nav_item", "\"position\", \"id\""),
    ("collection_directory_item", "\"position\", \"id\""),
    ("path_registry", "\"path\", \"id\""),
    ("media", "\"created_at\", \"id\""),
];

const STORED: [&str; 18] = [
    ".avif", ".gif", ".heic", ".jpeg", ".jpg", ".m4a", ".mov", ".mp3", ".mp4", ".ogg", ".opus",
    ".pdf", ".png", ".webm", ".webp", ".woff", ".woff2", ".zip",
];

fn sql_value(v: ValueRef) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => format!("{f}"),
        ValueRef::Text(t) => format!("'{}'", String::from_utf8_lossy(t).replace('\'', "''")),
        ValueRef::Blob(b) => format!("X'{}'", hex::encode(b)),
    }
}

type Row = Vec<(String, String)>;

/// Jant's recursive `orderSnapshotPostRows`, verbatim in shape.
fn order_posts(rows: Vec<(HashMap<String, Option<String>>, String)>) -> Vec<String> {
    let by_id: HashMap<String, usize> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, (m, _))| m["id"].clone().map(|id| (id, i)))
        .collect();
    let mut placed = HashSet::new();
    let mut out = Vec::new();
    fn place(
        i: usize,
        rows: &[(HashMap<String, Option<String>>, String)],
        by_id: &HashMap<String, usize>,
        placed: &mut HashSet<usize>,
        visiting: &mut HashSet<usize>,
        out: &mut Vec<String>,
    ) {
        if placed.contains(&i) || visiting.contains(&i) {
            return;
        }
        visiting.insert(i);
        for col in ["thread_id", "reply_to_id"] {
            let pid = rows[i].0[col].clone();
            if pid.is_some() && pid != rows[i].0["id"] {
                if let Some(&p) = pid.as_ref().and_then(|p| by_id.get(p)) {
                    place(p, rows, by_id, placed, visiting, out);
                }
            }
        }
        placed.insert(i);
        out.push(rows[i].1.clone());
    }
    for i in 0..rows.len() {
        place(i, &rows, &by_id, &mut placed, &mut HashSet::new(), &mut out);
    }
    out
}

/// db.sql of one site, as `jant site snapshot export` writes it.
pub fn db_sql(db: &Path, site: &str, exported: &str) -> String {
    let c = Connection::open(db).unwrap();
    let mut sql = format!("-- Jant database export\n-- Exported: {exported}\n-- Source: node\n\n");
    for (table, order) in SNAPSHOT_TABLES {
        let cols: Vec<String> = {
            let mut st = c
                .prepare(&format!("PRAGMA table_xinfo(\"{table}\")"))
                .unwrap();
            let mut v: Vec<(i64, String, i64)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(6)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            v.sort();
            v.into_iter()
                .filter(|(_, _, hidden)| *hidden != 2 && *hidden != 3)
                .map(|(_, n, _)| n)
                .collect()
        };
        let filter = if table == "site_setting" {
            let keys: Vec<String> = SNAPSHOT_SETTING_KEYS
                .iter()
                .map(|k| format!("'{k}'"))
                .collect();
            format!(" AND \"key\" IN ({})", keys.join(", "))
        } else {
            String::new()
        };
        let q = format!(
            "SELECT * FROM \"{table}\" WHERE \"site_id\" = '{site}'{filter} ORDER BY {order}"
        );
        let mut st = c.prepare(&q).unwrap();
        let names: Vec<String> = st.column_names().map(|s| s.to_string()).collect();
        let mut rows: Vec<(HashMap<String, Option<String>>, String)> = Vec::new();
        let mut q = st.query([]).unwrap();
        while let Some(r) = q.next().unwrap() {
            let mut fields: Row = Vec::new();
            let mut ids = HashMap::new();
            for (i, n) in names.iter().enumerate() {
                let v = r.get_ref(i).unwrap();
                if let ValueRef::Text(t) = v {
                    ids.insert(n.clone(), Some(String::from_utf8_lossy(t).into_owned()));
                } else {
                    ids.insert(n.clone(), None);
                }
                fields.push((n.clone(), sql_value(v)));
            }
            let by_name: HashMap<&str, &str> = fields
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            let quoted: Vec<String> = cols.iter().map(|c| format!("\"{c}\"")).collect();
            let values: Vec<&str> = cols.iter().map(|c| by_name[c.as_str()]).collect();
            let line = format!(
                "INSERT INTO \"{table}\" ({}) VALUES({});",
                quoted.join(", "),
                values.join(", ")
            );
            rows.push((ids, line));
        }
        if rows.is_empty() {
            continue;
        }
        let lines = if table == "post" {
            order_posts(rows)
        } else {
            rows.into_iter().map(|(_, l)| l).collect()
        };
        sql.push_str(&format!("-- {table}\n"));
        sql.push_str(&lines.join("\n"));
        sql.push_str("\n\n");
    }
    sql
}

/// The objects a v2 snapshot carries: distinct non-blank storage and
/// poster keys of the site's media rows.
pub fn object_keys(db: &Path, site: &str) -> Vec<String> {
    let c = Connection::open(db).unwrap();
    let mut st = c
        .prepare(&format!(
            "SELECT DISTINCT trim(k) FROM (SELECT storage_key AS k FROM media WHERE site_id = '{site}' UNION ALL SELECT poster_key FROM media WHERE site_id = '{site}') WHERE k IS NOT NULL AND trim(k) <> '' ORDER BY 1"
        ))
        .unwrap();
    let v = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    v
}

/// Write a zip the way yazl streams one: entries in the given order,
/// sizes in data descriptors after each entry, STORE for media types.
pub fn write_zip(out: &Path, entries: &[(String, Vec<u8>)]) {
    let f = std::fs::File::create(out).unwrap();
    let mut z = zip::ZipWriter::new_stream(f);
    for (name, data) in entries {
        let method = if STORED
            .iter()
            .any(|e| name.to_ascii_lowercase().ends_with(e))
        {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .unix_permissions(0o644);
        z.start_file(name.as_str(), o).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

/// A Jant-made archive of one site: meta.json as given, db.sql, objects/.
pub fn archive(db: &Path, media: &Path, site: &str, meta: &str, exported: &str, out: &Path) {
    let mut entries = vec![
        (
            "db.sql".to_string(),
            db_sql(db, site, exported).into_bytes(),
        ),
        ("meta.json".to_string(), meta.as_bytes().to_vec()),
    ];
    for k in object_keys(db, site) {
        entries.push((
            format!("objects/{k}"),
            std::fs::read(media.join(&k)).unwrap(),
        ));
    }
    entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    write_zip(out, &entries);
}

/// Every entry of a zip, decompressed and CRC-checked by the zip crate.
pub fn unzip(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut v = Vec::new();
        f.read_to_end(&mut v).unwrap();
        out.insert(f.name().unwrap().to_string(), v);
    }
    out
}

/// One entry of a hand-built zip: every header field under the test's control.
pub struct RawEntry {
    pub name: Vec<u8>,
    pub data: Vec<u8>,
    /// 0 stored, 8 deflate (the data is compressed here).
    pub method: u16,
    pub flags: u16,
    /// Uncompressed size to declare; `None`: the real one.
    pub declared_size: Option<u32>,
    /// `st_mode << 16`, with "made by Unix".
    pub unix_mode: u32,
}

impl RawEntry {
    pub fn new(name: &str, data: &[u8]) -> RawEntry {
        RawEntry {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method: 0,
            flags: 0x0800,
            declared_size: None,
            unix_mode: 0o100644,
        }
    }

    pub fn deflated(mut self) -> RawEntry {
        self.method = 8;
        self
    }
}

/// Serialise entries as a zip with a central directory.
pub fn raw_zip(entries: &[RawEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let crc = crc32fast::hash(&e.data);
        let body = if e.method == 8 {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&e.data).unwrap();
            enc.finish().unwrap()
        } else {
            e.data.clone()
        };
        let size = e.declared_size.unwrap_or(e.data.len() as u32);
        let offset = out.len() as u32;
        let mut h = Vec::new();
        h.extend_from_slice(&0x04034b50u32.to_le_bytes());
        h.extend_from_slice(&20u16.to_le_bytes());
        h.extend_from_slice(&e.flags.to_le_bytes());
        h.extend_from_slice(&e.method.to_le_bytes());
        h.extend_from_slice(&[0, 0, 0x21, 0]); // time, date (1980-01-01)
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&(body.len() as u32).to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&e.name);
        out.extend_from_slice(&h);
        out.extend_from_slice(&body);
        central.extend_from_slice(&0x02014b50u32.to_le_bytes());
        central.extend_from_slice(&(0x0300u16 | 20).to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&e.flags.to_le_bytes());
        central.extend_from_slice(&e.method.to_le_bytes());
        central.extend_from_slice(&[0, 0, 0x21, 0]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(body.len() as u32).to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attrs
        central.extend_from_slice(&(e.unix_mode << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// Jant's replacing import as one script (reference §4.6): `BEGIN`, on
/// SQLite `PRAGMA defer_foreign_keys = ON`, the DELETEs of the site's
/// content in Jant's clear order and of its allow-listed settings, the
/// db.sql text, the provider UPDATE, `COMMIT`.
pub fn replace_script(site: &str, db_sql: &str, sqlite: bool) -> String {
    let mut script = String::from("BEGIN;\n");
    if sqlite {
        script.push_str("PRAGMA defer_foreign_keys = ON;\n");
    }
    for t in jarc::jant::tables::CONTENT_CLEAR_ORDER {
        script.push_str(&format!(
            "DELETE FROM \"{t}\" WHERE \"site_id\" = '{site}';\n"
        ));
    }
    let keys: Vec<String> = SNAPSHOT_SETTING_KEYS
        .iter()
        .map(|k| format!("'{k}'"))
        .collect();
    script.push_str(&format!(
        "DELETE FROM \"site_setting\" WHERE \"site_id\" = '{site}' AND \"key\" IN ({});\n",
        keys.join(", ")
    ));
    script.push_str(db_sql);
    script.push_str(&format!(
        "UPDATE \"media\" SET \"provider\" = 'local' WHERE \"site_id\" = '{site}';\nCOMMIT;"
    ));
    script
}

/// Reverse the rows of one table's section: the order a database with
/// another collation might have given them.
pub fn reverse_section(sql: &str, table: &str) -> String {
    let head = format!("-- {table}\n");
    let Some(start) = sql.find(&head) else {
        return sql.to_string();
    };
    let body_start = start + head.len();
    let end = sql[body_start..]
        .find("\n\n")
        .map_or(sql.len(), |e| body_start + e);
    let mut lines: Vec<&str> = sql[body_start..end].lines().collect();
    lines.reverse();
    format!("{}{}{}", &sql[..body_start], lines.join("\n"), &sql[end..])
}
