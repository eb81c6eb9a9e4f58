//! Finding a Jant site the way Jant does (jant-format.md §5.3, §5.4): from
//! `DATA_DIR`, `DATABASE_URL`, `LOCAL_STORAGE_PATH`, `STORAGE_DRIVER` and
//! `S3_*`, read from the shell and from `.env` / `.env.node` in the working
//! directory. The shell wins over `.env.node`, which wins over `.env`.

use crate::error::{Error, Result};
use crate::util::mask_url;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The variables jarc reads; everything else in the files is ignored.
const VARS: [&str; 10] = [
    "DATA_DIR",
    "DATABASE_URL",
    "LOCAL_STORAGE_PATH",
    "STORAGE_DRIVER",
    "S3_ENDPOINT",
    "S3_BUCKET",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_REGION",
    "JARC_REPOSITORY",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Database {
    /// What a backup of this database records as its source.
    pub fn source_info(&self) -> crate::snapshot::SourceInfo {
        match self {
            Database::Sqlite(p) => crate::snapshot::SourceInfo::sqlite(p),
            Database::Postgres(u) => crate::snapshot::SourceInfo::postgres(u),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    Local(PathBuf),
    /// Jant's `S3_*` bucket (its `Debug` never shows the secret).
    S3(crate::backend::S3Config),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub data_dir: PathBuf,
    pub database: Database,
    pub storage: Storage,
}

impl Site {
    /// One line naming what will be backed up, with secrets masked.
    pub fn describe(&self) -> String {
        format!("{} + {}", self.describe_database(), self.describe_media())
    }

    pub fn describe_database(&self) -> String {
        match &self.database {
            Database::Sqlite(p) => format!("sqlite {}", p.display()),
            Database::Postgres(u) => format!("postgres {}", mask_url(u)),
        }
    }

    pub fn describe_media(&self) -> String {
        match &self.storage {
            Storage::Local(p) => format!("media {}", p.display()),
            Storage::S3(c) => format!("media bucket {}", c.describe()),
        }
    }
}

/// The variables in effect: files first, then the shell on top.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn load(cwd: &Path) -> Result<Env> {
        let mut env = Env::default();
        for name in [".env", ".env.node"] {
            let path = cwd.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => env.vars.extend(parse_dotenv(&text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        for v in VARS {
            if let Ok(x) = std::env::var(v) {
                env.vars.insert(v.to_string(), x);
            }
        }
        Ok(env)
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Set a variable, as a command-line flag overriding it does.
    pub fn set(&mut self, k: &str, v: &str) {
        self.vars.insert(k.to_string(), v.to_string());
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.vars
            .get(k)
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }
}

/// `KEY=value` lines; `export ` prefixes, `#` comments, and single or double
/// quotes (double quotes understand `\n`) as dotenv does.
pub fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let value = if let Some(inner) = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
            inner.replace("\\n", "\n").replace("\\\"", "\"")
        } else if let Some(inner) = v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
            inner.to_string()
        } else {
            // An unquoted value ends at a ` #` comment.
            v.split(" #").next().unwrap_or_default().trim().to_string()
        };
        out.push((k.trim().to_string(), value));
    }
    out
}

/// `a/./b` → `a/b`: paths are printed, so keep them tidy (`..` is kept,
/// since resolving it lexically can be wrong across symlinks).
fn tidy(p: PathBuf) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Resolve the site the variables describe, relative to `cwd`.
pub fn discover(env: &Env, cwd: &Path) -> Result<Site> {
    let mut site = discover_raw(env, cwd)?;
    site.data_dir = tidy(site.data_dir);
    if let Database::Sqlite(p) = &mut site.database {
        *p = tidy(std::mem::take(p));
    }
    if let Storage::Local(p) = &mut site.storage {
        *p = tidy(std::mem::take(p));
    }
    Ok(site)
}

fn discover_raw(env: &Env, cwd: &Path) -> Result<Site> {
    let db_url = env.get("DATABASE_URL");
    let sqlite_from_url = match db_url {
        Some(u) if is_postgres_url(u) => None,
        Some(u) => Some(sqlite_path(u, cwd)?),
        None => None,
    };
    let data_dir = match env.get("DATA_DIR") {
        Some(d) => cwd.join(d),
        None => match &sqlite_from_url {
            Some(p) => p
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| cwd.into()),
            None => cwd.join("data"),
        },
    };
    let database = match (db_url, sqlite_from_url) {
        (_, Some(p)) => Database::Sqlite(p),
        (Some(u), None) => Database::Postgres(u.to_string()),
        (None, None) => Database::Sqlite(data_dir.join("jant.sqlite")),
    };
    let driver = env.get("STORAGE_DRIVER").unwrap_or("local");
    let storage =
        match driver {
            "local" => Storage::Local(match env.get("LOCAL_STORAGE_PATH") {
                Some(p) => cwd.join(p),
                None => data_dir.join("media"),
            }),
            "s3" => Storage::S3(s3_config(env, None)?),
            "r2" => return Err(Error::refused(
                "STORAGE_DRIVER=r2 is a Cloudflare Workers binding, which a Node site cannot use",
                crate::error::Hint::MediaDirectory,
            )),
            other => {
                return Err(Error::Invalid(format!(
                    "STORAGE_DRIVER={other:?} is not one of local, s3, r2"
                )))
            }
        };
    Ok(Site {
        data_dir,
        database,
        storage,
    })
}

/// A Postgres connection string: a `postgres://` / `postgresql://` URL, or
/// a libpq keyword string (`host=… dbname=…`), both of which the client
/// takes.
pub fn is_postgres_url(u: &str) -> bool {
    u.starts_with("postgres://")
        || u.starts_with("postgresql://")
        || crate::util::libpq_keywords(u).is_some()
}

/// The SQLite file a `DATABASE_URL` names: `file:./rel`, `file:/abs`,
/// `file:///abs` (percent-decoded, query ignored) or a plain path.
pub fn sqlite_path(url: &str, cwd: &Path) -> Result<PathBuf> {
    if url == ":memory:" || url.starts_with("file::memory:") {
        return Err(Error::Invalid(
            "DATABASE_URL names an in-memory SQLite database, which has nothing to back up".into(),
        ));
    }
    let Some(rest) = url.strip_prefix("file:") else {
        if url.contains("://") {
            return Err(Error::Invalid(format!(
                "DATABASE_URL {} is neither a SQLite path or file: URL nor a postgres:// URL",
                mask_url(url)
            )));
        }
        return Ok(cwd.join(url));
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let path = match rest.strip_prefix("//") {
        // file://host/path: only an empty host or localhost is local.
        Some(r) => {
            let slash = r.find('/').unwrap_or(r.len());
            let host = &r[..slash];
            if !host.is_empty() && host != "localhost" {
                return Err(Error::Invalid(format!(
                    "DATABASE_URL {url} names a remote host; jarc reads local SQLite files only"
                )));
            }
            r[slash..].to_string()
        }
        None => rest.to_string(),
    };
    let decoded = percent_decode(&path)
        .ok_or_else(|| Error::Invalid(format!("DATABASE_URL {url} has a bad %-escape")))?;
    Ok(cwd.join(decoded))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Jant's bucket as its `S3_*` variables describe it (`bucket` overrides
/// `S3_BUCKET`): path-style unless the endpoint is AWS's, region `auto`
/// unless `S3_REGION` says otherwise.
pub fn s3_config(env: &Env, bucket: Option<&str>) -> Result<crate::backend::S3Config> {
    let need = |k: &str| {
        env.get(k).map(str::to_string).ok_or_else(|| {
            Error::Invalid(format!(
                "{k} is not set; Jant's S3 storage needs S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY"
            ))
        })
    };
    Ok(crate::backend::S3Config {
        endpoint: Some(need("S3_ENDPOINT")?),
        bucket: match bucket {
            Some(b) => b.to_string(),
            None => need("S3_BUCKET")?,
        },
        prefix: String::new(),
        access_key_id: need("S3_ACCESS_KEY_ID")?,
        secret_access_key: need("S3_SECRET_ACCESS_KEY")?,
        region: env.get("S3_REGION").unwrap_or("auto").to_string(),
        session_token: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(pairs: &[(&str, &str)]) -> Result<Site> {
        discover(
            &Env::from_pairs(pairs.iter().copied()),
            Path::new("/srv/app"),
        )
    }

    #[test]
    fn defaults_follow_jant() {
        let s = site(&[]).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/app/data"));
        assert_eq!(
            s.database,
            Database::Sqlite("/srv/app/data/jant.sqlite".into())
        );
        assert_eq!(s.storage, Storage::Local("/srv/app/data/media".into()));
    }

    #[test]
    fn sqlite_url_forms_and_data_dir_inference() {
        for (url, want) in [
            ("file:./db/x.sqlite", "/srv/app/db/x.sqlite"),
            (
                "file:/var/lib/jant/jant.sqlite",
                "/var/lib/jant/jant.sqlite",
            ),
            (
                "file:///var/lib/jant/jant.sqlite",
                "/var/lib/jant/jant.sqlite",
            ),
            (
                "file:///var/lib/my%20site/j.sqlite?mode=ro",
                "/var/lib/my site/j.sqlite",
            ),
            ("rel/j.sqlite", "/srv/app/rel/j.sqlite"),
        ] {
            let s = site(&[("DATABASE_URL", url)]).unwrap();
            assert_eq!(s.database, Database::Sqlite(want.into()), "{url}");
            // DATA_DIR unset: the database's directory, and media below it.
            let dir = Path::new(want).parent().unwrap();
            assert_eq!(s.storage, Storage::Local(dir.join("media")), "{url}");
        }
        let s = site(&[
            ("DATA_DIR", "/d"),
            ("DATABASE_URL", "postgresql://u:pw@h:5432/jant"),
            ("LOCAL_STORAGE_PATH", "m"),
        ])
        .unwrap();
        assert_eq!(
            s.database,
            Database::Postgres("postgresql://u:pw@h:5432/jant".into())
        );
        assert_eq!(s.storage, Storage::Local("/srv/app/m".into()));
        assert_eq!(
            s.describe(),
            "postgres postgresql://u:***@h:5432/jant + media /srv/app/m"
        );
        assert!(site(&[("DATABASE_URL", ":memory:")]).is_err());
        assert!(site(&[("DATABASE_URL", "mysql://x")]).is_err());
    }

    #[test]
    fn s3_needs_every_variable() {
        let e = site(&[("STORAGE_DRIVER", "s3"), ("S3_ENDPOINT", "http://x")]).unwrap_err();
        assert!(e.to_string().contains("S3_BUCKET is not set"), "{e}");
    }

    #[test]
    fn dotenv_parsing() {
        let got = parse_dotenv(
            "# c\nexport A=1\nB=\"two\\nlines\"\nC='x y'\nD=plain # note\n\nbad line\n",
        );
        assert_eq!(
            got,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two\nlines".into()),
                ("C".into(), "x y".into()),
                ("D".into(), "plain".into()),
            ]
        );
        assert_eq!(mask_url("postgres://a:b@c/d"), "postgres://a:***@c/d");
        assert_eq!(mask_url("postgres://a@c/d"), "postgres://a@c/d");
    }
}
