#!/usr/bin/env bash
# A/B of two jarc binaries on the same generated media directory, in one
# run, alternating so that the machine's noise falls on both: first backup,
# unchanged rerun and restore, with peak RSS. For "did this change slow
# anything down": build the old tree's binary elsewhere and pass it.
#
#   bash benches/ab.sh OLD_JARC [MiB] [files] [rounds]
#   (NEW_JARC defaults to this tree's release build)
set -euo pipefail
# Repositories are encrypted (format-spec §13); the benchmark's password.
export JARC_PASSWORD=${JARC_PASSWORD:-bench-password}
cd "$(dirname "$0")/.."
OLD=${1:?usage: ab.sh OLD_JARC [MiB] [files] [rounds]}
MIB=${2:-1024}
FILES=${3:-10000}
ROUNDS=${4:-3}
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release --locked -p jarc-cli -p jarc-benches >/dev/null 2>&1
NEW=${NEW_JARC:-$PWD/target/release/jarc}
BENCH="$PWD/target/release/jarc-bench"
W=$(mktemp -d /tmp/jarc-ab.XXXXXX)
trap 'rm -rf "$W"' EXIT
"$BENCH" gen "$W/data" --mib "$MIB" --files "$FILES"
sync
one() { # label binary
  rm -rf "$W/repo" "$W/out"
  "$2" init --repo "$W/repo" >/dev/null
  local t1 m1 t2 t3 m3
  # Each step followed by `sync`: bytes left dirty in the page cache are
  # not written yet (a build that writes past the cache would look slower).
  /usr/bin/time -f "%e %M" -o "$W/t" bash -c '"$@" >/dev/null && sync' _ "$2" --repo "$W/repo" -q backup --media "$W/data"
  read -r t1 m1 <"$W/t"
  /usr/bin/time -f "%e %M" -o "$W/t" bash -c '"$@" >/dev/null && sync' _ "$2" --repo "$W/repo" -q backup --media "$W/data"
  read -r t2 _ <"$W/t"
  /usr/bin/time -f "%e %M" -o "$W/t" bash -c '"$@" >/dev/null && sync' _ "$2" --repo "$W/repo" -q restore latest --target "$W/out"
  read -r t3 m3 <"$W/t"
  diff -rq "$W/data" "$W/out" >/dev/null || { echo "$1: restore differs" >&2; exit 1; }
  printf '%-4s first %6.2f s (%4d MiB)  rerun %6.3f s  restore %6.2f s (%4d MiB)\n' \
    "$1" "$t1" $((m1 / 1024)) "$t2" "$t3" $((m3 / 1024))
}
for r in $(seq "$ROUNDS"); do
  one old "$OLD"
  one new "$NEW"
done
