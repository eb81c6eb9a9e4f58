#!/usr/bin/env bash
# A media directory of COUNT tiny objects (1,000 to a directory), backed up,
# CHANGE of them rewritten (a night's changes), backed up again; then
# `jarc diff` of the two snapshots. Prints wall seconds, peak RSS and the
# repository requests of each step (issue 18's scale target).
#
#   bash benches/million.sh [COUNT=1000000] [CHANGE=1000]
set -euo pipefail
export JARC_PASSWORD=${JARC_PASSWORD:-bench-password}
cd "$(dirname "$0")/.."
COUNT=${1:-1000000}
CHANGE=${2:-1000}
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
cargo build --release --locked -p jarc-cli -p jarc-benches >/dev/null 2>&1
JARC=${JARC:-$PWD/target/release/jarc}
BENCH="$PWD/target/release/jarc-bench"
W=$(mktemp -d /tmp/jarc-million.XXXXXX)
trap 'rm -rf "$W"' EXIT
export JARC_CACHE_DIR="$W/cache"
"$BENCH" tiny-files "$W/media" --count "$COUNT"
"$JARC" --repo "$W/repo" init >/dev/null
step() { # label, then the command (JSON on stdout)
  local label=$1
  shift
  /usr/bin/time -f '%e %M' -o "$W/time" "$@" >"$W/out"
  read -r s k <"$W/time"
  printf "%-22s %6.2f s %5d MiB  %s\n" "$label" "$s" $((k / 1024)) \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d.get("requests") or {}; c=d.get("cost") or {}
print(" ".join("%s %s" % (k, v) for k, v in list(r.items()) + list(c.items())), "changes", len(d["media"]) if "media" in d else "")' "$W/out")"
}
step "first backup" "$JARC" --repo "$W/repo" --json backup --media "$W/media"
"$BENCH" tiny-files "$W/media" --count "$COUNT" --change "$CHANGE"
step "nightly backup" "$JARC" --repo "$W/repo" --json backup --media "$W/media"
read -r A B < <("$JARC" --repo "$W/repo" --json snapshots | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[0]["id"], d[1]["id"])')
step "diff" "$JARC" --repo "$W/repo" --json diff "$A" "$B"
