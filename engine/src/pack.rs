//! Pack files: blobs appended back to back, then a header that lists them,
//! then a fixed 12-byte trailer. Because the header travels with the data,
//! an index can be rebuilt from packs alone. (format-spec/README.md §4)
//!
//! A pack is named by the blake3 of its bytes and written once, atomically;
//! it is never modified afterwards.

use crate::codec;
use crate::error::{Error, Result};
use crate::id::Id;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::cell::RefCell;

pub const TRAILER_MAGIC: &[u8; 8] = b"JARCPK01";
pub const TRAILER_LEN: usize = 12;
pub const HEADER_MAGIC: &[u8; 4] = b"JRPH";
pub const HEADER_VERSION: u16 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BlobKind {
    /// A chunk of file (media) content.
    Data,
    /// A node of a content-defined tree.
    Tree,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Codec {
    Raw,
    Zstd,
}

/// One blob as the pack header (and the index) describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackBlob {
    pub kind: BlobKind,
    pub id: Id,
    pub offset: u32,
    /// Stored length in the pack.
    pub length: u32,
    /// Length of the plaintext.
    pub raw_length: u32,
    pub codec: Codec,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    blobs: Vec<PackBlob>,
}

/// Bytes of an encoded blob: compressed, or the plaintext itself when
/// compression does not pay (JPEG, MP4, …).
pub struct EncodedBlob<'a> {
    pub codec: Codec,
    /// Borrowed when stored raw: incompressible media is copied once, into the pack.
    pub bytes: Cow<'a, [u8]>,
}

thread_local! {
    static COMPRESSORS: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
}

const PROBE_LEN: usize = 64 * 1024;

fn compress(level: i32, data: &[u8]) -> Option<Vec<u8>> {
    COMPRESSORS.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().map(|(l, _)| *l) != Some(level) {
            *slot = Some((level, zstd::bulk::Compressor::new(level).ok()?));
        }
        let (_, c) = slot.as_mut()?;
        c.compress(data).ok()
    })
}

/// Encode a blob. Large blobs are probed first: the first 64 KiB is
/// compressed at level 1, and if even that saves less than the threshold the
/// blob is stored raw without compressing the rest. That keeps incompressible
/// media near memcpy speed while text still gets the configured level.
pub fn encode_blob(data: &[u8], level: i32, raw_above_permille: u16) -> EncodedBlob<'_> {
    let pays = |compressed: usize, raw: usize| {
        (compressed as u128) * 1000 < (raw as u128) * raw_above_permille as u128
    };
    if data.len() > 2 * PROBE_LEN {
        let probe = &data[..PROBE_LEN];
        match compress(1, probe) {
            Some(c) if pays(c.len(), probe.len()) => {}
            _ => {
                return EncodedBlob {
                    codec: Codec::Raw,
                    bytes: Cow::Borrowed(data),
                }
            }
        }
    }
    match compress(level, data) {
        Some(c) if pays(c.len(), data.len()) => EncodedBlob {
            codec: Codec::Zstd,
            bytes: Cow::Owned(c),
        },
        _ => EncodedBlob {
            codec: Codec::Raw,
            bytes: Cow::Borrowed(data),
        },
    }
}

/// Decode stored bytes back to the plaintext (the caller verifies the id).
pub fn decode_blob(codec: Codec, stored: &[u8], raw_length: u32) -> Result<Vec<u8>> {
    match codec {
        Codec::Raw => Ok(stored.to_vec()),
        Codec::Zstd => {
            let out = zstd::bulk::decompress(stored, raw_length as usize)
                .map_err(|e| Error::corrupt("blob", format!("zstd: {e}")))?;
            if out.len() != raw_length as usize {
                return Err(Error::corrupt(
                    "blob",
                    format!("decompressed to {} bytes, expected {raw_length}", out.len()),
                ));
            }
            Ok(out)
        }
    }
}

/// Accumulates blobs for one pack.
#[derive(Default)]
pub struct PackWriter {
    buf: Vec<u8>,
    blobs: Vec<PackBlob>,
}

pub struct FinishedPack {
    pub id: Id,
    pub bytes: Vec<u8>,
    pub blobs: Vec<PackBlob>,
    /// Stored bytes of blobs repeated to make the name differ
    /// (`finish_avoiding`): unused space from the start.
    pub repeated: u64,
}

impl PackWriter {
    /// A writer that fills `buf` (cleared) instead of a fresh allocation.
    pub fn with_buffer(mut buf: Vec<u8>) -> PackWriter {
        buf.clear();
        PackWriter {
            buf,
            blobs: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    pub fn add(&mut self, kind: BlobKind, id: Id, raw_length: u32, blob: &EncodedBlob) {
        let offset = self.buf.len() as u32;
        self.buf.extend_from_slice(&blob.bytes);
        self.blobs.push(PackBlob {
            kind,
            id,
            offset,
            length: blob.bytes.len() as u32,
            raw_length,
            codec: blob.codec,
        });
    }

    /// Finish, but never as a pack `avoid` names: append the first blob
    /// again (a blob may repeat within a pack) until the bytes differ.
    pub fn finish_avoiding(mut self, avoid: impl Fn(&Id) -> bool) -> FinishedPack {
        let mut repeated = 0;
        for _ in 0..8 {
            if self.blobs.is_empty() {
                break;
            }
            let data_len = self.buf.len();
            let blobs = self.blobs.clone();
            let fin = self.finish();
            if !avoid(&fin.id) {
                return FinishedPack { repeated, ..fin };
            }
            let (mut buf, first) = (fin.bytes, blobs[0].clone());
            repeated += first.length as u64;
            buf.truncate(data_len);
            buf.extend_from_within(first.offset as usize..(first.offset + first.length) as usize);
            let mut blobs = blobs;
            blobs.push(PackBlob {
                offset: data_len as u32,
                ..first
            });
            self = PackWriter { buf, blobs };
        }
        FinishedPack {
            repeated,
            ..self.finish()
        }
    }

    pub fn finish(self) -> FinishedPack {
        let PackWriter { mut buf, blobs } = self;
        let header = Header { blobs };
        let hbytes = codec::encode(HEADER_MAGIC, HEADER_VERSION, &header);
        buf.extend_from_slice(&hbytes);
        buf.extend_from_slice(&(hbytes.len() as u32).to_le_bytes());
        buf.extend_from_slice(TRAILER_MAGIC);
        FinishedPack {
            id: Id::of_bytes(&buf),
            bytes: buf,
            blobs: header.blobs,
            repeated: 0,
        }
    }
}

/// Length of the header as announced by a pack's 12-byte trailer.
pub fn header_len_from_trailer(trailer: &[u8]) -> Result<u32> {
    if trailer.len() != TRAILER_LEN || &trailer[4..] != TRAILER_MAGIC {
        return Err(Error::corrupt("pack", "missing pack trailer magic"));
    }
    Ok(u32::from_le_bytes([
        trailer[0], trailer[1], trailer[2], trailer[3],
    ]))
}

/// Decode a header and check that its blobs tile the data region exactly.
pub fn decode_header(header: &[u8], data_len: u64) -> Result<Vec<PackBlob>> {
    let h: Header = codec::decode("pack header", HEADER_MAGIC, HEADER_VERSION, header)?;
    let mut expect = 0u64;
    for b in &h.blobs {
        if b.offset as u64 != expect {
            return Err(Error::corrupt(
                "pack header",
                format!("blob {} at offset {} (expected {expect})", b.id, b.offset),
            ));
        }
        expect += b.length as u64;
    }
    if expect != data_len {
        return Err(Error::corrupt(
            "pack header",
            format!("blobs cover {expect} bytes but the data region is {data_len}"),
        ));
    }
    Ok(h.blobs)
}

/// Parse the header of a whole pack held in memory.
pub fn read_header(pack: &[u8]) -> Result<Vec<PackBlob>> {
    if pack.len() < TRAILER_LEN {
        return Err(Error::corrupt("pack", "shorter than its trailer"));
    }
    let hlen = header_len_from_trailer(&pack[pack.len() - TRAILER_LEN..])? as usize;
    let data_len = pack
        .len()
        .checked_sub(TRAILER_LEN + hlen)
        .ok_or_else(|| Error::corrupt("pack", "header length exceeds the pack"))?;
    decode_header(&pack[data_len..pack.len() - TRAILER_LEN], data_len as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trip_and_header_tiling() {
        let mut w = PackWriter::default();
        let text = b"hello hello hello hello hello hello hello".repeat(100);
        let e1 = encode_blob(&text, 3, 970);
        assert_eq!(e1.codec, Codec::Zstd);
        let mut x = 0x9e3779b97f4a7c15u64;
        let noise: Vec<u8> = (0..300_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let e2 = encode_blob(&noise, 3, 970);
        assert_eq!(e2.codec, Codec::Raw);
        w.add(BlobKind::Data, Id([1; 32]), text.len() as u32, &e1);
        w.add(BlobKind::Tree, Id([2; 32]), noise.len() as u32, &e2);
        let p = w.finish();
        let blobs = read_header(&p.bytes).unwrap();
        assert_eq!(blobs, p.blobs);
        let b = &blobs[0];
        let stored = &p.bytes[b.offset as usize..(b.offset + b.length) as usize];
        assert_eq!(decode_blob(b.codec, stored, b.raw_length).unwrap(), text);
        let mut bad = p.bytes.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert!(read_header(&bad).is_err());
    }
}
