//! Progress bars on a terminal; nothing otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Set by SIGINT or SIGTERM; commands look at it through
/// `Progress::interrupted` and stop cleanly.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    // Only async-signal-safe calls here: an atomic and write(2).
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        // A second interrupt: stop now, as the first message promised.
        unsafe { libc::_exit(130) };
    }
    let msg = b"\njarc: interrupted: stopping after the current files; what was uploaded is kept (interrupt again to stop at once)\n";
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}

/// Route SIGINT and SIGTERM to a clean stop.
pub fn catch_interrupts() {
    let handler = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only touches an atomic and calls write/_exit.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

pub fn was_interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Phase, files done/all, bar, bytes done/all, rate, elapsed, and the
/// time left (indicatif estimates it from the recent rate, not the mean
/// since the start, so a slow scan does not skew it).
const TEMPLATE: &str =
    "{msg:>8} {prefix} [{bar:25}] {bytes}/{total_bytes} {bytes_per_sec} {elapsed} eta {eta}";

fn with_bar_style(b: &ProgressBar) {
    if let Ok(style) = ProgressStyle::with_template(TEMPLATE) {
        b.set_style(style.progress_chars("=> "));
    }
}

pub struct Bars {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
    /// Items (files, objects) of the current phase: done, and in all
    /// (0 when the phase does not count them).
    items: (AtomicU64, AtomicU64),
}

impl Bars {
    pub fn new(wanted: bool) -> Bars {
        Bars {
            enabled: wanted && std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
            items: (AtomicU64::new(0), AtomicU64::new(0)),
        }
    }

    pub fn done(&self) {
        if let Ok(mut b) = self.bar.lock() {
            if let Some(b) = b.take() {
                b.finish_and_clear();
            }
        }
    }
}

impl jarc::progress::Progress for Bars {
    fn phase(&self, name: &str, total: u64) {
        self.phase_items(name, total, 0)
    }

    fn phase_items(&self, name: &str, total: u64, items: u64) {
        self.items.0.store(0, Ordering::Relaxed);
        self.items.1.store(items, Ordering::Relaxed);
        if !self.enabled {
            return;
        }
        let Ok(mut slot) = self.bar.lock() else {
            return;
        };
        if let Some(b) = slot.take() {
            b.finish_and_clear();
        }
        let b = if total > 0 {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            with_bar_style(&b);
            b
        } else {
            ProgressBar::new_spinner()
        };
        b.set_message(name.to_string());
        if items > 0 {
            b.set_prefix(format!("0/{items} files"));
        }
        *slot = Some(b);
    }

    fn grow(&self, total: u64, items: u64) {
        let all = self.items.1.fetch_add(items, Ordering::Relaxed) + items;
        if !self.enabled {
            return;
        }
        if let Ok(slot) = self.bar.lock() {
            if let Some(b) = slot.as_ref() {
                match b.length() {
                    Some(n) => b.set_length(n + total),
                    // A spinner until there is a size to show.
                    None => {
                        with_bar_style(b);
                        b.set_length(total);
                    }
                }
                if all > 0 {
                    let done = self.items.0.load(Ordering::Relaxed);
                    b.set_prefix(format!("{done}/{all} files"));
                }
            }
        }
    }

    fn item_done(&self) {
        let done = self.items.0.fetch_add(1, Ordering::Relaxed) + 1;
        let all = self.items.1.load(Ordering::Relaxed);
        if !self.enabled || all == 0 {
            return;
        }
        if let Ok(slot) = self.bar.lock() {
            if let Some(b) = slot.as_ref() {
                b.set_prefix(format!("{done}/{all} files"));
            }
        }
    }

    fn advance(&self, n: u64) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(b) = slot.as_ref() {
                b.inc(n);
            }
        }
    }

    fn interrupted(&self) -> bool {
        was_interrupted()
    }

    fn warn(&self, msg: &str) {
        match self.bar.lock().ok().and_then(|s| s.clone()) {
            Some(b) if self.enabled => b.println(format!("warning: {msg}")),
            _ => eprintln!("jarc: warning: {msg}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jarc::progress::Progress;

    #[test]
    fn bars_count_files_and_bytes() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
        let bars = Bars {
            enabled: true,
            bar: Mutex::new(None),
            items: (AtomicU64::new(0), AtomicU64::new(0)),
        };
        bars.phase_items("restore", 1000, 3);
        let bar = || bars.bar.lock().unwrap().clone().unwrap();
        bar().set_draw_target(ProgressDrawTarget::hidden());
        assert_eq!(bar().prefix(), "0/3 files");
        bars.advance(400);
        bars.item_done();
        bars.item_done();
        assert_eq!(
            (bar().prefix(), bar().position()),
            ("2/3 files".into(), 400)
        );
        // A phase without items shows no count.
        bars.phase("commit", 0);
        bar().set_draw_target(ProgressDrawTarget::hidden());
        bars.item_done();
        assert_eq!(bar().prefix(), "");
        // A phase found as it goes: a spinner until it has a size, then a
        // bar that grows.
        bars.phase_items("backup", 0, 0);
        bar().set_draw_target(ProgressDrawTarget::hidden());
        assert_eq!(bar().length(), None);
        bars.grow(500, 2);
        bars.item_done();
        bars.grow(300, 1);
        assert_eq!(
            (bar().prefix(), bar().length()),
            ("1/3 files".into(), Some(800))
        );
        bars.done();
    }
}
