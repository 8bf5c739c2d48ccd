#!/usr/bin/env bash
# HL7 v2 → FHIR benchmark (issue 6): `concord serve` as shipped (the
# default channel converts each message into the FHIR store and answers
# after that) takes synthetic ORU^R01 messages with RESULTS OBX each (a new
# order each time) over MLLP from CONNS connections for DURATION; every
# answer must be AA. Prints messages/s and ACK latency (bench/mllpload),
# then how many resources the store holds and resources/s.
#
#   bench/oru-fhir.sh [DURATION] [CONNS] [BACKENDS]     default: 30s 8 "sqlite postgres"
#
# Environment: RESULTS (20), PG_BASE (postgres://postgres@127.0.0.1:5432: a
# database concord_oru_<pid> is created there and dropped at the end),
# PPROF (a loopback address for the server's profiler).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-30s}
conns=${2:-8}
backends=${3:-sqlite postgres}
results=${RESULTS:-20}
pg_base=${PG_BASE:-postgres://postgres@127.0.0.1:5432}
tmp=$(mktemp -d)
pid=
pgdb=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$pgdb" ]; then psql -q "$pg_base/postgres" -c "DROP DATABASE IF EXISTS $pgdb" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/concord" ./cmd/concord
go build -o "$tmp/mllpload" ./bench/mllpload
echo "oru-fhir: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), $(go version | cut -d' ' -f3)," \
  "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $results results per ORU, $conns connections, $dur"
for backend in $backends; do
  data="$tmp/data-$backend"
  mkdir -p "$data"
  db=()
  if [ "$backend" = postgres ]; then
    pgdb="concord_oru_$$"
    psql -q "$pg_base/postgres" -c "CREATE DATABASE $pgdb" >/dev/null
    db=(--db "$pg_base/$pgdb")
  fi
  port=$((24000 + RANDOM % 1000))
  http="127.0.0.1:$((25000 + RANDOM % 1000))"
  "$tmp/concord" serve --data "$data" "${db[@]}" --http "$http" --mllp "127.0.0.1:$port" --dicom off \
    --duplicate-window 0 --log-level warn ${PPROF:+--pprof "$PPROF"} 2>"$tmp/serve-$backend.log" &
  pid=$!
  for _ in $(seq 100); do
    curl -fs "http://$http/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "== $backend: concord serve pid $pid, http $http, mllp 127.0.0.1:$port"
  start=$(date +%s.%N)
  "$tmp/mllpload" --to "127.0.0.1:$port" --conns "$conns" --duration "$dur" --results "$results" --every 10s \
    --prefix "B$$-" || { echo "load failed; server log:"; tail -5 "$tmp/serve-$backend.log"; exit 1; }
  end=$(date +%s.%N)
  token=$("$tmp/concord" token create --role admin --data "$data" "${db[@]}" --log-level warn)
  total=0
  line=""
  for t in Patient Encounter ServiceRequest DiagnosticReport Observation Specimen Provenance Practitioner Organization; do
    n=$(curl -fs -H "Authorization: Bearer $token" "http://$http/fhir/$t?_summary=count" | sed 's/.*"total":\([0-9]*\).*/\1/')
    total=$((total + n))
    line="$line $t=$n"
  done
  echo "resources stored:$line; total $total; $(echo "$total / ($end - $start)" | bc) resources/s over the load"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  if [ -n "$pgdb" ]; then psql -q "$pg_base/postgres" -c "DROP DATABASE IF EXISTS $pgdb" >/dev/null; pgdb=; fi
done
