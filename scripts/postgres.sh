# Sourced by scripts/test.sh: make sure a PostgreSQL server runs on this
# machine and export JARC_TEST_PG_URL for the Postgres tests. Uses Debian's
# postgresql package (installed with apt-get when missing) and its default
# cluster; creates a password role `jarc` for TCP connections.
if [ -n "${JARC_TEST_PG_URL:-}" ]; then
  return 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "the Postgres tests need a server: run as root (to install/start Debian's postgresql) or set JARC_TEST_PG_URL" >&2
  exit 1
fi
if ! command -v pg_lsclusters >/dev/null || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
read -r pg_ver pg_name pg_port pg_status _ < <(pg_lsclusters -h | head -1)
if [ "$pg_status" != online ]; then
  pg_ctlcluster "$pg_ver" "$pg_name" start
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$pg_port" && break
  sleep 0.2
done
pg_psql() { su postgres -c "psql -q -p $pg_port -tAc \"$1\""; }
if [ "$(pg_psql "SELECT 1 FROM pg_roles WHERE rolname = 'jarc'")" != 1 ]; then
  pg_psql "CREATE ROLE jarc LOGIN SUPERUSER PASSWORD 'jarc'"
fi
export JARC_TEST_PG_URL="postgres://jarc:jarc@127.0.0.1:$pg_port/postgres"
