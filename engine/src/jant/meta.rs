//! A site snapshot's `meta.json` (jant-format.md §3): validated the way
//! Jant's importer validates it, and written the way Jant writes it.

use super::sql::Dialect;
use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::Value;

pub const FORMAT: &str = "jant-site-snapshot";
/// The version this jarc writes.
pub const VERSION: u8 = 2;

/// Snapshot `extra` keys of a snapshot imported from a Jant archive or
/// dump: what its `meta.json` and db.sql header said, so that an export
/// reproduces them.
pub const EXTRA_ORIGIN: &str = "jant.origin";
pub const EXTRA_DIALECT: &str = "jant.dialect";
pub const EXTRA_VERSION: &str = "jant.version";
pub const EXTRA_SCHEMA: &str = "jant.schema";
pub const EXTRA_SQL_SOURCE: &str = "jant.sql_source";
pub const EXTRA_SNAPSHOT_VERSION: &str = "jant.snapshot_version";
/// Prefix of the roots that keep an imported table's row order (the order
/// of its db.sql, which a database's collation decided): ordinal → row key.
pub const ORDER_ROOT_PREFIX: &str = "jant.order/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub id: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub version: u8,
    pub dialect: Option<Dialect>,
    pub jant: Option<String>,
    pub schema: Option<String>,
    pub site: Option<Site>,
    /// Pre-site-aware v1: no `site`, or `tables` lists the old `setting`.
    pub legacy: bool,
}

fn refuse(detail: impl Into<String>) -> Error {
    Error::Invalid(format!("meta.json: {}", detail.into()))
}

/// Parse and validate (Jant's `assertSnapshotMeta`, plus the string checks
/// for `jant` and `schema`). Unknown fields are ignored, as Jant ignores them.
pub fn parse(bytes: &[u8]) -> Result<Meta> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| refuse(format!("not valid JSON ({e})")))?;
    let Some(obj) = v.as_object() else {
        return Err(refuse("not a JSON object"));
    };
    match obj.get("format").and_then(Value::as_str) {
        Some(FORMAT) => {}
        other => {
            return Err(refuse(format!(
                "format is {}, expected \"{FORMAT}\"",
                other.map_or_else(|| "missing".to_string(), |s| format!("{s:?}"))
            )))
        }
    }
    let version = match obj.get("version").and_then(Value::as_f64) {
        Some(1.0) => 1,
        Some(2.0) => 2,
        _ => {
            return Err(refuse(format!(
                "version {} is not supported (Jant snapshots are version 1 or 2)",
                obj.get("version")
                    .map_or("missing".into(), |v| v.to_string())
            )))
        }
    };
    let dialect = match obj.get("dialect") {
        None => None,
        Some(d) => Some(d.as_str().and_then(Dialect::parse).ok_or_else(|| {
            refuse(format!(
                "dialect {d} is not supported (expected \"sqlite\" or \"pg\")"
            ))
        })?),
    };
    let string = |k: &str| -> Result<Option<String>> {
        match obj.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(refuse(format!("{k} must be a string, found {other}"))),
        }
    };
    let jant = string("jant")?;
    let schema = string("schema")?;
    let site = match obj.get("site") {
        None => None,
        Some(s) => {
            let id = s.get("id").and_then(Value::as_str);
            let key = s.get("key").and_then(Value::as_str);
            match (s.is_object(), id, key) {
                (true, Some(id), Some(key)) => Some(Site {
                    id: id.to_string(),
                    key: key.to_string(),
                }),
                _ => return Err(refuse("site must be an object with string id and key")),
            }
        }
    };
    let lists_setting = obj
        .get("tables")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|x| x.as_str() == Some("setting")));
    Ok(Meta {
        version,
        dialect,
        jant,
        schema,
        legacy: site.is_none() || lists_setting,
        site,
    })
}

#[derive(Serialize)]
struct Out<'a> {
    format: &'a str,
    version: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    dialect: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jant: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<&'a str>,
    site: OutSite<'a>,
}

#[derive(Serialize)]
struct OutSite<'a> {
    id: &'a str,
    key: &'a str,
}

/// `JSON.stringify(meta, null, 2) + "\n"` with Jant's key order.
pub fn render(
    dialect: Option<Dialect>,
    jant: Option<&str>,
    schema: Option<&str>,
    site: &Site,
) -> Vec<u8> {
    let out = Out {
        format: FORMAT,
        version: VERSION,
        dialect: dialect.map(Dialect::name),
        jant,
        schema,
        site: OutSite {
            id: &site.id,
            key: &site.key,
        },
    };
    // Serialising a struct of strings cannot fail.
    let mut v = serde_json::to_vec_pretty(&out).unwrap_or_default();
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jant_metas_parse_and_render_back() {
        let text = "{\n  \"format\": \"jant-site-snapshot\",\n  \"version\": 2,\n  \"dialect\": \"sqlite\",\n  \"jant\": \"0.10.0\",\n  \"schema\": \"0034_cheerful_rumiko_fujikawa\",\n  \"site\": {\n    \"id\": \"sit_01h\",\n    \"key\": \"default\"\n  }\n}\n";
        let m = parse(text.as_bytes()).unwrap();
        assert!(!m.legacy);
        let site = m.site.clone().unwrap();
        let back = render(m.dialect, m.jant.as_deref(), m.schema.as_deref(), &site);
        assert_eq!(String::from_utf8(back).unwrap(), text);
    }

    #[test]
    fn bad_metas_are_named() {
        for (json, msg) in [
            ("[]", "meta.json: not a JSON object"),
            (
                r#"{"format":"zip","version":2}"#,
                "meta.json: format is \"zip\", expected \"jant-site-snapshot\"",
            ),
            (
                r#"{"format":"jant-site-snapshot","version":3}"#,
                "meta.json: version 3 is not supported (Jant snapshots are version 1 or 2)",
            ),
            (
                r#"{"format":"jant-site-snapshot","version":2,"dialect":"mysql"}"#,
                "meta.json: dialect \"mysql\" is not supported (expected \"sqlite\" or \"pg\")",
            ),
            (
                r#"{"format":"jant-site-snapshot","version":2,"site":{"id":1,"key":"k"}}"#,
                "meta.json: site must be an object with string id and key",
            ),
            (
                r#"{"format":"jant-site-snapshot","version":2,"schema":5}"#,
                "meta.json: schema must be a string, found 5",
            ),
        ] {
            assert_eq!(parse(json.as_bytes()).unwrap_err().to_string(), msg);
        }
        let legacy =
            parse(br#"{"format":"jant-site-snapshot","version":1,"tables":["setting","post"]}"#)
                .unwrap();
        assert!(legacy.legacy && legacy.site.is_none() && legacy.version == 1);
    }
}
