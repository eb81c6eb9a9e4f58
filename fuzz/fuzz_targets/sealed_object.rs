//! Sealed objects of an encrypted repository (format-spec §13.1): arbitrary
//! bytes as a config, a sealed pack header and a sealed box of each kind
//! must be refused, never panic or over-allocate.
#![no_main]
use jarc::crypto::{Cipher, Context, MasterKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let master = MasterKey::from_bytes([7; 32]);
    let sealer = master.sealer();
    if let Ok(jarc::config::Stored::Sealed(s)) = jarc::config::Config::read(data) {
        let _ = jarc::config::Config::open_sealed(&s, &sealer);
    }
    // Both ciphers' boxes (format versions 2 and 3).
    for s in [sealer, master.object_sealer(Cipher::Aes256GcmDerived)] {
        let _ = jarc::pack::read_header(data, Some(&s));
        for ctx in [Context::Index, Context::Snapshot, Context::Blob(&[1; 32])] {
            let _ = s.open(ctx, data);
        }
    }
});
