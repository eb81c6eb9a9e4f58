//! Index files (`index/<id>`) and the in-memory index built from them.
//!
//! On disk an index file lists packs and, for each, its blobs with their
//! offsets, so a reader finds any blob with one range read.
//! (format-spec/README.md §5)
//!
//! In memory the index is one sorted `Vec` of fixed 52-byte entries plus a
//! table of pack ids: binary search is fast enough next to a range read, and
//! nothing else is allocated per blob (no hash-table slack, no per-entry
//! heap). The figure is stated in `Index::bytes_per_entry` and measured by
//! `jarc-bench index`.

use crate::codec;
use crate::error::Result;
use crate::id::Id;
use crate::pack::{BlobKind, Codec, PackBlob};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

pub const MAGIC: &[u8; 4] = b"JRIX";
pub const VERSION: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexPack {
    pub id: Id,
    /// Size of the whole pack object in bytes.
    pub size: u64,
    pub blobs: Vec<PackBlob>,
}

impl IndexPack {
    /// Whether it is a pack of tree nodes (packs never mix kinds), which
    /// has a copy (format-spec §4.3).
    pub fn holds_trees(&self) -> bool {
        self.blobs.first().is_some_and(|b| b.kind == BlobKind::Tree)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexFile {
    pub packs: Vec<IndexPack>,
}

impl IndexFile {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(MAGIC, VERSION, self)
    }

    pub fn decode(bytes: &[u8]) -> Result<IndexFile> {
        codec::decode("index file", MAGIC, VERSION, bytes)
    }
}

/// Where a blob lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLoc {
    pub pack: Id,
    pub offset: u32,
    pub length: u32,
    pub raw_length: u32,
    pub kind: BlobKind,
    pub codec: Codec,
}

#[derive(Clone, Copy)]
#[repr(C)]
struct Entry {
    id: [u8; 32],
    pack: u32,
    offset: u32,
    length: u32,
    raw_length: u32,
    /// bit 0: kind (0 data, 1 tree); bit 1: codec (0 raw, 1 zstd);
    /// bit 2: the pack is condemned by a prune plan (format-spec §12).
    flags: u8,
}

const CONDEMNED: u8 = 4;

pub struct Index {
    packs: Vec<(Id, u64)>,
    /// Per pack number: the stored bytes of all its blobs (duplicates too).
    blob_bytes: Vec<u64>,
    /// Index files by name, with the numbers of the packs each names.
    files: Vec<(String, Vec<u32>)>,
    pack_no: HashMap<Id, u32>,
    entries: Vec<Entry>,
    sorted: bool,
}

impl Default for Index {
    fn default() -> Index {
        Index {
            packs: Vec::new(),
            blob_bytes: Vec::new(),
            files: Vec::new(),
            pack_no: HashMap::new(),
            entries: Vec::new(),
            sorted: true,
        }
    }
}

impl Index {
    /// Resident bytes per indexed blob, excluding the per-pack table.
    pub fn bytes_per_entry() -> usize {
        std::mem::size_of::<Entry>()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Approximate resident size of the index in bytes.
    pub fn resident_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.packs.capacity() * std::mem::size_of::<(Id, u64)>()
            + self.pack_no.capacity() * (std::mem::size_of::<(Id, u32)>() + 1)
    }

    /// Add an index file's packs, remembering which file named them.
    /// Packs in `condemned` are marked so (see `add_pack`).
    pub fn add_file(&mut self, name: &str, file: &IndexFile, condemned: &HashSet<Id>) {
        let nos = file
            .packs
            .iter()
            .map(|p| self.add_pack(p, condemned.contains(&p.id)))
            .collect();
        self.files.push((name.to_string(), nos));
    }

    /// Decode an index file's body (`IndexFile::decode`'s input) straight
    /// into the index, remembering it as `name`: no `IndexFile` is built,
    /// so the million blob descriptions of a large repository are never
    /// held twice (decoded, then indexed), and with `trees_only` the packs
    /// of data are read past without a copy of any of their blobs. A body
    /// that does not decode leaves the index as it was.
    pub fn add_encoded(
        &mut self,
        name: &str,
        bytes: &[u8],
        condemned: &HashSet<Id>,
        trees_only: bool,
    ) -> Result<()> {
        let mark = (self.packs.len(), self.entries.len());
        if !trees_only {
            // Room for every blob the file can describe (each takes at
            // least its 32-byte id and five bytes more), so the entries
            // are not moved as they grow; `finish` gives back the rest.
            self.entries.reserve(bytes.len() / 37);
        }
        let mut nos = Vec::new();
        let seed = decode::FileSeed {
            index: self,
            condemned,
            trees_only,
            nos: &mut nos,
        };
        match codec::decode_seed("index file", MAGIC, VERSION, bytes, seed) {
            Ok(()) => {
                self.files.push((name.to_string(), nos));
                Ok(())
            }
            Err(e) => {
                self.truncate(mark);
                Err(e)
            }
        }
    }

    /// Forget the packs from number `packs` on and the entries from
    /// `entries` on: what a file that failed to decode had added.
    fn truncate(&mut self, (packs, entries): (usize, usize)) {
        for (id, _) in self.packs.drain(packs..) {
            self.pack_no.remove(&id);
        }
        self.blob_bytes.truncate(packs);
        self.entries.truncate(entries);
    }

    /// Number a pack (its existing number, when another file named it
    /// already), and whether it was new.
    fn pack_number(&mut self, id: Id, size: u64) -> (u32, bool) {
        match self.pack_no.get(&id) {
            Some(n) => (*n, false),
            None => {
                let n = self.packs.len() as u32;
                self.packs.push((id, size));
                self.blob_bytes.push(0);
                self.pack_no.insert(id, n);
                (n, true)
            }
        }
    }

    fn push_blob(&mut self, no: u32, b: &PackBlob, condemned: bool, count_bytes: bool) {
        let flags = (b.kind == BlobKind::Tree) as u8
            | (((b.codec == Codec::Zstd) as u8) << 1)
            | if condemned { CONDEMNED } else { 0 };
        if count_bytes {
            self.blob_bytes[no as usize] += b.length as u64;
        }
        self.entries.push(Entry {
            id: b.id.0,
            pack: no,
            offset: b.offset,
            length: b.length,
            raw_length: b.raw_length,
            flags,
        });
        self.sorted = false;
    }

    /// Add a pack's blobs and return its number. Call `finish` before
    /// lookups. A condemned pack's blobs are found by `lookup` only when
    /// no other copy exists, and never by `contains_live`.
    pub fn add_pack(&mut self, pack: &IndexPack, condemned: bool) -> u32 {
        let (no, new) = self.pack_number(pack.id, pack.size);
        self.entries.reserve(pack.blobs.len());
        for b in &pack.blobs {
            self.push_blob(no, b, condemned, new);
        }
        no
    }

    /// Sort for lookups. A blob stored in several packs (two concurrent
    /// backups, an interrupted one redone, a repack) keeps one location,
    /// preferring a pack no plan condemns; any copy serves, since all have
    /// the same plaintext.
    pub fn finish(&mut self) {
        if !self.sorted {
            // Ids are uniformly random: their first 8 bytes as an integer
            // order almost every pair, and the full 32-byte compare runs
            // only on ties. Sorting 1 M entries by the tuple alone spent a
            // quarter of a `diff`'s CPU in memcmp (perf, issue 18).
            let head = |e: &Entry| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&e.id[..8]);
                u64::from_be_bytes(b)
            };
            // On every core: a million entries took a sixth of a `diff`'s
            // CPU to sort on one.
            rayon::slice::ParallelSliceMut::par_sort_unstable_by(
                self.entries.as_mut_slice(),
                |a, b| {
                    head(a).cmp(&head(b)).then_with(|| {
                        (a.id, a.flags & CONDEMNED, a.pack).cmp(&(
                            b.id,
                            b.flags & CONDEMNED,
                            b.pack,
                        ))
                    })
                },
            );
            self.entries.dedup_by(|a, b| a.id == b.id);
            self.entries.shrink_to_fit();
            self.sorted = true;
        }
    }

    fn find(&self, id: &Id) -> Option<&Entry> {
        debug_assert!(self.sorted);
        self.entries
            .binary_search_by(|e| e.id.cmp(&id.0))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Whether any copy of the blob is indexed (readers).
    pub fn contains(&self, id: &Id) -> bool {
        self.find(id).is_some()
    }

    /// Whether a copy outside every condemned pack is indexed: what a
    /// backup may reuse without storing the blob again.
    pub fn contains_live(&self, id: &Id) -> bool {
        self.find(id).is_some_and(|e| e.flags & CONDEMNED == 0)
    }

    /// The blob's position in id order (`0..len()`), for per-blob bitmaps.
    pub fn position(&self, id: &Id) -> Option<usize> {
        debug_assert!(self.sorted);
        self.entries.binary_search_by(|e| e.id.cmp(&id.0)).ok()
    }

    /// The number of the pack holding the blob at `position`, and its
    /// stored length.
    pub fn at(&self, position: usize) -> (u32, u32) {
        let e = &self.entries[position];
        (e.pack, e.length)
    }

    /// The blob at `position`: its id and location.
    pub fn entry(&self, position: usize) -> (Id, BlobLoc) {
        let e = &self.entries[position];
        (Id(e.id), self.loc(e))
    }

    /// Index files by name, with the numbers of the packs each names.
    pub fn files(&self) -> &[(String, Vec<u32>)] {
        &self.files
    }

    pub fn lookup(&self, id: &Id) -> Option<BlobLoc> {
        self.find(id).map(|e| self.loc(e))
    }

    fn loc(&self, e: &Entry) -> BlobLoc {
        BlobLoc {
            pack: self.packs[e.pack as usize].0,
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
            kind: if e.flags & 1 == 1 {
                BlobKind::Tree
            } else {
                BlobKind::Data
            },
            codec: if e.flags & 2 == 2 {
                Codec::Zstd
            } else {
                Codec::Raw
            },
        }
    }

    /// Every pack the index knows, with its size; a pack's number is its
    /// position here.
    pub fn packs(&self) -> &[(Id, u64)] {
        &self.packs
    }

    /// The stored bytes of all blobs in pack number `no`.
    pub fn pack_blob_bytes(&self, no: u32) -> u64 {
        self.blob_bytes[no as usize]
    }

    pub fn has_pack(&self, id: &Id) -> bool {
        self.pack_no.contains_key(id)
    }

    /// Every blob id with its location, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (Id, BlobLoc)> + '_ {
        self.entries.iter().map(|e| (Id(e.id), self.loc(e)))
    }
}

/// The serde seeds behind `Index::add_encoded`: the same postcard
/// encoding `IndexFile` derives (a struct is its fields in order, a `Vec`
/// its length then its elements), walked without building one.
mod decode {
    use super::{Index, PackBlob};
    use crate::id::Id;
    use crate::pack::BlobKind;
    use serde::de::{DeserializeSeed, Deserializer, Error, SeqAccess, Visitor};
    use std::collections::HashSet;
    use std::fmt;

    pub(super) struct FileSeed<'a> {
        pub index: &'a mut Index,
        pub condemned: &'a HashSet<Id>,
        pub trees_only: bool,
        /// The numbers of the packs added, for `Index::files`.
        pub nos: &'a mut Vec<u32>,
    }

    impl<'de> DeserializeSeed<'de> for FileSeed<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_struct("IndexFile", &["packs"], self)
        }
    }

    impl<'de> Visitor<'de> for FileSeed<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an index file")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            seq.next_element_seed(Packs(self))?
                .ok_or_else(|| A::Error::invalid_length(0, &"an index file's packs"))
        }
    }

    struct Packs<'a>(FileSeed<'a>);

    impl<'de> DeserializeSeed<'de> for Packs<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Packs<'_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of packs")
        }
        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
            while let Some(no) = seq.next_element_seed(Pack(&mut self.0))? {
                self.0.nos.extend(no);
            }
            Ok(())
        }
    }

    /// One pack: its number, or `None` when it was passed over.
    struct Pack<'s, 'a>(&'s mut FileSeed<'a>);

    impl<'de> DeserializeSeed<'de> for Pack<'_, '_> {
        type Value = Option<u32>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<u32>, D::Error> {
            d.deserialize_struct("IndexPack", &["id", "size", "blobs"], self)
        }
    }

    impl<'de> Visitor<'de> for Pack<'_, '_> {
        type Value = Option<u32>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a pack")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<u32>, A::Error> {
            let missing = || A::Error::invalid_length(0, &"a pack's id, size and blobs");
            let id: Id = seq.next_element()?.ok_or_else(missing)?;
            let size: u64 = seq.next_element()?.ok_or_else(missing)?;
            seq.next_element_seed(Blobs {
                file: self.0,
                id,
                size,
            })?
            .ok_or_else(missing)
        }
    }

    struct Blobs<'s, 'a> {
        file: &'s mut FileSeed<'a>,
        id: Id,
        size: u64,
    }

    impl<'de> DeserializeSeed<'de> for Blobs<'_, '_> {
        type Value = Option<u32>;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<u32>, D::Error> {
            d.deserialize_seq(self)
        }
    }

    impl<'de> Visitor<'de> for Blobs<'_, '_> {
        type Value = Option<u32>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a pack's blobs")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<u32>, A::Error> {
            let f = self.file;
            // A pack holds one kind (format-spec §3), so its first blob
            // says whether a trees-only index wants it. An empty pack
            // holds no trees (`IndexPack::holds_trees`).
            let first: Option<PackBlob> = seq.next_element()?;
            let keep = match &first {
                Some(b) => !f.trees_only || b.kind == BlobKind::Tree,
                None => !f.trees_only,
            };
            if !keep {
                while seq.next_element::<PackBlob>()?.is_some() {}
                return Ok(None);
            }
            let condemned = f.condemned.contains(&self.id);
            let (no, new) = f.index.pack_number(self.id, self.size);
            let mut next = first;
            while let Some(b) = next {
                f.index.push_blob(no, &b, condemned, new);
                next = seq.next_element()?;
            }
            Ok(Some(no))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// format-spec promises at most 52 resident bytes per blob: the entry
    /// itself, and no per-entry slack once an index is loaded.
    #[test]
    fn an_index_holds_at_most_52_bytes_per_blob() {
        assert!(
            Index::bytes_per_entry() <= 52,
            "{}",
            Index::bytes_per_entry()
        );
        let blobs_per_pack = 1000u32;
        let packs: Vec<IndexPack> = (0..100u32)
            .map(|p| IndexPack {
                id: Id(*blake3::hash(&p.to_le_bytes()).as_bytes()),
                size: 1 << 25,
                blobs: (0..blobs_per_pack)
                    .map(|b| PackBlob {
                        kind: BlobKind::Data,
                        id: Id(*blake3::hash(&(p * blobs_per_pack + b).to_be_bytes()).as_bytes()),
                        offset: b * 100,
                        length: 100,
                        raw_length: 100,
                        codec: Codec::Raw,
                    })
                    .collect(),
            })
            .collect();
        let mut idx = Index::default();
        for p in &packs {
            idx.add_pack(p, false);
        }
        idx.finish();
        assert_eq!(idx.len(), 100_000);
        // The per-pack table is the only other cost: 100 packs here.
        let per_pack = std::mem::size_of::<(Id, u64)>() + std::mem::size_of::<(Id, u32)>() + 1 + 8;
        let per_blob =
            (idx.resident_bytes() - per_pack * 2 * packs.len()) as f64 / idx.len() as f64;
        assert!(per_blob <= 52.0, "{per_blob} bytes per blob");
    }

    /// `add_encoded` indexes a file's bytes as `add_file` indexes the
    /// decoded file (every field, the pack table, the file's pack list);
    /// trees only keeps the tree packs; a body that fails part way leaves
    /// the index as it was.
    #[test]
    fn an_encoded_file_indexes_as_its_decoded_self() {
        let blob = |i: u8, kind| PackBlob {
            kind,
            id: Id([i; 32]),
            offset: i as u32 * 1000,
            length: 70_000 + i as u32,
            raw_length: 200_000,
            codec: if i.is_multiple_of(2) {
                Codec::Zstd
            } else {
                Codec::Raw
            },
        };
        let pack = |p: u8, blobs| IndexPack {
            id: Id([p; 32]),
            size: 1 << 25,
            blobs,
        };
        let file = IndexFile {
            packs: vec![
                pack(100, vec![blob(1, BlobKind::Data), blob(2, BlobKind::Data)]),
                pack(101, vec![blob(3, BlobKind::Tree), blob(4, BlobKind::Tree)]),
                pack(102, vec![]),
                pack(103, vec![blob(5, BlobKind::Data)]),
            ],
        };
        let bytes = file.encode();
        let condemned: HashSet<Id> = [Id([103; 32])].into();
        let all = |idx: &Index| -> Vec<(Id, BlobLoc, bool)> {
            idx.iter()
                .map(|(id, l)| (id, l, idx.contains_live(&id)))
                .collect()
        };
        let (mut want, mut got) = (Index::default(), Index::default());
        want.add_file("index/a", &file, &condemned);
        got.add_encoded("index/a", &bytes, &condemned, false)
            .unwrap();
        want.finish();
        got.finish();
        assert_eq!(all(&got), all(&want));
        assert_eq!(got.packs(), want.packs());
        assert_eq!(got.files(), want.files());
        assert_eq!(
            (0..4).map(|n| got.pack_blob_bytes(n)).collect::<Vec<_>>(),
            vec![140_003, 140_007, 0, 70_005]
        );

        let mut trees = Index::default();
        trees
            .add_encoded("index/a", &bytes, &condemned, true)
            .unwrap();
        trees.finish();
        let ids: Vec<Id> = trees.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, vec![Id([3; 32]), Id([4; 32])]);
        assert_eq!(trees.packs(), &[(Id([101; 32]), 1 << 25)]);
        assert_eq!(trees.files(), &[("index/a".to_string(), vec![0])]);

        // Cut inside the last pack: the packs before it decoded first.
        let mut cut = got;
        let err = cut
            .add_encoded("index/b", &bytes[..bytes.len() - 3], &HashSet::new(), false)
            .unwrap_err();
        assert!(err.to_string().contains("index file"), "{err}");
        cut.finish();
        assert_eq!(all(&cut), all(&want));
        assert_eq!(cut.packs(), want.packs());
        assert_eq!(cut.files(), want.files());
        let mut fresh = Index::default();
        fresh
            .add_encoded("index/b", &bytes[..bytes.len() - 3], &HashSet::new(), false)
            .unwrap_err();
        assert!(!fresh.has_pack(&Id([100; 32])) && fresh.packs().is_empty());
        fresh.finish();
        assert_eq!((fresh.len(), fresh.files().len()), (0, 0));
    }

    #[test]
    fn lookup_after_dedup() {
        let blob = |i: u8| PackBlob {
            kind: BlobKind::Data,
            id: Id([i; 32]),
            offset: i as u32 * 10,
            length: 10,
            raw_length: 20,
            codec: Codec::Zstd,
        };
        let mut idx = Index::default();
        idx.add_pack(
            &IndexPack {
                id: Id([9; 32]),
                size: 100,
                blobs: vec![blob(3), blob(1)],
            },
            true,
        );
        idx.add_pack(
            &IndexPack {
                id: Id([8; 32]),
                size: 100,
                blobs: vec![blob(1)],
            },
            false,
        );
        idx.finish();
        assert_eq!(idx.len(), 2);
        // The copy outside the condemned pack wins; a blob only in a
        // condemned pack is readable but not reusable.
        assert_eq!(idx.lookup(&Id([1; 32])).unwrap().pack, Id([8; 32]));
        assert!(idx.contains_live(&Id([1; 32])));
        assert!(idx.contains(&Id([3; 32])) && !idx.contains_live(&Id([3; 32])));
        let l = idx.lookup(&Id([3; 32])).unwrap();
        assert_eq!(
            (l.pack, l.offset, l.codec, l.kind),
            (Id([9; 32]), 30, Codec::Zstd, BlobKind::Data)
        );
        assert!(idx.lookup(&Id([2; 32])).is_none());
        let f = IndexFile {
            packs: vec![IndexPack {
                id: Id([9; 32]),
                size: 1,
                blobs: vec![blob(1)],
            }],
        };
        assert_eq!(IndexFile::decode(&f.encode()).unwrap(), f);
    }
}
