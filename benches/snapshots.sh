#!/usr/bin/env bash
# A repository of many snapshots (issue 18): a medium Jant site's database
# (POSTS posts) backed up once, then COUNT copies of that snapshot, 5
# minutes apart (a year of 5-minute snapshots is 105,120), written
# directly (`jarc-bench many-snapshots`). Then, with a cold and a warm
# snapshot cache (format-spec §14), and with the cache off: a database-only
# backup, `snapshots` and `snapshots --json`: wall seconds and peak RSS.
#
#   bash benches/snapshots.sh [COUNT=100000] [POSTS=7500]
set -euo pipefail
export JARC_PASSWORD=${JARC_PASSWORD:-bench-password}
cd "$(dirname "$0")/.."
COUNT=${1:-100000}
POSTS=${2:-7500}
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
cargo build --release --locked -p jarc-cli -p jarc-benches >/dev/null 2>&1
JARC=${JARC:-$PWD/target/release/jarc}
BENCH="$PWD/target/release/jarc-bench"
W=$(mktemp -d /tmp/jarc-snapshots.XXXXXX)
trap 'rm -rf "$W"' EXIT
export JARC_CACHE_DIR="$W/cache"
"$BENCH" site-db "$W/site.sqlite" --posts "$POSTS" >/dev/null
"$JARC" --repo "$W/repo" init >/dev/null
"$JARC" --repo "$W/repo" -q backup --database "$W/site.sqlite" --no-media >/dev/null
"$BENCH" many-snapshots "$W/repo" --count "$COUNT"
measure() { # label, then the command
  local label=$1
  shift
  /usr/bin/time -f '%e %M' -o "$W/time" "$@" >/dev/null
  read -r s k <"$W/time"
  printf "%-34s %6.2f s %5d MiB\n" "$label" "$s" $((k / 1024))
}
echo "$((COUNT + 1)) snapshots; one Argon2id open is ~0.45 s of each figure"
measure "backup, cache cold" "$JARC" --repo "$W/repo" -q backup --database "$W/site.sqlite" --no-media
measure "backup, cache warm" "$JARC" --repo "$W/repo" -q backup --database "$W/site.sqlite" --no-media
measure "backup, cache warm" "$JARC" --repo "$W/repo" -q backup --database "$W/site.sqlite" --no-media
measure "snapshots" "$JARC" --repo "$W/repo" snapshots
measure "snapshots --json" "$JARC" --repo "$W/repo" --json snapshots
JARC_CACHE_DIR= measure "backup, cache off" "$JARC" --repo "$W/repo" -q backup --database "$W/site.sqlite" --no-media
JARC_CACHE_DIR= measure "snapshots, cache off" "$JARC" --repo "$W/repo" snapshots
