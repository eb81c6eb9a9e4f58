//! A small Jant-shaped site, generated: the demo's subject and the test
//! suite's fixture. The schema follows jant-format.md §7 for SQLite
//! (`schema_sqlite.sql`) and Postgres (`schema_pg.sql`); the rows cover
//! what a real site holds: threads with replies, collections and their
//! thread rows, smart collections, nav items, every path_registry kind,
//! media with posters and sidecars, settings (a base64 favicon among them)
//! and auth rows with secrets.

use crate::dbclient::db_err;
use crate::error::{Error, Result};
use crate::jant::tables::SNAPSHOT_SETTING_KEYS;
use crate::row::Value;
use rusqlite::Connection;
use std::path::{Path, PathBuf};

pub const SQLITE_SCHEMA: &str = include_str!("schema_sqlite.sql");
pub const PG_SCHEMA: &str = include_str!("schema_pg.sql");
pub const SITE_ID: &str = "sit_01jdemo0000000000000000000";
/// Unix seconds of the first generated row.
const T0: i64 = 1_775_000_000;
/// Seconds between 1970-01-01 and Postgres' epoch, 2000-01-01.
const PG_EPOCH: i64 = 946_684_800;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One table's generated rows.
pub struct TableData {
    pub table: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Value>>,
}

/// A media object to write under the storage root.
pub struct Object {
    pub key: String,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

pub struct Site {
    pub tables: Vec<TableData>,
    pub objects: Vec<Object>,
}

/// Deterministic bytes: a xorshift stream, so fixtures are the same on
/// every run without a random-number dependency in the data path.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}
fn i(n: i64) -> Value {
    Value::Integer(n)
}
fn opt(s: Option<String>) -> Value {
    s.map(Value::Text).unwrap_or(Value::Null)
}

struct Gen {
    dialect: Dialect,
}

impl Gen {
    fn bool(&self, b: bool) -> Value {
        match self.dialect {
            Dialect::Sqlite => i(b as i64),
            Dialect::Postgres => Value::Bool(b),
        }
    }
    /// better-auth timestamps: seconds in SQLite, timestamptz in Postgres.
    fn auth_time(&self, secs: i64) -> Value {
        match self.dialect {
            Dialect::Sqlite => i(secs),
            Dialect::Postgres => Value::Timestamp((secs - PG_EPOCH) * 1_000_000),
        }
    }
}

/// Prose-like text: words built from syllables by a seeded generator, so
/// it compresses about as well as real writing (≈3× with zstd), unlike a
/// repeated phrase.
pub fn prose(seed: u64, words: usize) -> String {
    const ONSETS: [&str; 16] = [
        "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st",
    ];
    const VOWELS: [&str; 8] = ["a", "e", "i", "o", "u", "ea", "ou", "y"];
    let r = bytes(seed, words * 4);
    let mut out = String::with_capacity(words * 7);
    for (w, b) in r.chunks(4).enumerate() {
        if w > 0 {
            out.push(if b[3] % 11 == 0 { '.' } else { ' ' });
            if b[3] % 11 == 0 {
                out.push(' ');
            }
        }
        for k in 0..1 + (b[0] % 3) as usize {
            out.push_str(ONSETS[(b[1 + k % 2] >> (k * 3)) as usize % 16]);
            out.push_str(VOWELS[(b[2 - k % 2] >> k) as usize % 8]);
        }
        if b[0] & 0x30 == 0 {
            out.push('n');
        }
    }
    out
}

fn post_body(n: usize) -> (String, String) {
    let text = format!(
        "Post {n}: notes on the garden.\nSecond line with 'single' and \"double\" quotes; a semicolon -- and a dash.\n\
         Unicode: café, 日本語, emoji 🌱, RTL עברית.\n{}",
        prose(n as u64, 40 + 40 * (n % 4))
    );
    let body = serde_json::json!({
        "type": "doc",
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]
    })
    .to_string();
    (body, text)
}

/// Generate a site with `posts` posts (every fifth one a reply).
pub fn generate(dialect: Dialect, posts: usize) -> Site {
    let g = Gen { dialect };
    let s = SITE_ID;
    let mut tables = Vec::new();
    tables.push(TableData {
        table: "site",
        columns: vec![
            "id",
            "key",
            "status",
            "provisioning_idempotency_key",
            "created_at",
            "updated_at",
        ],
        rows: vec![vec![
            t(s),
            t("default"),
            t("active"),
            Value::Null,
            i(T0),
            i(T0),
        ]],
    });
    tables.push(TableData {
        table: "user",
        columns: vec![
            "id",
            "name",
            "email",
            "email_verified",
            "image",
            "role",
            "created_at",
            "updated_at",
        ],
        rows: vec![vec![
            t("usr_01jdemoowner"),
            t("Owner O'Brien"),
            t("owner@example.org"),
            g.bool(true),
            Value::Null,
            t("admin"),
            g.auth_time(T0),
            g.auth_time(T0),
        ]],
    });
    tables.push(TableData {
        table: "session",
        columns: vec![
            "id",
            "expires_at",
            "token",
            "created_at",
            "updated_at",
            "ip_address",
            "user_agent",
            "user_id",
        ],
        rows: (0..3)
            .map(|n| {
                vec![
                    t(&format!("ses_{n:04}")),
                    g.auth_time(T0 + 86_400 * 30),
                    t(&format!("session-secret-{}", hex::encode(bytes(n, 16)))),
                    g.auth_time(T0 + n as i64),
                    g.auth_time(T0 + n as i64),
                    t("203.0.113.7"),
                    t("Mozilla/5.0 (X11; Linux x86_64)"),
                    t("usr_01jdemoowner"),
                ]
            })
            .collect(),
    });
    tables.push(TableData {
        table: "account",
        columns: vec![
            "id",
            "account_id",
            "provider_id",
            "user_id",
            "access_token",
            "refresh_token",
            "id_token",
            "access_token_expires_at",
            "refresh_token_expires_at",
            "scope",
            "password",
            "created_at",
            "updated_at",
        ],
        rows: vec![vec![
            t("acc_01jdemo"),
            t("usr_01jdemoowner"),
            t("credential"),
            t("usr_01jdemoowner"),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            t("scrypt$16384$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNo"),
            g.auth_time(T0),
            g.auth_time(T0),
        ]],
    });
    tables.push(TableData {
        table: "verification",
        columns: vec![
            "id",
            "identifier",
            "value",
            "expires_at",
            "created_at",
            "updated_at",
        ],
        rows: vec![vec![
            t("vrf_01jdemo"),
            t("reset-password:owner@example.org"),
            t("verification-secret-0f9e8d"),
            g.auth_time(T0 + 3600),
            g.auth_time(T0),
            g.auth_time(T0),
        ]],
    });
    tables.push(TableData {
        table: "site_domain",
        columns: vec![
            "id",
            "site_id",
            "host",
            "path_prefix",
            "kind",
            "redirect_to_primary",
            "created_at",
            "updated_at",
        ],
        rows: vec![vec![
            t("sdm_01jdemo"),
            t(s),
            t("blog.example.org"),
            Value::Null,
            t("primary"),
            g.bool(true),
            i(T0),
            i(T0),
        ]],
    });
    tables.push(TableData {
        table: "site_member",
        columns: vec!["site_id", "user_id", "role", "created_at", "updated_at"],
        rows: vec![vec![t(s), t("usr_01jdemoowner"), t("owner"), i(T0), i(T0)]],
    });
    tables.push(TableData {
        table: "api_token",
        columns: vec![
            "id",
            "site_id",
            "name",
            "token_hash",
            "prefix",
            "last_used_at",
            "created_at",
            "updated_at",
        ],
        rows: vec![vec![
            t("api_01jdemo"),
            t(s),
            t("ci"),
            t(&hex::encode(bytes(99, 32))),
            t("jnt_ab12"),
            Value::Null,
            i(T0),
            i(T0),
        ]],
    });

    let favicon = {
        // A base64 .ico as Jant stores it: the whole file in a setting.
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        bytes(7, 1500)
            .iter()
            .map(|b| B64[(*b & 63) as usize] as char)
            .collect::<String>()
    };
    let avatar_key = format!("media/{s}/assets/avatar/med_avatar01.png");
    let mut settings: Vec<(String, String)> = SNAPSHOT_SETTING_KEYS
        .iter()
        .map(|k| {
            let v = match *k {
                "SITE_NAME" => "Demo Garden ✿".to_string(),
                "SITE_DESCRIPTION" => "Notes, links and quotes.\nSecond line.".to_string(),
                "SITE_FAVICON_ICO" => favicon.clone(),
                "SITE_AVATAR" => avatar_key.clone(),
                "SITE_FAVICON_APPLE_TOUCH" => String::new(),
                "CUSTOM_CSS" => "body { font-family: 'Inter'; }".to_string(),
                "TIME_ZONE" => "Europe/Berlin".to_string(),
                other => format!("{}-value", other.to_ascii_lowercase()),
            };
            (k.to_string(), v)
        })
        .collect();
    // Settings outside the allow-list, which a content restore must keep.
    settings.push(("PAGE_SIZE".into(), "20".into()));
    settings.push(("TELEGRAM_BOT_TOKEN".into(), "123456:telegram-secret".into()));
    settings.sort();
    tables.push(TableData {
        table: "site_setting",
        columns: vec!["site_id", "key", "value", "updated_at"],
        rows: settings
            .into_iter()
            .map(|(k, v)| vec![t(s), t(&k), t(&v), i(T0)])
            .collect(),
    });
    let collections = ["Reading", "Garden", "Links"];
    tables.push(TableData {
        table: "collection",
        columns: vec![
            "id",
            "site_id",
            "title",
            "description",
            "sort_order",
            "created_at",
            "updated_at",
        ],
        rows: collections
            .iter()
            .enumerate()
            .map(|(n, c)| {
                let desc = (n != 1).then(|| format!("All about {c}."));
                vec![
                    t(&format!("col_{n:02}")),
                    t(s),
                    t(c),
                    opt(desc),
                    t("newest"),
                    i(T0 + n as i64),
                    i(T0),
                ]
            })
            .collect(),
    });
    tables.push(TableData {
        table: "smart_collection",
        columns: vec![
            "id",
            "site_id",
            "title",
            "description",
            "format",
            "year",
            "collection_id",
            "media",
            "has_title",
            "has_replies",
            "visibility",
            "sort",
            "layout",
            "created_at",
            "updated_at",
        ],
        rows: vec![
            vec![
                t("smc_00"),
                t(s),
                t("Links of 2026"),
                Value::Null,
                t("link"),
                i(2026),
                Value::Null,
                Value::Null,
                g.bool(true),
                g.bool(false),
                t("public"),
                t("newest"),
                t("list"),
                i(T0),
                i(T0),
            ],
            vec![
                t("smc_01"),
                t(s),
                t("Photos"),
                t("With images"),
                Value::Null,
                Value::Null,
                t("col_01"),
                t("image"),
                Value::Null,
                Value::Null,
                Value::Null,
                t("oldest"),
                t("grid"),
                i(T0),
                i(T0),
            ],
        ],
    });
    let mut post_rows = Vec::new();
    let mut thread_rows = Vec::new();
    let mut root = String::new();
    for n in 0..posts {
        let id = format!("pst_{n:07}");
        let reply = n % 5 != 0;
        if !reply {
            root = id.clone();
        }
        let (body, text) = post_body(n);
        let format = ["note", "link", "quote"][n % 3];
        let created = T0 + 60 * n as i64;
        post_rows.push(vec![
            t(&id),
            t(s),
            t(format),
            t(if n % 17 == 3 { "draft" } else { "published" }),
            if n % 11 == 0 {
                Value::Null
            } else {
                t("public")
            },
            if n == 0 { i(created) } else { Value::Null },
            Value::Null,
            if reply {
                Value::Null
            } else {
                t(&format!("Thread {n}"))
            },
            if format == "link" {
                t(&format!("https://example.org/{n}?q='x'"))
            } else {
                Value::Null
            },
            t(&body),
            t(&format!("<p>{}</p>", text.replace('\n', "<br>"))),
            t(&text),
            if format == "quote" {
                t("“To be, or not to be”")
            } else {
                Value::Null
            },
            if n % 7 == 0 {
                t("Summary line one\nline two")
            } else {
                Value::Null
            },
            if n % 9 == 0 {
                i((n % 5) as i64 + 1)
            } else {
                Value::Null
            },
            if reply {
                t(&format!("pst_{:07}", n - 1))
            } else {
                Value::Null
            },
            t(&root),
            i(created),
            i(created),
            i(created),
            i(created),
            Value::Null,
            Value::Null,
            Value::Null,
            i(1),
            g.bool(reply && n % 2 == 0),
            i(created),
            t(if n % 13 == 0 { "zh-Hans" } else { "en" }),
            Value::Null,
        ]);
        if !reply && n % 10 == 0 {
            thread_rows.push(vec![
                t(s),
                t(&id),
                t(&format!("col_{:02}", (n / 10) % 3)),
                i(created),
                i((n / 10) as i64),
                Value::Null,
            ]);
        }
    }
    tables.push(TableData {
        table: "post",
        columns: vec![
            "id",
            "site_id",
            "format",
            "status",
            "visibility",
            "pinned_at",
            "featured_at",
            "title",
            "url",
            "body",
            "body_html",
            "body_text",
            "quote_text",
            "summary",
            "rating",
            "reply_to_id",
            "thread_id",
            "published_at",
            "last_activity_at",
            "created_at",
            "updated_at",
            "preview_image_key",
            "preview_kind",
            "preview_provider",
            "body_html_version",
            "quiet_reply",
            "thread_updated_at",
            "language",
            "translation_group_id",
        ],
        rows: post_rows,
    });
    tables.push(TableData {
        table: "thread_collection",
        columns: crate::jant::tables::THREAD_COLLECTION_COLUMNS.to_vec(),
        rows: thread_rows,
    });
    let first = |n: usize| posts.max(1).min(n + 1) - 1;
    tables.push(TableData {
        table: "nav_item",
        columns: vec![
            "id",
            "site_id",
            "type",
            "system_key",
            "collection_id",
            "smart_collection_id",
            "post_id",
            "label",
            "url",
            "placement",
            "position",
            "created_at",
            "updated_at",
        ],
        rows: vec![
            vec![
                t("nav_00"),
                t(s),
                t("system"),
                t("featured"),
                Value::Null,
                Value::Null,
                Value::Null,
                t("Featured"),
                t("/featured"),
                t("header"),
                t("a0"),
                i(T0),
                i(T0),
            ],
            vec![
                t("nav_01"),
                t(s),
                t("collection"),
                Value::Null,
                t("col_00"),
                Value::Null,
                Value::Null,
                t("Reading"),
                t("/c/reading"),
                t("header"),
                t("a1"),
                i(T0),
                i(T0),
            ],
            vec![
                t("nav_02"),
                t(s),
                t("smart_collection"),
                Value::Null,
                Value::Null,
                t("smc_00"),
                Value::Null,
                t("Links"),
                t("/s/links"),
                t("more"),
                t("a2"),
                i(T0),
                i(T0),
            ],
            vec![
                t("nav_03"),
                t(s),
                t("page"),
                Value::Null,
                Value::Null,
                Value::Null,
                t(&format!("pst_{:07}", first(0))),
                t("About"),
                t("/about"),
                t("header"),
                t("a3"),
                i(T0),
                i(T0),
            ],
            vec![
                t("nav_04"),
                t(s),
                t("link"),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                t("GitHub"),
                t("https://github.com/example"),
                t("more"),
                t("ZzV"),
                i(T0),
                i(T0),
            ],
        ],
    });
    tables.push(TableData {
        table: "collection_directory_item",
        columns: vec![
            "id",
            "site_id",
            "type",
            "collection_id",
            "smart_collection_id",
            "label",
            "url",
            "description",
            "position",
            "created_at",
            "updated_at",
        ],
        rows: vec![
            vec![
                t("cdi_00"),
                t(s),
                t("collection"),
                t("col_00"),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                t("a0"),
                i(T0),
                i(T0),
            ],
            vec![
                t("cdi_01"),
                t(s),
                t("smart_collection"),
                Value::Null,
                t("smc_01"),
                Value::Null,
                Value::Null,
                Value::Null,
                t("a1"),
                i(T0),
                i(T0),
            ],
            vec![
                t("cdi_02"),
                t(s),
                t("divider"),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                t("a2"),
                i(T0),
                i(T0),
            ],
            vec![
                t("cdi_03"),
                t(s),
                t("link"),
                Value::Null,
                Value::Null,
                t("Blogroll"),
                t("https://example.net"),
                t("Friends' sites"),
                t("a3"),
                i(T0),
                i(T0),
            ],
        ],
    });
    let mut paths = vec![
        vec![
            t("pth_c0"),
            t(s),
            t("/c/reading"),
            t("slug"),
            Value::Null,
            t("col_00"),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            i(T0),
            i(T0),
        ],
        vec![
            t("pth_s0"),
            t(s),
            t("/s/links"),
            t("slug"),
            Value::Null,
            Value::Null,
            t("smc_00"),
            Value::Null,
            Value::Null,
            Value::Null,
            i(T0),
            i(T0),
        ],
        vec![
            t("pth_r0"),
            t(s),
            t("/old-feed"),
            t("redirect"),
            Value::Null,
            Value::Null,
            Value::Null,
            t("/feed"),
            i(301),
            Value::Null,
            i(T0),
            i(T0),
        ],
        vec![
            t("pth_a0"),
            t(s),
            t("/2026/03"),
            t("archive"),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            t("year=2026&month=3"),
            i(T0),
            i(T0),
        ],
    ];
    // A slug or alias path naming post `n`.
    let post_path = |id: String, path: String, kind: &str, n: usize| {
        let mut row = vec![t(&id), t(s), t(&path), t(kind), t(&format!("pst_{n:07}"))];
        row.extend([
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ]);
        row.extend([i(T0), i(T0)]);
        row
    };
    for n in (0..posts).step_by(5) {
        paths.push(post_path(
            format!("pth_p{n:07}"),
            format!("/thread-{n}"),
            "slug",
            n,
        ));
        if n % 50 == 0 {
            paths.push(post_path(
                format!("pth_q{n:07}"),
                format!("/t/{n}"),
                "alias",
                n,
            ));
        }
    }
    paths.sort_by(|a, b| format!("{:?}", a[0]).cmp(&format!("{:?}", b[0])));
    tables.push(TableData {
        table: "path_registry",
        columns: vec![
            "id",
            "site_id",
            "path",
            "kind",
            "post_id",
            "collection_id",
            "smart_collection_id",
            "redirect_to_path",
            "redirect_type",
            "archive_query",
            "created_at",
            "updated_at",
        ],
        rows: paths,
    });
    let mut media_rows = Vec::new();
    let mut objects = Vec::new();
    let media_count = (posts / 4).clamp(2, 400);
    for n in 0..media_count {
        let (row, objs) = media_row(n, first(n * 3));
        media_rows.push(row);
        objects.extend(objs);
    }
    media_rows.push(vec![
        t("med_avatar01"),
        t(s),
        Value::Null,
        t("med_avatar01.png"),
        t("me.png"),
        t("image/png"),
        i(2048),
        t(&avatar_key),
        t("local"),
        i(64),
        i(64),
        Value::Null,
        t("a0"),
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Null,
        t("image"),
        i(T0),
        i(T0),
        Value::Null,
    ]);
    objects.push(Object {
        key: avatar_key,
        bytes: bytes(4242, 2048),
        content_type: "image/png",
    });
    tables.push(TableData {
        table: "media",
        columns: MEDIA_COLUMNS.to_vec(),
        rows: media_rows,
    });
    // drizzle's migration table as its migrator leaves it: the journal's
    // `when` of each migration applied (jant-migrations.md), and in SQLite
    // a NULL id in every row (`id SERIAL PRIMARY KEY` is no rowid alias).
    let (table, whens): (&str, &[i64]) = match g.dialect {
        Dialect::Sqlite => (
            "__drizzle_migrations",
            &[1_773_963_783_636, 1_773_963_784_193, 1_774_113_199_099],
        ),
        Dialect::Postgres => (
            "drizzle.__drizzle_migrations",
            &[1_774_127_153_796, 1_774_138_110_172, 1_774_449_718_468],
        ),
    };
    tables.push(TableData {
        table,
        columns: vec!["id", "hash", "created_at"],
        rows: whens
            .iter()
            .zip(1..)
            .map(|(when, n)| {
                vec![
                    match g.dialect {
                        Dialect::Sqlite => Value::Null,
                        Dialect::Postgres => i(n),
                    },
                    t(&hex::encode(bytes(n as u64, 32))),
                    i(*when),
                ]
            })
            .collect(),
    });
    Site { tables, objects }
}

pub const MEDIA_COLUMNS: [&str; 22] = [
    "id",
    "site_id",
    "post_id",
    "filename",
    "original_name",
    "mime_type",
    "size",
    "storage_key",
    "provider",
    "width",
    "height",
    "alt",
    "position",
    "blurhash",
    "waveform",
    "poster_key",
    "summary",
    "chars",
    "media_kind",
    "created_at",
    "updated_at",
    "duration_seconds",
];

/// One media row and its objects (a file, and a poster for videos).
pub fn media_row(n: usize, post: usize) -> (Vec<Value>, Vec<Object>) {
    let s = SITE_ID;
    let id = format!("med_{n:06}");
    let video = n % 4 == 3;
    let (ext, mime, kind) = if video {
        ("mp4", "video/mp4", "video")
    } else {
        ("png", "image/png", "image")
    };
    let key = format!("media/{s}/files/{id}.{ext}");
    let size = 3000 + (n * 7919) % 60_000;
    let mut objs = vec![Object {
        key: key.clone(),
        bytes: bytes(1000 + n as u64, size),
        content_type: mime,
    }];
    let poster = video.then(|| format!("media/{s}/posters/{id}.webp"));
    if let Some(p) = &poster {
        objs.push(Object {
            key: p.clone(),
            bytes: bytes(50_000 + n as u64, 1500),
            content_type: "image/webp",
        });
    }
    let row = vec![
        t(&id),
        t(s),
        t(&format!("pst_{post:07}")),
        t(&format!("{id}.{ext}")),
        t(&format!("Photo {n} (café).{ext}")),
        t(mime),
        i(size as i64),
        t(&key),
        t("local"),
        i(640),
        i(480),
        if n.is_multiple_of(2) {
            t("A view of the 'garden'")
        } else {
            Value::Null
        },
        t(&format!("a{n}")),
        t("LKO2?U%2Tw=w]~RBVZRi};RPxuwH"),
        Value::Null,
        opt(poster),
        Value::Null,
        Value::Null,
        t(kind),
        i(T0 + n as i64),
        i(T0 + n as i64),
        if video { i(12) } else { Value::Null },
    ];
    (row, objs)
}

/// Insert generated rows through a connection.
pub fn insert_sqlite(conn: &Connection, path: &Path, data: &TableData) -> Result<()> {
    let sql = crate::restore::sqlite::insert_statement(data.table, &data.columns);
    let mut st = conn.prepare(&sql).map_err(|e| db_err(path, e))?;
    for r in &data.rows {
        st.execute(rusqlite::params_from_iter(
            r.iter().map(crate::restore::sqlite::Bind),
        ))
        .map_err(|e| db_err(path, e))?;
    }
    Ok(())
}

/// Write objects and their Jant sidecars under a storage root.
pub fn write_objects(root: &Path, objects: &[Object]) -> Result<()> {
    for o in objects {
        let p = root.join(&o.key);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        std::fs::write(&p, &o.bytes).map_err(|e| Error::io(&p, e))?;
        let sidecar = crate::jant::render_sidecar(&[
            ("contentType".into(), o.content_type.into()),
            (
                "cacheControl".into(),
                "public, max-age=31536000, immutable".into(),
            ),
        ]);
        let mut sp = p.as_os_str().to_owned();
        sp.push(crate::jant::SIDECAR_SUFFIX);
        let sp = PathBuf::from(sp);
        std::fs::write(&sp, sidecar).map_err(|e| Error::io(&sp, e))?;
    }
    Ok(())
}

/// Create `data_dir/jant.sqlite` and `data_dir/media` as a Node Jant site
/// would have them, in WAL mode with foreign keys on.
pub fn create_sqlite_site(data_dir: &Path, posts: usize) -> Result<PathBuf> {
    std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
    let path = data_dir.join("jant.sqlite");
    let site = create_sqlite_db(&path, posts)?;
    write_objects(&data_dir.join("media"), &site.objects)?;
    Ok(path)
}

/// The database alone; returns the generated site (for its objects).
pub fn create_sqlite_db(path: &Path, posts: usize) -> Result<Site> {
    if path.exists() {
        return Err(Error::Invalid(format!("{} already exists", path.display())));
    }
    let conn = open_site_db(path)?;
    conn.execute_batch(SQLITE_SCHEMA)
        .map_err(|e| db_err(path, e))?;
    let site = generate(Dialect::Sqlite, posts);
    conn.execute_batch("BEGIN").map_err(|e| db_err(path, e))?;
    for tdata in &site.tables {
        insert_sqlite(&conn, path, tdata)?;
    }
    conn.execute_batch("COMMIT").map_err(|e| db_err(path, e))?;
    Ok(site)
}

pub fn open_site_db(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(|e| db_err(path, e))?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")
        .map_err(|e| db_err(path, e))?;
    Ok(conn)
}

/// What `change_sqlite_site` did, for the demo to print.
pub struct Changes {
    pub new_post: String,
    pub edited_post: String,
    pub new_media: String,
    pub deleted_media: String,
}

/// A night's edits: a new post, an edited post, a new media object with
/// its row, and a deleted media object with its row.
pub fn change_sqlite_site(data_dir: &Path) -> Result<Changes> {
    let path = data_dir.join("jant.sqlite");
    let conn = open_site_db(&path)?;
    let q = |sql: &str| conn.execute_batch(sql).map_err(|e| db_err(&path, e));
    let one = |sql: &str| -> Result<String> {
        conn.query_row(sql, [], |r| r.get::<_, String>(0))
            .map_err(|e| db_err(&path, e))
    };
    let edited = one("SELECT id FROM post WHERE reply_to_id IS NULL ORDER BY id LIMIT 1 OFFSET 1")?;
    let deleted = one("SELECT storage_key FROM media WHERE media_kind = 'image' AND storage_key LIKE '%/files/%' ORDER BY id LIMIT 1")?;
    q("BEGIN")?;
    conn.execute(
        "UPDATE post SET body_text = body_text || ?1, updated_at = updated_at + 60 WHERE id = ?2",
        ["\nEdited: a correction, with a 'quote'.", &edited],
    )
    .map_err(|e| db_err(&path, e))?;
    let new_post = "pst_9000001".to_string();
    conn.execute(
        "INSERT INTO post (id, site_id, format, title, body_text, thread_id, created_at, updated_at) VALUES (?1, ?2, 'note', 'Fresh post', 'Written after the first backup.', ?1, 1776000000, 1776000000)",
        [&new_post, SITE_ID],
    )
    .map_err(|e| db_err(&path, e))?;
    conn.execute("DELETE FROM media WHERE storage_key = ?1", [&deleted])
        .map_err(|e| db_err(&path, e))?;
    let (row, objs) = media_row(900_001, 0);
    let mut row = row;
    row[2] = Value::Text(new_post.clone());
    insert_sqlite(
        &conn,
        &path,
        &TableData {
            table: "media",
            columns: MEDIA_COLUMNS.to_vec(),
            rows: vec![row],
        },
    )?;
    q("COMMIT")?;
    let media = data_dir.join("media");
    write_objects(&media, &objs)?;
    let dp = media.join(&deleted);
    std::fs::remove_file(&dp).map_err(|e| Error::io(&dp, e))?;
    let mut sp = dp.into_os_string();
    sp.push(crate::jant::SIDECAR_SUFFIX);
    let _ = std::fs::remove_file(PathBuf::from(sp));
    Ok(Changes {
        new_post,
        edited_post: edited,
        new_media: objs[0].key.clone(),
        deleted_media: deleted,
    })
}

/// Create the Jant Postgres schema and a generated site's rows in the
/// (empty) database at `url`, and its media under `media_dir`.
pub fn create_postgres_site(url: &str, media_dir: &Path, posts: usize) -> Result<()> {
    let pg = crate::dbclient::PgClient::connect(url)?;
    pg.batch(PG_SCHEMA)?;
    let site = generate(Dialect::Postgres, posts);
    pg.batch("BEGIN")?;
    for tdata in &site.tables {
        // `schema.table` names a table outside the default schema.
        let table = tdata
            .table
            .split('.')
            .map(crate::schema::quote_ident)
            .collect::<Vec<_>>()
            .join(".");
        crate::restore::postgres::copy_rows(
            &pg,
            &table,
            &tdata.columns,
            &mut tdata.rows.iter().cloned().map(Ok),
        )?;
    }
    // Move the serial sequence past the generated ids, as the migrator's
    // own inserts would have.
    pg.batch("SELECT setval('drizzle.__drizzle_migrations_id_seq', 3, true); COMMIT")?;
    write_objects(media_dir, &site.objects)
}
