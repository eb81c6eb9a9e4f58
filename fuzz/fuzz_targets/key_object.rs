//! Key objects (format-spec §13.2): arbitrary bytes must be refused, never
//! panic; KDF parameters beyond jarc's limits are refused at decode, before
//! any password is tried. Small ones are tried with a password here.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = jarc::keys::KeyFile::decode(data) {
        let jarc::keys::Kdf::Argon2id { params, .. } = &k.kdf;
        if params.memory_kib <= 1024 && params.iterations <= 2 {
            let _ = k.unwrap_with("password");
        }
    }
});
