//! Database rows as tree entries: typed values, the order-preserving key
//! encoding of a primary key, and the row value encoding.
//! (format-spec/README.md §10)
//!
//! A table's rows are one content-defined tree (see `tree`) keyed by
//! [`encode_key`] of the primary-key values. Because node boundaries are
//! decided by keys, a row that changes rewrites only its leaf and the path
//! above it, however the database laid out its pages.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Version of the row value encoding; recorded in every table's schema.
pub const ROW_FORMAT: u16 = 1;

/// One column value, typed as the database gave it, so that it goes back
/// exactly: an integer stays an integer, a real keeps every bit, text keeps
/// every byte.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    Bool(bool),
    /// Postgres `timestamptz`: microseconds since 2000-01-01 00:00:00 UTC
    /// (its own binary form; ±infinity are i64::MAX / i64::MIN).
    Timestamp(i64),
    /// Postgres `timestamp` without time zone, same unit and epoch.
    LocalTimestamp(i64),
    /// Postgres `date`: days since 2000-01-01 (±infinity are i32::MAX / MIN).
    Date(i32),
    /// Any other Postgres type, as its text output; the column's declared
    /// type parses it back.
    Other(String),
    /// SQLite TEXT whose bytes are not valid UTF-8 (SQLite stores any
    /// bytes as text): kept byte for byte, and still text, not a blob.
    RawText(Vec<u8>),
}

impl Value {
    /// A short human rendering for diffs and errors.
    pub fn display(&self) -> String {
        match self {
            Value::Null => "NULL".into(),
            Value::Integer(i) => i.to_string(),
            Value::Real(f) => format!("{f:?}"),
            Value::Text(s) | Value::Other(s) => {
                let mut t: String = s.chars().take(60).collect();
                if t.len() < s.len() {
                    t.push('…');
                }
                format!("{t:?}")
            }
            Value::Blob(b) => format!("blob of {} bytes", b.len()),
            Value::RawText(b) => format!("{:?} (not UTF-8)", String::from_utf8_lossy(b)),
            Value::Bool(b) => b.to_string(),
            Value::Timestamp(us) | Value::LocalTimestamp(us) => format!("timestamp {us}µs"),
            Value::Date(d) => format!("date {d}"),
        }
    }

    /// The bytes of a text value, UTF-8 or not.
    pub fn text_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Text(s) | Value::Other(s) => Some(s.as_bytes()),
            Value::RawText(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

// Key tags, in the order rows sort: NULL first, then numbers, text, blobs.
const TAG_NULL: u8 = 0x05;
const TAG_FALSE: u8 = 0x08;
const TAG_TRUE: u8 = 0x09;
const TAG_INT: u8 = 0x10;
const TAG_REAL: u8 = 0x11;
const TAG_TIME: u8 = 0x12;
const TAG_LOCAL_TIME: u8 = 0x13;
const TAG_DATE: u8 = 0x14;
const TAG_TEXT: u8 = 0x20;
const TAG_OTHER: u8 = 0x21;
const TAG_BLOB: u8 = 0x30;

fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    // 0x00 inside a value becomes 00 FF, and 00 00 ends it, so a shorter
    // value sorts before any longer value it is a prefix of.
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn ordered_i64(i: i64) -> [u8; 8] {
    ((i as u64) ^ (1 << 63)).to_be_bytes()
}

fn ordered_f64(f: f64) -> [u8; 8] {
    let bits = f.to_bits();
    let o = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    o.to_be_bytes()
}

/// Seconds from 1970-01-01 to Postgres' epoch, 2000-01-01.
const PG_EPOCH_SECS: i64 = 946_684_800;

/// Proleptic Gregorian (year, month, day) of a day count since
/// 1970-01-01, for any i64 count (no calendar library: Postgres dates reach
/// 4713 BC and 5874897 AD, beyond what date crates take).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + (m <= 2) as i64;
    (y, m, d)
}

/// `YYYY-MM-DD` as Postgres writes it, and whether the year is BC (year 0
/// is 1 BC: Postgres has no year 0).
fn pg_ymd(days_since_1970: i64) -> (String, bool) {
    let (y, m, d) = civil_from_days(days_since_1970);
    let (year, bc) = if y <= 0 { (1 - y, true) } else { (y, false) };
    (format!("{year:04}-{m:02}-{d:02}"), bc)
}

/// Days from 1970-01-01 to Postgres' epoch, 2000-01-01.
const PG_EPOCH_DAYS: i64 = PG_EPOCH_SECS / 86_400;

/// Postgres's text form of a `timestamp[tz]` in microseconds since 2000-01-01
/// (`infinity` for its sentinels): what COPY and db.sql literals carry.
pub fn pg_timestamp_text(us: i64, zone: bool) -> String {
    match us {
        i64::MAX => return "infinity".into(),
        i64::MIN => return "-infinity".into(),
        _ => {}
    }
    let secs = us.div_euclid(1_000_000) + PG_EPOCH_SECS;
    let micros = us.rem_euclid(1_000_000);
    let (date, bc) = pg_ymd(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{date} {:02}:{:02}:{:02}.{micros:06}{}{}",
        t / 3600,
        t / 60 % 60,
        t % 60,
        if zone { "+00" } else { "" },
        if bc { " BC" } else { "" }
    )
}

/// Postgres's text form of a `date` in days since 2000-01-01.
pub fn pg_date_text(days: i32) -> String {
    match days {
        i32::MAX => return "infinity".into(),
        i32::MIN => return "-infinity".into(),
        _ => {}
    }
    let (date, bc) = pg_ymd(days as i64 + PG_EPOCH_DAYS);
    if bc {
        format!("{date} BC")
    } else {
        date
    }
}

/// Encode primary-key values so that byte order follows value order within
/// each type, and tuples compare column by column.
pub fn encode_key(values: &[&Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    for v in values {
        match v {
            Value::Null => out.push(TAG_NULL),
            Value::Bool(false) => out.push(TAG_FALSE),
            Value::Bool(true) => out.push(TAG_TRUE),
            Value::Integer(i) => {
                out.push(TAG_INT);
                out.extend_from_slice(&ordered_i64(*i));
            }
            Value::Real(f) => {
                out.push(TAG_REAL);
                out.extend_from_slice(&ordered_f64(*f));
            }
            Value::Timestamp(t) => {
                out.push(TAG_TIME);
                out.extend_from_slice(&ordered_i64(*t));
            }
            Value::LocalTimestamp(t) => {
                out.push(TAG_LOCAL_TIME);
                out.extend_from_slice(&ordered_i64(*t));
            }
            Value::Date(d) => {
                out.push(TAG_DATE);
                out.extend_from_slice(&ordered_i64(*d as i64));
            }
            Value::Text(s) => {
                out.push(TAG_TEXT);
                push_escaped(&mut out, s.as_bytes());
            }
            // Text compares byte by byte in SQLite (BINARY): the same tag,
            // so valid and invalid UTF-8 sort together as the database does.
            Value::RawText(b) => {
                out.push(TAG_TEXT);
                push_escaped(&mut out, b);
            }
            Value::Other(s) => {
                out.push(TAG_OTHER);
                push_escaped(&mut out, s.as_bytes());
            }
            Value::Blob(b) => {
                out.push(TAG_BLOB);
                push_escaped(&mut out, b);
            }
        }
    }
    out
}

/// A row's stored value: its column values, in the order of the table
/// schema's captured columns.
pub fn encode_row(values: &[Value]) -> Vec<u8> {
    // Serialising plain enums of owned data into a Vec cannot fail.
    postcard::to_stdvec(values).unwrap_or_default()
}

pub fn decode_row(bytes: &[u8]) -> Result<Vec<Value>> {
    postcard::from_bytes(bytes).map_err(|e| Error::corrupt("row", e.to_string()))
}

/// The primary key as text for messages and diffs: `a` or `(a, b)`.
pub fn display_key(values: &[&Value]) -> String {
    let parts: Vec<String> = values
        .iter()
        .map(|v| match v {
            Value::Text(s) => s.clone(),
            other => other.display(),
        })
        .collect();
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_follows_value_order() {
        let ints = [i64::MIN, -5, -1, 0, 1, 7, 300, i64::MAX];
        for w in ints.windows(2) {
            assert!(
                encode_key(&[&Value::Integer(w[0])]) < encode_key(&[&Value::Integer(w[1])]),
                "{w:?}"
            );
        }
        let reals = [
            f64::NEG_INFINITY,
            -2.5,
            -0.0,
            0.0,
            1e-300,
            3.25,
            f64::INFINITY,
        ];
        for w in reals.windows(2) {
            assert!(encode_key(&[&Value::Real(w[0])]) < encode_key(&[&Value::Real(w[1])]));
        }
        let texts = ["", "a", "a\0", "a\0b", "ab", "b", "é"];
        for w in texts.windows(2) {
            let a = Value::Text(w[0].into());
            let b = Value::Text(w[1].into());
            assert!(encode_key(&[&a]) < encode_key(&[&b]), "{w:?}");
        }
        // Tuples: the first column decides before the second is looked at.
        let k = |a: &str, b: i64| encode_key(&[&Value::Text(a.into()), &Value::Integer(b)]);
        assert!(k("a", 9) < k("ab", 0));
        assert!(k("a", 1) < k("a", 2));
    }

    #[test]
    fn postgres_dates_and_times_in_every_era() {
        // Postgres' own output for the same values.
        assert_eq!(pg_date_text(0), "2000-01-01");
        assert_eq!(pg_date_text(-730_119), "0001-01-01");
        assert_eq!(pg_date_text(-730_120), "0001-12-31 BC");
        assert_eq!(pg_date_text(-2_451_507), "4713-01-01 BC");
        assert_eq!(pg_date_text(2_921_940), "10000-01-01");
        assert_eq!(pg_date_text(2_145_031_948), "5874897-12-31");
        assert_eq!(pg_timestamp_text(-1, true), "1999-12-31 23:59:59.999999+00");
        assert_eq!(
            pg_timestamp_text(-730_120 * 86_400_000_000, false),
            "0001-12-31 00:00:00.000000 BC"
        );
        assert_eq!(
            pg_timestamp_text(9_223_371_331_199_999_999, true),
            "294276-12-31 23:59:59.999999+00"
        );
    }

    #[test]
    fn rows_round_trip_exactly() {
        let row = vec![
            Value::Null,
            Value::Integer(-42),
            Value::Real(f64::from_bits(0x7ff8_0000_dead_beef)),
            Value::Text("line1\nline2 'quoted' \"dq\" ; -- 文字 🎉\0end".into()),
            Value::Blob(vec![0, 1, 2, 255]),
            Value::Bool(true),
            Value::Timestamp(i64::MAX),
            Value::Date(-3),
            Value::Other("12.3400".into()),
        ];
        let back = decode_row(&encode_row(&row)).unwrap();
        assert_eq!(format!("{back:?}"), format!("{row:?}"));
        match (&back[2], &row[2]) {
            (Value::Real(a), Value::Real(b)) => assert_eq!(a.to_bits(), b.to_bits()),
            _ => panic!("real lost its type"),
        }
    }
}
