//! Jant's tables: which layer each belongs to, which ones a content-only
//! restore rewrites and in what order, and which columns hold storage keys
//! (jant-format.md §4.2–§4.6, §5.2, §7).

use crate::row::Value;
use crate::schema::Layer;

pub const SETTINGS_TABLE: &str = "site_setting";

/// `SNAPSHOT_TABLES`: what a site snapshot archive carries, in Jant's
/// db.sql order: the settings, then the content tables parents first.
pub const SNAPSHOT_TABLES: [&str; 9] = [
    SETTINGS_TABLE,
    "collection",
    "smart_collection",
    "post",
    "thread_collection",
    "nav_item",
    "collection_directory_item",
    "path_registry",
    "media",
];

/// Content tables in the order Jant's importer inserts them (parents first).
pub const CONTENT_INSERT_ORDER: [&str; 8] = {
    let mut out = [""; 8];
    let mut i = 0;
    while i < out.len() {
        out[i] = SNAPSHOT_TABLES[i + 1];
        i += 1;
    }
    out
};

/// The order Jant's importer clears content tables (children first): the
/// insertion order reversed.
pub const CONTENT_CLEAR_ORDER: [&str; 8] = {
    let mut out = [""; 8];
    let mut i = 0;
    while i < out.len() {
        out[i] = CONTENT_INSERT_ORDER[out.len() - 1 - i];
        i += 1;
    }
    out
};

/// `thread_collection`'s columns as Jant's v1 upgrade writes them.
pub const THREAD_COLLECTION_COLUMNS: [&str; 6] = [
    "site_id",
    "thread_id",
    "collection_id",
    "created_at",
    "position",
    "pinned_at",
];

/// `TABLE_EXPORT_ORDER`: how `db export` orders the tables it knows;
/// others follow alphabetically.
pub const TABLE_EXPORT_ORDER: [&str; 17] = [
    "site",
    "user",
    "account",
    "verification",
    "session",
    "site_domain",
    SETTINGS_TABLE,
    "site_member",
    "collection",
    "smart_collection",
    "api_token",
    "post",
    "thread_collection",
    "nav_item",
    "collection_directory_item",
    "path_registry",
    "media",
];

/// Accounts and credentials: never in a site snapshot.
pub const AUTH_TABLES: [&str; 5] = ["user", "session", "account", "verification", "api_token"];

/// `SNAPSHOT_SETTING_KEYS`: the site settings that travel with content.
pub const SNAPSHOT_SETTING_KEYS: [&str; 21] = [
    "SITE_NAME",
    "SITE_DESCRIPTION",
    "SITE_LANGUAGE",
    "MULTILINGUAL_ENABLED",
    "ADDITIONAL_LANGUAGES",
    "MAIN_RSS_FEED",
    "PUBLIC_API_ENABLED",
    "RSS_FEEDS_ENABLED",
    "THEME",
    "CUSTOM_CSS",
    "SITE_AVATAR",
    "SHOW_HEADER_AVATAR",
    "SITE_FAVICON_ICO",
    "SITE_FAVICON_APPLE_TOUCH",
    "SITE_FAVICON_VERSION",
    "FONT_THEME",
    "THEME_MODE",
    "TIME_ZONE",
    "SITE_FOOTER",
    "SHOW_JANT_BRANDING_ON_HOME",
    "NOINDEX",
];

/// `SNAPSHOT_EXCLUDED_SETTING_KEYS`: settings a snapshot never carries
/// (tokens, secrets, per-install state); with every `GITHUB_SYNC_` key.
pub const SNAPSHOT_EXCLUDED_SETTING_KEYS: [&str; 21] = [
    "DASHBOARD_LANGUAGE",
    "ARCHIVE_DEFAULT_LAYOUT",
    "PAGE_SIZE",
    "SEARCH_PAGE_SIZE",
    "ARCHIVE_PAGE_SIZE",
    "SUMMARY_MAX_PARAGRAPHS",
    "SUMMARY_MAX_CHARS",
    "RSS_FEED_LIMIT",
    "RSS_PUBLISH_DELAY_SECONDS",
    "CUSTOM_HEAD_HTML",
    "CUSTOM_BODY_END_HTML",
    "DISCOVER",
    "DISCOVER_ANNOUNCE_STATE",
    "DISCOVERY_COMPOSE_OPEN_SHORTCUT_AT",
    "DISCOVERY_SLASH_COMMAND_AT",
    "ONBOARDING_STATUS",
    "PASSWORD_RESET_TOKEN",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_BOT_ID",
    "TELEGRAM_BOT_USERNAME",
    "TELEGRAM_WEBHOOK_SECRET",
];

pub fn is_excluded_setting(key: &str) -> bool {
    SNAPSHOT_EXCLUDED_SETTING_KEYS.contains(&key) || key.starts_with("GITHUB_SYNC_")
}

/// Tables a content-only restore must never touch, whatever else happens.
pub const PROTECTED_TABLES: [&str; 8] = [
    "user",
    "session",
    "account",
    "verification",
    "api_token",
    "site",
    "site_member",
    "site_domain",
];

/// Settings whose values are storage keys.
pub const KEY_SETTINGS: [&str; 2] = ["SITE_AVATAR", "SITE_FAVICON_APPLE_TOUCH"];

pub fn layer(table: &str) -> Layer {
    match table {
        t if CONTENT_INSERT_ORDER.contains(&t) => Layer::Content,
        SETTINGS_TABLE => Layer::Configuration,
        t if AUTH_TABLES.contains(&t) => Layer::Auth,
        _ => Layer::Other,
    }
}

/// Columns whose non-blank values name media objects: `(table, column)`.
pub const KEY_COLUMNS: [(&str, &str); 3] = [
    ("media", "storage_key"),
    ("media", "poster_key"),
    ("post", "preview_image_key"),
];

/// Where one table's rows name media objects (jant-format.md §5.2): its
/// key columns and, in the settings table, the two settings whose values
/// are storage keys.
pub struct KeyColumns {
    /// Column position, and whether the row cannot do without the object
    /// (a media row's file or poster) rather than merely showing it.
    columns: Vec<(usize, bool)>,
    /// Settings table: positions of `key` and `value`.
    setting: Option<(usize, usize)>,
}

impl KeyColumns {
    /// `column` gives a column's position in the table's row values.
    pub fn of(table: &str, column: impl Fn(&str) -> Option<usize>) -> KeyColumns {
        KeyColumns {
            columns: KEY_COLUMNS
                .iter()
                .filter(|(t, _)| *t == table)
                .filter_map(|(_, c)| column(c).map(|i| (i, table == "media")))
                .collect(),
            setting: if table == SETTINGS_TABLE {
                column("key").zip(column("value"))
            } else {
                None
            },
        }
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty() && self.setting.is_none()
    }

    /// Add the keys `row` names to `keys`, trimmed: the set of objects a
    /// site's rows reference (restore's missing-object check).
    pub fn collect(&self, row: &[Value], keys: &mut std::collections::BTreeSet<String>) {
        self.each(row, |k, _| {
            keys.insert(k.trim().to_string());
        });
    }

    /// Each non-blank key `row` names, as stored (untrimmed), and whether
    /// it is required.
    pub fn each<'r>(&self, row: &'r [Value], mut f: impl FnMut(&'r str, bool)) {
        for &(c, required) in &self.columns {
            if let Some(k) = row[c].as_text().filter(|k| !k.trim().is_empty()) {
                f(k, required);
            }
        }
        if let Some((k, v)) = self.setting {
            if row[k].as_text().is_some_and(|k| KEY_SETTINGS.contains(&k)) {
                // Older sites may hold a URL here rather than a key.
                let key = row[v].as_text().filter(|s| {
                    let t = s.trim();
                    !t.is_empty() && !t.contains("://") && !t.starts_with('/')
                });
                if let Some(key) = key {
                    f(key, false);
                }
            }
        }
    }
}

/// Tables whose contents are bookkeeping of a migrator: they say which
/// schema the database is at.
pub fn is_migration_table(table: &str) -> bool {
    matches!(
        table,
        "__drizzle_migrations" | "d1_migrations" | "data_migration"
    )
}

/// The primary key of a Jant table, for rows that arrive without a schema
/// (a db.sql dump): `None` when the table is unknown and has no `id`.
pub fn primary_key(table: &str, has_id: bool) -> Option<&'static [&'static str]> {
    match table {
        SETTINGS_TABLE => Some(&["site_id", "key"]),
        "thread_collection" => Some(&["site_id", "thread_id", "collection_id"]),
        "site_member" => Some(&["site_id", "user_id"]),
        _ if has_id => Some(&["id"]),
        _ => None,
    }
}

/// Tables `db export` leaves out: migration bookkeeping, the FTS index,
/// SQLite's own (`sqlite_sequence`) and D1's internal tables
/// (jant-format.md §6).
pub fn is_export_excluded(table: &str) -> bool {
    is_migration_table(table)
        || table.starts_with("post_fts")
        || table.starts_with("sqlite_")
        || table.starts_with("_cf_")
}

/// The ORDER BY of each snapshot table's SELECT (jant-format.md §4.3).
pub fn snapshot_order(table: &str) -> &'static [&'static str] {
    match table {
        SETTINGS_TABLE => &["key"],
        "thread_collection" => &["created_at", "thread_id", "collection_id"],
        "nav_item" | "collection_directory_item" => &["position", "id"],
        "path_registry" => &["path", "id"],
        _ => &["created_at", "id"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_orders_are_jants() {
        // SNAPSHOT_CLEAR_TABLES as Jant's import.js lists it.
        assert_eq!(
            CONTENT_CLEAR_ORDER,
            [
                "media",
                "path_registry",
                "collection_directory_item",
                "nav_item",
                "thread_collection",
                "post",
                "smart_collection",
                "collection",
            ]
        );
        assert_eq!(CONTENT_INSERT_ORDER[..], SNAPSHOT_TABLES[1..]);
    }
}
