//! Decoding arbitrary bytes must return an error, never panic or over-allocate;
//! the decoder that reads a file straight into the in-memory index (what every
//! open uses) accepts exactly what the one that builds an `IndexFile` accepts,
//! and indexes the same packs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    let decoded = jarc::index::IndexFile::decode(data);
    for trees_only in [false, true] {
        let mut idx = jarc::index::Index::default();
        let streamed = idx.add_encoded("index/f", data, &HashSet::new(), trees_only);
        assert_eq!(
            streamed.is_ok(),
            decoded.is_ok(),
            "{streamed:?} {decoded:?}"
        );
        if let Ok(f) = &decoded {
            let packs = f
                .packs
                .iter()
                .filter(|p| !trees_only || p.holds_trees())
                .map(|p| p.id)
                .collect::<HashSet<_>>();
            assert_eq!(
                idx.packs().iter().map(|p| p.0).collect::<HashSet<_>>(),
                packs
            );
        } else {
            assert!(idx.packs().is_empty() && idx.is_empty());
        }
    }
});
