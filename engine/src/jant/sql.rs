//! Jant's `db.sql` dialect (jant-format.md §4.1, §4.5): how a row is
//! written as one `INSERT` line, how a file is split into statements, and
//! how one `INSERT` is read back into typed values.
//!
//! The writer is byte-exact with Jant's `dumpDatabaseToSql`, because Jant's
//! importer rewrites legacy statements with regular expressions that expect
//! exactly `INSERT INTO "t" (` and `) VALUES(`. The splitter is Jant's
//! `splitSqlStatements` state machine, fed in blocks so that a dump of any
//! size is read with memory bounded by its largest statement.

use crate::error::{Error, Result};
use crate::row::{self, Value};
use crate::schema::quote_ident;
use std::fmt::Write as _;

/// The two SQL families Jant writes snapshots for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Pg,
}

impl Dialect {
    /// The name Jant uses in `meta.json`.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Pg => "pg",
        }
    }

    pub fn parse(s: &str) -> Option<Dialect> {
        match s {
            "sqlite" => Some(Dialect::Sqlite),
            "pg" => Some(Dialect::Pg),
            _ => None,
        }
    }
}

/// Append `v` as an SQL literal the target dialect reads back as the same
/// value. Text is quoted with `''` as the only escape: newlines, tabs and
/// backslashes go in raw, as Jant writes them.
pub fn write_literal(out: &mut String, v: &Value, dialect: Dialect) {
    match v {
        Value::Null => out.push_str("NULL"),
        Value::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Real(f) if f.is_finite() => out.push_str(&js_number(*f)),
        Value::Real(_) => out.push_str("NULL"),
        Value::Text(s) | Value::Other(s) => quote_into(out, s),
        // Text that is not UTF-8 has no literal in a UTF-8 file; SQLite
        // makes the same text value from its bytes. (Postgres text is
        // always UTF-8, so a pg dump never holds one.)
        Value::RawText(b) => match dialect {
            Dialect::Sqlite => {
                let _ = write!(out, "CAST(X'{}' AS TEXT)", hex::encode(b));
            }
            Dialect::Pg => quote_into(out, &String::from_utf8_lossy(b)),
        },
        Value::Blob(b) => {
            let hex = hex::encode(b);
            match dialect {
                Dialect::Sqlite => {
                    let _ = write!(out, "X'{hex}'");
                }
                Dialect::Pg => {
                    let _ = write!(out, "'\\x{hex}'");
                }
            }
        }
        Value::Bool(b) => out.push_str(match (dialect, b) {
            (Dialect::Sqlite, true) => "1",
            (Dialect::Sqlite, false) => "0",
            (Dialect::Pg, true) => "true",
            (Dialect::Pg, false) => "false",
        }),
        Value::Timestamp(us) => quote_into(out, &row::pg_timestamp_text(*us, true)),
        Value::LocalTimestamp(us) => quote_into(out, &row::pg_timestamp_text(*us, false)),
        Value::Date(d) => quote_into(out, &row::pg_date_text(*d)),
    }
}

fn quote_into(out: &mut String, s: &str) {
    out.push('\'');
    for (i, part) in s.split('\'').enumerate() {
        if i > 0 {
            out.push_str("''");
        }
        out.push_str(part);
    }
    out.push('\'');
}

/// A finite number as JavaScript's `String(n)` writes it (ECMA-262
/// Number::toString): the shortest digits that round-trip, in plain
/// notation for exponents in [-7, 21), otherwise as `1.5e+21` / `1e-7`.
pub fn js_number(f: f64) -> String {
    if f == 0.0 {
        return "0".into();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits.
    let e = format!("{:e}", f.abs());
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exp + 1;
    let mut s = String::new();
    if f < 0.0 {
        s.push('-');
    }
    if k <= n && n <= 21 {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        s.push_str(&digits[..n as usize]);
        s.push('.');
        s.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-n) as usize));
        s.push_str(&digits);
    } else {
        s.push_str(&digits[..1]);
        if k > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        let _ = write!(s, "e{}{}", if n > 0 { "+" } else { "-" }, (n - 1).abs());
    }
    s
}

/// One row as Jant writes it: `INSERT INTO "t" ("a", "b") VALUES(1, 'x');`
pub fn insert_statement(
    out: &mut String,
    table: &str,
    columns: &[&str],
    values: &[Value],
    dialect: Dialect,
) {
    out.push_str("INSERT INTO ");
    out.push_str(&quote_ident(table));
    out.push_str(" (");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&quote_ident(c));
    }
    out.push_str(") VALUES(");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_literal(out, v, dialect);
    }
    out.push_str(");");
}

/// The three comment lines and the blank line that open every dump.
pub fn header(exported: &str, source: &str) -> String {
    format!("-- Jant database export\n-- Exported: {exported}\n-- Source: {source}\n\n")
}

/// One table's section of a dump, written row by row: `-- <table>`, an
/// INSERT line per row, a blank line; nothing at all for a table without
/// rows (Jant's `dumpDatabaseToSql`).
pub struct Section<'a> {
    table: &'a str,
    columns: &'a [&'a str],
    dialect: Dialect,
    rows: u64,
    line: String,
}

impl<'a> Section<'a> {
    pub fn new(table: &'a str, columns: &'a [&'a str], dialect: Dialect) -> Section<'a> {
        Section {
            table,
            columns,
            dialect,
            rows: 0,
            line: String::new(),
        }
    }

    pub fn row(&mut self, w: &mut dyn std::io::Write, values: &[Value]) -> std::io::Result<()> {
        self.line.clear();
        if self.rows == 0 {
            let _ = writeln!(self.line, "-- {}", self.table);
        }
        insert_statement(
            &mut self.line,
            self.table,
            self.columns,
            values,
            self.dialect,
        );
        self.line.push('\n');
        self.rows += 1;
        w.write_all(self.line.as_bytes())
    }

    /// Close the section; returns how many rows it holds.
    pub fn finish(self, w: &mut dyn std::io::Write) -> std::io::Result<u64> {
        if self.rows > 0 {
            w.write_all(b"\n")?;
        }
        Ok(self.rows)
    }
}

/// What the header comment lines said, read while splitting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub exported: Option<String>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Sql,
    Str,
    Ident,
    LineComment,
    BlockComment,
}

/// Jant's statement splitter, fed in blocks. Quotes (`'…'` with `''`,
/// `"…"` with `""`), `--` line comments and `/* */` block comments are
/// tracked; `;` outside them ends a statement; statements are trimmed and
/// empty ones dropped.
pub struct Splitter {
    state: State,
    current: Vec<u8>,
    /// A byte held back because its meaning depends on the next one.
    pending: Option<u8>,
    comment: Vec<u8>,
    line: u64,
    start_line: u64,
    pub header: Header,
    max_statement: usize,
}

/// A statement and the line it starts on.
pub struct Statement {
    pub text: String,
    pub line: u64,
}

impl Splitter {
    pub fn new(max_statement: usize) -> Splitter {
        Splitter {
            state: State::Sql,
            current: Vec::new(),
            pending: None,
            comment: Vec::new(),
            line: 1,
            start_line: 1,
            header: Header::default(),
            max_statement,
        }
    }

    pub fn feed(
        &mut self,
        block: &[u8],
        emit: &mut dyn FnMut(Statement) -> Result<()>,
    ) -> Result<()> {
        for &b in block {
            if let Some(p) = self.pending.take() {
                if self.pair(p, b, emit)? {
                    continue;
                }
            }
            self.byte(b, emit)?;
        }
        Ok(())
    }

    /// Handle a held-back byte `p` followed by `b`; true when `b` was consumed.
    fn pair(
        &mut self,
        p: u8,
        b: u8,
        emit: &mut dyn FnMut(Statement) -> Result<()>,
    ) -> Result<bool> {
        match (self.state, p, b) {
            (State::Str, b'\'', b'\'') | (State::Ident, b'"', b'"') => {
                self.push(p)?;
                self.push(b)?;
                Ok(true)
            }
            (State::Str, b'\'', _) | (State::Ident, b'"', _) => {
                self.push(p)?;
                self.state = State::Sql;
                Ok(false)
            }
            (State::BlockComment, b'*', b'/') => {
                self.state = State::Sql;
                Ok(true)
            }
            (State::BlockComment, b'*', _) => Ok(false),
            (State::Sql, b'-', b'-') => {
                self.space_before_comment()?;
                self.state = State::LineComment;
                self.comment.clear();
                Ok(true)
            }
            (State::Sql, b'/', b'*') => {
                self.space_before_comment()?;
                self.state = State::BlockComment;
                Ok(true)
            }
            (State::Sql, _, _) => {
                self.push(p)?;
                let _ = emit;
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    fn byte(&mut self, b: u8, emit: &mut dyn FnMut(Statement) -> Result<()>) -> Result<()> {
        if b == b'\n' {
            self.line += 1;
        }
        match self.state {
            State::LineComment => {
                if b == b'\n' {
                    self.note_comment();
                    self.push(b)?;
                    self.state = State::Sql;
                } else if self.comment.len() < 200 {
                    self.comment.push(b);
                }
            }
            State::BlockComment => {
                if b == b'*' {
                    self.pending = Some(b);
                } else if b == b'\n' {
                    self.push(b)?;
                }
            }
            State::Str => {
                if b == b'\'' {
                    self.pending = Some(b);
                } else {
                    self.push(b)?;
                }
            }
            State::Ident => {
                if b == b'"' {
                    self.pending = Some(b);
                } else {
                    self.push(b)?;
                }
            }
            State::Sql => match b {
                b'\'' => {
                    self.push(b)?;
                    self.state = State::Str;
                }
                b'"' => {
                    self.push(b)?;
                    self.state = State::Ident;
                }
                b'-' | b'/' => self.pending = Some(b),
                b';' => self.end_statement(emit)?,
                _ => self.push(b)?,
            },
        }
        Ok(())
    }

    fn note_comment(&mut self) {
        let c = String::from_utf8_lossy(&self.comment);
        let c = c.trim();
        if let Some(v) = c.strip_prefix("Exported:") {
            self.header
                .exported
                .get_or_insert_with(|| v.trim().to_string());
        } else if let Some(v) = c.strip_prefix("Source:") {
            self.header
                .source
                .get_or_insert_with(|| v.trim().to_string());
        }
    }

    fn space_before_comment(&mut self) -> Result<()> {
        if self
            .current
            .last()
            .is_some_and(|c| !c.is_ascii_whitespace())
        {
            self.push(b' ')?;
        }
        Ok(())
    }

    fn push(&mut self, b: u8) -> Result<()> {
        if self.current.is_empty() {
            if b.is_ascii_whitespace() {
                return Ok(());
            }
            self.start_line = self.line;
        }
        if self.current.len() >= self.max_statement {
            return Err(Error::Invalid(format!(
                "db.sql: the statement starting at line {} is longer than {} MiB",
                self.start_line,
                self.max_statement >> 20
            )));
        }
        self.current.push(b);
        Ok(())
    }

    fn end_statement(&mut self, emit: &mut dyn FnMut(Statement) -> Result<()>) -> Result<()> {
        let bytes = std::mem::take(&mut self.current);
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::Invalid(format!(
                "db.sql: the statement starting at line {} is not UTF-8 text",
                self.start_line
            ))
        })?;
        let trimmed = text.trim_end();
        if !trimmed.is_empty() {
            emit(Statement {
                text: trimmed.to_string(),
                line: self.start_line,
            })?;
        }
        Ok(())
    }

    /// End of input: the last statement may lack its `;`.
    pub fn finish(mut self, emit: &mut dyn FnMut(Statement) -> Result<()>) -> Result<Header> {
        if let Some(p) = self.pending.take() {
            match (self.state, p) {
                (State::Str, b'\'') | (State::Ident, b'"') => {
                    self.push(p)?;
                    self.state = State::Sql;
                }
                (State::Sql, _) => self.push(p)?,
                _ => {}
            }
        }
        match self.state {
            State::Str | State::Ident => {
                return Err(Error::Invalid(format!(
                    "db.sql: unterminated quoted value in the statement starting at line {}",
                    self.start_line
                )))
            }
            State::BlockComment => {
                return Err(Error::Invalid(
                    "db.sql: unterminated /* block comment".into(),
                ))
            }
            State::LineComment => self.note_comment(),
            State::Sql => {}
        }
        self.end_statement(emit)?;
        Ok(self.header)
    }
}

/// One parsed `INSERT`: a single row.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    pub table: String,
    pub columns: Vec<String>,
    pub values: Vec<Value>,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn keyword(&mut self, kw: &str) -> bool {
        self.ws();
        let end = self.i + kw.len();
        if end <= self.s.len()
            && self.s[self.i..end].eq_ignore_ascii_case(kw.as_bytes())
            && self
                .s
                .get(end)
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
        {
            self.i = end;
            true
        } else {
            false
        }
    }

    fn punct(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Text of a quoted run that starts at the current byte (`q`), with
    /// doubled quotes undone.
    fn quoted(&mut self, q: u8) -> Option<String> {
        let mut out = Vec::new();
        self.i += 1;
        loop {
            let c = *self.s.get(self.i)?;
            self.i += 1;
            if c == q {
                if self.s.get(self.i) == Some(&q) {
                    out.push(q);
                    self.i += 1;
                } else {
                    return String::from_utf8(out).ok();
                }
            } else {
                out.push(c);
            }
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.ws();
        match self.s.get(self.i)? {
            b'"' => self.quoted(b'"'),
            c if c.is_ascii_alphabetic() || *c == b'_' => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    self.i += 1;
                }
                Some(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
            }
            _ => None,
        }
    }

    fn literal(&mut self) -> std::result::Result<Value, String> {
        self.ws();
        let Some(&c) = self.s.get(self.i) else {
            return Err("a value is missing".into());
        };
        if c == b'\'' {
            return self
                .quoted(b'\'')
                .map(Value::Text)
                .ok_or_else(|| "a string value is not terminated".into());
        }
        if (c == b'X' || c == b'x') && self.s.get(self.i + 1) == Some(&b'\'') {
            self.i += 1;
            let hex = self
                .quoted(b'\'')
                .ok_or_else(|| "a blob value is not terminated".to_string())?;
            return hex::decode(&hex)
                .map(Value::Blob)
                .map_err(|_| format!("X'{hex}' is not a hexadecimal blob"));
        }
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+' | b'_'))
        {
            self.i += 1;
        }
        let token = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        match token.to_ascii_lowercase().as_str() {
            "null" => return Ok(Value::Null),
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            _ => {}
        }
        parse_number(&token).ok_or_else(|| {
            if token.is_empty() {
                let rest: String = String::from_utf8_lossy(&self.s[self.i..])
                    .chars()
                    .take(20)
                    .collect();
                format!("unexpected {rest:?} where a value should be")
            } else {
                format!(
                    "{token:?} is not a value Jant writes (string, number, NULL, boolean or blob)"
                )
            }
        })
    }
}

fn parse_number(t: &str) -> Option<Value> {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mant.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (mant, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !(digits(int) || (int.is_empty() && frac.is_some_and(digits))) {
        return None;
    }
    if frac.is_some_and(|f| !f.is_empty() && !digits(f)) {
        return None;
    }
    if let Some(e) = exp {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        if !digits(e) {
            return None;
        }
    }
    if frac.is_none() && exp.is_none() {
        if let Ok(i) = t.parse::<i64>() {
            return Some(Value::Integer(i));
        }
    }
    t.parse::<f64>().ok().map(Value::Real)
}

/// Parse one `INSERT INTO "t" ("c", …) VALUES(v, …)` statement, the only
/// statement form a Jant snapshot holds.
pub fn parse_insert(stmt: &str) -> std::result::Result<Insert, String> {
    let mut c = Cursor {
        s: stmt.as_bytes(),
        i: 0,
    };
    if !(c.keyword("INSERT") && c.keyword("INTO")) {
        return Err("not an INSERT statement".into());
    }
    let table = c.ident().ok_or("the table name is missing")?;
    if !c.punct(b'(') {
        return Err(format!("INSERT into {table} has no column list"));
    }
    let mut columns = Vec::new();
    loop {
        columns.push(c.ident().ok_or("a column name is malformed")?);
        if c.punct(b')') {
            break;
        }
        if !c.punct(b',') {
            return Err("the column list is malformed".into());
        }
    }
    if !c.keyword("VALUES") || !c.punct(b'(') {
        return Err(format!("INSERT into {table} has no VALUES(…) list"));
    }
    let mut values = Vec::new();
    loop {
        values.push(c.literal()?);
        if c.punct(b')') {
            break;
        }
        if !c.punct(b',') {
            return Err("the VALUES list is malformed".into());
        }
    }
    c.ws();
    if c.i != c.s.len() {
        return Err(format!(
            "unexpected text after the VALUES list of an INSERT into {table}"
        ));
    }
    if columns.len() != values.len() {
        return Err(format!(
            "INSERT into {table} names {} columns but gives {} values",
            columns.len(),
            values.len()
        ));
    }
    Ok(Insert {
        table,
        columns,
        values,
    })
}

/// The first characters of a statement, for error messages.
pub fn preview(stmt: &str) -> String {
    let mut p: String = stmt.chars().take(60).collect();
    if p.len() < stmt.len() {
        p.push('…');
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(sql: &str, block: usize) -> Result<(Vec<String>, Header)> {
        let mut s = Splitter::new(1 << 20);
        let mut out = Vec::new();
        let mut emit = |st: Statement| {
            out.push(st.text);
            Ok(())
        };
        for b in sql.as_bytes().chunks(block) {
            s.feed(b, &mut emit)?;
        }
        let h = s.finish(&mut emit)?;
        Ok((out, h))
    }

    #[test]
    fn js_numbers_match_ecmascript() {
        for (f, s) in [
            (1.5, "1.5"),
            (1.0, "1"),
            (-0.0, "0"),
            (100.0, "100"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (123456.789, "123456.789"),
            (-2.5e-10, "-2.5e-10"),
            (1775183427.0, "1775183427"),
        ] {
            assert_eq!(js_number(f), s, "{f:?}");
        }
    }

    #[test]
    fn splitter_tracks_quotes_and_comments_across_blocks() {
        let sql = "-- Jant database export\n-- Exported: 2026-01-01T00:00:00.000Z\n-- Source: node\n\n-- post\nINSERT INTO \"post\" (\"a\") VALUES('x;y -- no ''c'' /* n */');\nINSERT INTO \"p\"\"q\" (\"a\") VALUES(1);/* c; */INSERT INTO t (a) VALUES(2)";
        for block in [1, 2, 3, 7, 1000] {
            let (st, h) = split(sql, block).unwrap();
            assert_eq!(
                st,
                vec![
                    "INSERT INTO \"post\" (\"a\") VALUES('x;y -- no ''c'' /* n */')",
                    "INSERT INTO \"p\"\"q\" (\"a\") VALUES(1)",
                    "INSERT INTO t (a) VALUES(2)",
                ],
                "block {block}"
            );
            assert_eq!(h.exported.as_deref(), Some("2026-01-01T00:00:00.000Z"));
            assert_eq!(h.source.as_deref(), Some("node"));
        }
        let e = split("INSERT INTO t (a) VALUES('open);\n", 5).unwrap_err();
        assert_eq!(
            e.to_string(),
            "db.sql: unterminated quoted value in the statement starting at line 1"
        );
        assert!(split("/* open", 3).is_err());
    }

    #[test]
    fn inserts_round_trip_through_the_writer() {
        let values = vec![
            Value::Text("it's\n\ta \\ line; -- not a comment".into()),
            Value::Integer(-42),
            Value::Real(1.5),
            Value::Null,
            Value::Bool(true),
            Value::Blob(vec![0, 255]),
        ];
        let cols = ["a", "b\"c", "d", "e", "f", "g"];
        let mut s = String::new();
        insert_statement(&mut s, "my table", &cols, &values, Dialect::Pg);
        assert_eq!(
            s,
            "INSERT INTO \"my table\" (\"a\", \"b\"\"c\", \"d\", \"e\", \"f\", \"g\") VALUES('it''s\n\ta \\ line; -- not a comment', -42, 1.5, NULL, true, '\\x00ff');"
        );
        let (st, _) = split(&s, 4).unwrap();
        let ins = parse_insert(&st[0]).unwrap();
        assert_eq!(ins.table, "my table");
        assert_eq!(ins.columns, cols);
        assert_eq!(ins.values[..5], values[..5]);
        let mut s = String::new();
        insert_statement(&mut s, "t", &cols, &values, Dialect::Sqlite);
        assert!(s.ends_with("NULL, 1, X'00ff');"), "{s}");
        assert_eq!(parse_insert(&s[..s.len() - 1]).unwrap().values, {
            let mut v = values.clone();
            v[4] = Value::Integer(1);
            v
        });
    }

    #[test]
    fn malformed_inserts_are_named() {
        for (sql, msg) in [
            ("DROP TABLE \"user\"", "not an INSERT statement"),
            (
                "INSERT INTO t (a, b) VALUES(1)",
                "INSERT into t names 2 columns but gives 1 values",
            ),
            (
                "INSERT INTO t (a) VALUES(now())",
                "\"now\" is not a value Jant writes (string, number, NULL, boolean or blob)",
            ),
            (
                "INSERT INTO t (a) VALUES(1); DROP",
                "unexpected text after the VALUES list of an INSERT into t",
            ),
            (
                "INSERT INTO t (a) SELECT 1",
                "INSERT into t has no VALUES(…) list",
            ),
        ] {
            assert_eq!(parse_insert(sql).unwrap_err(), msg, "{sql}");
        }
    }

    #[test]
    fn timestamps_are_postgres_text() {
        let mut s = String::new();
        write_literal(&mut s, &Value::Timestamp(-1), Dialect::Pg);
        write_literal(&mut s, &Value::Date(1), Dialect::Pg);
        assert_eq!(s, "'1999-12-31 23:59:59.999999+00''2000-01-02'");
    }
}
