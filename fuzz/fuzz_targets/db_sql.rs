//! Any bytes as a snapshot's db.sql (v1 rules, so the legacy rewrite and the
//! v1 upgrade run too) must parse or be refused with an error, never panic.
#![no_main]
use jarc::jant::dump::{read, Rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rules = Rules::Snapshot {
        version: 1,
        legacy_site: Some("sit_F".into()),
    };
    let _ = read(data, &rules);
    let _ = read(data, &Rules::Export);
});
