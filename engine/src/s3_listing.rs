//! A media bucket's listing that takes every key as the bucket has it.
//!
//! object_store refuses a whole LIST page when one key is not a path it
//! accepts (`../x`, `a//c`, `b/./y`), and one such key in a Jant media
//! bucket would stop every backup of it. This is S3's ListObjectsV2, signed
//! with AWS Signature Version 4, that returns every key verbatim; the media
//! source then leaves out (and names) the keys it cannot store or write
//! back safely, and backs up the rest. Repositories are listed through
//! object_store: their keys are jarc's own.

use crate::backend::{Listed, S3Config};
use crate::error::{Error, Result};
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// What SigV4 leaves unescaped in a query value or path segment (RFC 3986
/// unreserved characters).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The SHA-256 of an empty body, which a GET signs.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn enc(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // A key of any length is accepted by HMAC.
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// Where a ListObjectsV2 request goes: the URL without its query, the
/// Host header's value and the canonical URI.
struct Target {
    base: String,
    host: String,
    uri: String,
}

fn target(cfg: &S3Config) -> Result<Target> {
    let bad = |why: &str| Error::Invalid(format!("media bucket {}: {why}", cfg.describe()));
    // An endpoint may carry a path (a server behind a reverse proxy under
    // `/s3`): it goes before the bucket.
    let (scheme, host, path) = match &cfg.endpoint {
        Some(e) => {
            let (scheme, rest) = e
                .split_once("://")
                .ok_or_else(|| bad("the endpoint has no http:// or https://"))?;
            let rest = rest.trim_end_matches('/');
            let (host, path) = match rest.split_once('/') {
                Some((h, p)) => (h, format!("/{p}")),
                None => (rest, String::new()),
            };
            (scheme.to_string(), host.to_string(), path)
        }
        None => (
            "https".into(),
            format!("s3.{}.amazonaws.com", cfg.region),
            String::new(),
        ),
    };
    // As the object store client addresses it (`S3Config::store`): by
    // path on any endpoint but AWS's own, by host on AWS.
    Ok(if cfg.path_style() {
        Target {
            base: format!("{scheme}://{host}{path}/{}", enc(&cfg.bucket)),
            host,
            uri: format!("{path}/{}", enc(&cfg.bucket)),
        }
    } else {
        let host = format!("{}.{host}", cfg.bucket);
        Target {
            base: format!("{scheme}://{host}/"),
            host,
            uri: "/".into(),
        }
    })
}

/// The headers of one signed GET: (name, value) pairs to send.
fn sign(
    cfg: &S3Config,
    t: &Target,
    query: &str,
    now: time::OffsetDateTime,
) -> Vec<(String, String)> {
    let date = format!(
        "{:04}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        now.hour(),
        now.minute(),
        now.second()
    );
    let mut headers = vec![
        ("host".to_string(), t.host.clone()),
        ("x-amz-content-sha256".to_string(), EMPTY_SHA256.to_string()),
        ("x-amz-date".to_string(), stamp.clone()),
    ];
    if let Some(tok) = &cfg.session_token {
        headers.push(("x-amz-security-token".to_string(), tok.clone()));
    }
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let request = format!(
        "GET\n{}\n{query}\n{canonical_headers}\n{signed}\n{EMPTY_SHA256}",
        t.uri
    );
    let scope = format!("{date}/{}/s3/aws4_request", cfg.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(request.as_bytes()))
    );
    let mut key = hmac(format!("AWS4{}", cfg.secret_access_key).as_bytes(), &date);
    for part in [cfg.region.as_str(), "s3", "aws4_request"] {
        key = hmac(&key, part);
    }
    let signature = hex::encode(hmac(&key, &to_sign));
    headers.push((
        "authorization".to_string(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            cfg.access_key_id
        ),
    ));
    // reqwest sets Host from the URL.
    headers.retain(|(k, _)| k != "host");
    headers
}

/// One page of a ListObjectsV2 answer.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Page {
    #[serde(default)]
    is_truncated: bool,
    next_continuation_token: Option<String>,
    #[serde(default)]
    contents: Vec<Object>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Object {
    key: String,
    #[serde(default)]
    size: u64,
    last_modified: Option<String>,
    #[serde(rename = "ETag")]
    e_tag: Option<String>,
}

fn parse_page(xml: &str) -> std::result::Result<Page, String> {
    quick_xml::de::from_str(xml).map_err(|e| e.to_string())
}

fn modified_ns(s: &str) -> i64 {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp_nanos() as i64)
        .unwrap_or_default()
}

/// Every object of the bucket under its configured prefix and then the
/// folder `folder` (empty: all), named relative to the configured prefix
/// with its key exactly as the bucket has it, sorted by key. `count` is
/// called once per page (a LIST request).
pub fn list(
    cfg: &S3Config,
    folder: &str,
    rt: &tokio::runtime::Runtime,
    count: impl Fn(),
) -> Result<Vec<Listed>> {
    let mut pages = Pages::new(cfg, folder, rt, count)?;
    let mut out = Vec::new();
    while let Some(page) = pages.next_page()? {
        out.extend(page);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A listing read one page (up to 1,000 keys) at a time, so a bucket of a
/// million objects is never held whole. Pages come in the order the
/// server sends them: S3 lists keys in ascending UTF-8 byte order.
pub struct Pages<'a, F: Fn()> {
    cfg: &'a S3Config,
    rt: &'a tokio::runtime::Runtime,
    count: F,
    client: reqwest::Client,
    target: Target,
    /// What the listed names are relative to, and what they start with.
    base: String,
    prefix: String,
    /// `None` once the last page was read.
    token: Option<Option<String>>,
}

impl<'a, F: Fn()> Pages<'a, F> {
    pub fn new(
        cfg: &'a S3Config,
        folder: &str,
        rt: &'a tokio::runtime::Runtime,
        count: F,
    ) -> Result<Pages<'a, F>> {
        let target = target(cfg)?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| fail(cfg, e.to_string()))?;
        let base = if cfg.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", cfg.prefix)
        };
        let prefix = if folder.is_empty() {
            base.clone()
        } else {
            format!("{base}{folder}/")
        };
        Ok(Pages {
            cfg,
            rt,
            count,
            client,
            target,
            base,
            prefix,
            token: Some(None),
        })
    }

    /// The next page's objects, or `None` after the last.
    pub fn next_page(&mut self) -> Result<Option<Vec<Listed>>> {
        let Some(token) = self.token.take() else {
            return Ok(None);
        };
        // Query parameters sorted by name, each escaped: the canonical
        // query string is the one sent.
        let mut q = Vec::new();
        if let Some(tok) = &token {
            q.push(format!("continuation-token={}", enc(tok)));
        }
        q.push("list-type=2".to_string());
        if !self.prefix.is_empty() {
            q.push(format!("prefix={}", enc(&self.prefix)));
        }
        let query = q.join("&");
        let page = with_retries(|| {
            let headers = sign(
                self.cfg,
                &self.target,
                &query,
                time::OffsetDateTime::now_utc(),
            );
            let mut req = self.client.get(format!("{}?{query}", self.target.base));
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
            }
            (self.count)();
            self.rt.block_on(async {
                let resp = req.send().await.map_err(|e| (true, e.to_string()))?;
                let status = resp.status();
                let body = resp.text().await.map_err(|e| (true, e.to_string()))?;
                if !status.is_success() {
                    let retry = status.is_server_error() || status.as_u16() == 429;
                    return Err((retry, format!("{status}: {}", first_line(&body))));
                }
                parse_page(&body).map_err(|e| (false, format!("unreadable answer: {e}")))
            })
        })
        .map_err(|m| fail(self.cfg, m))?;
        let out = page
            .contents
            .into_iter()
            .filter_map(|o| {
                let name = o.key.strip_prefix(self.base.as_str())?;
                Some(Listed {
                    name: name.to_string(),
                    size: o.size,
                    e_tag: o.e_tag,
                    modified_ns: o.last_modified.as_deref().map_or(0, modified_ns),
                })
            })
            .collect();
        if let (true, Some(next)) = (page.is_truncated, page.next_continuation_token) {
            self.token = Some(Some(next));
        }
        Ok(Some(out))
    }
}

fn fail(cfg: &S3Config, message: String) -> Error {
    Error::Backend {
        store: crate::backend::MEDIA_BUCKET,
        op: "list",
        name: cfg.describe(),
        message: crate::backend::scrub(&message, &cfg.secret_access_key),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// Run a request up to five times while it fails in a way worth retrying
/// (the connection, a 5xx or a 429), backing off from 200 ms.
fn with_retries<T>(
    mut f: impl FnMut() -> std::result::Result<T, (bool, String)>,
) -> std::result::Result<T, String> {
    let mut wait = Duration::from_millis(200);
    for _ in 0..4 {
        match f() {
            Ok(v) => return Ok(v),
            Err((true, _)) => {
                std::thread::sleep(wait);
                wait *= 2;
            }
            Err((false, why)) => return Err(why),
        }
    }
    f().map_err(|(_, why)| why)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of AWS's SigV4 documentation ("Example: GET Bucket
    /// (List Objects)"), signed the way this module signs.
    #[test]
    fn signs_as_aws_documents() {
        let cfg = S3Config {
            endpoint: None,
            bucket: "examplebucket".into(),
            prefix: String::new(),
            region: "us-east-1".into(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let t = Target {
            base: String::new(),
            host: "examplebucket.s3.amazonaws.com".into(),
            uri: "/".into(),
        };
        let now = time::macros::datetime!(2013-05-24 00:00:00 UTC);
        let h = sign(&cfg, &t, "max-keys=2&prefix=J", now);
        let auth = &h.iter().find(|(k, _)| k == "authorization").unwrap().1;
        assert_eq!(
            auth,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn pages_keep_every_key_verbatim() {
        let p = parse_page(
            r#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><KeyCount>2</KeyCount><IsTruncated>true</IsTruncated><NextContinuationToken>tok/+=</NextContinuationToken><Contents><Key>../x</Key><LastModified>2026-12-06T02:35:17.058Z</LastModified><ETag>&quot;5fe3&quot;</ETag><Size>7</Size></Contents><Contents><Key>a//c &amp; d</Key><Size>0</Size></Contents></ListBucketResult>"#,
        )
        .unwrap();
        assert!(p.is_truncated);
        assert_eq!(p.next_continuation_token.as_deref(), Some("tok/+="));
        assert_eq!(p.contents[0].key, "../x");
        assert_eq!(p.contents[0].e_tag.as_deref(), Some("\"5fe3\""));
        assert_eq!(p.contents[0].size, 7);
        assert_eq!(
            modified_ns(p.contents[0].last_modified.as_deref().unwrap()),
            1_796_524_517_058_000_000
        );
        assert_eq!(p.contents[1].key, "a//c & d");
        let empty =
            parse_page("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>")
                .unwrap();
        assert!(empty.contents.is_empty());
    }

    #[test]
    fn targets_by_path_or_by_host() {
        let cfg = |endpoint: Option<&str>| S3Config {
            endpoint: endpoint.map(str::to_string),
            bucket: "media".into(),
            prefix: String::new(),
            region: "eu-west-1".into(),
            access_key_id: "k".into(),
            secret_access_key: "s".into(),
            session_token: None,
        };
        let t = target(&cfg(Some("http://127.0.0.1:3900/"))).unwrap();
        assert_eq!(
            (t.base.as_str(), t.host.as_str(), t.uri.as_str()),
            ("http://127.0.0.1:3900/media", "127.0.0.1:3900", "/media")
        );
        let t = target(&cfg(Some("https://proxy.example/s3"))).unwrap();
        assert_eq!(
            (t.base.as_str(), t.host.as_str(), t.uri.as_str()),
            (
                "https://proxy.example/s3/media",
                "proxy.example",
                "/s3/media"
            )
        );
        let t = target(&cfg(None)).unwrap();
        assert_eq!(
            (t.base.as_str(), t.host.as_str(), t.uri.as_str()),
            (
                "https://media.s3.eu-west-1.amazonaws.com/",
                "media.s3.eu-west-1.amazonaws.com",
                "/"
            )
        );
        assert!(target(&cfg(Some("127.0.0.1:3900"))).is_err());
    }
}
