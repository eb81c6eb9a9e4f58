//! Crash injection for the interruption tests: `JARC_FAILPOINT=<name>` aborts
//! the process at the named point, the way a power cut or `kill -9` would.
//! Reading one environment variable per call is negligible next to the I/O
//! at each point.

//!
//! `JARC_FAILPOINT=<name>:pause=<file>` pauses there instead: the process
//! creates `<file>.reached` and waits until `<file>` exists. A test can
//! then act while the command is provably mid-way (kill it before its
//! commit, run a second writer beside it) instead of guessing with sleeps.

use std::path::PathBuf;
use std::time::Duration;

pub fn hit(name: &str) {
    let Some(v) = std::env::var_os("JARC_FAILPOINT") else {
        return;
    };
    if v == name {
        eprintln!("jarc: failpoint {name}: aborting");
        std::process::abort();
    }
    let v = v.to_string_lossy();
    if let Some(file) = v
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(":pause="))
    {
        pause(PathBuf::from(file));
    }
}

fn pause(go: PathBuf) {
    let mut reached = go.clone().into_os_string();
    reached.push(".reached");
    // Best effort: a test that cannot see the marker fails on its own.
    let _ = std::fs::write(&reached, b"");
    while !go.exists() {
        std::thread::sleep(Duration::from_millis(10));
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
