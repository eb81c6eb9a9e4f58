#!/usr/bin/env bash
# S3 throughput against a real Garage 2.5.0 on 127.0.0.1 (compression off,
# fsync off: the server shares the 2 cores with jarc, so these are lower
# bounds for jarc), the same data as a local directory for comparison:
#   - local dir -> local repository, and local dir -> S3 repository;
#   - media bucket -> local repository (the bucket filled by
#     `restore --target-bucket`, so it holds the same objects);
#   - restore from the S3 repository and from the local one;
#   - the request counts of an unchanged nightly, each way.
#
#   bash benches/s3.sh [MIB=1024] [FILES=200]
set -euo pipefail
# Repositories are encrypted (format-spec §13); the benchmark's password.
export JARC_PASSWORD=${JARC_PASSWORD:-bench-password}
cd "$(dirname "$0")/.."
MIB=${1:-1024}
FILES=${2:-200}
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
cargo build --release --locked -p jarc-cli >/dev/null 2>&1
JARC="$PWD/target/release/jarc"
W=$(mktemp -d /tmp/jarc-s3-bench.XXXXXX)
trap 'bash scripts/s3-garage.sh stop; rm -rf "$W"' EXIT
# shellcheck source=benches/garage.sh
. benches/garage.sh repo media

measure() {
  /usr/bin/time -f '%e %M' -o "$W/time" "$@" > "$W/out"
  cat "$W/time"
}
mibps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / 1048576 / (s > 0 ? s : 0.01) }'; }
requests() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r=d["requests"]; s=d.get("source_requests") or {}
print("repository %d list %d get %d put %d head" % (r["list"], r["get"], r["put"], r["head"]) + ("; bucket %d list %d get %d head" % (s["list"], s["get"], s["head"]) if s else ""))' "$W/out"; }

mkdir -p "$W/src"
per=$((MIB * 1048576 / FILES))
for i in $(seq 1 "$FILES"); do
  head -c "$per" /dev/urandom > "$W/src/obj-$i.bin"
done
BYTES=$(du -sb "$W/src" | cut -f1)

"$JARC" --repo "$W/local" init >/dev/null
"$JARC" --repo s3://repo/bench init >/dev/null
read -r LS LR < <(measure "$JARC" --repo "$W/local" -q backup --media "$W/src")
read -r SS SR < <(measure "$JARC" --repo s3://repo/bench -q backup --media "$W/src")
read -r _ _ < <(measure "$JARC" --repo s3://repo/bench -q --json backup --media "$W/src")
NIGHTLY_S3=$(requests)
"$JARC" --repo "$W/local" -q restore latest --target-bucket media --media-only >/dev/null
"$JARC" --repo "$W/local2" init >/dev/null
read -r BS BR < <(measure "$JARC" --repo "$W/local2" -q backup --media-bucket media)
read -r _ _ < <(measure "$JARC" --repo "$W/local2" -q --json backup --media-bucket media)
NIGHTLY_BUCKET=$(requests)
read -r RL RLR < <(measure "$JARC" --repo "$W/local" -q restore latest --target "$W/r1")
read -r RS RSR < <(measure "$JARC" --repo s3://repo/bench -q restore latest --target "$W/r2")
diff -r "$W/src" "$W/r2" >/dev/null && diff -r "$W/src" "$W/r1" >/dev/null

echo "data: $((BYTES >> 20)) MiB in $FILES incompressible files"
echo "dir -> local repo:     ${LS}s  $(mibps "$BYTES" "$LS") MiB/s  peak RSS $((LR / 1024)) MiB"
echo "dir -> S3 repo:        ${SS}s  $(mibps "$BYTES" "$SS") MiB/s  peak RSS $((SR / 1024)) MiB"
echo "bucket -> local repo:  ${BS}s  $(mibps "$BYTES" "$BS") MiB/s  peak RSS $((BR / 1024)) MiB"
echo "restore local repo:    ${RL}s  $(mibps "$BYTES" "$RL") MiB/s  peak RSS $((RLR / 1024)) MiB"
echo "restore S3 repo:       ${RS}s  $(mibps "$BYTES" "$RS") MiB/s  peak RSS $((RSR / 1024)) MiB"
echo "unchanged nightly, dir -> S3 repo:      $NIGHTLY_S3"
echo "unchanged nightly, bucket -> local repo: $NIGHTLY_BUCKET"
