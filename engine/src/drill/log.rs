//! A drill's results and phase times, collected as it goes.

use super::{CheckResult, PhaseTime};
use crate::error::Result;
use std::time::Instant;

/// Collects check results and phase times as the drill goes.
pub(super) struct Log {
    pub(super) start: Instant,
    pub(super) mark: Instant,
    pub(super) phases: Vec<PhaseTime>,
    pub(super) checks: Vec<CheckResult>,
}

impl Log {
    pub(super) fn phase_done(&mut self, name: &str) {
        let now = Instant::now();
        self.phases.push(PhaseTime {
            name: name.into(),
            ms: (now - self.mark).as_millis() as u64,
        });
        self.mark = now;
    }

    pub(super) fn check(&mut self, name: &str, passed: bool, detail: impl Into<String>) {
        self.checks.push(CheckResult {
            name: name.into(),
            passed,
            detail: detail.into(),
        });
    }

    pub(super) fn result(&mut self, name: &str, r: Result<String>) {
        match r {
            Ok(detail) => self.check(name, true, detail),
            Err(e) => self.check(name, false, e.to_string()),
        }
    }
}
