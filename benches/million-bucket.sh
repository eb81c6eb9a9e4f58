#!/usr/bin/env bash
# The scale target of issue 18 for a media bucket: COUNT tiny objects in a
# bucket on a real Garage on 127.0.0.1 (filled by `restore --target-bucket`
# from a directory's snapshot), backed up into a local repository; CHANGE of
# them rewritten (PUT again with new content), backed up again. Prints wall
# seconds, peak RSS and the requests of each backup (to the bucket and to
# the repository). Garage shares the machine's cores with jarc.
#
#   bash benches/million-bucket.sh [COUNT=100000] [CHANGE=1000]
set -euo pipefail
export JARC_PASSWORD=${JARC_PASSWORD:-bench-password}
cd "$(dirname "$0")/.."
COUNT=${1:-100000}
CHANGE=${2:-1000}
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
cargo build --release --locked -p jarc-cli -p jarc-benches >/dev/null 2>&1
JARC=${JARC:-$PWD/target/release/jarc}
BENCH="$PWD/target/release/jarc-bench"
W=$(mktemp -d /tmp/jarc-million-bucket.XXXXXX)
trap 'bash scripts/s3-garage.sh stop >/dev/null 2>&1; rm -rf "$W"' EXIT
# shellcheck source=benches/garage.sh
. benches/garage.sh media
export S3_BUCKET=media
export JARC_CACHE_DIR="$W/cache"

"$BENCH" tiny-files "$W/media" --count "$COUNT"
"$JARC" --repo "$W/fill" init >/dev/null
"$JARC" --repo "$W/fill" -q backup --media "$W/media" >/dev/null
t0=$(date +%s.%N)
"$JARC" --repo "$W/fill" -q restore latest --target-bucket >/dev/null
echo "bucket filled with $COUNT objects in $(echo "$(date +%s.%N) - $t0" | bc) s"

"$JARC" --repo "$W/repo" init >/dev/null
step() { # label
  /usr/bin/time -f '%e %M' -o "$W/time" "$JARC" --repo "$W/repo" --json backup --media-bucket >"$W/out"
  read -r s k <"$W/time"
  printf "%-16s %6.2f s %5d MiB  %s\n" "$1" "$s" $((k / 1024)) \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=d["source_requests"]; r=d["requests"]
print("bucket: %d list %d get; repository: %d get %d put; files %d new %d changed %d unchanged" % (s["list"], s["get"], r["get"], r["put"], d["files_new"], d["files_changed"], d["files_unchanged"]))' "$W/out")"
}
step "first backup"
# A night's changes: CHANGE objects rewritten in the bucket.
python3 - "$W/media" "$COUNT" "$CHANGE" <<'PY'
import sys, boto3, os
d, count, change = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="garage",
                  aws_access_key_id=os.environ["S3_ACCESS_KEY_ID"],
                  aws_secret_access_key=os.environ["S3_SECRET_ACCESS_KEY"])
step = max(count // change, 1)
for i in list(range(0, count, step))[:change]:
    s3.put_object(Bucket="media", Key="d%04d/f%06d.txt" % (i // 1000, i), Body=b"changed %d\n" % i)
PY
step "nightly backup"
