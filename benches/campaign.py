#!/usr/bin/env python3
"""The reliability campaign (issue 20), runnable by anyone:

  python3 benches/campaign.py [--kills 20] [--flips 100] [--seed N] [--jarc PATH]

1. Kills: SIGKILL at a random moment of `backup`, `prune` and `restore`,
   KILLS times each. A kill is survived when `check` passes afterwards,
   the same command run again finishes, and what it leaves is right (the
   repository checks clean with --read-data; a restore's tree is identical
   to an uninterrupted one's).
2. Flips: FLIPS single-byte flips, each in a fresh copy of one repository,
   spread evenly over the kinds of object (config, key, snapshot, index,
   pack, and the copies kept of the config, keys, snapshots and tree
   packs). For each: detected (`check --read-data` fails), blamed correctly
   (the damaged object's name is in what check says), and files lost
   beyond the damaged object: every snapshot is restored as a site
   (database + media) and compared with the intact repository's restore;
   a lost media file counts unless check named it as using a damaged blob
   (the damaged object's own cost), a lost database counts as one file.
3. Hostile input: the inputs the issue lists, each with what jarc did.

Prints one table per part. Everything runs in a temporary directory on
this machine's disk; nothing else is touched. Takes a few minutes.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--kills", type=int, default=20)
ap.add_argument("--flips", type=int, default=100)
ap.add_argument("--seed", type=int, default=int(time.time()))
ap.add_argument("--jarc", default=None)
ap.add_argument("--verbose", action="store_true", help="a line per flip")
ap.add_argument("--parts", default="kills,flips,hostile", help="comma-separated: kills, flips, hostile")
args = ap.parse_args()
rng = random.Random(args.seed)
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if args.jarc is None:
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "jarc-cli"], cwd=root, check=True)
    args.jarc = os.path.join(root, "target/release/jarc")
JARC = args.jarc
ENV = dict(os.environ, JARC_PASSWORD="campaign", JARC_KDF_PARAMS="m=256,t=1,p=1", JARC_CACHE_DIR="")
for v in ["JARC_PASSWORD_FILE", "JARC_PASSWORD_COMMAND", "JARC_REPOSITORY", "JARC_FAILPOINT"]:
    ENV.pop(v, None)
work = tempfile.mkdtemp(prefix="jarc-campaign.")
print(f"seed {args.seed}; working in {work}", flush=True)


def jarc(*a, check=False, timeout=600):
    r = subprocess.run([JARC, *a], env=ENV, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        sys.exit(f"jarc {' '.join(a)} failed ({r.returncode}): {r.stderr}")
    return r


def tree_digest(path):
    """Relative path -> sha256 of every file under path."""
    out = {}
    for d, _, files in os.walk(path):
        for f in files:
            p = os.path.join(d, f)
            if os.path.islink(p):
                continue
            with open(p, "rb") as fh:
                out[os.path.relpath(p, path)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def add_media(media, n, tag, big=False):
    os.makedirs(os.path.join(media, tag), exist_ok=True)
    for i in range(n):
        size = rng.randint(1 << 20, 8 << 20) if big else rng.randint(1000, 600_000)
        with open(os.path.join(media, tag, f"m{i:04}.bin"), "wb") as fh:
            fh.write(rng.randbytes(size))


# A Jant site: the demo's SQLite database and media, plus generated media.
demo = os.path.join(work, "demo")
jarc("demo", demo, "--posts", "200", check=True)
site = os.path.join(demo, "site")
media = os.path.join(site, "media")
add_media(media, 60, "gen")


def timed(*a):
    t = time.time()
    jarc(*a, check=True)
    return time.time() - t


def kill_at(delay, *a):
    p = subprocess.Popen([JARC, *a], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    finished = p.poll() is not None
    if not finished:
        p.send_signal(signal.SIGKILL)
    p.wait()
    return finished


kills = {}
parts = set(args.parts.split(","))

if "kills" in parts:
    # --- backup -------------------------------------------------------------
    repo = os.path.join(work, "kill-backup")
    jarc("--repo", repo, "init", check=True)
    add_media(media, 40, "big", big=True)
    t_backup = timed("--repo", repo, "backup", "--data-dir", site)
    ok = 0
    for i in range(args.kills):
        add_media(media, 3, f"round{i}", big=True)
        kill_at(rng.uniform(0, t_backup * 0.6), "--repo", repo, "backup", "--data-dir", site)
        c1 = jarc("--repo", repo, "check").returncode == 0
        again = jarc("--repo", repo, "backup", "--data-dir", site).returncode == 0
        c2 = jarc("--repo", repo, "check").returncode == 0
        ok += c1 and again and c2
    final = jarc("--repo", repo, "check", "--read-data").returncode == 0
    kills["backup"] = (ok, args.kills, final)

    # --- restore ------------------------------------------------------------
    ref = os.path.join(work, "restore-ref")
    t_restore = timed("--repo", repo, "restore", "latest", "--target-data-dir", ref)
    ref_media = tree_digest(os.path.join(ref, "media"))
    ok = 0
    for i in range(args.kills):
        tgt = os.path.join(work, f"restore-{i}")
        kill_at(rng.uniform(0, t_restore), "--repo", repo, "restore", "latest", "--target-data-dir", tgt)
        r = jarc("--repo", repo, "restore", "latest", "--target-data-dir", tgt, "--overwrite")
        same = r.returncode == 0 and tree_digest(os.path.join(tgt, "media")) == ref_media
        same = same and os.path.exists(os.path.join(tgt, "jant.sqlite"))
        ok += same
        shutil.rmtree(tgt, ignore_errors=True)
    kills["restore"] = (ok, args.kills, True)

    # --- prune --------------------------------------------------------------
    jarc("--repo", repo, "forget", "--keep-last", "2", "--force", check=True)
    base = os.path.join(work, "prune-base")
    shutil.copytree(repo, base, symlinks=True)
    p = os.path.join(work, "prune-timing")
    shutil.copytree(base, p, symlinks=True)
    t_prune = timed("--repo", p, "prune", "--max-unused", "0%")
    shutil.rmtree(p)
    ok = 0
    for i in range(args.kills):
        p = os.path.join(work, f"prune-{i}")
        shutil.copytree(base, p, symlinks=True)
        kill_at(rng.uniform(0, t_prune), "--repo", p, "prune", "--max-unused", "0%")
        c1 = jarc("--repo", p, "check").returncode == 0
        again = jarc("--repo", p, "prune", "--max-unused", "0%").returncode == 0
        c2 = jarc("--repo", p, "check", "--read-data").returncode == 0
        tgt = os.path.join(work, f"prune-restore-{i}")
        r = jarc("--repo", p, "restore", "latest", "--target-data-dir", tgt)
        same = r.returncode == 0 and tree_digest(os.path.join(tgt, "media")) == ref_media
        ok += c1 and again and c2 and same
        shutil.rmtree(p)
        shutil.rmtree(tgt, ignore_errors=True)
    kills["prune"] = (ok, args.kills, True)
    shutil.rmtree(base)

    print("\nkills (SIGKILL at a random moment; survived = check passes, the rerun finishes, the result is right)")
    print(f"{'command':10} {'survived':>10}  final check --read-data")
    for k, (ok, n, final) in kills.items():
        print(f"{k:10} {ok:>5} / {n:<3}  {'clean' if final else 'ERRORS'}")
    sys.stdout.flush()

# --- flips --------------------------------------------------------------
frepo = os.path.join(work, "flip-base")
fsite = os.path.join(work, "flip-site")
jarc("demo", os.path.join(work, "flip-demo"), "--posts", "100", check=True)
shutil.copytree(os.path.join(work, "flip-demo", "site"), fsite)
fmedia = os.path.join(fsite, "media")
add_media(fmedia, 30, "a")
jarc("--repo", frepo, "init", check=True)
jarc("--repo", frepo, "backup", "--data-dir", fsite, check=True)
add_media(fmedia, 10, "b")
jarc("--repo", frepo, "backup", "--data-dir", fsite, check=True)
snaps = [s["id"] for s in json.loads(jarc("--repo", frepo, "--json", "snapshots", check=True).stdout)]


def restore_all(repo, tag):
    """snapshot -> (database restored?, media digest) of a site restore."""
    out = {}
    for s in snaps:
        tgt = os.path.join(work, f"{tag}-{s[:8]}")
        r = jarc("--repo", repo, "restore", s, "--target-data-dir", tgt)
        db = r.returncode in (0, 3) and os.path.exists(os.path.join(tgt, "jant.sqlite"))
        out[s] = (db, tree_digest(os.path.join(tgt, "media")) if os.path.isdir(os.path.join(tgt, "media")) else {})
        shutil.rmtree(tgt, ignore_errors=True)
    return out


if "flips" in parts:
    intact = restore_all(frepo, "intact")
    kinds = {}
    named = {"data": "pack", "keys": "key", "snapshots": "snapshot", "index": "index"}
    for d in ["keys", "snapshots", "index", "data", "key-copies", "snapshot-copies", "tree-copies"]:
        for dp, _, files in os.walk(os.path.join(frepo, d)):
            for f in files:
                kinds.setdefault(named.get(d, "copy"), []).append(os.path.relpath(os.path.join(dp, f), frepo))
    kinds["config"] = ["config"]
    kinds.setdefault("copy", []).append("config.copy")
    order = sorted(kinds)
    # flips, detected, blamed, no loss beyond, files lost beyond, ... after `repair index`
    rows = {k: [0, 0, 0, 0, 0, 0] for k in order}
    for i in range(args.flips):
        kind = order[i % len(order)]
        obj = rng.choice(kinds[kind])
        r = os.path.join(work, "flip")
        shutil.rmtree(r, ignore_errors=True)
        shutil.copytree(frepo, r, symlinks=True)
        path = os.path.join(r, obj)
        b = bytearray(open(path, "rb").read())
        at = rng.randrange(len(b))
        b[at] ^= 1 << rng.randrange(8)
        open(path, "wb").write(bytes(b))
        c = jarc("--repo", r, "--json", "check", "--read-data")
        said = c.stdout + c.stderr
        detected = c.returncode != 0 or '"ok": false' in c.stdout
        name = os.path.basename(obj)
        blamed = name in said or (kind == "config" and "config" in said) or (kind == "key" and "key" in said)
        affected = set()
        try:
            for dmg in json.loads(c.stdout)["report"]["damage"]:
                # "<snapshot>:<key>"; the key's Jant sidecar goes with it.
                affected.update(a.split(":", 1)[-1] for a in dmg.get("affects", []))
        except (ValueError, KeyError, TypeError):
            pass
        def lost_beyond():
            after = restore_all(r, "flip")
            n = 0
            for s, (db, files) in intact.items():
                db2, files2 = after[s]
                n += db and not db2
                for k, h in files.items():
                    if files2.get(k) != h and not any(k.startswith(a) for a in affected):
                        n += 1
            return n

        beyond = lost_beyond()
        # What the operator's documented remedy recovers: `repair index`.
        repaired = beyond
        if beyond and jarc("--repo", r, "repair", "index").returncode == 0:
            repaired = lost_beyond()
        if args.verbose:
            print(f"  {obj} byte {at}: detected={detected} blamed={blamed} beyond={beyond} after repair={repaired}", flush=True)
        row = rows[kind]
        row[0] += 1
        row[1] += detected
        row[2] += blamed
        row[3] += beyond == 0
        row[4] += beyond
        row[5] += repaired
    shutil.rmtree(os.path.join(work, "flip"), ignore_errors=True)
    total = [sum(r[i] for r in rows.values()) for i in range(6)]
    print("\nsingle-byte flips (each in a fresh copy; 'beyond' = files lost that are not the damaged object's own)")
    print("(a site restore's database counts as one file; each snapshot is restored)")
    print(f"{'object':10} {'flips':>6} {'detected':>9} {'blamed':>7} {'no loss beyond':>15} {'files lost beyond':>18} {'after repair index':>19}")
    for k in order + ["all"]:
        r = total if k == "all" else rows[k]
        print(f"{k:10} {r[0]:>6} {r[1]:>9} {r[2]:>7} {r[3]:>15} {r[4]:>18} {r[5]:>19}")
    sys.stdout.flush()

# --- hostile input ------------------------------------------------------
print("\nhostile input")
h = os.path.join(work, "hostile")
os.makedirs(h)
hrepo = os.path.join(h, "repo")
jarc("--repo", hrepo, "init", check=True)
results = []
empty = os.path.join(h, "empty-site")
os.makedirs(empty)
shutil.copy(os.path.join(fsite, "jant.sqlite"), os.path.join(empty, "jant.sqlite"))
jarc("--repo", hrepo, "backup", "--data-dir", empty, "--no-media", check=True)
open(os.path.join(empty, "jant.sqlite"), "wb").close()
r = jarc("--repo", hrepo, "backup", "--data-dir", empty, "--no-media")
results.append(("0-byte jant.sqlite after a good snapshot", r.returncode != 0 and "holds no tables" in r.stderr, r.stderr.strip()[:110]))
for url in ["postgres://u:p%2Fss?w0rd@127.0.0.1:1/db", "host=127.0.0.1 port=1 password='s3cr/et?' dbname=x"]:
    r = jarc("--repo", hrepo, "backup", "--database", url)
    leaked = "p%2Fss?w0rd" in r.stderr + r.stdout or "s3cr/et?" in r.stderr + r.stdout
    results.append((f"password in {url.split(':')[0][:8]}… connection string", not leaked and r.returncode != 0, r.stderr.strip()[:110]))
m = os.path.join(h, "media")
os.makedirs(m)
with open(os.path.join(m, "ok.bin"), "wb") as fh:
    fh.write(b"x" * 1000)
os.symlink("/etc/shadow" if os.path.exists("/etc/shadow") else "/etc/passwd", os.path.join(m, "link"))
r = jarc("--repo", hrepo, "--json", "backup", "--media", m)
results.append(("a symlink to a root-only file in the media", r.returncode in (0, 3), f"exit {r.returncode}"))
out = os.path.join(h, "out")
jarc("--repo", hrepo, "restore", "latest", "--target", out)
stored = os.path.join(out, "link")
results.append(("…restored as a link, never as the target's content", not os.path.isfile(stored) or os.path.islink(stored), ""))
mode = oct(os.stat(os.path.join(hrepo, "config")).st_mode & 0o777)
results.append(("repository files' mode", mode == "0o600", mode))
for what, ok, detail in results:
    print(f"  {'ok  ' if ok else 'FAIL'} {what}: {detail}")
shutil.rmtree(work, ignore_errors=True)
