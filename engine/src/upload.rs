//! The pack uploader: full packs go to storage on a thread of their own
//! while the workers that fill them keep going (format-spec §8.2).

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::failpoint;
use crate::index::IndexPack;
use crate::layout;
use bytes::Bytes;
use std::sync::mpsc;

/// Full packs go to storage on a thread of their own, so the workers that
/// fill packs keep chunking, hashing, compressing and sealing while one is
/// copied out and synced (a local PUT is a write and an fsync; an S3 PUT a
/// round trip). The hand-over blocks while the previous pack is still
/// going out: at most one full pack waits, which bounds memory.
pub(crate) struct Uploader {
    tx: Option<mpsc::SyncSender<(Bytes, IndexPack)>>,
    results: mpsc::Receiver<Result<IndexPack>>,
    /// Packs sent, and results received.
    sent: u64,
    received: u64,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Uploader {
    /// `uploaded` is called after each pack's PUT returned.
    pub(crate) fn start(
        backend: Backend,
        uploaded: impl Fn() + Send + 'static,
    ) -> Result<Uploader> {
        let (tx, rx) = mpsc::sync_channel::<(Bytes, IndexPack)>(0);
        let (done_tx, results) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("jarc-upload".into())
            .spawn(move || {
                for (bytes, pack) in rx {
                    let (size, started) = (bytes.len(), std::time::Instant::now());
                    // A pack of tree nodes is written twice: the pack,
                    // then the same bytes as its copy (§4.3). The pack
                    // first, so that a copy is never without its pack but
                    // while a prune deletes them (it deletes the pack first).
                    let copy = pack.holds_trees().then(|| bytes.clone());
                    let r = backend
                        .put(&layout::pack(&pack.id), bytes)
                        .and_then(|()| match copy {
                            Some(c) => {
                                failpoint::hit("before-tree-copy");
                                backend.put(&layout::tree_copy(&pack.id), c)
                            }
                            None => Ok(()),
                        })
                        .map(|()| {
                            tracing::debug!(
                                pack = %pack.id.short(),
                                bytes = size,
                                ms = started.elapsed().as_millis() as u64,
                                "pack uploaded"
                            );
                            uploaded();
                            failpoint::hit("after-pack");
                            pack
                        });
                    if done_tx.send(r).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| Error::io("pack upload thread", e))?;
        Ok(Uploader {
            tx: Some(tx),
            results,
            sent: 0,
            received: 0,
            thread: Some(thread),
        })
    }

    pub(crate) fn send(&mut self, bytes: Bytes, pack: IndexPack) -> Result<()> {
        let gone = || Error::Invalid("the pack upload thread stopped".into());
        self.tx
            .as_ref()
            .ok_or_else(gone)?
            .send((bytes, pack))
            .map_err(|_| gone())?;
        self.sent += 1;
        Ok(())
    }

    /// The packs uploaded since the last call; with `all`, after waiting
    /// for every pack sent. The first failed upload is the error.
    pub(crate) fn finished(&mut self, all: bool) -> Result<Vec<IndexPack>> {
        let mut out = Vec::new();
        while self.received < self.sent {
            let r = if all {
                self.results
                    .recv()
                    .map_err(|_| Error::Invalid("the pack upload thread stopped".into()))?
            } else {
                match self.results.try_recv() {
                    Ok(r) => r,
                    Err(_) => break,
                }
            };
            self.received += 1;
            out.push(r?);
        }
        Ok(out)
    }
}

impl Drop for Uploader {
    /// Packs handed over are written before the thread ends: a repository
    /// dropped on an error path leaves them as unindexed packs (§8.3),
    /// never half-written.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
