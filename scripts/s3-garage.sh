#!/usr/bin/env bash
# s3-garage.sh install|start|stop|status — single-node Garage S3 server on 127.0.0.1 for tests/benchmarks.
# Env: GARAGE_VERSION (2.5.0), S3_CACHE (~/.cache/s3-servers), S3_DATA (/tmp/garage-s3), S3_PORT (free port),
#      S3_ACCESS_KEY / S3_SECRET_KEY / S3_BUCKET, GARAGE_COMPRESSION (1 | none), GARAGE_FSYNC (false|true)
set -euo pipefail
GARAGE_VERSION=${GARAGE_VERSION:-2.5.0}
CACHE=${S3_CACHE:-$HOME/.cache/s3-servers}
BIN=$CACHE/garage-$GARAGE_VERSION/bin/garage
DATA=$(realpath -m "${S3_DATA:-/tmp/garage-s3}")
AK=${S3_ACCESS_KEY:-GK0123456789abcdef01234567}
SK=${S3_SECRET_KEY:-$(printf '%064x' 42)}
BUCKET=${S3_BUCKET:-test}
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

case ${1:-} in
install)   # ~11 min on 2 cores the first time (peak RSS 1.4 GB), then a no-op
  [ -x "$BIN" ] && { echo "garage $GARAGE_VERSION already at $BIN"; exit 0; }
  CARGO_TARGET_DIR="$CACHE/target-garage" cargo install "garage@$GARAGE_VERSION" --locked --root "$CACHE/garage-$GARAGE_VERSION"
  rm -rf "$CACHE/target-garage" ;;   # 822 MB of build output; the installed binary is a separate link
start)
  [ -x "$BIN" ] || { echo "run '$0 install' first"; exit 1; }
  if [ -f "$DATA/garage.pid" ] && kill -0 "$(cat "$DATA/garage.pid")" 2>/dev/null; then echo "already running"; cat "$DATA/s3.env"; exit 0; fi
  mkdir -p "$DATA/meta" "$DATA/data"
  if [ ! -f "$DATA/garage.toml" ]; then
    S3_PORT=${S3_PORT:-$(freeport)}; RPC_PORT=$(freeport); ADMIN_PORT=$(freeport)
    cat > "$DATA/garage.toml" <<TOML
metadata_dir = "$DATA/meta"
data_dir = "$DATA/data"
db_engine = "lmdb"
replication_factor = 1
metadata_fsync = ${GARAGE_FSYNC:-false}
data_fsync = ${GARAGE_FSYNC:-false}
compression_level = ${GARAGE_COMPRESSION:-1}
rpc_bind_addr = "127.0.0.1:$RPC_PORT"
rpc_public_addr = "127.0.0.1:$RPC_PORT"
rpc_secret = "$(python3 -c 'import secrets;print(secrets.token_hex(32))')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$S3_PORT"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$ADMIN_PORT"
TOML
    chmod 600 "$DATA/garage.toml"
  fi
  S3_PORT=$(sed -n 's/^api_bind_addr = "127.0.0.1:\([0-9]*\)"/\1/p' "$DATA/garage.toml" | head -1)
  # --single-node: lays out this node (layout v1) on first start; --default-bucket: imports the key
  # from GARAGE_DEFAULT_ACCESS_KEY/SECRET_KEY (with create-bucket right) and creates/allows the bucket.
  GARAGE_DEFAULT_ACCESS_KEY=$AK GARAGE_DEFAULT_SECRET_KEY=$SK GARAGE_DEFAULT_BUCKET=$BUCKET \
    nohup "$BIN" -c "$DATA/garage.toml" server --single-node --default-bucket >> "$DATA/garage.log" 2>&1 < /dev/null &
  echo $! > "$DATA/garage.pid"
  for _ in $(seq 1 300); do    # ready = a SigV4-signed ListObjectsV2 on the bucket answers 200
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' --aws-sigv4 "aws:amz:garage:s3" --user "$AK:$SK" \
      -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
      "http://127.0.0.1:$S3_PORT/$BUCKET?list-type=2&max-keys=1" || true)
    [ "$code" = 200 ] && break
    kill -0 "$(cat "$DATA/garage.pid")" 2>/dev/null || { tail -20 "$DATA/garage.log"; exit 1; }
    sleep 0.1
  done
  [ "$code" = 200 ] || { echo "garage not ready (HTTP $code)"; tail -20 "$DATA/garage.log"; "$0" stop; exit 1; }
  cat > "$DATA/s3.env" <<ENV
export AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
export AWS_ACCESS_KEY_ID=$AK
export AWS_SECRET_ACCESS_KEY=$SK
export AWS_REGION=garage
export S3_BUCKET=$BUCKET
ENV
  cat "$DATA/s3.env" ;;
stop)
  [ -f "$DATA/garage.pid" ] || exit 0
  PID=$(cat "$DATA/garage.pid")
  if kill -TERM "$PID" 2>/dev/null; then          # graceful, ~2 s
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PID" 2>/dev/null && kill -KILL "$PID"
  fi
  rm -f "$DATA/garage.pid" ;;
status)
  [ -f "$DATA/garage.pid" ] && kill -0 "$(cat "$DATA/garage.pid")" 2>/dev/null && { echo running; exit 0; }; echo stopped; exit 1 ;;
*) echo "usage: $0 install|start|stop|status"; exit 2 ;;
esac
