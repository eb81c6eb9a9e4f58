#!/usr/bin/env bash
# Every cargo-fuzz target in fuzz/, run for a short time each on this
# stable toolchain (RUSTC_BOOTSTRAP, no sanitizer): a decoder that panics or
# over-allocates on some input fails the run. Longer campaigns:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET -s none -- -max_total_time=600
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-5}
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none
failed=0
# The fuzz crate is outside the workspace, so its lock file is not kept
# current by the workspace's builds: a build that had to change it means
# it is stale.
if ! git diff --quiet -- Cargo.lock; then
  echo "FAILED: fuzz/Cargo.lock is stale (commit the one this build wrote)" >&2
  failed=1
fi
for target in $(cargo fuzz list); do
  if RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" -s none -- -max_total_time="$secs" \
    >"/tmp/jarc-fuzz-$target.log" 2>&1; then
    echo "fuzz $target: ok ($secs s)"
  else
    echo "FAILED: fuzz $target (log: /tmp/jarc-fuzz-$target.log)" >&2
    tail -20 "/tmp/jarc-fuzz-$target.log" >&2
    failed=1
  fi
done
exit "$failed"
