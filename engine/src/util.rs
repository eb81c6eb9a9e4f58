//! The bottom layer: the host's clock, name and page cache, and masking
//! secrets in connection strings. Knows nothing of repositories, sites or sources.

pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Ask the kernel to read the first `len` bytes of `file` into the page
/// cache (`POSIX_FADV_WILLNEED`), so the disk works while the caller does
/// something else. The kernel reads at most its read-ahead window per call,
/// so the hint goes out in steps of the smallest default window; a step
/// waits only when the device's queue is full. At most a quarter of the
/// machine's memory is asked for: a hint beyond what the cache can hold
/// would evict its own start before it is read. A hint only: what fails is
/// ignored, and the read itself reports it.
pub fn read_ahead(file: &std::fs::File, len: u64) {
    use std::os::fd::AsRawFd;
    const STEP: u64 = 128 << 10;
    // Asked once: the memory size is a syscall (sysinfo), and a backup
    // hints every file it reads.
    static QUARTER: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let quarter = *QUARTER.get_or_init(|| {
        // SAFETY: sysconf only reads configuration values.
        let (pages, page) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        (pages.max(0) as u64).saturating_mul(page.max(0) as u64) / 4
    });
    let end = len.min(quarter);
    let mut at = 0u64;
    while at < end {
        let (Ok(off), Ok(n)) = (
            libc::off_t::try_from(at),
            libc::off_t::try_from(STEP.min(end - at)),
        ) else {
            return;
        };
        // SAFETY: a plain syscall on a descriptor the caller keeps open.
        if unsafe { libc::posix_fadvise(file.as_raw_fd(), off, n, libc::POSIX_FADV_WILLNEED) } != 0
        {
            return;
        }
        at += STEP;
    }
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A connection string with every password in it replaced by `***`: a URL
/// (`scheme://user:password@host/…?password=…`, the password possibly
/// holding `/`, `?`, `@` or `:` unencoded) or a libpq keyword string
/// (`host=h password='a b\'c'`). When in doubt more is masked, never less:
/// the user part of a URL keeps its name, everything after it up to the
/// last `@` goes.
pub fn mask_url(s: &str) -> String {
    if let Some(scheme_end) = s.find("://") {
        return mask_uri(s, scheme_end + 3);
    }
    if let Some(pairs) = libpq_keywords(s) {
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for p in pairs.iter().filter(|p| p.key == "password") {
            out.push_str(&s[at..p.value.start]);
            out.push_str("***");
            at = p.value.end;
        }
        out.push_str(&s[at..]);
        return out;
    }
    s.to_string()
}

fn mask_uri(s: &str, authority: usize) -> String {
    let after = &s[authority..];
    let mut out = String::with_capacity(s.len());
    out.push_str(&s[..authority]);
    let rest = match after.rfind('@') {
        Some(at) => {
            let userinfo = &after[..at];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push_str(":***");
                }
                None => out.push_str(userinfo),
            }
            &after[at..]
        }
        None => after,
    };
    // `password=` as a query parameter, up to the next parameter.
    let mut rest = rest;
    while let Some(i) = rest.find("password=") {
        let boundary = i > 0 && matches!(rest.as_bytes()[i - 1], b'?' | b'&');
        let start = i + "password=".len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if boundary {
            out.push_str("***");
            rest = &rest[rest.find(['&', '#']).unwrap_or(rest.len())..];
        }
    }
    out.push_str(rest);
    out
}

/// One `key=value` of a libpq keyword string; `value` is the byte range of
/// the value as written (quotes included).
pub struct Keyword {
    pub key: String,
    pub value: std::ops::Range<usize>,
}

/// The keywords libpq accepts in a connection string (PostgreSQL 17).
const LIBPQ_KEYWORDS: [&str; 40] = [
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "require_auth",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "sslmode",
    "requiressl",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
];

/// Parse a libpq keyword/value connection string (`key = value`, values
/// bare or single-quoted with backslash escapes). `None` unless it is one:
/// at least one pair, every key one libpq knows.
pub fn libpq_keywords(s: &str) -> Option<Vec<Keyword>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i == b.len() {
            break;
        }
        let k0 = i;
        while i < b.len() && b[i] != b'=' && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &s[k0..i];
        skip_ws(&mut i);
        if i == b.len() || b[i] != b'=' || !LIBPQ_KEYWORDS.contains(&key) {
            return None;
        }
        i += 1;
        skip_ws(&mut i);
        let v0 = i;
        if i < b.len() && b[i] == b'\'' {
            i += 1;
            loop {
                match b.get(i) {
                    None => return None,
                    Some(b'\\') => i += 2,
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
        }
        let end = i.min(b.len());
        out.push(Keyword {
            key: key.to_string(),
            value: v0..end,
        });
        i = end;
    }
    (!out.is_empty()).then_some(out)
}

/// A time in nanoseconds since the epoch as RFC 3339, UTC: every time a
/// report prints is in this form.
pub fn rfc3339(ns: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `#[serde(serialize_with)]` for nanosecond times in reports.
pub fn ser_rfc3339<S: serde::Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*ns))
}

/// `ser_rfc3339` for a time that may be unknown (`null`).
pub fn ser_rfc3339_opt<S: serde::Serializer>(ns: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ns {
        Some(ns) => s.serialize_str(&rfc3339(*ns)),
        None => s.serialize_none(),
    }
}

/// The first `n` names, comma-separated, for a message that gives the
/// total count itself.
pub fn joined_first<S: AsRef<str>>(items: impl IntoIterator<Item = S>, n: usize) -> String {
    items
        .into_iter()
        .take(n)
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A few names for a message, and how many more there are.
pub fn first_few(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(5).map(|s| s.as_str()).collect();
    if items.len() > shown.len() {
        format!(
            "{} and {} more",
            shown.join(", "),
            items.len() - shown.len()
        )
    } else {
        shown.join(", ")
    }
}

/// A size as an operator writes it: a number of bytes with an optional
/// binary suffix K, M, G or T (`500M`, `2G`).
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let (num, mult) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
}

/// A percentage from 0 to 100 (`5`, `5%`, `2.5%`) in per mille.
pub fn parse_percent_permille(s: &str) -> Option<u32> {
    let p: f64 = s.trim().trim_end_matches('%').trim().parse().ok()?;
    (0.0..=100.0)
        .contains(&p)
        .then(|| (p * 10.0).round() as u32)
}

/// Requests in flight when a command reads from a store that is not a
/// local disk (an S3 repository, a media bucket): each GET is a round trip
/// that would otherwise leave the cores idle.
pub const REMOTE_THREADS: usize = 8;

/// A rayon pool of its own, or the global one (one thread a core).
pub struct Workers(Option<rayon::ThreadPool>);

impl Workers {
    /// A pool of `threads` threads, or the global pool when `None`. Made
    /// once per command: threads started per batch would each bring their
    /// buffers and allocator arena anew.
    pub fn new(threads: Option<usize>) -> crate::error::Result<Workers> {
        let Some(n) = threads else {
            return Ok(Workers(None));
        };
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("jarc-remote-{i}"))
            .build()
            .map(|p| Workers(Some(p)))
            .map_err(|e| crate::error::Error::io("worker threads", std::io::Error::other(e)))
    }

    /// Run `f` (which uses rayon) on these workers.
    pub fn install<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.0 {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }
}

/// Run `f` (which uses rayon) on a pool of `threads` threads, or on the
/// global pool (one thread a core) when `None`.
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> crate::error::Result<T> {
    Ok(Workers::new(threads)?.install(f))
}

/// Create `path` (it must not exist) readable by its owner only, and
/// write `bytes` into it: a password file never exists with a wider mode.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> crate::error::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| crate::error::Error::io(path, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| crate::error::Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_percentages() {
        assert_eq!(parse_size("500M"), Some(500 << 20));
        assert_eq!(parse_size(" 2g "), Some(2 << 30));
        assert_eq!(parse_size("17"), Some(17));
        assert_eq!(parse_size("1.5G"), None);
        assert_eq!(parse_size("99999999999T"), None);
        assert_eq!(parse_percent_permille("5%"), Some(50));
        assert_eq!(parse_percent_permille("2.5"), Some(25));
        assert_eq!(parse_percent_permille("101%"), None);
        assert_eq!(parse_percent_permille("x"), None);
    }

    #[test]
    fn passwords_are_masked_in_every_form() {
        for (given, shown) in [
            (
                "postgres://u:s3cret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("postgres://u:se/cret@h/db", "postgres://u:***@h/db"),
            ("postgres://u:se?cret@h/db", "postgres://u:***@h/db"),
            ("postgres://u:se@cr:et@h/db", "postgres://u:***@h/db"),
            (
                "postgresql://u:p%40ss@h/db?sslmode=require",
                "postgresql://u:***@h/db?sslmode=require",
            ),
            (
                "postgres://u@h/db?sslmode=disable&password=s3cret",
                "postgres://u@h/db?sslmode=disable&password=***",
            ),
            (
                "postgres://u@h/db?password=s3cret&sslmode=disable",
                "postgres://u@h/db?password=***&sslmode=disable",
            ),
            ("mysql://root:s3cret@h/db", "mysql://root:***@h/db"),
            (
                "host=h user=u password=s3cret dbname=d",
                "host=h user=u password=*** dbname=d",
            ),
            (
                "host=h password='se cr\\'et' dbname=d",
                "host=h password=*** dbname=d",
            ),
            ("host = h password = s3cret", "host = h password = ***"),
            ("password=s3cret", "password=***"),
            ("host=h old_password=x", "host=h old_password=x"),
            ("postgres://h/db", "postgres://h/db"),
            ("postgres://a@c/d", "postgres://a@c/d"),
            ("/srv/jant/data/jant.sqlite", "/srv/jant/data/jant.sqlite"),
        ] {
            let got = mask_url(given);
            assert_eq!(got, shown, "{given}");
            for secret in ["s3cret", "cret", "cr\\'et", "p%40ss"] {
                assert!(!got.contains(secret), "{given} leaks {secret}: {got}");
            }
        }
        assert!(libpq_keywords("host=h dbname=d").is_some());
        assert!(libpq_keywords("data/jant.sqlite").is_none());
        assert!(libpq_keywords("my=file.sqlite").is_none());
        assert!(libpq_keywords("host='unterminated").is_none());
    }
}
