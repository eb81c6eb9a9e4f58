//! Snapshot objects (`snapshots/<id>`): the commit point of a backup.
//! (format-spec/README.md §7)

use crate::codec;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::repo::Repository;
use crate::tree::Root;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 4] = b"JRSN";
pub const VERSION: u16 = 1;
/// Name of the root that holds the media listing.
pub const MEDIA_ROOT: &str = "media";
/// `extra` key: how many media objects the backup left out.
pub const EXTRA_SKIPPED: &str = "media.skipped";

/// What was backed up. Backups of the same `kind` + `id` from the same host
/// form a chain: the newest is the next backup's parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub kind: String,
    pub id: String,
    pub description: String,
}

impl SourceInfo {
    /// What a backup of the SQLite database file at `path` records.
    pub fn sqlite(path: &std::path::Path) -> SourceInfo {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        SourceInfo {
            kind: "sqlite".into(),
            id: abs.display().to_string(),
            description: format!("sqlite {}", abs.display()),
        }
    }

    /// What a backup of the Postgres database at `url` records: the URL
    /// with its password masked, never the password.
    pub fn postgres(url: &str) -> SourceInfo {
        let masked = crate::util::mask_url(url);
        SourceInfo {
            kind: "pg".into(),
            id: masked.clone(),
            description: format!("postgres {masked}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub files: u64,
    pub dirs: u64,
    pub bytes: u64,
    pub files_new: u64,
    pub files_changed: u64,
    pub files_unchanged: u64,
    pub bytes_read: u64,
    pub blobs_new: u64,
    pub bytes_new_raw: u64,
    pub bytes_new_stored: u64,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Capture time, nanoseconds since the Unix epoch (UTC).
    pub time_ns: i64,
    pub hostname: String,
    pub tags: Vec<String>,
    pub source: SourceInfo,
    pub parent: Option<Id>,
    /// Named tree roots: `media`, and (later) one per database table.
    pub roots: Vec<(String, Root)>,
    pub summary: Summary,
    /// Source-specific facts (dialect, site id, …) as ordered pairs.
    pub extra: Vec<(String, String)>,
}

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(MAGIC, VERSION, self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Snapshot> {
        codec::decode("snapshot", MAGIC, VERSION, bytes)
    }

    pub fn root(&self, name: &str) -> Option<&Root> {
        self.roots.iter().find(|(n, _)| n == name).map(|(_, r)| r)
    }

    /// The database's tables and their row counts, from the roots alone
    /// (nothing is read): empty for a snapshot without a database.
    pub fn tables(&self) -> Vec<(&str, u64)> {
        self.roots
            .iter()
            .filter_map(|(n, r)| {
                n.strip_prefix(crate::schema::ROWS_ROOT_PREFIX)
                    .map(|t| (t, r.count))
            })
            .collect()
    }

    /// Media objects its backup left out (unreadable, vanished, changing).
    pub fn skipped(&self) -> u64 {
        self.extra
            .iter()
            .find(|(k, _)| k == EXTRA_SKIPPED)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    }

    /// (tables, rows) of its database, if it holds one.
    pub fn database_size(&self) -> Option<DatabaseSize> {
        self.root(crate::schema::SCHEMA_ROOT)?;
        let t = self.tables();
        Some(DatabaseSize {
            tables: t.len() as u64,
            rows: t.iter().map(|(_, n)| n).sum(),
        })
    }
}

/// What listings, filters and parent lookups need of a snapshot: all but
/// its tree roots and source facts, a few hundred bytes however large the
/// database. [`heads`] serves them from a client-side cache (format-spec
/// §14), so that a repository of 100,000 snapshots lists without reading
/// each one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub id: Id,
    pub time_ns: i64,
    pub hostname: String,
    pub tags: Vec<String>,
    pub source: SourceInfo,
    pub parent: Option<Id>,
    pub summary: Summary,
    pub database: Option<DatabaseSize>,
    pub skipped: u64,
}

impl Head {
    pub fn of(id: Id, s: &Snapshot) -> Head {
        Head {
            id,
            time_ns: s.time_ns,
            hostname: s.hostname.clone(),
            tags: s.tags.clone(),
            source: s.source.clone(),
            parent: s.parent,
            summary: s.summary.clone(),
            database: s.database_size(),
            skipped: s.skipped(),
        }
    }
}

/// Every snapshot's [`Head`], oldest first (as [`list`] orders them),
/// reading only the snapshots the local cache does not hold yet.
pub fn heads(repo: &Repository) -> Result<Vec<Head>> {
    crate::snapshot_cache::heads(repo)
}

/// Change a snapshot's tags: `set` replaces them all (when given), then
/// `add` and `remove` apply. A snapshot is immutable and named by its
/// bytes, so this writes the retagged snapshot (same time, contents and
/// parent) and then deletes the old one; its id changes, and a crash in
/// between leaves both (a `forget` of either is harmless). Returns the new
/// id, or the old one when nothing changes.
pub fn retag(
    repo: &Repository,
    id: &Id,
    snap: &Snapshot,
    set: Option<&[String]>,
    add: &[String],
    remove: &[String],
) -> Result<Id> {
    let mut tags: Vec<String> = set
        .map(<[String]>::to_vec)
        .unwrap_or_else(|| snap.tags.clone());
    for t in add {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    tags.retain(|t| !remove.contains(t));
    if tags == snap.tags {
        return Ok(*id);
    }
    let new = Snapshot {
        tags,
        ..snap.clone()
    };
    let new_id = save(repo, &new)?;
    self::remove(repo, id)?;
    Ok(new_id)
}

/// Which snapshots a listing shows: all of these must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Taken on this host.
    pub host: Option<String>,
    /// Carries every one of these tags.
    pub tags: Vec<String>,
    /// Its source's description or id contains this.
    pub source: Option<String>,
}

impl Filter {
    pub fn matches(&self, s: &Snapshot) -> bool {
        self.matches_parts(&s.hostname, &s.tags, &s.source)
    }

    pub fn matches_head(&self, h: &Head) -> bool {
        self.matches_parts(&h.hostname, &h.tags, &h.source)
    }

    fn matches_parts(&self, hostname: &str, tags: &[String], source: &SourceInfo) -> bool {
        self.host.as_ref().is_none_or(|h| *h == hostname)
            && self.tags.iter().all(|t| tags.contains(t))
            && self.source.as_ref().is_none_or(|w| {
                source.description.contains(w.as_str()) || source.id.contains(w.as_str())
            })
    }
}

/// A snapshot's database in two numbers, for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseSize {
    pub tables: u64,
    pub rows: u64,
}

/// Write a snapshot: its copy (§7.3), then the snapshot itself, the commit
/// point. Call only after `Repository::flush`.
pub fn save(repo: &Repository, snap: &Snapshot) -> Result<Id> {
    let bytes = Bytes::from(
        repo.backend()
            .seal(crate::crypto::Context::Snapshot, snap.encode()),
    );
    let id = Id::of_bytes(&bytes);
    repo.backend()
        .put(&crate::layout::snapshot_copy(&id), bytes.clone())?;
    crate::failpoint::hit("before-snapshot");
    repo.backend().put(&crate::layout::snapshot(&id), bytes)?;
    Ok(id)
}

/// Forget a snapshot: its copy first, so that no copy outlives its
/// snapshot (a crash in between leaves a snapshot without a copy, whole).
pub fn remove(repo: &Repository, id: &Id) -> Result<()> {
    match repo.backend().delete(&crate::layout::snapshot_copy(id)) {
        Ok(()) | Err(Error::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    repo.backend().delete(&crate::layout::snapshot(id))
}

/// A snapshot, from its object or, when that is damaged, from its copy.
pub fn load(repo: &Repository, id: &Id) -> Result<Snapshot> {
    let bytes = repo.backend().get(&crate::layout::snapshot(id))?;
    match open(repo, id, bytes) {
        Err(e @ Error::Corrupt { .. }) => {
            match repo.backend().get(&crate::layout::snapshot_copy(id)) {
                Ok(copy) => match open(repo, id, copy) {
                    Ok(s) => {
                        tracing::warn!(snapshot = %id.short(), error = %e, "damaged; read from its copy");
                        Ok(s)
                    }
                    Err(_) => Err(e),
                },
                Err(_) => Err(e),
            }
        }
        other => other,
    }
}

/// A snapshot object's bytes, checked against its name, opened, decoded.
fn open(repo: &Repository, id: &Id, bytes: Bytes) -> Result<Snapshot> {
    if Id::of_bytes(&bytes) != *id {
        return Err(Error::corrupt(
            format!("snapshot {id}"),
            "content does not match its name",
        ));
    }
    let bytes = repo.backend().unseal(
        crate::crypto::Context::Snapshot,
        &format!("snapshot {id}"),
        bytes,
    )?;
    Snapshot::decode(&bytes).map_err(|e| e.about(format!("snapshot {id}")))
}

/// Every snapshot with its copy (§7.3), and which of them is damaged or
/// missing (`check`, `repair copies`). Reads every snapshot and copy.
pub fn copy_state(repo: &Repository) -> Result<(Vec<crate::copies::Pair>, crate::copies::State)> {
    let pairs: Vec<crate::copies::Pair> = list_ids(repo)?
        .iter()
        .map(|id| crate::copies::Pair {
            object: crate::layout::snapshot(id),
            copy: crate::layout::snapshot_copy(id),
        })
        .collect();
    let st = crate::copies::state(repo.backend(), &pairs, |p, bytes| {
        let id = crate::layout::id_of(&p.object)
            .ok_or_else(|| Error::corrupt(p.object.clone(), "not a snapshot name"))?;
        open(repo, &id, bytes).map(|_| ())
    })?;
    Ok((pairs, st))
}

/// Every snapshot id, without loading them.
pub fn list_ids(repo: &Repository) -> Result<Vec<Id>> {
    let mut out = Vec::new();
    for name in repo.backend().list_names(crate::layout::SNAPSHOTS)? {
        match crate::layout::id_of(&name) {
            Some(id) => out.push(id),
            None => {
                return Err(Error::corrupt(
                    format!("repository object {name}"),
                    "not a snapshot name",
                ))
            }
        }
    }
    Ok(out)
}

/// Every snapshot, oldest first.
pub fn list(repo: &Repository) -> Result<Vec<(Id, Snapshot)>> {
    let mut out = Vec::new();
    for id in list_ids(repo)? {
        match load(repo, &id) {
            Ok(s) => out.push((id, s)),
            // Forgotten between the LIST and the GET (a concurrent
            // `forget`): a backup looking for its parent must not fail.
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort_by(|a, b| a.1.time_ns.cmp(&b.1.time_ns).then(a.0.cmp(&b.0)));
    Ok(out)
}

/// Resolve `latest` or a unique hex prefix.
pub fn resolve(repo: &Repository, spec: &str) -> Result<(Id, Snapshot)> {
    if spec == "latest" {
        let newest = heads(repo)?
            .pop()
            .ok_or_else(|| Error::NoSuchSnapshot(spec.to_string()))?;
        return Ok((newest.id, load(repo, &newest.id)?));
    }
    let lower = spec.to_ascii_lowercase();
    if lower.is_empty() || !lower.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::NoSuchSnapshot(spec.to_string()));
    }
    let matches: Vec<Id> = list_ids(repo)?
        .into_iter()
        .filter(|id| id.to_hex().starts_with(&lower))
        .collect();
    match matches.as_slice() {
        [] => Err(Error::NoSuchSnapshot(spec.to_string())),
        [one] => Ok((*one, load(repo, one)?)),
        many => Err(Error::AmbiguousSnapshot {
            prefix: spec.to_string(),
            matches: many.iter().map(|i| i.short()).collect(),
        }),
    }
}

/// A point in time as an operator writes it: RFC 3339 (`2026-12-04T10:05:00Z`,
/// `2026-12-04T11:05:00+01:00`), or `YYYY-MM-DD[ HH:MM[:SS]]` (a `T` may
/// stand for the space) read as UTC, the zone every listing prints.
/// Nanoseconds since the epoch.
pub fn parse_time(text: &str) -> Result<i64> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    let t = text.trim();
    let bad = || {
        Error::Invalid(format!(
            "time {text:?}: give RFC 3339 (2026-12-04T10:05:00Z) or YYYY-MM-DD [HH:MM[:SS]] in UTC"
        ))
    };
    let at = if let Ok(d) = time::OffsetDateTime::parse(t, &Rfc3339) {
        d
    } else {
        let t = t.replacen('T', " ", 1);
        let t = t.strip_suffix(['Z', 'z']).unwrap_or(&t).trim_end();
        let date = format_description!("[year]-[month]-[day]");
        let minutes = format_description!("[year]-[month]-[day] [hour]:[minute]");
        let seconds = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        time::PrimitiveDateTime::parse(t, seconds)
            .or_else(|_| time::PrimitiveDateTime::parse(t, minutes))
            .or_else(|_| time::Date::parse(t, date).map(|d| d.midnight()))
            .map_err(|_| bad())?
            .assume_utc()
    };
    // Nanoseconds in an i64 end in 2262: a later time is "after every
    // snapshot", an earlier one (before 1677) "before every snapshot".
    let ns = at.unix_timestamp_nanos();
    Ok(ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// Point-in-time restore: the newest snapshot taken at or before `at_ns`
/// among those `filter` picks. They must all be of one backup chain
/// (source and host): "the state at 10:05" means nothing across two sites.
pub fn at(repo: &Repository, at_ns: i64, filter: &Filter) -> Result<(Id, Snapshot)> {
    let picked: Vec<Head> = heads(repo)?
        .into_iter()
        .filter(|h| filter.matches_head(h))
        .collect();
    let mut chains: Vec<(&str, &str, &str)> = picked
        .iter()
        .map(|h| {
            (
                h.source.description.as_str(),
                h.source.id.as_str(),
                h.hostname.as_str(),
            )
        })
        .collect();
    chains.sort_unstable();
    chains.dedup_by(|a, b| (a.1, a.2) == (b.1, b.2));
    if chains.len() > 1 {
        return Err(Error::Refused {
            message: format!(
                "the snapshots come from {} sources ({}); a point in time names a state of one",
                chains.len(),
                crate::util::first_few(
                    &chains
                        .iter()
                        .map(|c| format!("{} on {}", c.0, c.2))
                        .collect::<Vec<_>>()
                )
            ),
            hint: crate::error::Hint::ChooseSource,
        });
    }
    // `heads` is oldest first: the last one at or before the time.
    let head = picked
        .iter()
        .rev()
        .find(|h| h.time_ns <= at_ns)
        .ok_or_else(|| Error::NoSnapshotAt {
            at: crate::util::rfc3339(at_ns),
            oldest: picked.first().map(|h| crate::util::rfc3339(h.time_ns)),
        })?;
    Ok((head.id, load(repo, &head.id)?))
}

/// The `n` newest of each backup chain (source and host) in `heads`,
/// keeping their order.
pub fn keep_latest(heads: &mut Vec<Head>, n: usize) {
    let mut seen: std::collections::HashMap<(String, String, String), usize> =
        std::collections::HashMap::new();
    let mut keep = vec![false; heads.len()];
    for (i, h) in heads.iter().enumerate().rev() {
        let c = seen
            .entry((
                h.source.kind.clone(),
                h.source.id.clone(),
                h.hostname.clone(),
            ))
            .or_default();
        if *c < n {
            *c += 1;
            keep[i] = true;
        }
    }
    let mut k = keep.into_iter();
    heads.retain(|_| k.next().unwrap_or(false));
}

/// The newest snapshot of the same source from the same host.
pub fn latest_of_source(
    repo: &Repository,
    source: &SourceInfo,
    hostname: &str,
) -> Result<Option<(Id, Snapshot)>> {
    // From the heads: one GET for the parent, not one per snapshot.
    for h in heads(repo)?.into_iter().rev() {
        if (&h.source.kind, &h.source.id, h.hostname.as_str())
            != (&source.kind, &source.id, hostname)
        {
            continue;
        }
        match load(repo, &h.id) {
            Ok(s) => return Ok(Some((h.id, s))),
            // Forgotten since the listing (a concurrent `forget`): the
            // next older one is the parent.
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// What makes snapshots one backup chain: source kind, source id, host.
fn chain(s: &Snapshot) -> (&String, &String, &str) {
    (&s.source.kind, &s.source.id, s.hostname.as_str())
}

/// The newest snapshot of every chain in `list` (oldest first, as [`list`]
/// gives them), ordered by time.
pub fn latest_per_source(list: Vec<(Id, Snapshot)>) -> Vec<(Id, Snapshot)> {
    let mut latest: std::collections::BTreeMap<(String, String, String), (Id, Snapshot)> =
        std::collections::BTreeMap::new();
    for (id, s) in list {
        let (kind, source, host) = chain(&s);
        latest.insert((kind.clone(), source.clone(), host.to_string()), (id, s));
    }
    let mut out: Vec<(Id, Snapshot)> = latest.into_values().collect();
    out.sort_by_key(|(_, s)| s.time_ns);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_in_time_as_operators_write_them() {
        let at = |t: &str| parse_time(t).unwrap();
        let base = 1_764_842_700_000_000_000; // 2025-12-04T10:05:00Z
        assert_eq!(at("2025-12-04T10:05:00Z"), base);
        assert_eq!(at("2025-12-04T11:05:00+01:00"), base);
        assert_eq!(at("2025-12-04T10:05:00.5Z"), base + 500_000_000);
        assert_eq!(at("2025-12-04 10:05:00"), base);
        assert_eq!(at("2025-12-04 10:05"), base);
        assert_eq!(at("2025-12-04T10:05"), base);
        assert_eq!(at("2025-12-04 10:05Z"), base);
        assert_eq!(
            at(" 2025-12-04 "),
            base - (10 * 3600 + 5 * 60) * 1_000_000_000
        );
        assert_eq!(at("2999-01-01"), i64::MAX);
        assert_eq!(at("1000-01-01"), i64::MIN);
        for bad in [
            "",
            "yesterday",
            "2025-13-01",
            "2025-12-04 25:00",
            "12/04/2025",
        ] {
            let e = parse_time(bad).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("time {bad:?}: give RFC 3339")),
                "{e}"
            );
        }
    }

    fn head(source: &str, host: &str, time_ns: i64) -> Head {
        Head {
            id: Id::of_bytes(&time_ns.to_le_bytes()),
            time_ns,
            hostname: host.into(),
            tags: Vec::new(),
            source: SourceInfo {
                kind: "site".into(),
                id: source.into(),
                description: source.into(),
            },
            parent: None,
            summary: Summary::default(),
            database: None,
            skipped: 0,
        }
    }

    #[test]
    fn the_latest_n_of_each_chain() {
        let mut hs = vec![
            head("a", "h", 1),
            head("b", "h", 2),
            head("a", "h", 3),
            head("a", "g", 4),
            head("a", "h", 5),
            head("b", "h", 6),
        ];
        keep_latest(&mut hs, 2);
        let times: Vec<i64> = hs.iter().map(|h| h.time_ns).collect();
        assert_eq!(times, [2, 3, 4, 5, 6]);
        keep_latest(&mut hs, 1);
        let times: Vec<i64> = hs.iter().map(|h| h.time_ns).collect();
        assert_eq!(times, [4, 5, 6]);
        keep_latest(&mut hs, 0);
        assert!(hs.is_empty());
    }
}
