#!/usr/bin/env bash
# Clinical store benchmark (issue 5): `concord serve` on a fresh database
# takes the Synthea transaction Bundles K times (each copy under new ids),
# then reads by id with 16 clients and runs Observation?patient=X&code=Y and
# Patient?name=…&birthdate=… with 1 and 16 clients, every answer checked
# (bench/fhirload). The server's resident memory is sampled during import.
#
#   bench/fhir-store.sh [K] [DURATION] [BACKENDS]     default: 12 20s "sqlite postgres"
#
# Environment: POSTERS (default 2,4: copy i is posted with count i mod n),
# CLIENTS (16), SEARCH_CLIENTS (1,16), WARMUP (2s), SYNTHEA (the shared
# Bundles), PG_BASE (postgres://postgres@127.0.0.1:5432: a database
# concord_bench_<pid> is created there and dropped at the end), PORT (18080),
# KEEP=1 (keep the SQLite data directory and the PostgreSQL database for
# inspection, e.g. EXPLAIN; their names are printed), PG_ANALYZE (1: on
# PostgreSQL, run ANALYZE after the loads and run them again, for servers
# whose autovacuum is off or has not caught up; 0: do not), PG_PARAMS
# (query parameters added to the server's PostgreSQL URL, e.g.
# plan_cache_mode=force_custom_plan, which pgx passes on as settings),
# PPROF (a loopback address for the server's profiler, e.g. 127.0.0.1:6060).
set -euo pipefail
cd "$(dirname "$0")/.."
k=${1:-${K:-12}}
dur=${2:-${DURATION:-20s}}
backends=${3:-${BACKENDS:-sqlite postgres}}
posters=${POSTERS:-2,4}
clients=${CLIENTS:-16}
search_clients=${SEARCH_CLIENTS:-1,16}
warmup=${WARMUP:-2s}
synthea=${SYNTHEA:-$(cd .. && pwd)/shared/data/synthea}
pg_base=${PG_BASE:-postgres://postgres@127.0.0.1:5432}
port=${PORT:-18080}

tmp=$(mktemp -d)
pid=
pgdb=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "${KEEP:-}" ]; then echo "kept: $tmp${pgdb:+ and $pg_base/$pgdb}"; return; fi
  if [ -n "$pgdb" ]; then psql -q "$pg_base/postgres" -c "DROP DATABASE IF EXISTS $pgdb" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/concord" ./cmd/concord
go build -o "$tmp/fhirload" ./bench/fhirload
echo "fhir-store: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), $(go version | cut -d' ' -f3)," \
  "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); K=$k, duration $dur, posters $posters"

for backend in $backends; do
  data="$tmp/data-$backend"
  mkdir -p "$data"
  case $backend in
  sqlite) db=(); then=() ;;
  postgres)
    pgdb="concord_bench_$$"
    psql -q "$pg_base/postgres" -c "CREATE DATABASE $pgdb" >/dev/null
    db=(--db "$pg_base/$pgdb${PG_PARAMS:+?$PG_PARAMS}")
    then=()
    if [ "${PG_ANALYZE:-1}" = 1 ]; then then=(--then "psql -q '$pg_base/$pgdb' -c ANALYZE"); fi
    echo "PostgreSQL: autovacuum $(psql -Atq "$pg_base/$pgdb" -c 'SHOW autovacuum')"
    ;;
  *) echo "unknown backend $backend (sqlite or postgres)" >&2; exit 2 ;;
  esac
  token=$("$tmp/concord" token create --role clinician --label fhirload --data "$data" "${db[@]}" --log-level warn)
  "$tmp/concord" serve --data "$data" "${db[@]}" --http "127.0.0.1:$port" --mllp off --dicom off \
    --log-level warn ${PPROF:+--pprof "$PPROF"} 2>"$tmp/serve-$backend.log" &
  pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "== $backend: concord serve pid $pid, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  status=0
  FHIRLOAD_TOKEN=$token "$tmp/fhirload" --base "http://127.0.0.1:$port/fhir" --synthea "$synthea" \
    --copies "$k" --posters "$posters" --pid "$pid" --clients "$clients" \
    --search-clients "$search_clients" --duration "$dur" --warmup "$warmup" --label "$backend" "${then[@]}" || status=$?
  case $backend in
  sqlite) echo "database size: $(du -sh "$data" | cut -f1) ($data)" ;;
  postgres) echo "database size: $(psql -Atq "$pg_base/$pgdb" -c "SELECT pg_size_pretty(pg_database_size('$pgdb'))")" ;;
  esac
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  if [ -s "$tmp/serve-$backend.log" ]; then
    echo "server log (last lines):"
    tail -5 "$tmp/serve-$backend.log"
  fi
  if [ -n "$pgdb" ] && [ -z "${KEEP:-}" ]; then
    psql -q "$pg_base/postgres" -c "DROP DATABASE $pgdb" >/dev/null
    pgdb=
  fi
  [ "$status" = 0 ] || { echo "fhirload failed on $backend (exit $status)" >&2; exit "$status"; }
done
