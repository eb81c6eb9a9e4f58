//! Pack files: blobs appended back to back, then a header that lists them,
//! then a fixed 12-byte trailer. Because the header travels with the data,
//! an index can be rebuilt from packs alone. (format-spec/README.md §4)
//!
//! A pack is named by the blake3 of its bytes and written once, atomically;
//! it is never modified afterwards.

use crate::codec;
use crate::crypto::{self, Context, Sealer};
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

/// `Header` as written, borrowing the blobs (the same encoding).
#[derive(Serialize)]
struct HeaderRef<'a> {
    blobs: &'a [PackBlob],
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
    /// One decompression context per thread: making one per blob was 3 %
    /// of a database restore's CPU (`ZSTD_createDCtx`, perf, issue 18).
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
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
            let out = DECOMPRESSOR
                .with(|cell| {
                    let mut slot = cell.borrow_mut();
                    let d = match &mut *slot {
                        Some(d) => d,
                        None => slot.insert(zstd::bulk::Decompressor::new()?),
                    };
                    d.decompress(stored, raw_length as usize)
                })
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

/// Where a pack's bytes start in memory: page-aligned, so that a local
/// repository writes them with direct I/O as they are, with no copy
/// through an aligned buffer (`direct_write`).
pub const PACK_ALIGN: usize = 4096;

/// Buffers of packs that were written, for the next packs of the same
/// kind: a fresh 32 MiB buffer costs 8,192 page faults and the kernel
/// zeroing every page (a first backup's system time 2.0-2.2 s -> 0.8-0.9 s
/// of 2.2 GiB, wall a fifth less). The price: two whole buffers stay
/// resident where a fresh one grew as it filled (+20 MiB peak RSS). At
/// most two wait here.
#[derive(Default, Clone)]
pub struct BufferPool(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl BufferPool {
    fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().ok()?.pop()
    }

    fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        if let Ok(mut pool) = self.0.lock() {
            if pool.len() < 2 {
                pool.push(buf);
            }
        }
    }
}

/// A finished pack's bytes; its buffer goes back to the pool when the last
/// reference (the upload, the copy of a tree pack) is dropped.
struct Pooled {
    buf: Vec<u8>,
    start: usize,
    pool: BufferPool,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}

/// Accumulates blobs for one pack. The pack's bytes are `buf[base..]`:
/// `base` zero bytes put its start on a page boundary.
#[derive(Default)]
pub struct PackWriter {
    buf: Vec<u8>,
    base: usize,
    blobs: Vec<PackBlob>,
    /// Where the buffer came from and goes back to, if anywhere.
    pool: Option<BufferPool>,
}

pub struct FinishedPack {
    pub id: Id,
    /// The whole pack (page-aligned when the allocation allowed).
    pub bytes: bytes::Bytes,
    pub blobs: Vec<PackBlob>,
    /// Stored bytes of blobs repeated to make the name differ
    /// (`finish_avoiding`): unused space from the start.
    pub repeated: u64,
}

impl PackWriter {
    pub fn len(&self) -> usize {
        self.buf.len() - self.base
    }

    /// Make room for `total` bytes of pack in all, exactly: doubling would
    /// leave a pack's buffer at twice the pack size. The first call also
    /// places the pack's start on a page boundary, in a buffer of `pool`
    /// if one is free; the buffer goes back there once the pack is written.
    pub fn reserve_from(&mut self, total: usize, pool: Option<&BufferPool>) {
        if self.buf.capacity() == 0 {
            if let Some(pool) = pool {
                // Grown below if the next pack needs a little more.
                if let Some(buf) = pool.take() {
                    self.buf = buf;
                }
                self.pool = Some(pool.clone());
            }
            self.buf.reserve_exact(total + PACK_ALIGN);
            // Less than a page; a later reallocation may lose the
            // alignment, which costs a copy when written, nothing else.
            self.base = self.buf.as_ptr().align_offset(PACK_ALIGN).min(PACK_ALIGN);
            self.buf.resize(self.base, 0);
        }
        let want = self.base + total;
        self.buf.reserve_exact(want.saturating_sub(self.buf.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.blobs.is_empty()
    }

    pub fn add(&mut self, kind: BlobKind, id: Id, raw_length: u32, blob: &EncodedBlob) {
        self.add_parts(kind, id, raw_length, blob.codec, &[&blob.bytes]);
    }

    /// `add` for a blob whose stored bytes are `parts` one after another
    /// (a box sealed in place: nonce, ciphertext, tag).
    pub fn add_parts(
        &mut self,
        kind: BlobKind,
        id: Id,
        raw_length: u32,
        codec: Codec,
        parts: &[&[u8]],
    ) {
        let offset = self.len() as u32;
        let mut length = 0;
        for p in parts {
            self.buf.extend_from_slice(p);
            length += p.len();
        }
        self.blobs.push(PackBlob {
            kind,
            id,
            offset,
            length: length as u32,
            raw_length,
            codec,
        });
    }

    /// Finish, but never as a pack `avoid` names: append the first blob
    /// again (a blob may repeat within a pack) until the bytes differ.
    pub fn finish_avoiding(
        mut self,
        avoid: impl Fn(&Id) -> bool,
        sealer: Option<&Sealer>,
    ) -> FinishedPack {
        let mut repeated = 0;
        for _ in 0..8 {
            let Some(first) = self.blobs.first().cloned() else {
                break;
            };
            let tail = self.tail(sealer);
            let id = self.name(&tail);
            if !avoid(&id) {
                return FinishedPack {
                    repeated,
                    ..self.finish_with(tail, id)
                };
            }
            repeated += first.length as u64;
            let (from, offset) = (self.base + first.offset as usize, self.len() as u32);
            self.buf
                .extend_from_within(from..from + first.length as usize);
            self.blobs.push(PackBlob { offset, ..first });
        }
        FinishedPack {
            repeated,
            ..self.finish(sealer)
        }
    }

    /// Append the header and trailer. With a sealer the header is sealed,
    /// and zeros inside it pad the whole pack to a Padmé length (§13.4):
    /// a reader of the bucket sees neither where blobs start nor the
    /// exact size of what a pack holds.
    pub fn finish(self, sealer: Option<&Sealer>) -> FinishedPack {
        let tail = self.tail(sealer);
        let id = self.name(&tail);
        self.finish_with(tail, id)
    }

    /// The name the pack will have once `tail` follows its blobs: hashed
    /// before the tail is appended, and only once.
    fn name(&self, tail: &[u8]) -> Id {
        let mut h = blake3::Hasher::new();
        h.update(&self.buf[self.base..]);
        h.update(tail);
        Id(*h.finalize().as_bytes())
    }

    /// What follows the blobs: the header, its length and the trailer.
    fn tail(&self, sealer: Option<&Sealer>) -> Vec<u8> {
        let header = HeaderRef { blobs: &self.blobs };
        let mut hbytes = codec::encode(HEADER_MAGIC, HEADER_VERSION, &header);
        if let Some(s) = sealer {
            let unpadded = self.len() + 4 + hbytes.len() + crypto::OVERHEAD + TRAILER_LEN;
            let pad = (crypto::padme(unpadded as u64) as usize).saturating_sub(unpadded);
            let mut plain = Vec::with_capacity(4 + hbytes.len() + pad);
            plain.extend_from_slice(&(hbytes.len() as u32).to_le_bytes());
            plain.extend_from_slice(&hbytes);
            plain.resize(plain.len() + pad, 0);
            hbytes = s.seal(Context::PackHeader, &plain);
        }
        let len = (hbytes.len() as u32).to_le_bytes();
        hbytes.extend_from_slice(&len);
        hbytes.extend_from_slice(TRAILER_MAGIC);
        hbytes
    }

    fn finish_with(self, tail: Vec<u8>, id: Id) -> FinishedPack {
        let PackWriter {
            mut buf,
            base,
            blobs,
            pool,
        } = self;
        // Exactly: growing by doubling would map twice the pack.
        buf.reserve_exact(tail.len());
        buf.extend_from_slice(&tail);
        let bytes = match pool {
            Some(pool) => bytes::Bytes::from_owner(Pooled {
                buf,
                start: base,
                pool,
            }),
            None => bytes::Bytes::from(buf).slice(base..),
        };
        FinishedPack {
            id,
            bytes,
            blobs,
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

/// The header envelope inside a sealed header: `u32 LE n ‖ envelope (n) ‖
/// zero padding`.
fn open_header<'a>(stored: &'a [u8], sealer: Option<&Sealer>) -> Result<Cow<'a, [u8]>> {
    let Some(s) = sealer else {
        return Ok(Cow::Borrowed(stored));
    };
    let plain = s
        .open(Context::PackHeader, stored)
        .map_err(|_| Error::corrupt("pack header", "it does not authenticate (damaged)"))?;
    let n = plain
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .filter(|n| 4 + n <= plain.len())
        .ok_or_else(|| Error::corrupt("pack header", "its length prefix exceeds it"))?;
    Ok(Cow::Owned(plain[4..4 + n].to_vec()))
}

/// Parse a pack's header from its stored bytes (as the trailer locates
/// them) and the length of the blob region before it.
pub fn parse_header(
    stored: &[u8],
    data_len: u64,
    sealer: Option<&Sealer>,
) -> Result<Vec<PackBlob>> {
    decode_header(&open_header(stored, sealer)?, data_len)
}

/// Parse the header of a whole pack held in memory.
pub fn read_header(pack: &[u8], sealer: Option<&Sealer>) -> Result<Vec<PackBlob>> {
    if pack.len() < TRAILER_LEN {
        return Err(Error::corrupt("pack", "shorter than its trailer"));
    }
    let hlen = header_len_from_trailer(&pack[pack.len() - TRAILER_LEN..])? as usize;
    let data_len = pack
        .len()
        .checked_sub(TRAILER_LEN + hlen)
        .ok_or_else(|| Error::corrupt("pack", "header length exceeds the pack"))?;
    let header = open_header(&pack[data_len..pack.len() - TRAILER_LEN], sealer)?;
    decode_header(&header, data_len as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reserved pack starts on a page (a local store writes it without a
    /// copy), and a pack whose name must be avoided repeats its first blob
    /// at the right offset until the name differs.
    #[test]
    fn packs_start_on_a_page_and_avoid_names_they_must_not_take() {
        let blob = |w: &mut PackWriter, n: u8| {
            let data = vec![n; 5_000 + n as usize];
            w.reserve_from(1 << 20, None);
            w.add(
                BlobKind::Data,
                Id([n; 32]),
                data.len() as u32,
                &encode_blob(&data, 3, 970),
            );
        };
        let mut w = PackWriter::default();
        blob(&mut w, 1);
        blob(&mut w, 2);
        let plain = PackWriter {
            buf: w.buf.clone(),
            base: w.base,
            blobs: w.blobs.clone(),
            pool: None,
        }
        .finish(None);
        let avoided = w.finish_avoiding(|id| *id == plain.id, None);
        assert_eq!(avoided.bytes.as_ptr().align_offset(PACK_ALIGN), 0);
        assert_ne!(avoided.id, plain.id);
        assert_eq!(avoided.id, Id::of_bytes(&avoided.bytes));
        assert_eq!(avoided.repeated, avoided.blobs[0].length as u64);
        let blobs = read_header(&avoided.bytes, None).unwrap();
        assert_eq!((blobs.len(), &blobs), (3, &avoided.blobs));
        for b in &blobs {
            let stored = &avoided.bytes[b.offset as usize..(b.offset + b.length) as usize];
            let want = vec![b.id.0[0]; b.raw_length as usize];
            assert_eq!(decode_blob(b.codec, stored, b.raw_length).unwrap(), want);
        }
        assert_eq!(blobs[2].offset, blobs[1].offset + blobs[1].length);
    }

    /// A written pack's buffer serves the next pack once its bytes are
    /// dropped, and the next pack's bytes are its own.
    #[test]
    fn a_written_packs_buffer_serves_the_next() {
        let pool = BufferPool::default();
        let pack = |n: u8| {
            let mut w = PackWriter::default();
            w.reserve_from(1 << 20, Some(&pool));
            let data = vec![n; 70_000];
            w.add(
                BlobKind::Data,
                Id([n; 32]),
                70_000,
                &encode_blob(&data, 3, 970),
            );
            w.finish(None)
        };
        let first = pack(1);
        let at = first.bytes.as_ptr();
        let held = first.bytes.clone();
        drop(first);
        // Still referenced (a tree pack's copy not yet written): not reused.
        let second = pack(2);
        assert_ne!(second.bytes.as_ptr(), at);
        drop(held);
        let third = pack(3);
        assert_eq!(third.bytes.as_ptr(), at);
        let blobs = read_header(&third.bytes, None).unwrap();
        let b = &blobs[0];
        let stored = &third.bytes[b.offset as usize..(b.offset + b.length) as usize];
        assert_eq!(
            decode_blob(b.codec, stored, b.raw_length).unwrap(),
            vec![3; 70_000]
        );
        assert_eq!(third.id, Id::of_bytes(&third.bytes));
    }

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
        let p = w.finish(None);
        let blobs = read_header(&p.bytes, None).unwrap();
        assert_eq!(blobs, p.blobs);
        let b = &blobs[0];
        let stored = &p.bytes[b.offset as usize..(b.offset + b.length) as usize];
        assert_eq!(decode_blob(b.codec, stored, b.raw_length).unwrap(), text);
        let mut bad = p.bytes.to_vec();
        let n = bad.len();
        bad[n - 1] ^= 1;
        assert!(read_header(&bad, None).is_err());
    }

    #[test]
    fn a_sealed_header_hides_the_layout_and_pads_the_pack() {
        let s = crate::crypto::MasterKey::from_bytes([5; 32]).sealer();
        let mut w = PackWriter::default();
        let blob = EncodedBlob {
            codec: Codec::Raw,
            bytes: Cow::Owned(s.seal(Context::Blob(&[1; 32]), &[7u8; 1000])),
        };
        w.add(BlobKind::Data, Id([1; 32]), 1000, &blob);
        let p = w.finish(Some(&s));
        assert_eq!(
            p.bytes.len() as u64,
            crate::crypto::padme(p.bytes.len() as u64)
        );
        assert_eq!(read_header(&p.bytes, Some(&s)).unwrap(), p.blobs);
        let e = read_header(&p.bytes, None).unwrap_err().to_string();
        assert!(e.contains("wrong magic"), "{e}");
        let mut bad = p.bytes.to_vec();
        let at = bad.len() - TRAILER_LEN - 1;
        bad[at] ^= 1;
        let e = read_header(&bad, Some(&s)).unwrap_err().to_string();
        assert_eq!(
            e,
            "pack header is corrupt: it does not authenticate (damaged)"
        );
    }
}
