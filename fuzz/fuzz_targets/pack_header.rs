//! Decoding arbitrary bytes must return an error, never panic or over-allocate.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jarc::pack::read_header(data, None);
});
