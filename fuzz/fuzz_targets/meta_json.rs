//! Any bytes as a snapshot's meta.json must be accepted or refused, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jarc::jant::meta::parse(data);
});
