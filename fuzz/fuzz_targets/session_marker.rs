//! Decoding arbitrary bytes as a session marker must return an error, never panic or over-allocate.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jarc::session::Marker::decode(data);
});
