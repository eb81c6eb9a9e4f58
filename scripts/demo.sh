#!/usr/bin/env bash
# The main job on embedded defaults: build jarc, make a small media
# directory, back it up, change it, back it up again, show the diff,
# restore into a blank directory and prove it byte-identical.
set -euo pipefail
# Repositories are encrypted (format-spec §13): the demo's password.
export JARC_PASSWORD=${JARC_PASSWORD:-bench-password}
cd "$(dirname "$0")/.."
cargo build --release --locked -p jarc-cli
JARC="$PWD/target/release/jarc"
work="${1:-$(mktemp -d)}"
mkdir -p "$work"
media="$work/media" repo="$work/repo" out="$work/restored"
rm -rf "$media" "$repo" "$out"
mkdir -p "$media/media/site1/files"
for i in $(seq 1 20); do
  head -c $((200000 + i * 1000)) /dev/urandom > "$media/media/site1/files/med_$i.jpg"
  printf '{"contentType":"image/jpeg"}' > "$media/media/site1/files/med_$i.jpg.meta.json"
done
echo "== init";            "$JARC" init --repo "$repo"
echo "== first backup";    "$JARC" --repo "$repo" backup --media "$media"
echo "== second backup (unchanged)"; "$JARC" --repo "$repo" backup --media "$media"
head -c 300000 /dev/urandom > "$media/media/site1/files/med_new.jpg"
rm "$media/media/site1/files/med_3.jpg" "$media/media/site1/files/med_3.jpg.meta.json"
echo "== third backup (one added, one removed)"; "$JARC" --repo "$repo" backup --media "$media"
"$JARC" --repo "$repo" snapshots
first=$("$JARC" --repo "$repo" --json snapshots | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])' 2>/dev/null || true)
if [ -n "$first" ]; then echo "== diff first latest"; "$JARC" --repo "$repo" diff "$first" latest; fi
echo "== restore latest";  "$JARC" --repo "$repo" restore latest --target "$out"
echo "== verify";          diff -r "$media" "$out" && echo "restored tree is byte-identical"
"$JARC" --repo "$repo" check --read-data
"$JARC" --repo "$repo" stats
echo "demo files are in $work"
