#!/usr/bin/env bash
# Jant snapshot archives at scale: a generated site whose media rows name
# MIB MiB of objects (90 % incompressible .mp4/.jpg, 10 % text), backed up,
# then exported as a Jant archive (wall time, throughput, peak RSS), the same
# media zipped with `zip -0 -r` for comparison, and the archive imported into
# a fresh repository (wall time, throughput, peak RSS).
#
#   bash benches/archive.sh [MIB=2048] [FILES=400]
set -euo pipefail
# Repositories are encrypted (format-spec §13); the benchmark's password.
export JARC_PASSWORD=${JARC_PASSWORD:-bench-password}
cd "$(dirname "$0")/.."
MIB=${1:-2048}
FILES=${2:-400}
if ! command -v zip >/dev/null || [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zip time >/dev/null
fi
cargo build --release --locked -p jarc-cli -p jarc-benches >/dev/null 2>&1
JARC="$PWD/target/release/jarc"
BENCH="$PWD/target/release/jarc-bench"
W=$(mktemp -d /tmp/jarc-archive.XXXXXX)
trap 'rm -rf "$W"' EXIT

# Runs a command under /usr/bin/time; prints "seconds peak_rss_kib".
measure() {
  /usr/bin/time -f '%e %M' -o "$W/time" "$@" >/dev/null
  cat "$W/time"
}
mibps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / (s > 0 ? s : 0.01) }'; }

"$BENCH" site-media "$W/site" --mib "$MIB" --files "$FILES"
BYTES=$(du -sb "$W/site/media" | cut -f1)
"$JARC" --repo "$W/repo" init >/dev/null
read -r BS BR < <(measure "$JARC" --repo "$W/repo" -q backup --data-dir "$W/site")
read -r ES ER < <(measure "$JARC" --repo "$W/repo" -q export latest --output "$W/site.zip")
ZBYTES=$(stat -c %s "$W/site.zip")
read -r ZS ZR < <(cd "$W/site/media" && measure zip -0 -r -q "$W/plain.zip" .)
"$JARC" --repo "$W/repo2" init >/dev/null
read -r IS IR < <(measure "$JARC" --repo "$W/repo2" -q import "$W/site.zip")
echo "media: $((BYTES >> 20)) MiB in $(find "$W/site/media" -type f | wc -l) files; archive $((ZBYTES >> 20)) MiB"
echo "backup:        ${BS}s  $(mibps "$BYTES" "$BS") MiB/s  peak RSS $((BR / 1024)) MiB"
echo "jarc export:   ${ES}s  $(mibps "$BYTES" "$ES") MiB/s  peak RSS $((ER / 1024)) MiB"
echo "zip -0 -r:     ${ZS}s  $(mibps "$BYTES" "$ZS") MiB/s  peak RSS $((ZR / 1024)) MiB"
echo "jarc import:   ${IS}s  $(mibps "$ZBYTES" "$IS") MiB/s  peak RSS $((IR / 1024)) MiB"
