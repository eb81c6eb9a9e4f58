#!/usr/bin/env bash
# End-to-end benchmark: jarc, restic and borg on the same generated dataset
# (default 1 GiB in 10,000 files: 90 % incompressible media, 10 % text).
# Prints first backup, unchanged rerun, restore and repository size side by
# side. Page cache is warm for every tool alike (the dataset was just
# written); figures are wall-clock seconds on this machine.
#
#   bash benches/compare.sh [MiB] [files]
#   REPO_DIR=/dev/shm bash benches/compare.sh   # repositories on tmpfs: compares
#                                                # the engines, not this disk
set -euo pipefail
# Repositories are encrypted (format-spec §13); the benchmark's password.
export JARC_PASSWORD=${JARC_PASSWORD:-bench-password}
cd "$(dirname "$0")/.."
MIB=${1:-1024}
FILES=${2:-10000}
if ! command -v restic >/dev/null || ! command -v borg >/dev/null || [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic borgbackup time >/dev/null
fi
cargo build --release --locked -p jarc-cli -p jarc-benches >/dev/null 2>&1
JARC=${JARC:-$PWD/target/release/jarc}
BENCH="$PWD/target/release/jarc-bench"
W=$(mktemp -d /tmp/jarc-compare.XXXXXX)
RW=$(mktemp -d "${REPO_DIR:-/tmp}/jarc-compare-repos.XXXXXX")
trap 'rm -rf "$W" "$RW"' EXIT
DATA="$W/data"
"$BENCH" gen "$DATA" --mib "$MIB" --files "$FILES"
BYTES=$(du -sb "$DATA" | cut -f1)
sync

# time_it LABEL CMD... -> prints "seconds peak_rss_kib"
time_it() {
  local out="$W/time.$$"
  /usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null 2>"$W/stderr" || { cat "$W/stderr" >&2; return 1; }
  cat "$out"
}
row() { # tool first rerun restore size
  local mbs=$(awk -v b="$BYTES" -v s="$2" 'BEGIN{ if (s>0) printf "%.0f", b/s/1e6; else print "-" }')
  local rmbs=$(awk -v b="$BYTES" -v s="$5" 'BEGIN{ if (s>0) printf "%.0f", b/s/1e6; else print "-" }')
  printf "%-8s %8.2f s %7s MB/s %7s MiB %8.3f s %8.2f s %7s MB/s %9.1f MiB\n" "$1" "$2" "$mbs" "$3" "$4" "$5" "$rmbs" "$6"
}

declare -A R
# jarc
"$JARC" init --repo "$RW/jarc" >/dev/null
read -r t1 m1 < <(time_it "$JARC" --repo "$RW/jarc" -q backup --media "$DATA")
read -r t2 _ < <(time_it "$JARC" --repo "$RW/jarc" -q backup --media "$DATA")
read -r t3 _ < <(time_it "$JARC" --repo "$RW/jarc" -q restore latest --target "$W/out-jarc")
diff -rq "$DATA" "$W/out-jarc" >/dev/null || { echo "jarc restore differs" >&2; exit 1; }
R[jarc]="$t1 $(( m1 / 1024 )) $t2 $t3 $(du -sm "$RW/jarc" | cut -f1)"

# restic (default compression auto = zstd level 3)
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$W/restic-cache"
restic init -q -r "$RW/restic" >/dev/null
read -r t1 m1 < <(time_it restic -q -r "$RW/restic" backup "$DATA")
read -r t2 _ < <(time_it restic -q -r "$RW/restic" backup "$DATA")
read -r t3 _ < <(time_it restic -q -r "$RW/restic" restore latest --target "$W/out-restic")
R[restic]="$t1 $(( m1 / 1024 )) $t2 $t3 $(du -sm "$RW/restic" | cut -f1)"

# borg 1.2 (no encryption, lz4 default)
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_CACHE_DIR="$W/borg-cache" BORG_BASE_DIR="$W/borg-base"
borg init -e none "$RW/borg" >/dev/null
read -r t1 m1 < <(time_it borg create "$RW/borg::a" "$DATA")
read -r t2 _ < <(time_it borg create "$RW/borg::b" "$DATA")
mkdir -p "$W/out-borg"
read -r t3 _ < <(cd "$W/out-borg" && time_it borg extract "$RW/borg::b")
R[borg]="$t1 $(( m1 / 1024 )) $t2 $t3 $(du -sm "$RW/borg" | cut -f1)"

echo
echo "dataset: $FILES files, $((BYTES / 1048576)) MiB; $(nproc) cores; warm page cache"
printf "%-8s %10s %12s %11s %10s %10s %12s %13s\n" tool "first" "throughput" "peak RSS" "rerun" "restore" "throughput" "repo size"
for t in jarc restic borg; do
  read -r a m b c s <<<"${R[$t]}"
  row "$t" "$a" "$m" "$b" "$c" "$s"
done
