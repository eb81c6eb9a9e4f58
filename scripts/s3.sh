# Sourced by scripts/test.sh: real S3-compatible servers on 127.0.0.1 for
# tests/s3.rs, see ../shared/reference/s3-test-servers.md.
# - Garage 2.5.0, the main S3 server (it ignores If-None-Match, which the
#   tests rely on): built once with cargo into a version-keyed cache
#   (~/.cache/s3-servers/garage-2.5.0, about 10 minutes on 2 cores), then
#   started fresh for every run.
# - moto 5.2.5 (PyPI, in a venv in the same cache), which enforces
#   If-None-Match: the create-if-absent path of `init`.
# Exports JARC_TEST_S3_ENDPOINT/_KEY/_SECRET/_REGION, JARC_TEST_GARAGE (the
# binary) and JARC_TEST_GARAGE_CONFIG (to create buckets), and
# JARC_TEST_MOTO_ENDPOINT. `s3_stop` stops both.
s3_cache=${S3_CACHE:-$HOME/.cache/s3-servers}
for tool in curl python3; do
  if ! command -v "$tool" >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null
  fi
done
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
fi

bash scripts/s3-garage.sh install
# Each run has its own server directory (pid file, ports, data), so two
# suites on one machine never stop each other's servers.
export S3_DATA=${JARC_TEST_S3_DATA:-$(mktemp -d /tmp/jarc-test-garage.XXXXXX)}
bash scripts/s3-garage.sh stop
rm -rf "$S3_DATA"
bash scripts/s3-garage.sh start >/dev/null
# shellcheck disable=SC1091
. "$S3_DATA/s3.env"
export JARC_TEST_S3_ENDPOINT=$AWS_ENDPOINT_URL JARC_TEST_S3_KEY=$AWS_ACCESS_KEY_ID \
  JARC_TEST_S3_SECRET=$AWS_SECRET_ACCESS_KEY JARC_TEST_S3_REGION=$AWS_REGION \
  JARC_TEST_GARAGE=$s3_cache/garage-2.5.0/bin/garage JARC_TEST_GARAGE_CONFIG=$S3_DATA/garage.toml
unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION S3_BUCKET

moto=$s3_cache/moto-5.2.5
if [ ! -x "$moto/bin/moto_server" ]; then
  python3 -m venv "$moto"
  "$moto/bin/pip" install -q 'moto[server]==5.2.5'
fi
moto_port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
nohup "$moto/bin/moto_server" -H 127.0.0.1 -p "$moto_port" > "$S3_DATA/moto.log" 2>&1 < /dev/null &
echo $! > "$S3_DATA/moto.pid"
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$moto_port") 2>/dev/null && break
  sleep 0.1
done
export JARC_TEST_MOTO_ENDPOINT=http://127.0.0.1:$moto_port

s3_stop() {
  bash scripts/s3-garage.sh stop || true
  kill "$(cat "$S3_DATA/moto.pid")" 2>/dev/null || true
  [ -n "${JARC_TEST_S3_DATA:-}" ] || rm -rf "$S3_DATA"
}
