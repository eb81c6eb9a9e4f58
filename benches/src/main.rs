//! jarc benchmarks. Each subcommand prints one line of figures; the
//! `benches/compare.sh` script runs them with restic and borg side by side.
//!
//!   jarc-bench gen DIR [--mib N] [--files N] [--sidecars 1]   media-like dataset: 90 % incompressible, 10 % text;
//!                                              with Jant's `.meta.json` beside each object, as its local driver keeps them
//!   jarc-bench chunk-hash [--mib N]            FastCDC + keyed blake3 over N MiB in memory, rayon
//!   jarc-bench index [--blobs N]               resident bytes per blob of the in-memory index
//!   jarc-bench site-db DB [--posts N]          a Jant-shaped SQLite database (benches/nightly.sh)
//!   jarc-bench site-edit DB [--edit-permille N] [--add-permille N]   a night of edits
//!   jarc-bench rows DB [--count N]             one table of N rows (id, text, int, real)
//!   jarc-bench site-media DIR [--mib N] [--files N]   a Jant data dir whose media rows name N MiB of objects
//!   jarc-bench tiny-files DIR [--count N] [--change K]   N tiny files, 1,000 a directory; or change K of them
//!   jarc-bench many-snapshots REPO [--count N]  N more copies of REPO's latest snapshot, 5 minutes apart, older

use anyhow::{bail, Context, Result};
use jarc::config::Config;
use jarc::id::Id;
use jarc::index::{Index, IndexPack};
use jarc::pack::{BlobKind, Codec, PackBlob};
use rayon::prelude::*;
use std::path::Path;
use std::time::Instant;

fn arg(args: &[String], name: &str, default: u64) -> Result<u64> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .context("missing value")?
            .parse()
            .context(name.to_string()),
        None => Ok(default),
    }
}

fn noise(seed: u64, buf: &mut [u8]) {
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    for c in buf.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        c.copy_from_slice(&b[..c.len()]);
    }
}

const WORDS: &[&str] = &[
    "the",
    "post",
    "jant",
    "collection",
    "media",
    "thread",
    "<p>",
    "</p>",
    "INSERT INTO",
    "VALUES",
    "{\"id\":",
    "\"title\":",
    "summer",
    "garden",
    "notes",
    "release",
    "2026-11-25",
    "site",
    "link",
    "about",
];

fn text(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Skewed vocabulary, with numbers, like SQL, HTML and JSON logs.
        let w = WORDS[((x >> 5) % WORDS.len() as u64).min((x >> 9) % WORDS.len() as u64) as usize];
        out.extend_from_slice(w.as_bytes());
        if x.is_multiple_of(7) {
            out.extend_from_slice(format!(" {}", x % 100_000).as_bytes());
        }
        out.push(if x.is_multiple_of(13) { b'\n' } else { b' ' });
    }
    out.truncate(len);
    out
}

/// 10 % of the bytes are text (`.html`/`.json`), the rest noise (`.jpg`,
/// and a few large `.mp4`). Sizes follow a spread from 20 KiB to 40 MiB.
fn gen(dir: &Path, mib: u64, files: u64, sidecars: bool) -> Result<()> {
    let total = mib << 20;
    let videos = (files / 1000).max(1);
    let video_bytes = total * 4 / 10;
    let text_bytes = total / 10;
    let image_bytes = total - video_bytes - text_bytes;
    let text_files = files / 10;
    let image_files = files - videos - text_files;
    let mut jobs: Vec<(String, u64, bool)> = Vec::new();
    for i in 0..videos {
        jobs.push((
            format!("media/site/files/video_{i:04}.mp4"),
            video_bytes / videos,
            false,
        ));
    }
    for i in 0..image_files {
        // Spread image sizes 0.25×–1.75× the mean.
        let mean = image_bytes / image_files;
        let size = mean / 4 + (mean * 3 / 2) * (i % 97) / 96;
        jobs.push((
            format!("media/site/files/{:02}/img_{i:06}.jpg", i % 64),
            size,
            false,
        ));
    }
    for i in 0..text_files {
        jobs.push((
            format!("media/site/text/{:02}/doc_{i:06}.html", i % 16),
            text_bytes / text_files,
            true,
        ));
    }
    jobs.par_iter()
        .enumerate()
        .try_for_each(|(n, (key, size, is_text))| -> Result<()> {
            let p = dir.join(key);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let data = if *is_text {
                text(n as u64 + 1, *size as usize)
            } else {
                let mut b = vec![0u8; *size as usize];
                noise(n as u64 + 1, &mut b);
                b
            };
            std::fs::write(&p, data)?;
            if sidecars {
                // What Jant's local storage driver writes beside an object.
                let kind = match key.rsplit('.').next() {
                    Some("mp4") => "video/mp4",
                    Some("jpg") => "image/jpeg",
                    _ => "text/html",
                };
                let mut side = p.clone().into_os_string();
                side.push(".meta.json");
                std::fs::write(side, format!("{{\"contentType\":\"{kind}\"}}"))?;
            }
            Ok(())
        })?;
    let bytes: u64 = jobs.iter().map(|j| j.1).sum();
    println!(
        "generated {} files, {:.1} MiB, in {}",
        jobs.len(),
        bytes as f64 / 1048576.0,
        dir.display()
    );
    Ok(())
}

fn chunk_hash(mib: u64) -> Result<()> {
    let cfg = Config::new_random();
    let chunker = jarc::chunker::Chunker::new(&cfg.chunker);
    // 16 files of mib/16 each, hashed chunk by chunk in parallel: the backup's inner loop.
    let per = ((mib << 20) / 16) as usize;
    let files: Vec<Vec<u8>> = (0..16u64)
        .into_par_iter()
        .map(|i| {
            let mut b = vec![0u8; per];
            noise(i + 1, &mut b);
            b
        })
        .collect();
    let key = cfg.key;
    for round in 0..3 {
        let t = Instant::now();
        let chunks: usize = files
            .par_iter()
            .map(|f| {
                let cuts = chunker.cuts(f);
                cuts.par_iter()
                    .map(|&(o, l)| {
                        std::hint::black_box(blake3::keyed_hash(&key, &f[o..o + l]));
                        1usize
                    })
                    .sum::<usize>()
            })
            .sum();
        let s = t.elapsed().as_secs_f64();
        println!(
            "chunk+hash round {round}: {mib} MiB, {chunks} chunks, {:.0} MB/s on {} threads",
            (per as f64 * 16.0) / s / 1e6,
            rayon::current_num_threads()
        );
    }
    Ok(())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn index_memory(blobs: u64) -> Result<()> {
    // Feed the index pack by pack, as loading index files does, so the
    // resident-set growth is the index itself.
    let per_pack = 32u64;
    let before = rss_kib();
    let t = Instant::now();
    let mut idx = Index::default();
    for p in 0..blobs / per_pack {
        let pack = IndexPack {
            id: Id(*blake3::hash(&p.to_le_bytes()).as_bytes()),
            size: 32 << 20,
            blobs: (0..per_pack)
                .map(|i| PackBlob {
                    kind: BlobKind::Data,
                    id: Id(*blake3::hash(&(p * per_pack + i).to_le_bytes()).as_bytes()),
                    offset: (i as u32) << 20,
                    length: 1 << 20,
                    raw_length: 1 << 20,
                    codec: Codec::Raw,
                })
                .collect(),
        };
        idx.add_pack(&pack, false);
    }
    idx.finish();
    let load = t.elapsed();
    let after = rss_kib();
    let t = Instant::now();
    let mut found = 0;
    for i in (0..blobs).step_by(7) {
        found += idx.contains(&Id(*blake3::hash(&i.to_le_bytes()).as_bytes())) as u64;
    }
    let lookups = blobs.div_ceil(7);
    if found != lookups {
        bail!("lookup failed: {found} of {lookups}");
    }
    println!(
        "index: {} blobs; layout {} B/blob, accounted {:.1} B/blob, RSS growth {:.1} B/blob; build {:.0} ms, {:.0} ns/lookup",
        idx.len(),
        Index::bytes_per_entry(),
        idx.resident_bytes() as f64 / idx.len() as f64,
        (after.saturating_sub(before) * 1024) as f64 / idx.len() as f64,
        load.as_secs_f64() * 1000.0,
        t.elapsed().as_secs_f64() * 1e9 / lookups as f64,
    );
    Ok(())
}

fn site_db(db: &Path, posts: u64) -> Result<()> {
    jarc::demo::fixture::create_sqlite_db(db, posts as usize)?;
    let c = rusqlite::Connection::open(db)?;
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    let n: i64 = c.query_row("SELECT count(*) FROM post", [], |r| r.get(0))?;
    println!("site-db: {n} posts, {} bytes", std::fs::metadata(db)?.len());
    Ok(())
}

/// Edit `edit` ‰ of the posts (spread over the table, as a night's edits
/// are) and add `add` ‰ new ones.
fn site_edit(db: &Path, edit: u64, add: u64) -> Result<()> {
    let c = jarc::demo::fixture::open_site_db(db)?;
    let n: i64 = c.query_row("SELECT count(*) FROM post", [], |r| r.get(0))?;
    let every = (1000 / edit.max(1)) as i64;
    c.execute_batch("BEGIN")?;
    let edited = c.execute(
        "UPDATE post SET body_text = body_text || ' Edited later.', body = replace(body, 'garden', 'garden (edited)'), updated_at = updated_at + 86400
          WHERE (CAST(substr(id, 5) AS INTEGER) * 7919) % ?1 = 0",
        [every],
    )?;
    let added = n as u64 * add / 1000;
    let mut st = c.prepare(
        "INSERT INTO post (id, site_id, format, title, body, body_html, body_text, thread_id, created_at, updated_at)
         VALUES (?1, ?2, 'note', 'New', ?3, ?3, ?3, ?1, 1776000000, 1776000000)",
    )?;
    for i in 0..added {
        let id = format!("pst_8{i:06}");
        let body = format!("A new post number {i}: {}", "fresh words ".repeat(60));
        st.execute([&id, jarc::demo::fixture::SITE_ID, &body])?;
    }
    drop(st);
    c.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE)")?;
    println!("site-edit: {edited} of {n} posts edited, {added} added");
    Ok(())
}

fn rows_db(db: &Path, count: u64) -> Result<()> {
    let c = rusqlite::Connection::open(db)?;
    c.execute_batch(
        "PRAGMA journal_mode = WAL; CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, price REAL); BEGIN",
    )?;
    let mut st = c.prepare("INSERT INTO item VALUES (?1, ?2, ?3, ?4)")?;
    for i in 0..count as i64 {
        st.execute(rusqlite::params![
            i,
            format!("item {i} of the catalogue"),
            i % 97,
            i as f64 / 8.0
        ])?;
    }
    drop(st);
    c.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE)")?;
    println!("rows: {count} rows, {} bytes", std::fs::metadata(db)?.len());
    Ok(())
}

/// A demo Jant site (SQLite) plus `files` media objects of `mib` MiB in
/// all, each with its `media` row: 90 % of the bytes incompressible
/// (.mp4/.jpg, which archives STORE), 10 % text (.txt, which they deflate).
fn site_media(dir: &Path, mib: u64, files: u64) -> Result<()> {
    jarc::demo::fixture::create_sqlite_site(dir, 500)?;
    let c = jarc::demo::fixture::open_site_db(&dir.join("jant.sqlite"))?;
    let total = mib << 20;
    let per = (total / files.max(1)) as usize;
    c.execute_batch("BEGIN")?;
    let mut buf = vec![0u8; per];
    for i in 0..files {
        let text = i % 10 == 0;
        let ext = if text {
            "txt"
        } else if i % 2 == 0 {
            "mp4"
        } else {
            "jpg"
        };
        let key = format!(
            "media/{}/files/med_big{i:05}.{ext}",
            jarc::demo::fixture::SITE_ID
        );
        if text {
            let line = format!("line {i} of a transcript with {} ", WORDS.join(" "));
            let mut t = line.repeat(per / line.len() + 1).into_bytes();
            t.truncate(per);
            buf.copy_from_slice(&t);
        } else {
            noise(i + 7, &mut buf);
        }
        let p = dir.join("media").join(&key);
        std::fs::create_dir_all(p.parent().context("parent")?)?;
        std::fs::write(&p, &buf)?;
        c.execute(
            "INSERT INTO media (id, site_id, post_id, filename, original_name, mime_type, size, storage_key, provider, position, media_kind, created_at, updated_at)
             VALUES (?1, ?2, NULL, ?3, ?3, ?4, ?5, ?6, 'local', 'a0', 'document', 1776000000, 1776000000)",
            rusqlite::params![
                format!("med_big{i:05}"),
                jarc::demo::fixture::SITE_ID,
                format!("med_big{i:05}.{ext}"),
                if text { "text/plain" } else { "video/mp4" },
                per as i64,
                key
            ],
        )?;
    }
    c.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE)")?;
    println!(
        "site-media: {files} objects, {} MiB",
        (per as u64 * files) >> 20
    );
    Ok(())
}

/// `count` files of 10–40 bytes, 1,000 to a directory (a media directory
/// of a million objects); with `change` > 0, rewrite that many of them,
/// spread evenly, with new content (a night's changes).
fn tiny_files(dir: &Path, count: u64, change: u64) -> Result<()> {
    let path = |i: u64| dir.join(format!("d{:04}/f{:06}.txt", i / 1000, i));
    let t = Instant::now();
    if let Some(step) = count.checked_div(change) {
        let step = step.max(1);
        for i in (0..count).step_by(step as usize).take(change as usize) {
            std::fs::write(path(i), format!("changed {i} at {:?}\n", t))?;
        }
        println!("tiny-files: {change} changed");
        return Ok(());
    }
    (0..count.div_ceil(1000))
        .into_par_iter()
        .try_for_each(|d| -> Result<()> {
            std::fs::create_dir_all(dir.join(format!("d{d:04}")))?;
            for i in d * 1000..((d + 1) * 1000).min(count) {
                std::fs::write(path(i), format!("object {i}\n"))?;
            }
            Ok(())
        })?;
    println!("tiny-files: {count} in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// `count` copies of the repository's latest snapshot, each 5 minutes
/// older than the one after it (a year of 5-minute database snapshots is
/// 105,120), sharing its trees: the repository a point-in-time scheme
/// grows into. Written in parallel; `JARC_PASSWORD` opens the repository.
fn many_snapshots(repo: &Path, count: u64) -> Result<()> {
    let password = std::env::var("JARC_PASSWORD").unwrap_or_default();
    let ask = move || Ok(zeroize::Zeroizing::new(password.clone()));
    let repo = jarc::Repository::open(repo.to_str().context("path")?, &ask)?;
    let (_, latest) = jarc::snapshot::resolve(&repo, "latest")?;
    let t = Instant::now();
    (1..=count)
        .into_par_iter()
        .try_for_each(|i| -> Result<()> {
            let mut s = latest.clone();
            s.time_ns -= i as i64 * 300_000_000_000;
            jarc::snapshot::save(&repo, &s)?;
            Ok(())
        })?;
    println!(
        "many-snapshots: {count} written in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A repository of `blobs` small data blobs (so a million fit on a small
/// disk) in 20 generations, written in order, and 10 snapshots whose media
/// trees reference a sliding window of 11 generations each: forgetting the
/// 5 oldest leaves generations 0–4 to no snapshot. Packs are 1 MiB, so the
/// repository has as many packs per blob as a real one would at ~1 MiB
/// chunks and 32 MiB packs / 32.
fn prune_repo(dir: &Path, blobs: u64) -> Result<()> {
    use jarc::media::{EntryKind, MediaEntry};
    use jarc::snapshot::{Snapshot, SourceInfo, Summary};
    let mut config = jarc::config::Config::new_random();
    config.pack_size = 1 << 20;
    let repo = jarc::Repository::init(dir.to_str().context("path")?, config, None)?;
    let t = Instant::now();
    let gens = 20u64;
    let per_gen = blobs / gens;
    let per_file = 100u64;
    let mut files: Vec<Vec<MediaEntry>> = Vec::new();
    for g in 0..gens {
        let mut gen_files = Vec::new();
        let mut chunks = Vec::new();
        for i in 0..per_gen {
            let mut data = [0u8; 256];
            let seed = blake3::hash(&(g * per_gen + i).to_le_bytes());
            data[..32].copy_from_slice(seed.as_bytes());
            for k in 1..8 {
                let h = blake3::hash(&data[(k - 1) * 32..k * 32]);
                data[k * 32..(k + 1) * 32].copy_from_slice(h.as_bytes());
            }
            chunks.push(repo.save_blob(BlobKind::Data, &data)?.0);
            if chunks.len() as u64 == per_file || i + 1 == per_gen {
                let c = std::mem::take(&mut chunks);
                gen_files.push(MediaEntry {
                    kind: EntryKind::File,
                    size: c.len() as u64 * 256,
                    mtime_ns: 0,
                    mode: 0o644,
                    inode: 0,
                    ctime_ns: 0,
                    token: String::new(),
                    content: MediaEntry::content_id(&c),
                    chunks: c,
                    meta: Vec::new(),
                    sidecar: None,
                    target: None,
                });
            }
        }
        files.push(gen_files);
    }
    for s in 0..10u64 {
        let mut b = jarc::tree::TreeBuilder::new(&repo);
        for g in s..s + 11 {
            for (n, f) in files[g as usize].iter().enumerate() {
                b.push(format!("g{g:02}/f{n:06}").into_bytes(), f.encode())?;
            }
        }
        let root = b.finish()?;
        repo.flush()?;
        let snap = Snapshot {
            time_ns: 1_700_000_000_000_000_000 + s as i64 * 86_400_000_000_000,
            hostname: "bench".into(),
            tags: Vec::new(),
            source: SourceInfo {
                kind: "dir".into(),
                id: "/bench".into(),
                description: "synthetic".into(),
            },
            parent: None,
            roots: vec![(jarc::snapshot::MEDIA_ROOT.to_string(), root)],
            summary: Summary::default(),
            extra: Vec::new(),
        };
        jarc::snapshot::save(&repo, &snap)?;
    }
    println!(
        "prune-repo: {} blobs, {} packs, 10 snapshots in {:.1} s",
        repo.index().len(),
        repo.index().packs().len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(|s| s.as_str()) {
        Some("gen") => {
            let dir = args.get(2).context("gen DIR")?;
            gen(
                Path::new(dir),
                arg(&args, "--mib", 1024)?,
                arg(&args, "--files", 10_000)?,
                arg(&args, "--sidecars", 0)? != 0,
            )
        }
        Some("chunk-hash") => chunk_hash(arg(&args, "--mib", 1024)?),
        Some("index") => index_memory(arg(&args, "--blobs", 1_000_000)?),
        Some("site-db") => site_db(Path::new(args.get(2).context("DB")?), arg(&args, "--posts", 20_000)?),
        Some("site-edit") => site_edit(
            Path::new(args.get(2).context("DB")?),
            arg(&args, "--edit-permille", 10)?,
            arg(&args, "--add-permille", 5)?,
        ),
        Some("site-media") => site_media(
            Path::new(args.get(2).context("DIR")?),
            arg(&args, "--mib", 2048)?,
            arg(&args, "--files", 400)?,
        ),
        Some("prune-repo") => prune_repo(Path::new(args.get(2).context("DIR")?), arg(&args, "--blobs", 1_000_000)?),
        Some("tiny-files") => tiny_files(Path::new(args.get(2).context("DIR")?), arg(&args, "--count", 1_000_000)?, arg(&args, "--change", 0)?),
        Some("many-snapshots") => many_snapshots(Path::new(args.get(2).context("REPO")?), arg(&args, "--count", 105_120)?),
        Some("rows") => rows_db(Path::new(args.get(2).context("DB")?), arg(&args, "--count", 1_000_000)?),
        _ => bail!("usage: jarc-bench gen DIR [--mib N] [--files N] | chunk-hash [--mib N] | index [--blobs N] | site-db DB [--posts N] | site-edit DB [--edit-permille N] [--add-permille N] | rows DB [--count N] | site-media DIR [--mib N] [--files N] | prune-repo DIR [--blobs N] | many-snapshots REPO [--count N] | tiny-files DIR [--count N] [--change K]"),
    }
}
