#!/usr/bin/env bash
# Encryption's cost: the same binary, the same generated media directory,
# an encrypted and a plaintext repository side by side in one run,
# alternating so the machine's noise falls on both: first backup, a nightly
# backup (1 % new files), restore, with peak RSS; then Argon2id's time and
# memory at the default parameters.
#
#   bash benches/crypt.sh [MiB] [files] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
FILES=${2:-10000}
ROUNDS=${3:-3}
export JARC_PASSWORD=bench-password
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
cargo build --release --locked -p jarc-cli -p jarc-benches >/dev/null 2>&1
JARC="$PWD/target/release/jarc"
BENCH="$PWD/target/release/jarc-bench"
W=$(mktemp -d /tmp/jarc-crypt.XXXXXX)
trap 'rm -rf "$W"' EXIT
"$BENCH" gen "$W/data" --mib "$MIB" --files "$FILES"
"$BENCH" gen "$W/new" --mib $((MIB / 100 + 1)) --files $((FILES / 100 + 1))
sync
one() { # label init-args...
  local label=$1
  shift
  rm -rf "$W/repo" "$W/out" "$W/data/nightly"
  "$JARC" --repo "$W/repo" init "$@" >/dev/null 2>&1
  local t1 m1 t2 t3 m3
  /usr/bin/time -f "%e %M" -o "$W/t" "$JARC" --repo "$W/repo" -q backup --media "$W/data" >/dev/null
  read -r t1 m1 <"$W/t"
  cp -r "$W/new" "$W/data/nightly"
  /usr/bin/time -f "%e %M" -o "$W/t" "$JARC" --repo "$W/repo" -q backup --media "$W/data" >/dev/null
  read -r t2 _ <"$W/t"
  /usr/bin/time -f "%e %M" -o "$W/t" "$JARC" --repo "$W/repo" -q restore latest --target "$W/out" >/dev/null 2>&1
  read -r t3 m3 <"$W/t"
  diff -rq "$W/data" "$W/out" >/dev/null || { echo "$label: restore differs" >&2; exit 1; }
  printf '%-9s first %6.2f s (%4d MiB)  nightly %6.3f s  restore %6.2f s (%4d MiB)  repo %s\n' \
    "$label" "$t1" $((m1 / 1024)) "$t2" "$t3" $((m3 / 1024)) "$(du -sh "$W/repo" | cut -f1)"
}
for r in $(seq "$ROUNDS"); do
  one encrypted
  one plaintext --insecure-no-encryption
done
rm -rf "$W/repo"
/usr/bin/time -f "%e s, %M KiB peak RSS" -o "$W/t" "$JARC" --repo "$W/repo" init >/dev/null
echo "init (one Argon2id at the defaults, plus the process): $(cat "$W/t")"
/usr/bin/time -f "%e s, %M KiB peak RSS" -o "$W/t" "$JARC" --repo "$W/repo" snapshots >/dev/null
echo "open (one Argon2id): $(cat "$W/t")"
