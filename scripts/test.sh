#!/usr/bin/env bash
# The whole test suite, from a fresh machine: formatting, lints, unit and
# integration tests against real SQLite (bundled), a real PostgreSQL server
# (installed and started here), Jant's zip reader (yauzl, from npm), real
# S3 servers (Garage and moto, installed and started here) and local
# repositories.
set -euo pipefail
cd "$(dirname "$0")/.."

# A set-up step that fails (no server could be installed) still ends the
# run with a closing line.
closed=0
log=$(mktemp)
on_exit() {
  rm -f "$log"
  if command -v s3_stop >/dev/null; then s3_stop; fi
  if [ "$closed" = 0 ]; then echo "0 passed, 1 failed"; fi
}
trap on_exit EXIT

if ! command -v cargo >/dev/null; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 1
fi
# The unreadable-file test drops privileges with setpriv (util-linux).
if [ "$(id -u)" = 0 ] && ! command -v setpriv >/dev/null; then
  apt-get update -qq && apt-get install -y -qq util-linux >/dev/null
fi

# yauzl, the zip reader Jant's importer uses, reads jarc's exported archives
# in tests/archive.rs (Node.js and npm: Debian's packages if absent).
if ! command -v npm >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null

# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
# Garage and moto on 127.0.0.1 (Garage is built once, ~10 min, then cached).
# shellcheck source=scripts/s3.sh
. scripts/s3.sh

# Every step runs even when an earlier one fails, and the run always ends
# with one closing line: formatting and lints count as one check each, then
# every test of every binary (cargo's --no-fail-fast keeps going past a
# failing test binary).
checks_passed=0
checks_failed=0
check() {
  if "$@"; then
    checks_passed=$((checks_passed + 1))
  else
    echo "FAILED: $*" >&2
    checks_failed=$((checks_failed + 1))
  fi
}
check cargo fmt --all -- --check
check cargo clippy --workspace --all-targets --locked -- -D warnings
# Every fuzz target for a few seconds (JARC_FUZZ_SECONDS; 0 skips).
if [ "${JARC_FUZZ_SECONDS:-3}" != 0 ]; then
  check bash scripts/fuzz.sh "${JARC_FUZZ_SECONDS:-3}"
fi
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
test_status=${PIPESTATUS[0]}
set -e
# One closing line with the totals over every test binary (cargo's own last
# line is the doc-test run, which has no tests). A test binary that could
# not be built or crashed counts as one failure.
read -r passed failed < <(awk '/^test result:/ { p += $4; f += $6 } END { printf "%d %d\n", p, f }' "$log")
if [ "$test_status" != 0 ] && [ "$failed" = 0 ]; then
  failed=1
fi
passed=$((passed + checks_passed))
failed=$((failed + checks_failed))
closed=1
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
