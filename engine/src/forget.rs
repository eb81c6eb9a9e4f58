//! Forget: which snapshots a retention policy keeps, and removing the rest.
//!
//! Forgetting deletes snapshot objects only; the data they alone held is
//! freed by `prune`. Calendar buckets are in UTC, so every host computes
//! the same answer for the same snapshots whatever its time zone, and the
//! policy is evaluated against the snapshots' own times (never "now"), so
//! a skewed clock on the host running `forget` changes nothing.

use crate::error::{Error, Result};
use crate::id::Id;
use crate::repo::Repository;
use crate::snapshot::Snapshot;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub last: u32,
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
    /// Keep everything this many nanoseconds older than the group's newest.
    pub within_ns: Option<i64>,
    pub tags: Vec<String>,
}

impl Policy {
    pub fn is_empty(&self) -> bool {
        *self == Policy::default()
    }
}

/// What snapshots are grouped by before the policy applies to each group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBy {
    pub source: bool,
    pub host: bool,
    pub tags: bool,
}

impl Default for GroupBy {
    fn default() -> Self {
        GroupBy {
            source: true,
            host: false,
            tags: false,
        }
    }
}

impl GroupBy {
    /// `source`, `host`, `tags`, comma-separated; empty for one group.
    pub fn parse(s: &str) -> Result<GroupBy> {
        let mut g = GroupBy {
            source: false,
            host: false,
            tags: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "source" => g.source = true,
                "host" => g.host = true,
                "tags" => g.tags = true,
                other => {
                    return Err(Error::Invalid(format!(
                        "unknown grouping field {other:?} (expected source, host, tags)"
                    )))
                }
            }
        }
        Ok(g)
    }

    fn key(&self, s: &Snapshot) -> String {
        let mut parts = Vec::new();
        if self.source {
            parts.push(format!("{}:{}", s.source.kind, s.source.id));
        }
        if self.host {
            parts.push(format!("host {}", s.hostname));
        }
        if self.tags {
            let mut t = s.tags.clone();
            t.sort();
            parts.push(format!("tags [{}]", t.join(",")));
        }
        if parts.is_empty() {
            "all snapshots".into()
        } else {
            parts.join(", ")
        }
    }
}

/// `30d`, `12h`, `2w`, `1y6m`: y = 365 days, m = 30 days, w, d, h.
pub fn parse_duration(s: &str) -> Result<i64> {
    let bad = || {
        Error::Invalid(format!(
            "duration {s:?}: expected a number and unit, such as 30d, 12h, 2w, 6m, 1y or 1y6m"
        ))
    };
    let (mut total, mut num) = (0i64, String::new());
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let hours = match c {
            'h' => 1,
            'd' => 24,
            'w' => 24 * 7,
            'm' => 24 * 30,
            'y' => 24 * 365,
            _ => return Err(bad()),
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(hours * 3_600_000_000_000)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        num.clear();
    }
    if !num.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(total)
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub id: Id,
    #[serde(rename = "time", serialize_with = "crate::util::ser_rfc3339")]
    pub time_ns: i64,
    pub keep: bool,
    /// Why it is kept (empty when it goes).
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub key: String,
    /// Newest first.
    pub decisions: Vec<Decision>,
}

fn buckets(t: i64) -> [i64; 5] {
    let d = time::OffsetDateTime::from_unix_timestamp_nanos(t as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let (y, m, day, h) = (
        d.year() as i64,
        d.month() as i64,
        d.day() as i64,
        d.hour() as i64,
    );
    let (iy, iw, _) = d.to_iso_week_date();
    [
        ((y * 100 + m) * 100 + day) * 100 + h,
        (y * 100 + m) * 100 + day,
        iy as i64 * 100 + iw as i64,
        y * 100 + m,
        y,
    ]
}

const RULES: [&str; 5] = ["hourly", "daily", "weekly", "monthly", "yearly"];

/// The newest snapshot of each source (kind and id): forgetting it needs
/// `--force`, since the next backup would then find no parent and the site
/// would have no recent restore point.
fn newest_per_source(snaps: &[(Id, Snapshot)]) -> HashMap<(String, String), (i64, Id)> {
    let mut m: HashMap<(String, String), (i64, Id)> = HashMap::new();
    for (id, s) in snaps {
        let k = (s.source.kind.clone(), s.source.id.clone());
        let e = m.entry(k).or_insert((s.time_ns, *id));
        if (s.time_ns, *id) > *e {
            *e = (s.time_ns, *id);
        }
    }
    m
}

/// Apply a policy. Refuses an empty policy: forgetting everything is
/// never what an empty command line means.
pub fn apply(
    snaps: &[(Id, Snapshot)],
    policy: &Policy,
    group_by: GroupBy,
    force: bool,
) -> Result<Vec<Group>> {
    if policy.is_empty() {
        return Err(Error::refused(
            "no retention policy given",
            crate::error::Hint::RetentionPolicy,
        ));
    }
    let newest = newest_per_source(snaps);
    let mut groups: BTreeMap<String, Vec<&(Id, Snapshot)>> = BTreeMap::new();
    for s in snaps {
        groups.entry(group_by.key(&s.1)).or_default().push(s);
    }
    let mut out = Vec::new();
    for (key, mut members) in groups {
        members.sort_by_key(|m| std::cmp::Reverse((m.1.time_ns, m.0)));
        let group_newest = members[0].1.time_ns;
        let mut last = policy.last;
        let mut counts = [
            policy.hourly,
            policy.daily,
            policy.weekly,
            policy.monthly,
            policy.yearly,
        ];
        let mut previous: [Option<i64>; 5] = [None; 5];
        let mut decisions = Vec::new();
        for (id, s) in members {
            let mut reasons = Vec::new();
            if last > 0 {
                last -= 1;
                reasons.push("last".to_string());
            }
            let b = buckets(s.time_ns);
            for r in 0..5 {
                if counts[r] > 0 && previous[r] != Some(b[r]) {
                    counts[r] -= 1;
                    previous[r] = Some(b[r]);
                    reasons.push(RULES[r].to_string());
                }
            }
            if let Some(w) = policy.within_ns {
                if s.time_ns >= group_newest.saturating_sub(w) {
                    reasons.push("within".to_string());
                }
            }
            for t in &policy.tags {
                if s.tags.contains(t) {
                    reasons.push(format!("tag {t}"));
                }
            }
            let is_newest = newest
                .get(&(s.source.kind.clone(), s.source.id.clone()))
                .is_some_and(|n| n.1 == *id);
            if reasons.is_empty() && is_newest && !force {
                reasons.push("newest of its source (kept unless forced)".to_string());
            }
            decisions.push(Decision {
                id: *id,
                time_ns: s.time_ns,
                keep: !reasons.is_empty(),
                reasons,
            });
        }
        out.push(Group { key, decisions });
    }
    Ok(out)
}

/// Check that the named snapshots may be forgotten: none is the newest of
/// its source unless `force`.
pub fn check_ids(snaps: &[(Id, Snapshot)], ids: &[Id], force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    let newest = newest_per_source(snaps);
    for id in ids {
        if let Some(((kind, src), _)) = newest.iter().find(|(_, n)| n.1 == *id) {
            return Err(Error::refused(
                format!("snapshot {} is the newest of {kind} {src}", id.short()),
                crate::error::Hint::Force,
            ));
        }
    }
    Ok(())
}

/// What to forget: snapshots named by the caller, or those a policy does
/// not keep.
pub enum Selection<'a> {
    Ids(&'a [String]),
    Policy {
        policy: &'a Policy,
        group_by: GroupBy,
    },
}

/// What `forget` decided, and (unless a dry run) did.
#[derive(Debug, Clone)]
pub struct Forgotten {
    /// Per group, each snapshot kept (with why) or not; `None` when ids
    /// were given.
    pub groups: Option<Vec<Group>>,
    pub forgotten: Vec<Id>,
}

/// The forget command: choose the snapshots to forget, refuse a source's
/// newest unless `force`, and delete them unless `dry_run`. A prune, if
/// wanted, runs after this with its own session.
pub fn forget(
    repo: &Repository,
    selection: Selection<'_>,
    force: bool,
    dry_run: bool,
) -> Result<Forgotten> {
    let all = crate::snapshot::list(repo)?;
    let (forgotten, groups) = match selection {
        Selection::Policy { policy, group_by } => {
            let groups = apply(&all, policy, group_by, force)?;
            let gone = groups
                .iter()
                .flat_map(|g| g.decisions.iter().filter(|d| !d.keep).map(|d| d.id))
                .collect();
            (gone, Some(groups))
        }
        Selection::Ids(specs) => {
            let mut ids = Vec::new();
            for spec in specs {
                ids.push(crate::snapshot::resolve(repo, spec)?.0);
            }
            check_ids(&all, &ids, force)?;
            (ids, None)
        }
    };
    if !dry_run {
        remove(repo, &forgotten)?;
    }
    Ok(Forgotten { groups, forgotten })
}

/// Delete snapshot objects. Each deletion stands alone: a crash part-way
/// leaves the rest in place, which is a valid repository.
pub fn remove(repo: &Repository, ids: &[Id]) -> Result<()> {
    for id in ids {
        crate::snapshot::remove(repo, id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{SourceInfo, Summary};

    const DAY: i64 = 86_400_000_000_000;
    const HOUR: i64 = 3_600_000_000_000;
    /// 2025-01-01 00:00:00 UTC.
    const Y2025: i64 = 1_735_689_600 * 1_000_000_000;

    fn snap(source: &str, t: i64, tags: &[&str]) -> (Id, Snapshot) {
        let s = Snapshot {
            time_ns: t,
            hostname: "h".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            source: SourceInfo {
                kind: "dir".into(),
                id: source.into(),
                description: String::new(),
            },
            parent: None,
            roots: Vec::new(),
            summary: Summary::default(),
            extra: Vec::new(),
        };
        (Id::of_bytes(&s.encode()), s)
    }

    fn date(t: i64) -> String {
        let d = time::OffsetDateTime::from_unix_timestamp_nanos(t as i128).unwrap();
        format!(
            "{}-{:02}-{:02} {:02}:{:02}",
            d.year(),
            d.month() as u8,
            d.day(),
            d.hour(),
            d.minute()
        )
    }

    /// (group, kept times as dates, newest first) for a policy.
    fn kept(
        snaps: &[(Id, Snapshot)],
        p: &Policy,
        g: GroupBy,
        force: bool,
    ) -> Vec<(String, Vec<String>)> {
        apply(snaps, p, g, force)
            .unwrap()
            .into_iter()
            .map(|g| {
                let k = g
                    .decisions
                    .iter()
                    .filter(|d| d.keep)
                    .map(|d| date(d.time_ns))
                    .collect();
                (g.key, k)
            })
            .collect()
    }

    fn one(snaps: &[(Id, Snapshot)], p: &Policy) -> Vec<String> {
        let mut g = kept(snaps, p, GroupBy::default(), false);
        assert_eq!(g.len(), 1);
        g.remove(0).1
    }

    #[test]
    fn daily_for_a_year() {
        let year: Vec<_> = (0..365)
            .map(|d| snap("/a", Y2025 + d * DAY + 3 * HOUR, &[]))
            .collect();
        let policy = |daily, weekly, monthly, yearly| Policy {
            daily,
            weekly,
            monthly,
            yearly,
            ..Default::default()
        };
        let month_ends = [
            "01-31", "02-28", "03-31", "04-30", "05-31", "06-30", "07-31", "08-31", "09-30",
            "10-31", "11-30",
        ];
        let d = |md: &str| format!("2025-{md} 03:00");
        let table: Vec<(Policy, Vec<String>)> = vec![
            (policy(3, 0, 0, 0), vec![d("12-31"), d("12-30"), d("12-29")]),
            // ISO weeks: 2025-12-29 (Mon) starts 2026-W01.
            (
                policy(0, 4, 0, 0),
                vec![d("12-31"), d("12-28"), d("12-21"), d("12-14")],
            ),
            (policy(0, 0, 0, 5), vec![d("12-31")]),
            (
                policy(7, 4, 12, 1),
                [
                    "12-31", "12-30", "12-29", "12-28", "12-27", "12-26", "12-25", "12-21", "12-14",
                ]
                .iter()
                .copied()
                .chain(month_ends.iter().rev().copied())
                .map(d)
                .collect(),
            ),
        ];
        for (p, want) in table {
            assert_eq!(one(&year, &p), want, "{p:?}");
        }
    }

    #[test]
    fn gaps_several_a_day_hours_and_within() {
        let days = [1, 2, 3, 10, 11, 30];
        let mut snaps: Vec<_> = days
            .iter()
            .map(|d| snap("/a", Y2025 + d * DAY, &[]))
            .collect();
        // Three on day 11: the daily rule keeps the newest.
        snaps.push(snap("/a", Y2025 + 11 * DAY + 5 * HOUR, &[]));
        snaps.push(snap("/a", Y2025 + 11 * DAY + 9 * HOUR, &[]));
        let table: Vec<(Policy, Vec<&str>)> = vec![
            (
                Policy {
                    daily: 4,
                    ..Default::default()
                },
                vec![
                    "2025-01-31 00:00",
                    "2025-01-12 09:00",
                    "2025-01-11 00:00",
                    "2025-01-04 00:00",
                ],
            ),
            (
                Policy {
                    last: 2,
                    ..Default::default()
                },
                vec!["2025-01-31 00:00", "2025-01-12 09:00"],
            ),
            (
                // Inclusive: exactly 20 days before the newest is within.
                Policy {
                    within_ns: Some(20 * DAY),
                    ..Default::default()
                },
                vec![
                    "2025-01-31 00:00",
                    "2025-01-12 09:00",
                    "2025-01-12 05:00",
                    "2025-01-12 00:00",
                    "2025-01-11 00:00",
                ],
            ),
            (
                Policy {
                    hourly: 2,
                    ..Default::default()
                },
                vec!["2025-01-31 00:00", "2025-01-12 09:00"],
            ),
        ];
        for (p, want) in table {
            assert_eq!(one(&snaps, &p), want, "{p:?}");
        }
        let hours: Vec<_> = (0..9)
            .map(|i| snap("/a", Y2025 + i * 20 * 60_000_000_000, &[]))
            .collect();
        assert_eq!(
            one(
                &hours,
                &Policy {
                    hourly: 2,
                    ..Default::default()
                }
            ),
            ["2025-01-01 02:40", "2025-01-01 01:40"]
        );
    }

    #[test]
    fn sources_groups_tags_and_the_newest() {
        let snaps = vec![
            snap("/a", Y2025, &["release"]),
            snap("/a", Y2025 + DAY, &[]),
            snap("/a", Y2025 + 2 * DAY, &[]),
            snap("/b", Y2025 + 3 * DAY, &[]),
            snap("/b", Y2025 + 4 * DAY, &[]),
        ];
        let last1 = Policy {
            last: 1,
            ..Default::default()
        };
        assert_eq!(
            kept(&snaps, &last1, GroupBy::default(), false),
            [
                ("dir:/a".to_string(), vec!["2025-01-03 00:00".to_string()]),
                ("dir:/b".to_string(), vec!["2025-01-05 00:00".to_string()]),
            ]
        );
        // One group: /a's newest is still kept, as the newest of its source…
        let all = GroupBy::parse("").unwrap();
        let g = apply(&snaps, &last1, all, false).unwrap();
        let reasons: Vec<_> = g[0].decisions.iter().map(|d| d.reasons.join(",")).collect();
        assert_eq!(
            reasons,
            [
                "last",
                "",
                "newest of its source (kept unless forced)",
                "",
                ""
            ]
        );
        // …unless forced.
        assert_eq!(kept(&snaps, &last1, all, true)[0].1, ["2025-01-05 00:00"]);
        let tag = Policy {
            tags: vec!["release".into()],
            ..Default::default()
        };
        assert_eq!(
            kept(&snaps, &tag, GroupBy::default(), true),
            [
                ("dir:/a".to_string(), vec!["2025-01-01 00:00".to_string()]),
                ("dir:/b".to_string(), vec![])
            ]
        );
        assert!(matches!(
            apply(&snaps, &Policy::default(), GroupBy::default(), false),
            Err(Error::Refused {
                hint: crate::error::Hint::RetentionPolicy,
                ..
            })
        ));
        assert!(matches!(
            check_ids(&snaps, &[snaps[4].0], false),
            Err(Error::Refused {
                hint: crate::error::Hint::Force,
                ..
            })
        ));
        assert!(check_ids(&snaps, &[snaps[3].0], false).is_ok());
        assert!(GroupBy::parse("source,colour").is_err());
    }

    #[test]
    fn durations() {
        for (s, hours) in [
            ("12h", 12),
            ("30d", 720),
            ("2w", 336),
            ("1y6m", 8760 + 4320),
        ] {
            assert_eq!(parse_duration(s).unwrap(), hours * HOUR, "{s}");
        }
        for s in ["", "5", "d", "3x", "0d", "99999999999y"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }
}
