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
        "user" | "session" | "account" | "verification" | "api_token" => Layer::Auth,
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
