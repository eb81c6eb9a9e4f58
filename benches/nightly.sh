#!/usr/bin/env bash
# The nightly database scenario: a ~50 MB Jant SQLite database (7,500 posts
# of generated prose, FTS trigram index included), backed up,
# then 1 % of posts edited and 0.5 % added, backed up again. Prints what the
# second backup added to a jarc repository and to a restic repository that
# backs up the same two database files (consistent copies taken with
# sqlite3 .backup, as an operator would). Then a 1,000,000-row table:
# backup time and peak resident memory.
#
#   bash benches/nightly.sh [posts] [rows]
set -euo pipefail
# Repositories are encrypted (format-spec §13); the benchmark's password.
export JARC_PASSWORD=${JARC_PASSWORD:-bench-password}
cd "$(dirname "$0")/.."
POSTS=${1:-7500}
ROWS=${2:-1000000}
if ! command -v restic >/dev/null || ! command -v sqlite3 >/dev/null || [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic sqlite3 time >/dev/null
fi
cargo build --release --locked -p jarc-cli -p jarc-benches >/dev/null 2>&1
JARC=${JARC:-$PWD/target/release/jarc}
BENCH="$PWD/target/release/jarc-bench"
W=$(mktemp -d /tmp/jarc-nightly.XXXXXX)
trap 'rm -rf "$W"' EXIT
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="$W/restic" RESTIC_CACHE_DIR="$W/restic-cache"
size() { du -sb "$1" | cut -f1; }

"$BENCH" site-db "$W/live.sqlite" --posts "$POSTS"
mkdir -p "$W/night"
"$JARC" --repo "$W/jarc" init >/dev/null
restic init -q >/dev/null

night() {
  sqlite3 "$W/live.sqlite" ".backup '$W/night/jant.sqlite'"
  "$JARC" --repo "$W/jarc" -q backup --database "$W/live.sqlite" --no-media >/dev/null
  restic backup -q "$W/night" >/dev/null
}
night
J1=$(size "$W/jarc"); R1=$(size "$W/restic")
"$BENCH" site-edit "$W/live.sqlite" --edit-permille 10 --add-permille 5
night
J2=$(size "$W/jarc"); R2=$(size "$W/restic")
DB=$(stat -c %s "$W/night/jant.sqlite")
echo "database file: $DB bytes"
printf '%-8s first %10d B  second adds %10d B\n' jarc "$J1" "$((J2 - J1))" restic "$R1" "$((R2 - R1))"
echo "jarc growth / restic growth: $(awk -v j=$((J2 - J1)) -v r=$((R2 - R1)) 'BEGIN { printf "%.3f", j / r }')"

"$BENCH" rows "$W/rows.sqlite" --count "$ROWS"
"$JARC" --repo "$W/rows-repo" init >/dev/null
for run in first unchanged; do
  /usr/bin/time -f "%e %M" -o "$W/t" "$JARC" --repo "$W/rows-repo" -q backup --database "$W/rows.sqlite" --no-media >/dev/null
  read -r secs kib <"$W/t"
  echo "$ROWS-row table, $run backup: ${secs}s, peak RSS $((kib / 1024)) MiB"
done
