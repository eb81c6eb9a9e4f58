//! jarc: a content-addressed, deduplicating archive engine for Jant sites.
//!
//! Layers, bottom to top (each uses only the ones below it):
//! 1. [`backend`]: named byte objects over `object_store`.
//! 2. [`pack`], [`index`], [`config`], [`repo`]: the content-addressed blob store.
//! 3. [`chunker`], [`tree`], [`snapshot`], [`media`]: structure over blobs.
//! 4. [`source`], [`jant`]: the outside world and what Jant means by it.
//! 5. [`backup`], [`restore`], [`diff`], [`check`], [`stats`], [`drill`]: the commands.
//!
//! The on-disk bytes are specified in `format-spec/` at the repository root.

pub mod backend;
pub mod backup;
pub mod check;
pub mod chunker;
mod codec;
pub mod config;
pub mod database;
#[cfg(test)]
mod decode_fuzz;
pub mod demo;
pub mod diff;
pub mod drill;
pub mod error;
pub mod export;
pub mod failpoint;
pub mod forget;
pub mod id;
pub mod import;
pub mod index;
pub mod jant;
pub mod media;
pub mod pack;
pub mod plan;
pub mod progress;
pub mod prune;
pub mod repo;
pub mod restore;
pub mod row;
pub mod schema;
pub mod session;
pub mod snapshot;
pub mod source;
pub mod stats;
pub mod tree;

pub use error::{Error, Result};
pub use id::Id;
pub use repo::Repository;
