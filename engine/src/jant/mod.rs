//! What Jant means: its media directory (reference §5.3: which files are
//! objects, how an object's metadata sidecar is read and written), its
//! tables and layers ([`tables`]), and how it finds its site ([`env`]).

pub mod dump;
pub mod env;
pub mod meta;
pub mod migrations;
pub mod rules;
pub mod spot_checks;
pub mod sql;
pub mod tables;

use serde_json::{Map, Value};

pub const SIDECAR_SUFFIX: &str = ".meta.json";
pub const MULTIPART_DIR: &str = ".multipart";

/// Sidecar fields in the order Jant writes them.
const FIELDS: [&str; 3] = ["contentType", "contentDisposition", "cacheControl"];

/// In-progress multipart uploads are not objects.
pub fn is_skipped_dir(rel_key: &str) -> bool {
    rel_key == MULTIPART_DIR
}

/// The object a sidecar key describes, if the key names a sidecar.
pub fn sidecar_target(key: &str) -> Option<&str> {
    key.strip_suffix(SIDECAR_SUFFIX).filter(|k| !k.is_empty())
}

/// Parse a sidecar into metadata pairs. `None` when it is not the JSON
/// object of strings Jant writes; such a sidecar is kept byte for byte only.
pub fn parse_sidecar(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let obj = v.as_object()?;
    let mut out = Vec::new();
    for f in FIELDS {
        if let Some(x) = obj.get(f) {
            out.push((f.to_string(), x.as_str()?.to_string()));
        }
    }
    for (k, x) in obj {
        if !FIELDS.contains(&k.as_str()) {
            out.push((k.clone(), x.as_str()?.to_string()));
        }
    }
    Some(out)
}

/// The sidecar bytes Jant would write for this metadata
/// (`JSON.stringify` of the fields in Jant's order, no whitespace).
pub fn render_sidecar(meta: &[(String, String)]) -> Vec<u8> {
    let mut m = Map::new();
    for (k, v) in meta {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    let mut out = String::from("{");
    let mut first = true;
    let ordered = FIELDS
        .iter()
        .filter_map(|f| m.get_key_value(*f))
        .chain(m.iter().filter(|(k, _)| !FIELDS.contains(&k.as_str())));
    for (k, v) in ordered {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&Value::String(k.clone()).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    }
    out.push('}');
    out.into_bytes()
}

/// The sidecar Jant's local driver writes for an object stored with this
/// metadata (a bucket object's headers, an archive object's guessed
/// type): its own fields only, empty ones left out.
pub fn sidecar_of(meta: &[(String, String)]) -> Vec<u8> {
    let fields: Vec<(String, String)> = meta
        .iter()
        .filter(|(k, v)| FIELDS.contains(&k.as_str()) && !v.is_empty())
        .cloned()
        .collect();
    render_sidecar(&fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_round_trip_matches_jant() {
        let raw =
            br#"{"contentType":"image/png","cacheControl":"public, max-age=31536000, immutable"}"#;
        let meta = parse_sidecar(raw).unwrap();
        assert_eq!(meta[0], ("contentType".into(), "image/png".into()));
        assert_eq!(render_sidecar(&meta), raw.to_vec());
        assert!(parse_sidecar(b"{\"contentType\": 5}").is_none());
        assert_eq!(sidecar_target("a/b.png.meta.json"), Some("a/b.png"));
        assert_eq!(sidecar_target(".meta.json"), None);
    }
}
