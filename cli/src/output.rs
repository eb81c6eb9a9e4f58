//! Rendering: one function per command, text or JSON.

use jarc::backup::BackupSummary;
use jarc::check::CheckReport;
use jarc::demo::DemoReport;
use jarc::diff::{ChangeKind, DiffReport};
use jarc::drill::{DrillReport, Outcome};
use jarc::drill_record::DrillRecord;
use jarc::export::{ExportSummary, SqlExportSummary};
use jarc::import::ImportSummary;
use jarc::media::{EntryKind, MediaEntry};
use jarc::report;
use jarc::restore::item::ItemRestoreSummary;
use jarc::restore::site::SiteRestoreSummary;
use jarc::restore::RestoreSummary;
use jarc::snapshot::{Head, Snapshot};
use jarc::stats::Stats;
use jarc::Id;
use std::collections::HashMap;
use std::io::Write;

/// One JSON document on stdout: a report from `jarc::report` or a
/// command's own serde report, as it is.
fn print_json(v: &impl serde::Serialize) {
    // Streamed through one buffer: a listing of 100,000 snapshots is
    // 75 MB of JSON, which need not exist in memory at once. A document
    // cut short (a closed stdout, a listing that failed) gets no newline.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if serde_json::to_writer_pretty(&mut out, v).is_ok() {
        let _ = writeln!(out);
    }
}

/// A JSON array on stdout, each item written as it comes, as
/// `print_json` would write the whole array. An item that fails ends the
/// array there (the document is cut short) and its error is returned.
fn print_json_items<T: serde::Serialize>(
    items: impl Iterator<Item = jarc::Result<T>>,
) -> jarc::Result<()> {
    use std::cell::RefCell;
    struct Items<I>(RefCell<Option<I>>, RefCell<Option<jarc::Error>>);
    impl<T: serde::Serialize, I: Iterator<Item = jarc::Result<T>>> serde::Serialize for Items<I> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::{Error, SerializeSeq};
            let mut seq = s.serialize_seq(None)?;
            for item in self.0.borrow_mut().take().into_iter().flatten() {
                match item {
                    Ok(v) => seq.serialize_element(&v)?,
                    Err(e) => {
                        *self.1.borrow_mut() = Some(e);
                        return Err(S::Error::custom("an item could not be read"));
                    }
                }
            }
            seq.end()
        }
    }
    let items = Items(RefCell::new(Some(items)), RefCell::new(None));
    print_json(&items);
    items.1.into_inner().map_or(Ok(()), Err)
}

pub fn bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut f = n as f64;
    let mut u = 0;
    while f >= 1024.0 && u < U.len() - 1 {
        f /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{f:.1} {}", U[u])
    }
}

pub fn time(ns: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    // The zone is said: every time jarc records is UTC.
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.format(&f).unwrap_or_default()
}

pub fn init(j: bool, repo: &jarc::Repository) {
    let location = repo.backend().location();
    let key = repo
        .key_in_use()
        .map(|k| k.rsplit('/').next().unwrap_or(k).to_string());
    if j {
        print_json(&report::Created {
            created: location.to_string(),
            encrypted: repo.encrypted(),
            key,
        });
    } else if let Some(k) = key {
        println!(
            "created encrypted jarc repository at {location} (key {})",
            &k[..8.min(k.len())]
        );
        println!("keep the password safe: without it the repository cannot be read");
    } else {
        println!("created jarc repository at {location}");
        plaintext_warning();
    }
}

pub fn find(j: bool, found: &[jarc::media::Found]) {
    if j {
        print_json(&found);
        return;
    }
    for f in found {
        println!(
            "{}  {}  {:>10}  {}{}",
            &f.snapshot[..8],
            time(f.time),
            bytes(f.size),
            f.key,
            if f.kind == "dir" { "/" } else { "" }
        );
    }
    println!("{} found", found.len());
}

pub fn tagged(j: bool, changed: &[report::Retagged]) {
    if j {
        print_json(&changed);
        return;
    }
    for c in changed {
        if c.from == c.to {
            println!("snapshot {}: tags unchanged", &c.from[..8]);
        } else {
            println!("snapshot {} is now {}", &c.from[..8], &c.to[..8]);
        }
    }
}

pub fn repair(j: bool, r: &jarc::repair::RepairReport) {
    if j {
        print_json(r);
        return;
    }
    println!(
        "{} packs: {} indexed again ({} blobs) in {} new index file(s); {} left to the prune that condemns them",
        r.packs, r.packs_indexed, r.blobs_indexed, r.index_files_written, r.packs_condemned_skipped
    );
    for n in &r.damaged_index_files_removed {
        println!("removed damaged index file {n}");
    }
    for (p, why) in &r.packs_unreadable {
        println!("UNREADABLE: {p}: {why}");
    }
}

pub fn dry_run(j: bool, r: &jarc::backup::DryRun) {
    if j {
        print_json(r);
        return;
    }
    let s = &r.summary;
    println!("dry run: nothing was read or written");
    println!(
        "would back up {} ({})",
        r.source.description,
        match &r.parent {
            Some(p) => format!("compared with snapshot {}", p.short()),
            None => "no earlier snapshot of it: everything is new".into(),
        }
    );
    println!(
        "media: {} files, {} ({} new, {} changed, {} unchanged); would read {}",
        s.files,
        bytes(s.bytes),
        s.files_new,
        s.files_changed,
        s.files_unchanged,
        bytes(s.bytes_read)
    );
    if let Some(d) = &r.database {
        println!("database: {d}, read in full when the backup runs");
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
}

/// A plaintext repository says so wherever it is listed.
pub fn plaintext_warning() {
    eprintln!(
        "jarc: warning: this repository is not encrypted: anyone who can read its storage can read the site, its users' password hashes and tokens included"
    );
}

pub fn keys(j: bool, keys: &[report::KeyEntry]) {
    if j {
        print_json(&keys);
        return;
    }
    for k in keys {
        let when = k
            .created
            .map(jarc::util::rfc3339)
            .unwrap_or_else(|| "-".into());
        match &k.damaged {
            Some(why) => println!("  {}  DAMAGED: {why}", &k.id[..8]),
            None => println!(
                "{} {}  created {when}  argon2id m={} KiB t={} p={}",
                if k.current { "*" } else { " " },
                &k.id[..8],
                k.memory_kib.unwrap_or(0),
                k.iterations.unwrap_or(0),
                k.parallelism.unwrap_or(0)
            ),
        }
    }
}

pub fn key_change(j: bool, c: &report::KeyChange) {
    if j {
        print_json(c);
        return;
    }
    if let Some(a) = &c.added {
        println!("added key {}", &a[..8.min(a.len())]);
    }
    if let Some(r) = &c.removed {
        println!("removed key {}", &r[..8.min(r.len())]);
    }
}

/// A one-line note before or around the work: stdout for people, stderr
/// under --json so the JSON stays parseable.
pub fn note(j: bool, line: &str) {
    if j {
        eprintln!("jarc: {line}");
    } else {
        println!("{line}");
    }
}

pub fn backup(j: bool, s: &BackupSummary) {
    if j {
        print_json(s);
        return;
    }
    for w in &s.warnings {
        println!("warning: {w}");
    }
    let m = &s.summary;
    if !s.skipped.is_empty() {
        eprintln!(
            "jarc: {} media object(s) could not be read and are not in the snapshot: {}",
            s.skipped.len(),
            jarc::util::joined_first(s.skipped.iter().map(|k| &k.key), 10)
        );
    }
    println!(
        "snapshot {} saved{}",
        s.snapshot.short(),
        match s.parent {
            Some(p) => format!(" (parent {})", p.short()),
            None => String::new(),
        }
    );
    if let Some(d) = &s.database {
        println!(
            "database: {} tables, {} rows ({})",
            d.tables, d.rows, d.dialect
        );
    }
    println!(
        "files: {} new, {} changed, {} unchanged; {} dirs",
        m.files_new, m.files_changed, m.files_unchanged, m.dirs
    );
    println!(
        "data: {} in {} files, {} read, {} new ({} stored) in {} packs",
        bytes(m.bytes),
        m.files,
        bytes(m.bytes_read),
        bytes(m.bytes_new_raw),
        bytes(m.bytes_new_stored),
        s.packs_written
    );
    println!(
        "repository requests: {} list, {} get, {} put, {} head; took {:.2}s",
        s.requests.list,
        s.requests.get,
        s.requests.put,
        s.requests.head,
        m.duration_ms as f64 / 1000.0
    );
    if let Some(r) = &s.source_requests {
        println!(
            "media bucket requests: {} list, {} get, {} head ({} read)",
            r.list,
            r.get,
            r.head,
            bytes(r.bytes_read)
        );
    }
}

/// When a snapshot was last drilled, for the listing.
fn drilled(d: Option<&(i64, bool)>) -> String {
    match d {
        None => "-".into(),
        Some((t, true)) => format!("ok {}", &time(*t)[..10]),
        Some((t, false)) => format!("FAILED {}", &time(*t)[..10]),
    }
}

pub fn snapshots(j: bool, list: &[Head], drills: &HashMap<Id, (i64, bool)>) {
    if j {
        print_json(&report::snapshots(list, drills));
        return;
    }
    // One write per screenful, not per line: 100,000 snapshots list in
    // a second (stdout is line-buffered).
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let _ = writeln!(
        out,
        "{:<10} {:<23} {:<16} {:>17} {:>8} {:>10}  {:<17} source",
        "id", "time", "host", "database", "files", "size", "drilled"
    );
    for s in list {
        let db = match s.database {
            Some(d) => format!("{} t / {} rows", d.tables, d.rows),
            None => "-".into(),
        };
        let _ = writeln!(
            out,
            "{:<10} {:<23} {:<16} {:>17} {:>8} {:>10}  {:<17} {}{}{}",
            s.id.short(),
            time(s.time_ns),
            s.hostname,
            db,
            s.summary.files,
            bytes(s.summary.bytes),
            drilled(drills.get(&s.id)),
            s.source.description,
            match s.skipped {
                0 => String::new(),
                n => format!(" ({n} skipped)"),
            },
            if s.tags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", s.tags.join(","))
            }
        );
    }
    let _ = writeln!(out, "{} snapshots", list.len());
}

/// `ls`, printed as the listing is read: a million objects' entries never
/// sit in memory at once. A listing that fails midway ends where it
/// failed, and the error is returned.
pub fn ls(
    j: bool,
    tables: &[(&str, u64)],
    entries: impl Iterator<Item = jarc::Result<(String, MediaEntry)>>,
) -> jarc::Result<()> {
    if j {
        return print_json_items(report::ls(tables, entries));
    }
    for (t, rows) in tables {
        println!("{:>10}  {:<23}  table {t}", format!("{rows} rows"), "");
    }
    for e in entries {
        let (k, e) = e?;
        let suffix = if e.kind == EntryKind::Dir { "/" } else { "" };
        println!("{:>10}  {}  {k}{suffix}", bytes(e.size), time(e.mtime_ns));
    }
    Ok(())
}

pub fn diff(j: bool, a: &Id, b: &Id, d: &DiffReport) {
    if j {
        print_json(&report::Diff {
            from: a.to_hex(),
            to: b.to_hex(),
            report: d,
        });
        return;
    }
    for t in &d.tables {
        println!(
            "table {}: {} added, {} removed, {} changed{}",
            t.table,
            t.added,
            t.removed,
            t.changed,
            if t.schema_changed {
                " (schema changed)"
            } else {
                ""
            }
        );
        for r in t.rows.iter().take(20) {
            let sym = match r.change {
                ChangeKind::Added => "+",
                ChangeKind::Removed => "-",
                _ => "M",
            };
            if r.columns.is_empty() {
                println!("  {sym}  {}", r.key);
            } else {
                println!("  {sym}  {}  ({})", r.key, r.columns.join(", "));
            }
        }
        if t.rows.len() > 20 {
            println!("  … {} more", t.rows.len() - 20);
        }
    }
    let mut counts = [0usize; 4];
    for c in &d.media {
        let (sym, i) = match c.change {
            ChangeKind::Added => ("+", 0),
            ChangeKind::Removed => ("-", 1),
            ChangeKind::Modified => ("M", 2),
            ChangeKind::Metadata => ("U", 3),
        };
        counts[i] += 1;
        println!("{sym}  {}", c.key);
    }
    println!(
        "media: {} added, {} removed, {} modified, {} metadata only ({} tree nodes read)",
        counts[0], counts[1], counts[2], counts[3], d.cost.nodes_loaded
    );
}

/// Which snapshot a point in time chose, before restoring it (on stderr:
/// the JSON document on stdout names the snapshot).
pub fn picked_at(j: bool, id: &Id, s: &Snapshot, at_ns: i64) {
    if !j {
        eprintln!(
            "snapshot {} of {}, the newest at or before {}",
            id.short(),
            time(s.time_ns),
            time(at_ns)
        );
    }
}

pub fn restore(j: bool, id: &Id, target: &str, s: &RestoreSummary) {
    if j {
        print_restored(id, target, s);
        return;
    }
    println!(
        "{} snapshot {} into {}: {} files, {} dirs, {}",
        restored(s.dry_run),
        id.short(),
        target,
        s.files,
        s.dirs,
        bytes(s.bytes)
    );
    would_write(s);
    if !s.failed.is_empty() {
        println!("{} objects could not be restored:", s.failed.len());
        for (k, why) in &s.failed {
            println!("  {k}: {why}");
        }
    }
}

/// A dry run's objects (the first few; `--json` lists them all), and the
/// reminder that nothing was written.
fn would_write(s: &RestoreSummary) {
    if !s.dry_run {
        return;
    }
    const SHOWN: usize = 20;
    for k in s.would_write.iter().take(SHOWN) {
        println!("  would write {k}");
    }
    if s.would_write.len() > SHOWN {
        println!(
            "  … and {} more (--json lists them all)",
            s.would_write.len() - SHOWN
        );
    }
    println!("dry run: nothing was written");
}

pub fn copy(j: bool, r: &jarc::copy::CopyReport) {
    if j {
        print_json(&report::Copied::of(r));
        return;
    }
    for (from, to) in &r.copied {
        println!("snapshot {} copied as {}", from.short(), to.short());
    }
    println!(
        "{} snapshot(s) copied, {} already there; {} blobs, {} new ({} stored)",
        r.copied.len(),
        r.present.len(),
        r.blobs_copied,
        bytes(r.bytes_copied),
        bytes(r.bytes_stored)
    );
}

pub fn repair_copies(j: bool, r: &jarc::copies::Repaired) {
    if j {
        print_json(r);
        return;
    }
    if r.written.is_empty() && r.lost.is_empty() {
        println!("every object kept twice is whole; nothing to do");
    }
    for w in &r.written {
        println!("{w} written again from its other half");
    }
    for l in &r.lost {
        println!("{l}: both halves are damaged or missing: lost");
    }
}

/// A reader that went past damaged index files says so (on stderr, even
/// with --quiet: the repository needs `repair index`).
pub fn healed_index(repo: &jarc::Repository) {
    let (files, packs) = repo.healed_index();
    if let Some((first, why)) = files.first() {
        eprintln!(
            "jarc: warning: {} damaged index file(s) ({first}: {why}); this run indexed {packs} pack(s) from their own headers instead; `jarc repair index` makes that lasting",
            files.len()
        );
    }
}

pub fn check(j: bool, r: &CheckReport) {
    if j {
        print_json(&report::Check::of(r));
        return;
    }
    for w in &r.warnings {
        println!("warning: {w}");
    }
    for e in &r.errors {
        println!("error: {e}");
    }
    for d in &r.damage {
        match &d.blob {
            Some(b) => println!("damaged: pack {} blob {}: {}", d.pack, &b[..16], d.problem),
            None => println!("damaged: pack {}: {}", d.pack, d.problem),
        }
        for f in &d.affects {
            println!("  affects {f}");
        }
    }
    println!(
        "{} snapshots, {} packs, {} blobs checked{}: {}",
        r.snapshots,
        r.packs,
        r.blobs,
        if r.bytes_read > 0 {
            format!(", {} read", bytes(r.bytes_read))
        } else {
            String::new()
        },
        if r.ok() { "no errors" } else { "ERRORS FOUND" }
    );
}

pub fn stats(j: bool, s: &Stats) {
    if j {
        print_json(s);
        return;
    }
    println!(
        "encryption:         {}",
        s.cipher.unwrap_or("NONE (plaintext repository)")
    );
    println!("snapshots:          {}", s.snapshots);
    println!("logical size:       {}", bytes(s.logical_bytes));
    println!(
        "unique data:        {} in {} chunks",
        bytes(s.unique_bytes),
        s.data_blobs
    );
    println!(
        "tree metadata:      {} in {} nodes",
        bytes(s.tree_bytes),
        s.tree_blobs
    );
    println!(
        "stored (packs):     {} in {} packs",
        bytes(s.pack_bytes),
        s.packs
    );
    println!("tree pack copies:   {}", bytes(s.tree_copy_bytes));
    println!("dedup ratio:        {:.2}x", s.dedup_ratio);
    println!("compression ratio:  {:.2}x", s.compression_ratio);
    println!(
        "index memory:       {} bytes per blob",
        s.index_bytes_per_blob
    );
}

pub fn missing(j: bool, keys: &[String]) {
    if j {
        print_json(&report::Missing {
            missing_objects: keys,
        });
        return;
    }
    println!(
        "{} referenced object(s) missing from the snapshot:",
        keys.len()
    );
    for k in keys {
        println!("  {k}");
    }
}

/// The `restore` document: which snapshot, where, and the summary.
fn print_restored<S: serde::Serialize>(id: &Id, target: &str, s: &S) {
    print_json(&report::Restored {
        snapshot: id.to_hex(),
        target,
        summary: s,
    });
}

/// What a restore's text says it did.
fn restored(dry_run: bool) -> &'static str {
    if dry_run {
        "would restore"
    } else {
        "restored"
    }
}

pub fn item_restore(j: bool, id: &Id, target: &str, s: &ItemRestoreSummary) {
    if j {
        print_restored(id, target, s);
        return;
    }
    if !s.missing_objects.is_empty() {
        missing(false, &s.missing_objects);
    }
    println!(
        "{} from snapshot {} into {target}:",
        restored(s.dry_run),
        id.short()
    );
    for i in &s.items {
        println!("  {i}");
    }
    let rows: Vec<String> = s.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
    if rows.is_empty() {
        println!("rows: none");
    } else {
        println!("rows: {}", rows.join(", "));
    }
    if let Some(f) = &s.rows_file {
        println!("rows written to {f}");
    }
    println!(
        "media into {}: {} files, {}",
        s.media_target,
        s.media.files,
        bytes(s.media.bytes)
    );
    for n in &s.notes {
        println!("note: {n}");
    }
    would_write(&s.media);
}

pub fn site_restore(j: bool, id: &Id, target: &str, s: &SiteRestoreSummary) {
    if j {
        print_restored(id, target, s);
        return;
    }
    if !s.missing_objects.is_empty() {
        missing(false, &s.missing_objects);
    }
    println!(
        "{} {} of snapshot {} into {target}: {} tables, {} rows; media into {}: {} files, {}",
        restored(s.dry_run),
        if s.content_only {
            "the content"
        } else {
            "the site"
        },
        id.short(),
        s.database.tables,
        s.database.rows,
        s.media_target,
        s.media.files,
        bytes(s.media.bytes)
    );
    would_write(&s.media);
    for v in &s.database.foreign_key_violations {
        println!("warning: foreign key violations (as in the source): {v}");
    }
    if let Some(why) = &s.database_failed {
        println!("the database could NOT be restored (the media were): {why}");
    }
    if !s.media.failed.is_empty() {
        println!(
            "{} media object(s) could not be restored; everything else was:",
            s.media.failed.len()
        );
        for (k, why) in &s.media.failed {
            println!("  {k}: {why}");
        }
    }
}

pub fn demo(j: bool, r: &DemoReport) {
    if j {
        print_json(&serde_json::to_value(r).unwrap_or_default());
        return;
    }
    println!(
        "1. made a Jant site (SQLite + media) in {}",
        r.site.display()
    );
    let step = |n: u32, what: &str, b: &BackupSummary| {
        println!(
            "{n}. {what}: snapshot {}, {} tables / {} rows, {} files; stored {} new",
            b.snapshot.short(),
            b.database.as_ref().map(|d| d.tables).unwrap_or(0),
            b.database.as_ref().map(|d| d.rows).unwrap_or(0),
            b.summary.files,
            bytes(b.summary.bytes_new_stored)
        );
    };
    step(2, "backed it up", &r.first);
    println!("3. changed it: a new post, an edited post, a new and a deleted media object");
    step(4, "backed it up again", &r.second);
    println!("5. diff:");
    diff(false, &r.first.snapshot, &r.second.snapshot, &r.diff);
    println!(
        "6. restored the latest snapshot into {}: {} rows, {} files",
        r.restored.display(),
        r.restore.database.rows,
        r.restore.media.files
    );
    println!(
        "7. verified: {} schema lines and rows, {} media files: {}",
        r.rows_compared,
        r.files_compared,
        if r.identical {
            "identical"
        } else {
            "DIFFERENT"
        }
    );
    println!(
        "repository: {} (encrypted; its password is in {})",
        r.repository.display(),
        r.password_file.display()
    );
    println!(
        "look around: JARC_PASSWORD_FILE={} jarc --repo {} snapshots",
        r.password_file.display(),
        r.repository.display()
    );
}

fn first_ten(keys: &[String]) -> String {
    jarc::util::joined_first(keys, 10)
}

pub fn export(j: bool, id: &Id, s: &ExportSummary) {
    if j {
        print_json(s);
        return;
    }
    println!(
        "exported snapshot {} (site {}, key {}, {}) to {}",
        id.short(),
        s.site_id,
        s.site_key,
        s.dialect,
        s.output.display()
    );
    let tables: Vec<String> = s.tables.iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!("rows: {} ({})", s.rows, tables.join(", "));
    println!(
        "objects: {} ({}); archive {} in {:.2}s",
        s.objects,
        bytes(s.object_bytes),
        bytes(s.bytes_written),
        s.duration_ms as f64 / 1000.0
    );
    if !s.missing_objects.is_empty() {
        println!(
            "warning: {} object(s) missing from the snapshot were left out: {}",
            s.missing_objects.len(),
            first_ten(&s.missing_objects)
        );
    }
}

pub fn export_sql(j: bool, id: &Id, s: &SqlExportSummary) {
    if j {
        print_json(s);
        return;
    }
    println!(
        "exported snapshot {} as a db export dump to {}: {} rows in {} tables, {}",
        id.short(),
        s.output.display(),
        s.rows,
        s.tables.len(),
        bytes(s.bytes_written)
    );
}

pub fn import(j: bool, s: &ImportSummary) {
    if j {
        print_json(s);
        return;
    }
    if let (Some(id), Some(key)) = (&s.site_id, &s.site_key) {
        println!(
            "site {id} (key {key}), {}{}",
            s.dialect,
            s.snapshot_version
                .map(|v| format!(", snapshot format v{v}"))
                .unwrap_or_default()
        );
    }
    let tables: Vec<String> = s.tables.iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!("rows: {}", tables.join(", "));
    if !s.missing_objects.is_empty() {
        println!(
            "warning: {} object(s) named by media rows are not in the archive: {}",
            s.missing_objects.len(),
            first_ten(&s.missing_objects)
        );
    }
    backup(false, &s.backup);
}

fn age(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{:.1}h", s as f64 / 3600.0),
        s => format!("{:.1}d", s as f64 / 86400.0),
    }
}

/// One drill's outcome, as a person reads it.
fn drill_text(r: &DrillReport) {
    println!(
        "drill of snapshot {} ({}, {} on {}): {}",
        &r.snapshot[..8],
        r.source.description,
        time(r.snapshot_time_ns),
        r.snapshot_hostname,
        if r.passed { "PASSED" } else { "FAILED" }
    );
    for c in &r.checks {
        println!(
            "  {} {:<24} {}",
            if c.passed { "ok  " } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    let phases: Vec<String> = r
        .phases
        .iter()
        .map(|p| format!("{} {:.2}s", p.name, p.ms as f64 / 1000.0))
        .collect();
    println!(
        "RTO {:.2}s ({})",
        r.rto_ms as f64 / 1000.0,
        phases.join(", ")
    );
    let newest = if r.rpo.newest_snapshot == r.snapshot {
        "it is the newest of its source".to_string()
    } else {
        format!(
            "the newest of its source, {}, is {} old",
            &r.rpo.newest_snapshot[..8],
            age(r.rpo.newest_age_s)
        )
    };
    println!(
        "RPO: the snapshot is {} old; {newest}",
        age(r.rpo.snapshot_age_s)
    );
    println!(
        "read {} in {} get, {} list requests",
        bytes(r.requests.bytes_read),
        r.requests.get,
        r.requests.list
    );
    let scratch = match &r.scratch_database {
        Some(db) => format!("{} and database {db}", r.scratch_dir),
        None => r.scratch_dir.clone(),
    };
    if r.kept {
        println!("scratch environment kept: {scratch}");
    } else {
        println!("scratch environment removed: {scratch}");
    }
    match &r.recorded {
        Some(name) => println!("recorded as {name}"),
        None => println!("not recorded: the repository cannot be written"),
    }
}

pub fn drill(j: bool, outcomes: &[Outcome], single: bool) {
    if j {
        let v = report::drills(outcomes, with_hint);
        match (single, v.as_slice()) {
            (true, [one]) => print_json(one),
            _ => print_json(&v),
        }
        return;
    }
    for (i, o) in outcomes.iter().enumerate() {
        if i > 0 {
            println!();
        }
        match o {
            Outcome::Done(r) => drill_text(r),
            Outcome::Skipped {
                snapshot,
                source,
                why,
            } => {
                println!("skipped snapshot {} ({source}): {why}", snapshot.short())
            }
            Outcome::Failed {
                snapshot,
                source,
                error,
                hint,
            } => {
                println!(
                    "drill of snapshot {} ({source}): FAILED: {}",
                    snapshot.short(),
                    with_hint(error, hint.as_ref())
                )
            }
        }
    }
}

pub fn drill_history(j: bool, h: &[(Id, DrillRecord)]) {
    if j {
        print_json(&report::drill_history(h));
        return;
    }
    println!(
        "{:<19} {:<10} {:<7} {:>9} {:>8} {:<7} {:<16} failed checks",
        "time", "snapshot", "result", "RTO", "age", "target", "host"
    );
    for (_, r) in h {
        println!(
            "{:<19} {:<10} {:<7} {:>8.2}s {:>8} {:<7} {:<16} {}",
            time(r.time_ns),
            r.snapshot.short(),
            if r.passed { "passed" } else { "FAILED" },
            r.rto_ms as f64 / 1000.0,
            age(r.snapshot_age_s),
            r.target,
            r.hostname,
            r.failed.join(", ")
        );
    }
    println!("{} drills", h.len());
}

/// What forget did (or would do): per group with reasons under a policy,
/// or the ids it was given; and the prune that followed, if any.
pub fn forget(
    j: bool,
    groups: Option<&[jarc::forget::Group]>,
    gone: &[Id],
    dry_run: bool,
    pruned: Option<&jarc::prune::PruneReport>,
) {
    if j {
        print_json(&report::Forget {
            dry_run,
            groups,
            forget: gone,
            prune: pruned,
        });
        return;
    }
    let verb = if dry_run { "would forget" } else { "forget" };
    match groups {
        Some(groups) => {
            for g in groups {
                let n = g.decisions.iter().filter(|d| !d.keep).count();
                println!("{}: keep {}, {verb} {n}", g.key, g.decisions.len() - n);
                for d in &g.decisions {
                    let (what, why) = if d.keep {
                        ("keep", d.reasons.join(", "))
                    } else {
                        (if dry_run { "would" } else { "forget" }, String::new())
                    };
                    println!("  {what:<7} {}  {}  {why}", d.id.short(), time(d.time_ns));
                }
            }
        }
        None => {
            for id in gone {
                println!("{verb} {}", id.short());
            }
        }
    }
    if let Some(r) = pruned {
        prune(false, r, false);
    }
}

pub fn prune(j: bool, r: &jarc::prune::PruneReport, dry_run: bool) {
    if j {
        print_json(&report::Prune { dry_run, report: r });
        return;
    }
    println!(
        "{} snapshots, {} blobs in {} packs: {} used, {} unused",
        r.snapshots,
        r.blobs,
        r.packs,
        bytes(r.used_bytes),
        bytes(r.unused_bytes)
    );
    let would = if dry_run {
        "would condemn"
    } else {
        "condemned"
    };
    println!(
        "{would} {} packs ({}): {} unused, {} repacked ({} live copied), {} unindexed; {} unused left",
        r.packs_unused + r.packs_repacked + r.packs_unindexed,
        bytes(r.bytes_condemned),
        r.packs_unused,
        r.packs_repacked,
        bytes(r.bytes_repacked),
        r.packs_unindexed,
        bytes(r.unused_bytes_after)
    );
    if r.staged_removed > 0 {
        println!(
            "{} {} staged upload file(s) of interrupted writers ({})",
            if dry_run { "would remove" } else { "removed" },
            r.staged_removed,
            bytes(r.staged_bytes_freed)
        );
    }
    if dry_run {
        return;
    }
    if let Some(p) = &r.plan {
        println!("plan {} written", p.short());
    }
    if !r.plans_executed.is_empty() {
        println!(
            "executed {} plan(s): deleted {} packs, freed {}, rescued {} blobs, replaced {} index files",
            r.plans_executed.len(),
            r.packs_deleted,
            bytes(r.bytes_freed),
            r.blobs_rescued,
            r.index_files_replaced
        );
    }
    for (p, by) in &r.plans_deferred {
        println!(
            "plan {} deferred to a later prune: held back by {}",
            p.short(),
            by.join(", ")
        );
    }
    if let Some(until) = r.unindexed_held_until {
        println!(
            "held back: {} packs ({}) no index names, younger than the unindexed age (a running backup's, or a killed one's); a prune after {} frees them (--unindexed-now frees them at once when no backup is running)",
            r.packs_unindexed_held,
            bytes(r.bytes_unindexed_held),
            jarc::util::rfc3339(until)
        );
    }
}

/// A command line that asks for something impossible or incomplete: exit
/// 2, as the README's exit codes say.
#[derive(Debug)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Usage(message.into()))
}

/// Whether an error is the command line's fault: a `Usage`, or an engine
/// refusal whose remedy is more on the command line (a retention policy).
pub fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<Usage>().is_some()
            || c.downcast_ref::<jarc::Error>()
                .and_then(jarc::Error::hint)
                .is_some_and(|h| h == jarc::error::Hint::RetentionPolicy)
    })
}

/// A command's error on stderr: a line for people, or under --json one
/// JSON document `{"error": {"kind", "message", "hint"}}`. The engine
/// names the remedy; the flag that asks for it is the CLI's.
pub fn error(j: bool, e: &anyhow::Error) {
    let engine = e.chain().find_map(|c| c.downcast_ref::<jarc::Error>());
    let hint = engine.and_then(jarc::Error::hint);
    let message = format!("{e:#}");
    if j {
        let kind = if is_usage(e) && engine.is_none() {
            "usage"
        } else {
            engine.map_or("error", jarc::Error::kind)
        };
        let doc = report::Failure {
            error: report::FailureBody {
                kind,
                message,
                hint: hint.as_ref().map(hint_text),
            },
        };
        eprintln!("{}", serde_json::to_string(&doc).unwrap_or_default());
        return;
    }
    eprintln!("jarc: error: {}", with_hint(&message, hint.as_ref()));
}

/// An engine error's message with the CLI's remedy appended.
pub fn with_hint(message: &str, hint: Option<&jarc::error::Hint>) -> String {
    match hint {
        Some(h) => format!("{message}; {}", hint_text(h)),
        None => message.to_string(),
    }
}

/// What to type to get past a refusal the engine explained.
pub fn hint_text(h: &jarc::error::Hint) -> String {
    use jarc::error::Hint;
    match h {
        Hint::Init(location) => format!("create one with `jarc init --repo {location}`"),
        Hint::Overwrite => "pass --overwrite to write into it".into(),
        Hint::AllowMissingObjects => "pass --allow-missing-objects to go on without them".into(),
        Hint::AllowEmpty => "pass --allow-empty to go on all the same".into(),
        Hint::Force => "pass --force to forget it".into(),
        Hint::ConfirmReplace => "pass --replace to confirm".into(),
        Hint::ContentOnly => {
            "use --content --replace to restore content into a live site".into()
        }
        Hint::ContentOnlyOrExport => "restore it into an existing Jant database with --content --replace, or write it out with `jarc export`".into(),
        Hint::ChooseSite => "choose one with --site KEY|ID".into(),
        Hint::InsecureNoEncryption => "pass --insecure-no-encryption".into(),
        Hint::InitCopyFrom => "make the destination with `jarc init --copy-from SOURCE`".into(),
        Hint::ChooseSource => "pick one with --source TEXT, --host HOST or --tag TAG".into(),
        Hint::SiteId => "pass --site-id ID to say which site its rows belong to".into(),
        Hint::TargetDirectory => "restore it with --target DIR".into(),
        Hint::TargetDatabase => "restore it with --target-database postgres://…".into(),
        Hint::TargetDataDir => "restore it with --target-data-dir DIR".into(),
        Hint::ScratchDatabase => "pass --target-database postgres://… naming a server where jarc may create and drop a scratch database".into(),
        Hint::SnapshotOrAllSources => "name a snapshot, or use --all-sources".into(),
        Hint::RetentionPolicy => "pass at least one --keep-* option, or snapshot ids".into(),
        Hint::MediaDirectory => "pass --media DIR or set STORAGE_DRIVER to local or s3".into(),
    }
}

/// Events on stderr for `-v` (jarc's steps), `-vv` (their detail), `-vvv`
/// (everything jarc traces), or `JARC_LOG`'s directives (`info`,
/// `jarc=debug,object_store=info`), which win. Whether logging is on.
pub fn start_logging(verbose: u8, env: Option<String>) -> anyhow::Result<bool> {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let targets = match env.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => v
            .parse::<Targets>()
            .map_err(|e| usage(format!("JARC_LOG={v:?}: {e}")))?,
        None => {
            let level = match verbose {
                0 => return Ok(false),
                1 => LevelFilter::INFO,
                2 => LevelFilter::DEBUG,
                _ => LevelFilter::TRACE,
            };
            Targets::new().with_target("jarc", level)
        }
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_filter(targets),
        )
        .try_init()
        .map_err(|e| anyhow::anyhow!("starting the log: {e}"))?;
    Ok(true)
}

/// `jarc man`: the manual page of the command on stdout, or with a
/// directory one page per command there (`jarc.1`, `jarc-backup.1`,
/// `jarc-key-add.1`, …), all from the argument definitions. The names of
/// the files written.
pub fn man_pages(cmd: clap::Command, dir: Option<&std::path::Path>) -> anyhow::Result<Vec<String>> {
    let Some(dir) = dir else {
        clap_mangen::Man::new(cmd).render(&mut std::io::stdout().lock())?;
        return Ok(Vec::new());
    };
    fn walk(
        cmd: clap::Command,
        name: String,
        dir: &std::path::Path,
        out: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let cmd = cmd
            .display_name(name.clone())
            .bin_name(name.replace('-', " "));
        let file = format!("{name}.1");
        let mut bytes = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut bytes)?;
        let path = dir.join(&file);
        anyhow::Context::with_context(std::fs::write(&path, bytes), || {
            format!("writing {}", path.display())
        })?;
        out.push(file);
        for sub in cmd.get_subcommands().filter(|c| c.get_name() != "help") {
            walk(sub.clone(), format!("{name}-{}", sub.get_name()), dir, out)?;
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(cmd, "jarc".into(), dir, &mut out)?;
    Ok(out)
}
