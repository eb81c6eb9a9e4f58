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

/// Failure injection that returns an error instead of aborting, to prove
/// that a command's error path undoes its work.
pub fn fail(name: &str) -> crate::Result<()> {
    match std::env::var_os("JARC_FAILPOINT") {
        Some(v) if v == name => Err(crate::Error::Invalid(format!(
            "injected failure at {name} (JARC_FAILPOINT)"
        ))),
        _ => Ok(()),
    }
}
