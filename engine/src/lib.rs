//! jarc: a content-addressed, deduplicating archive engine for Jant sites.
//!
//! Layers, bottom to top, each using only its own and the ones below it
//! (kept by the test in [`layers`]; `engine/DESIGN.md` explains them):
//! 0. [`error`], [`id`], [`util`], `failpoint`, [`progress`], `codec`, [`layout`].
//! 1. [`backend`]: named byte objects over any `object_store` store.
//! 2. [`config`], [`pack`], [`index`], [`plan`], [`session`], [`repo`]: the blob store.
//! 3. [`chunker`], [`tree`], [`refs`], [`snapshot`], [`media`], [`row`], [`schema`],
//!    [`drill_record`].
//! 4. [`jant`], [`database`], [`dbclient`]: what Jant means; a stored database
//!    read back; the database clients sources and sinks share.
//! 5. [`source`], [`restore`], [`export`], [`capture`]: the outside world.
//! 6. [`backup`], [`check`], [`diff`], [`drill`], [`forget`], [`prune`],
//!    [`import`], [`stats`], [`demo`]: the commands.
//!
//! The on-disk bytes are specified in `format-spec/` at the repository root.

pub mod backend;
pub mod backup;
pub mod capture;
pub mod check;
pub mod chunker;
mod codec;
pub mod config;
pub mod copies;
pub mod copy;
pub mod crypto;
pub mod database;
pub mod dbclient;
#[cfg(test)]
mod decode_fuzz;
pub mod demo;
pub mod diff;
mod direct_write;
pub mod drill;
pub mod drill_record;
pub mod error;
pub mod export;
pub mod failpoint;
#[cfg(test)]
mod fault_store;
pub mod forget;
pub mod id;
pub mod import;
pub mod index;
pub mod jant;
pub mod keys;
pub mod layers;
pub mod layout;
pub mod media;
#[cfg(test)]
mod memory_tier;
pub mod metered;
pub mod pack;
pub mod plan;
pub mod progress;
pub mod prune;
pub mod refs;
pub mod repair;
pub mod repo;
pub mod report;
pub mod restore;
pub mod row;
mod s3_listing;
pub mod schema;
pub mod secret;
pub mod selection;
pub mod session;
pub mod snapshot;
mod snapshot_cache;
pub mod source;
pub mod stats;
pub mod tree;
pub mod upload;
pub mod util;

pub use error::{Error, Result};
pub use id::Id;
pub use repo::Repository;
