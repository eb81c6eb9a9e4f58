//! The envelope shared by every repository object that is not a pack:
//! a 4-byte magic naming the object type, a little-endian u16 format
//! version, then one postcard-encoded body that must consume the rest.
//! (format-spec/README.md §2)

use crate::error::{Error, Result};
use serde::{de::DeserializeOwned, Serialize};

pub(crate) fn encode<T: Serialize>(magic: &[u8; 4], version: u16, body: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    // Serializing plain structs into a Vec cannot fail; an error here would be
    // a programming error in a Serialize impl, which this crate does not have.
    postcard::to_extend(body, out).unwrap_or_default()
}

/// Decode an enveloped object, naming `what` in every error.
pub(crate) fn decode<T: DeserializeOwned>(
    what: &str,
    magic: &[u8; 4],
    version: u16,
    bytes: &[u8],
) -> Result<T> {
    decode_body(what, envelope(what, magic, version, bytes)?)
}

/// The body of an enveloped object whose magic and version are `magic`
/// and `version`.
fn envelope<'b>(what: &str, magic: &[u8; 4], version: u16, bytes: &'b [u8]) -> Result<&'b [u8]> {
    if bytes.len() < 6 || &bytes[..4] != magic {
        return Err(Error::corrupt(
            what,
            format!(
                "wrong magic (expected {:?})",
                String::from_utf8_lossy(magic)
            ),
        ));
    }
    let found = u16::from_le_bytes([bytes[4], bytes[5]]);
    if found != version {
        return Err(Error::UnsupportedVersion {
            what: what.to_string(),
            found: found as u32,
            supported: version.to_string(),
        });
    }
    Ok(&bytes[6..])
}

/// `decode`, with a seed that takes the body's values as they are read
/// (an index file straight into the in-memory index).
pub(crate) fn decode_seed<'de, S: serde::de::DeserializeSeed<'de>>(
    what: &str,
    magic: &[u8; 4],
    version: u16,
    bytes: &'de [u8],
    seed: S,
) -> Result<S::Value> {
    body_with(what, envelope(what, magic, version, bytes)?, seed)
}

/// A postcard body that must be consumed exactly.
pub(crate) fn decode_body<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T> {
    body_with(what, bytes, std::marker::PhantomData::<T>)
}

/// Run `seed` over a postcard body that must be consumed exactly.
fn body_with<'de, S: serde::de::DeserializeSeed<'de>>(
    what: &str,
    body: &'de [u8],
    seed: S,
) -> Result<S::Value> {
    let mut d = postcard::Deserializer::from_bytes(body);
    let value = seed
        .deserialize(&mut d)
        .map_err(|e| Error::corrupt(what, e))?;
    let rest = d.finalize().map_err(|e| Error::corrupt(what, e))?;
    if !rest.is_empty() {
        return Err(Error::corrupt(
            what,
            format!("{} trailing bytes after the body", rest.len()),
        ));
    }
    Ok(value)
}
