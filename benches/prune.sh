#!/usr/bin/env bash
# Prune on a repository of N blobs (default 1,000,000): 20 generations of
# blobs, 10 snapshots over a sliding window of 11 generations each
# (`jarc-bench prune-repo`). Forget the 5 oldest snapshots (a quarter of the
# blobs lose their last reference), then time and measure:
#   - prune --dry-run (mark and plan only);
#   - prune (mark, plan, execute: delete packs, rewrite the index);
#   - a second forget (2 more) and prune --max-unused 0%, to show the
#     share of packs a run rewrites when it must repack everything partial;
#   - check, to prove the result.
#
#   bash benches/prune.sh [BLOBS=1000000]
set -euo pipefail
# Repositories are encrypted (format-spec §13); the benchmark's password.
export JARC_PASSWORD=${JARC_PASSWORD:-bench-password}
cd "$(dirname "$0")/.."
N=${1:-1000000}
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
cargo build --release --locked -p jarc-cli -p jarc-benches >/dev/null 2>&1
JARC="$PWD/target/release/jarc"
W=$(mktemp -d /tmp/jarc-prune-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
R="$W/repo"
"$PWD/target/release/jarc-bench" prune-repo "$R" --blobs "$N"
oldest() {
  "$JARC" --repo "$R" --json snapshots |
    python3 -c "import sys,json; l=sorted(json.load(sys.stdin), key=lambda s: s['time']); print(' '.join(s['id'] for s in l[:$1]))"
}
measure() { # label, args…
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$W/t" "$JARC" --repo "$R" --json -q "$@" >"$W/out.json"
  read -r secs kib <"$W/t"
  python3 - "$label" "$secs" "$kib" "$W/out.json" <<'PY'
import json, sys
label, secs, kib, path = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = json.load(open(path))
r = r.get("report", r.get("prune"))
print(f"{label}: {secs:.2f} s, peak RSS {kib/1024:.0f} MiB; {r['blobs']} blobs in {r['packs']} packs, "
      f"mark state {r['mark_bytes']/1024:.0f} KiB; condemned {r['packs_unused']} unused + "
      f"{r['packs_repacked']} repacked ({100*r['packs_repacked']/r['packs']:.1f} % of packs rewritten, "
      f"{r['bytes_repacked']/2**20:.1f} MiB copied) + {r['packs_unindexed']} unindexed; "
      f"deleted {r['packs_deleted']} packs, freed {r['bytes_freed']/2**20:.1f} MiB")
PY
}
before=$(du -sb "$R" | cut -f1)
# shellcheck disable=SC2046
"$JARC" --repo "$R" -q forget $(oldest 5) >/dev/null
measure "prune --dry-run" prune --dry-run
measure "prune" prune
after=$(du -sb "$R" | cut -f1)
echo "repository: $((before >> 20)) MiB -> $((after >> 20)) MiB"
# shellcheck disable=SC2046
"$JARC" --repo "$R" -q forget $(oldest 2) >/dev/null
measure "prune --max-unused 0%" prune --max-unused 0%
/usr/bin/time -f "check: %e s, peak RSS %M KiB" "$JARC" --repo "$R" -q check | tail -1
