#!/usr/bin/env bash
# The data path against the cost of copying the bytes (issue 18): a generated
# Jant data directory (a SQLite database of POSTS posts plus MIB MiB of media
# in FILES objects, 90 % incompressible, each with the `.meta.json` sidecar
# Jant's local storage keeps beside it) is
#   - copied with `cp -a` and synced (the floor: what moving the bytes costs),
#   - backed up by jarc (encrypted), restic and borg 1.2 (`-e none`), each
#     followed by `sync` so that no tool is credited for bytes still in the
#     page cache,
#   - restored by each into an empty directory, again followed by `sync`.
# Every figure is wall seconds and peak RSS of one process tree, measured in
# the same run, ROUNDS times, alternating tools. The page cache is warm alike
# for all (the dataset was just written). Ratios are what to compare: this
# machine is shared and noisy.
#
#   bash benches/datapath.sh [MIB=2048] [FILES=2295] [POSTS=35000] [ROUNDS=2]
#   TOOLS="cp jarc" bash benches/datapath.sh   # a subset
#   JARC=/path/to/other/jarc bash benches/datapath.sh   # another build
#   WORK_DIR=/mnt/x bash benches/datapath.sh   # on another filesystem
#   COLD=1 bash benches/datapath.sh   # drop the page cache before each step (root)
#
# On an ext4 without a journal (this development VM's root), creating a
# file within a minute or so of deleting many makes the kernel skip each
# recently freed inode (`recently_deleted`, up to a quarter of a restore's
# CPU in perf): whichever tool runs after a deletion pays for it. Figures
# from a journaled ext4 (a loop device is enough) are steadier.
set -euo pipefail
export JARC_PASSWORD=${JARC_PASSWORD:-bench-password}
cd "$(dirname "$0")/.."
MIB=${1:-2048}
FILES=${2:-2295}
POSTS=${3:-35000}
ROUNDS=${4:-2}
TOOLS=${TOOLS:-cp jarc restic borg}
if ! command -v restic >/dev/null || ! command -v borg >/dev/null || [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic borgbackup time >/dev/null
fi
cargo build --release --locked -p jarc-cli -p jarc-benches >/dev/null 2>&1
JARC=${JARC:-$PWD/target/release/jarc}
BENCH="$PWD/target/release/jarc-bench"
W=$(mktemp -d "${WORK_DIR:-/tmp}/jarc-datapath.XXXXXX")
trap 'rm -rf "$W"' EXIT
SITE="$W/site"
mkdir -p "$SITE"
"$BENCH" site-db "$SITE/jant.sqlite" --posts "$POSTS" >/dev/null
"$BENCH" gen "$SITE/media" --mib "$MIB" --files "$FILES" --sidecars 1 >/dev/null
BYTES=$(du -sb "$SITE" | cut -f1)
DB=$(stat -c %s "$SITE/jant.sqlite")
sync

# measure CMD... -> "seconds peak_rss_kib" of CMD followed by sync. With
# COLD=1 every step starts with nothing cached: a restore reads its
# repository from the disk, as after the loss it restores from.
measure() {
  if [ "${COLD:-0}" = 1 ]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi
  /usr/bin/time -f '%e %M' -o "$W/time" bash -c '"$@" >/dev/null && sync' _ "$@" 2>"$W/err" \
    || { cat "$W/err" >&2; exit 1; }
  cat "$W/time"
}
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$W/restic-cache"
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes \
  BORG_CACHE_DIR="$W/borg-cache" BORG_BASE_DIR="$W/borg-base"

line() { # tool what seconds rss
  printf "%-7s %-8s %7.2f s %6.2f× cp %5d MiB\n" "$1" "$2" "$3" \
    "$(awk -v a="$3" -v b="$CP" 'BEGIN{printf "%.2f", a/(b>0?b:0.01)}')" $(($4 / 1024))
}
echo "site: $((BYTES >> 20)) MiB ($((DB >> 20)) MiB database, $FILES media objects); $(nproc) cores"
for r in $(seq "$ROUNDS"); do
  echo "round $r"
  rm -rf "$W/copy"
  read -r CP CPM < <(measure cp -a "$SITE" "$W/copy")
  rm -rf "$W/copy"
  line cp copy "$CP" "$CPM"
  for t in $TOOLS; do
    rm -rf "$W/repo" "$W/out" "$W/restic-cache" "$W/borg-cache" "$W/borg-base"
    case $t in
      cp) continue ;;
      jarc)
        "$JARC" --repo "$W/repo" init >/dev/null
        read -r B BM < <(measure "$JARC" --repo "$W/repo" -q backup --data-dir "$SITE")
        read -r R RM < <(measure "$JARC" --repo "$W/repo" -q restore latest --target-data-dir "$W/out" --allow-missing-objects)
        ;;
      restic)
        restic init -q -r "$W/repo" >/dev/null
        read -r B BM < <(measure restic -q -r "$W/repo" backup "$SITE")
        read -r R RM < <(measure restic -q -r "$W/repo" restore latest --target "$W/out")
        ;;
      borg)
        borg init -e none "$W/repo" >/dev/null
        read -r B BM < <(measure borg create "$W/repo::a" "$SITE")
        mkdir -p "$W/out"
        read -r R RM < <(cd "$W/out" && measure borg extract "$W/repo::a")
        ;;
    esac
    line "$t" backup "$B" "$BM"
    line "$t" restore "$R" "$RM"
  done
done
