//! A deterministic mutation pass over every on-disk decoder, so the stable
//! test suite catches panics that the cargo-fuzz targets (fuzz/) hunt for
//! at length: valid objects are flipped, truncated, extended and spliced,
//! and every decoder must answer with `Ok` or `Err`, never a panic.

use crate::config::{Config, Stored};
use crate::crypto::MasterKey;
use crate::drill_record::DrillRecord;
use crate::id::Id;
use crate::index::{IndexFile, IndexPack};
use crate::keys::{KdfParams, KeyFile};
use crate::media::{EntryKind, MediaEntry, Sidecar};
use crate::pack::{self, BlobKind, Codec, PackBlob, PackWriter};
use crate::plan::{Condemned, Plan};
use crate::row::{self, Value};
use crate::schema::{Column, Layer, ObjectKind, Phase, RowKey, SchemaObject};
use crate::session::Marker;
use crate::snapshot::{Snapshot, SourceInfo, Summary};
use crate::tree::{Child, LeafEntry, Node, Root};

fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let blob = PackBlob {
        kind: BlobKind::Tree,
        id: Id([7; 32]),
        offset: 0,
        length: 3,
        raw_length: 9,
        codec: Codec::Zstd,
    };
    let mut w = PackWriter::default();
    let enc = pack::encode_blob(b"abcabcabc", 3, 970);
    w.add(BlobKind::Data, Id([1; 32]), 9, &enc);
    vec![
        ("config", Config::new_random().encode()),
        ("pack", w.finish(None).bytes.to_vec()),
        (
            "index",
            IndexFile {
                packs: vec![IndexPack {
                    id: Id([2; 32]),
                    size: 99,
                    blobs: vec![blob],
                }],
            }
            .encode(),
        ),
        (
            "leaf",
            Node::Leaf(vec![
                LeafEntry {
                    key: b"a".to_vec(),
                    value: b"1".to_vec(),
                },
                LeafEntry {
                    key: b"b".to_vec(),
                    value: vec![],
                },
            ])
            .encode(),
        ),
        (
            "internal",
            Node::Internal {
                level: 2,
                children: vec![Child {
                    first_key: b"k".to_vec(),
                    node: Id([3; 32]),
                    count: 5,
                }],
            }
            .encode(),
        ),
        (
            "snapshot",
            Snapshot {
                time_ns: -5,
                hostname: "h".into(),
                tags: vec!["t".into()],
                source: SourceInfo {
                    kind: "dir".into(),
                    id: "/x".into(),
                    description: "d".into(),
                },
                parent: Some(Id([4; 32])),
                roots: vec![(
                    "media".into(),
                    Root {
                        node: Id([5; 32]),
                        count: 1,
                    },
                )],
                summary: Summary::default(),
                extra: vec![("k".into(), "v".into())],
            }
            .encode(),
        ),
        (
            "media",
            MediaEntry {
                kind: EntryKind::File,
                size: 9,
                mtime_ns: 1,
                mode: 0o644,
                inode: 2,
                ctime_ns: 3,
                token: String::new(),
                content: Id([6; 32]),
                chunks: vec![Id([1; 32])],
                meta: vec![("contentType".into(), "image/png".into())],
                sidecar: Some(Sidecar {
                    raw: None,
                    mtime_ns: 4,
                }),
                target: None,
            }
            .encode(),
        ),
        (
            "schema object",
            SchemaObject {
                name: "post".into(),
                kind: ObjectKind::Table,
                layer: Layer::Content,
                columns: vec![Column {
                    name: "id".into(),
                    decl_type: "text".into(),
                    not_null: true,
                }],
                key: RowKey::PrimaryKey(vec![0]),
                namespace: None,
                statements: vec![(Phase::Create, "CREATE TABLE post (id text)".into())],
                order: 3,
                row_format: row::ROW_FORMAT,
            }
            .encode(),
        ),
        (
            "row",
            row::encode_row(&[
                Value::Text("pst_1".into()),
                Value::Integer(-7),
                Value::Real(1.5),
                Value::Blob(vec![1, 2]),
                Value::Null,
                Value::Timestamp(9),
            ]),
        ),
        (
            "drill record",
            DrillRecord {
                time_ns: 7,
                snapshot: Id([8; 32]),
                hostname: "h".into(),
                passed: true,
                rto_ms: 5,
                snapshot_age_s: -1,
                target: "pg".into(),
                checks: 13,
                failed: vec!["site name".into()],
                jarc: "0.1.0".into(),
            }
            .encode(),
        ),
        (
            "prune plan",
            Plan {
                created_ns: 11,
                hostname: "h".into(),
                nonce: [5; 16],
                packs: vec![
                    Condemned {
                        pack: Id([9; 32]),
                        size: 1 << 25,
                        unindexed: false,
                    },
                    Condemned {
                        pack: Id([10; 32]),
                        size: 3,
                        unindexed: true,
                    },
                ],
            }
            .encode(),
        ),
        (
            "session marker",
            Marker {
                hostname: "h".into(),
                pid: 42,
                command: "backup".into(),
                started_ns: 12,
                seen: Some(vec![Id([11; 32])]),
                closed: false,
            }
            .encode(),
        ),
        (
            "key",
            KeyFile::wrap(
                &MasterKey::from_bytes([3; 32]),
                "pw",
                KdfParams {
                    memory_kib: 64,
                    iterations: 1,
                    parallelism: 1,
                },
            )
            .unwrap()
            .encode(),
        ),
        ("sealed config", {
            let mut c = Config::new_random();
            c.encryption = crate::config::Encryption::XChaCha20Poly1305;
            c.encode_sealed(&sealer())
        }),
        ("sealed pack", sealed_pack(&sealer())),
        ("sealed config v3", {
            let mut c = Config::new_random();
            c.encryption = crate::config::Encryption::Aes256Gcm;
            c.encode_sealed(&sealer())
        }),
        (
            "aes-gcm pack",
            sealed_pack(
                &MasterKey::from_bytes([3; 32])
                    .object_sealer(crate::crypto::Cipher::Aes256GcmDerived),
            ),
        ),
    ]
}

/// A one-blob pack sealed by `s`.
fn sealed_pack(s: &crate::crypto::Sealer) -> Vec<u8> {
    let mut w = PackWriter::default();
    let enc = pack::encode_blob(b"abcabcabc", 3, 970);
    w.add(BlobKind::Data, Id([1; 32]), 9, &enc);
    w.finish(Some(s)).bytes.to_vec()
}

fn sealer() -> crate::crypto::Sealer {
    MasterKey::from_bytes([3; 32]).sealer()
}

fn decode_all(b: &[u8]) {
    let _ = Config::decode(b);
    let _ = pack::read_header(b, None);
    let _ = IndexFile::decode(b);
    let _ = Node::decode(b);
    let _ = Snapshot::decode(b);
    let _ = MediaEntry::decode(b);
    let _ = SchemaObject::decode(b);
    let _ = row::decode_row(b);
    let _ = DrillRecord::decode(b);
    let _ = Plan::decode(b);
    let _ = Marker::decode(b);
    let _ = KeyFile::decode(b);
    if let Ok(Stored::Sealed(c)) = Config::read(b) {
        let _ = Config::open_sealed(&c, &sealer());
    }
    let _ = pack::read_header(b, Some(&sealer()));
}

#[test]
fn decoders_survive_mutation() {
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for (_, valid) in samples() {
        decode_all(&valid);
        for i in 0..4000 {
            let mut b = valid.clone();
            match i % 5 {
                0 => {
                    let p = rnd() as usize % b.len();
                    b[p] ^= 1 << (rnd() % 8);
                }
                1 => b.truncate(rnd() as usize % b.len()),
                2 => b.extend((0..rnd() % 16).map(|_| rnd() as u8)),
                3 => {
                    // Large varints where lengths live.
                    let p = 6 + rnd() as usize % b.len().saturating_sub(6).max(1);
                    if p < b.len() {
                        b[p] = 0xff;
                    }
                }
                _ => {
                    let p = rnd() as usize % b.len();
                    for j in p..(p + 8).min(b.len()) {
                        b[j] = rnd() as u8;
                    }
                }
            }
            decode_all(&b);
        }
    }
    // Sanity: valid objects still decode.
    let s = samples();
    assert!(Config::decode(&s[0].1).is_ok());
    assert!(pack::read_header(&s[1].1, None).is_ok());
    assert!(IndexFile::decode(&s[2].1).is_ok());
    assert!(Node::decode(&s[3].1).is_ok() && Node::decode(&s[4].1).is_ok());
    assert!(Snapshot::decode(&s[5].1).is_ok());
    assert!(MediaEntry::decode(&s[6].1).is_ok());
    assert!(SchemaObject::decode(&s[7].1).is_ok());
    assert!(row::decode_row(&s[8].1).is_ok());
    assert!(DrillRecord::decode(&s[9].1).is_ok());
    assert!(Plan::decode(&s[10].1).is_ok());
    assert!(Marker::decode(&s[11].1).is_ok());
    assert!(KeyFile::decode(&s[12].1).is_ok());
    match Config::read(&s[13].1) {
        Ok(Stored::Sealed(c)) => assert!(Config::open_sealed(&c, &sealer()).is_ok()),
        _ => panic!("sealed config"),
    }
    assert!(pack::read_header(&s[14].1, Some(&sealer())).is_ok());
}

/// The same pass over the text a Jant archive brings: db.sql and meta.json.
#[test]
fn jant_inputs_survive_mutation() {
    use crate::jant::dump::{read, Rules};
    let sql = b"-- Jant database export\n-- Exported: 2026-01-01T00:00:00.000Z\n-- Source: node\n\n-- post\nINSERT INTO \"collection\" (\"id\") VALUES('col_A');\nINSERT INTO \"post\" (\"id\", \"thread_id\", \"reply_to_id\", \"body\") VALUES('p1', 'p1', NULL, 'it''s; -- /* x */ \xc3\xa9');\nINSERT INTO \"post_collection\" (\"post_id\", \"collection_id\", \"created_at\", \"position\", \"pinned_at\") VALUES('p1', 'col_A', 1.5e3, -2, NULL);\nINSERT INTO \"media\" (\"id\", \"blurhash\") VALUES('m', X'00ff');\n/* block */ INSERT INTO setting (key, value) VALUES('SITE_NAME', 'n');".to_vec();
    let meta = br#"{"format":"jant-site-snapshot","version":2,"dialect":"pg","jant":"0.10.0","site":{"id":"s","key":"k"},"tables":["setting"]}"#.to_vec();
    let v1 = Rules::Snapshot {
        version: 1,
        legacy_site: Some("sit_F".into()),
    };
    if let Err(e) = read(&sql[..], &v1) {
        panic!("{e}");
    }
    assert!(crate::jant::meta::parse(&meta).is_ok());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let specials = b"'\";-/*()\\\n,X.eE+";
    for valid in [&sql, &meta] {
        for i in 0..3000 {
            let mut b = valid.clone();
            let p = rnd() as usize % b.len();
            match i % 4 {
                0 => b[p] = specials[rnd() as usize % specials.len()],
                1 => b.truncate(p),
                2 => {
                    b.remove(p);
                }
                _ => b[p] = rnd() as u8,
            }
            let _ = read(&b[..], &v1);
            let _ = read(&b[..], &Rules::Export);
            let _ = crate::jant::meta::parse(&b);
        }
    }
}
