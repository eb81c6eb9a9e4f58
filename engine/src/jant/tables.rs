//! Jant's tables: which layer each belongs to, which ones a content-only
//! restore rewrites and in what order, and which columns hold storage keys
//! (jant-format.md §4.2–§4.6, §5.2, §7).

use crate::schema::Layer;

/// Content tables in the order Jant's importer inserts them (parents first).
pub const CONTENT_INSERT_ORDER: [&str; 8] = [
    "collection",
    "smart_collection",
    "post",
    "thread_collection",
    "nav_item",
    "collection_directory_item",
    "path_registry",
    "media",
];

/// The order Jant's importer clears content tables (children first).
pub const CONTENT_CLEAR_ORDER: [&str; 8] = [
    "media",
    "path_registry",
    "collection_directory_item",
    "nav_item",
    "thread_collection",
    "post",
    "smart_collection",
    "collection",
];

pub const SETTINGS_TABLE: &str = "site_setting";

/// `SNAPSHOT_TABLES`: what a site snapshot archive carries, in Jant's
/// db.sql order.
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
