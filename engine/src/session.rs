//! Session markers (`sessions/<id>`): how a prune learns which commands are
//! running against the repository, without locks and without trusting any
//! host's clock. (format-spec/README.md §12)
//!
//! A command that writes a snapshot (backup, import) opens a session in
//! this order: write its marker with `seen: None`, list the plans, load the
//! index (blobs only in condemned packs are not reused), then rewrite the
//! marker with the plans it saw. A prune deletes a plan's packs only when
//! every live marker lists that plan; a marker with `seen: None` (every
//! reader, and a writer still opening) holds back every plan. So either a
//! prune sees the marker and waits, or the session saw the plan and does
//! not reference what it condemns.
//!
//! Liveness uses only the store's clock: a marker is refreshed every
//! `REFRESH` and counts as abandoned when its Last-Modified is `STALE`
//! older than the prune's own marker's.
//!
//! A session never overwrites or deletes an object (format-spec §12.1,
//! version 2): each write of its marker is a new object
//! `sessions/<session>.<seq>`, the highest `seq` being the current one,
//! and it ends by writing a `closed` marker. Only prune deletes markers
//! (`sweep`), so a host that backs up needs no delete rights. A session that could not refresh
//! for `STALE / 2` (a suspended process, a long network outage) does not
//! trust that it still holds anything back; `Repository::before_commit`
//! re-verifies its snapshot's blobs before committing.

use crate::backend::{Backend, Listed};
use crate::codec;
use crate::error::{Error, Result};
use crate::id::Id;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub const MAGIC: &[u8; 4] = b"JRSS";
pub const VERSION: u16 = 2;
/// A marker not refreshed for this long (store clock) is abandoned.
pub const STALE: Duration = Duration::from_secs(3600);
/// How often a running session rewrites its marker.
pub const REFRESH: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub hostname: String,
    pub pid: u32,
    pub command: String,
    /// Host clock at start; informational only, never compared.
    pub started_ns: i64,
    /// The plans this session saw before loading the index; `None` holds
    /// back every plan.
    pub seen: Option<Vec<Id>>,
    /// The session has ended: it holds nothing back (version 2).
    pub closed: bool,
}

/// A version 1 marker: version 2 without `closed`, written in place and
/// deleted at the end by earlier builds.
#[derive(Deserialize)]
struct MarkerV1 {
    hostname: String,
    pid: u32,
    command: String,
    started_ns: i64,
    seen: Option<Vec<Id>>,
}

impl Marker {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(MAGIC, VERSION, self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Marker> {
        if bytes.len() >= 6 && bytes[..4] == MAGIC[..] && bytes[4..6] == 1u16.to_le_bytes() {
            let v1: MarkerV1 = codec::decode("session marker", MAGIC, 1, bytes)?;
            return Ok(Marker {
                hostname: v1.hostname,
                pid: v1.pid,
                command: v1.command,
                started_ns: v1.started_ns,
                seen: v1.seen,
                closed: false,
            });
        }
        codec::decode("session marker", MAGIC, VERSION, bytes)
    }
}

/// Both clocks: the monotonic one stops while a machine sleeps, the wall
/// one may jump; the larger of the two elapsed times is the safe one.
#[derive(Clone, Copy)]
struct Stamp(Instant, SystemTime);

impl Stamp {
    fn now() -> Stamp {
        Stamp(Instant::now(), SystemTime::now())
    }

    fn elapsed(&self) -> Duration {
        let wall = SystemTime::now()
            .duration_since(self.1)
            .unwrap_or(Duration::MAX);
        self.0.elapsed().max(wall)
    }
}

struct Shared {
    marker: Marker,
    /// The sequence number of the next write.
    next: u32,
    /// When the last successful write of the marker started.
    refreshed: Stamp,
}

/// A running session. Dropping it stops the refresher and writes a
/// closed marker; nothing is deleted.
pub struct Session {
    backend: Backend,
    /// `sessions/<random>`: every marker of this session starts with it.
    pub name: String,
    shared: Arc<Mutex<Shared>>,
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

/// Write the marker as the session's next object. The lock is held across
/// the PUT so that a higher sequence number always holds newer state.
fn write(backend: &Backend, base: &str, shared: &Mutex<Shared>) -> Result<()> {
    let mut s = shared.lock().map_err(|_| poisoned())?;
    let started = Stamp::now();
    let bytes = backend.seal(crate::crypto::Context::Session, s.marker.encode());
    let name = crate::layout::session_marker(base, s.next);
    s.next += 1;
    backend.put(&name, Bytes::from(bytes))?;
    s.refreshed = started;
    Ok(())
}

fn poisoned() -> Error {
    Error::Invalid("internal lock poisoned by a panicked worker".into())
}

impl Session {
    /// Write the marker (holding back every plan) and start refreshing it.
    pub fn begin(backend: &Backend, command: &str) -> Result<Session> {
        let nonce: [u8; 16] = rand::random();
        let name = crate::layout::session(&nonce);
        let shared = Arc::new(Mutex::new(Shared {
            marker: Marker {
                hostname: crate::util::hostname(),
                pid: std::process::id(),
                command: command.to_string(),
                started_ns: crate::util::now_ns(),
                seen: None,
                closed: false,
            },
            next: 0,
            refreshed: Stamp::now(),
        }));
        write(backend, &name, &shared)?;
        let (tx, rx) = mpsc::channel::<()>();
        let (b, n, sh) = (backend.clone(), name.clone(), shared.clone());
        // A failed refresh is not fatal here: `at_risk` notices the gap.
        let refresher = std::thread::Builder::new()
            .name("jarc-session".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(REFRESH) {
                    let _ = write(&b, &n, &sh);
                }
            })
            .map_err(|e| Error::io("session refresher thread", e))?;
        Ok(Session {
            backend: backend.clone(),
            name,
            shared,
            stop: Some(tx),
            refresher: Some(refresher),
        })
    }

    /// Record the plans this session saw (`None`: hold back every plan).
    pub fn set_seen(&self, seen: Option<Vec<Id>>) -> Result<()> {
        self.shared.lock().map_err(|_| poisoned())?.marker.seen = seen;
        write(&self.backend, &self.name, &self.shared)
    }

    /// Whether a prune may by now think this session abandoned.
    pub fn at_risk(&self) -> bool {
        self.shared
            .lock()
            .map(|s| s.refreshed.elapsed() >= STALE / 2)
            .unwrap_or(true)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        if let Ok(mut s) = self.shared.lock() {
            s.marker.closed = true;
        }
        let _ = write(&self.backend, &self.name, &self.shared);
    }
}

/// A session as a prune sees it: its newest marker.
pub struct Seen {
    /// The session (`sessions/<random>`).
    pub name: String,
    /// Store time of its newest marker.
    pub modified_ns: i64,
    /// `None` when the marker could not be read (still being written, or
    /// damaged): it holds back every plan until it goes stale.
    pub marker: Option<Marker>,
    /// Every marker object of the session, newest last.
    pub objects: Vec<String>,
}

/// Every session, by its newest marker, with its store time. Only the
/// newest marker of each is read.
pub fn list(backend: &Backend) -> Result<Vec<Seen>> {
    let mut out = Vec::new();
    for (name, objects, modified_ns) in group(backend.list(crate::layout::SESSIONS)?) {
        let newest = objects.last().cloned().unwrap_or_default();
        let marker = match backend.get(&newest) {
            Ok(b) => backend
                .unseal(crate::crypto::Context::Session, &newest, b)
                .and_then(|b| Marker::decode(&b))
                .ok(),
            // Swept by another prune since the LIST.
            Err(Error::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        out.push(Seen {
            name,
            modified_ns,
            marker,
            objects,
        });
    }
    Ok(out)
}

/// Marker objects by session: (session, its objects oldest first, store
/// time of the newest).
fn group(listed: Vec<Listed>) -> Vec<(String, Vec<String>, i64)> {
    let mut by: std::collections::BTreeMap<String, Vec<(u32, String, i64)>> = Default::default();
    for l in listed {
        let (base, seq) = crate::layout::session_of(&l.name);
        by.entry(base.to_string())
            .or_default()
            .push((seq, l.name.clone(), l.modified_ns));
    }
    by.into_iter()
        .map(|(base, mut v)| {
            v.sort();
            let modified = v.last().map(|x| x.2).unwrap_or_default();
            (base, v.into_iter().map(|x| x.1).collect(), modified)
        })
        .collect()
}

/// The store's clock: the Last-Modified of session `own`'s newest marker;
/// the host clock when there is no such marker (a dry run has none), which
/// only a dry run's report uses.
pub fn now_in(sessions: &[Seen], own: &str) -> i64 {
    time_of(
        sessions.iter().map(|s| (s.name.as_str(), s.modified_ns)),
        own,
    )
}

/// `now_in` from one LIST, without reading any marker.
pub fn store_now(backend: &Backend, own: &str) -> Result<i64> {
    let grouped = group(backend.list(crate::layout::SESSIONS)?);
    Ok(time_of(
        grouped.iter().map(|(n, _, t)| (n.as_str(), *t)),
        own,
    ))
}

fn time_of<'a>(mut names: impl Iterator<Item = (&'a str, i64)>, own: &str) -> i64 {
    names
        .find(|(n, _)| *n == own)
        .map(|(_, t)| t)
        .unwrap_or_else(crate::util::now_ns)
}

/// Whether the process that wrote a marker is gone: only provable for a
/// process on this host (the pid no longer exists). A reused pid keeps a
/// dead marker alive until it goes stale, which only delays a deletion.
fn dead_here(m: &Marker, hostname: &str) -> bool {
    if m.hostname != hostname || m.pid == std::process::id() {
        return false;
    }
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks that the pid exists.
        let rc = unsafe { libc::kill(m.pid as libc::pid_t, 0) };
        rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// The sessions that hold back `plan`: alive (not closed, refreshed within
/// `STALE` of `now_ns`, store clock, and not provably dead) and not
/// having seen it.
/// `own` is the asking prune's marker, which never holds itself back.
pub fn holding_back<'a>(
    sessions: &'a [Seen],
    plan: &Id,
    now_ns: i64,
    own: &str,
    hostname: &str,
) -> Vec<&'a Seen> {
    sessions
        .iter()
        .filter(|s| s.name != own)
        .filter(|s| now_ns.saturating_sub(s.modified_ns) < STALE.as_nanos() as i64)
        .filter(|s| match &s.marker {
            Some(m) => {
                !m.closed
                    && !dead_here(m, hostname)
                    && !m.seen.as_ref().is_some_and(|v| v.contains(plan))
            }
            None => true,
        })
        .collect()
}

/// Delete the markers of sessions that ended (closed), of processes on
/// this host that no longer exist, and of sessions abandoned for
/// `2 × STALE`; of a live session, every marker but its newest. Returns
/// the sessions swept whole. Only prune calls this: it is the one command
/// that needs delete rights.
pub fn sweep(
    backend: &Backend,
    sessions: &[Seen],
    now_ns: i64,
    own: &str,
    hostname: &str,
) -> Result<u64> {
    let mut n = 0;
    for s in sessions {
        let closed = s.marker.as_ref().is_some_and(|m| m.closed);
        let dead = s.marker.as_ref().is_some_and(|m| dead_here(m, hostname));
        let old = now_ns.saturating_sub(s.modified_ns) >= 2 * STALE.as_nanos() as i64;
        let whole = (closed || dead || old) && s.name != own;
        let keep = if whole { 0 } else { 1 };
        for name in &s.objects[..s.objects.len().saturating_sub(keep)] {
            match backend.delete(name) {
                Ok(()) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        n += whole as u64;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(name: &str, age_s: i64, m: Option<Option<Vec<Id>>>) -> Seen {
        Seen {
            name: name.into(),
            objects: vec![format!("{name}.00000000")],
            modified_ns: 10_000 * 1_000_000_000 - age_s * 1_000_000_000,
            marker: m.map(|seen| Marker {
                hostname: "elsewhere".into(),
                pid: 1,
                command: "backup".into(),
                started_ns: 0,
                seen,
                closed: name == "closed",
            }),
        }
    }

    #[test]
    fn who_holds_a_plan_back() {
        let (x, y) = (Id([1; 32]), Id([2; 32]));
        let now = 10_000 * 1_000_000_000;
        let all = vec![
            seen("own", 0, Some(None)),
            seen("reader", 10, Some(None)),
            seen("saw-x", 10, Some(Some(vec![x]))),
            seen("saw-y", 10, Some(Some(vec![y]))),
            seen("unreadable", 10, None),
            seen("stale", 3600, Some(None)),
            seen("closed", 10, Some(None)),
        ];
        let names = |p: &Id| -> Vec<String> {
            holding_back(&all, p, now, "own", "here")
                .iter()
                .map(|s| s.name.clone())
                .collect()
        };
        assert_eq!(names(&x), ["reader", "saw-y", "unreadable"]);
        assert_eq!(names(&y), ["reader", "saw-x", "unreadable"]);
    }
}
