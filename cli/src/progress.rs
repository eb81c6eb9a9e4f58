//! Progress bars on a terminal; nothing otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
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

pub struct Bars {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new(wanted: bool) -> Bars {
        Bars {
            enabled: wanted && std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
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
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b
        } else {
            ProgressBar::new_spinner()
        };
        b.set_message(name.to_string());
        *slot = Some(b);
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
