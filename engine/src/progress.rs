//! Progress reporting: the engine emits events, the CLI draws them.

pub trait Progress: Sync {
    /// A new phase begins; `total` is its size in bytes (0 when unknown).
    fn phase(&self, _name: &str, _total: u64) {}
    /// A phase over `items` files (or objects) of `total` bytes in all.
    fn phase_items(&self, name: &str, total: u64, _items: u64) {
        self.phase(name, total)
    }
    /// The current phase grew by `total` bytes over `items` more items:
    /// a phase whose work is found as it goes (a backup learns what to read
    /// a batch of the scan at a time).
    fn grow(&self, _total: u64, _items: u64) {}
    /// `n` more bytes of the current phase are done.
    fn advance(&self, _n: u64) {}
    /// One more of the phase's items is done (written, read, or given up).
    fn item_done(&self) {}
    /// Something the operator should see (a skipped file, a warning).
    fn warn(&self, _msg: &str) {}
    /// Whether the operator asked the command to stop (Ctrl-C, SIGTERM).
    /// Long commands look between files and chunk batches, and stop with
    /// `Error::Interrupted` after making what they wrote usable.
    fn interrupted(&self) -> bool {
        false
    }
}

/// Reports nothing.
pub struct Silent;

impl Progress for Silent {}
