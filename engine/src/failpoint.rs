//! Crash injection for the interruption tests: `JARC_FAILPOINT=<name>` aborts
//! the process at the named point, the way a power cut or `kill -9` would.
//! Reading one environment variable per call is negligible next to the I/O
//! at each point.

pub fn hit(name: &str) {
    if let Some(v) = std::env::var_os("JARC_FAILPOINT") {
        if v == name {
            eprintln!("jarc: failpoint {name}: aborting");
            std::process::abort();
        }
    }
}
