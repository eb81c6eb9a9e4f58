#!/usr/bin/env bash
# The whole test suite, from a fresh machine: formatting, lints, unit and
# integration tests against real SQLite (bundled), a real PostgreSQL server
# (installed and started here), Jant's zip reader (yauzl, from npm), real
# S3 servers (Garage and moto, installed and started here) and local
# repositories.
set -euo pipefail
cd "$(dirname "$0")/.."

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

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"; s3_stop' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line with the totals over every test binary (cargo's own last
# line is the doc-test run, which has no tests).
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
