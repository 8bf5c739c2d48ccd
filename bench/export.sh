#!/usr/bin/env bash
# Bulk Data export benchmark (issue 7): K copies of the Synthea transaction
# Bundles, each under its own ids (every UUID's first 8 hex digits replaced
# by the copy number), are loaded with `concord import`; then `concord serve`
# runs a system $export (Prefer: respond-async, polled every 0.2 s) and every
# output file is downloaded. Reported: resources exported per second (kick-off
# to completed manifest), download MB/s, and the server's resident memory
# (VmRSS before the export, peak VmHWM after it and after the downloads) from
# /proc/<pid>/status. Each file's line count is checked against the manifest.
#
#   bench/export.sh [K] [BACKENDS]        default: 10 sqlite  (also: postgres)
#
# Environment: SYNTHEA (the shared Bundles), PG_BASE
# (postgres://postgres@127.0.0.1:5432: a database concord_export_<pid> is
# created there and dropped at the end), PORT (18081), KEEP=1 (keep the data).
set -euo pipefail
cd "$(dirname "$0")/.."
k=${1:-${K:-10}}
backends=${2:-${BACKENDS:-sqlite}}
synthea=${SYNTHEA:-$(cd .. && pwd)/shared/data/synthea}
pg_base=${PG_BASE:-postgres://postgres@127.0.0.1:5432}
port=${PORT:-18081}
[ -d "$synthea" ] || { echo "no Synthea Bundles at $synthea (set SYNTHEA)" >&2; exit 2; }

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
echo "export: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), $(go version | cut -d' ' -f3)," \
  "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); K=$k"

# The copies: synthetic patients, each copy under new ids.
for i in $(seq "$k"); do
  mkdir -p "$tmp/copies/$i"
  prefix=$(printf '%08x' "$i")
  for f in "$synthea"/*.json; do
    sed -E "s/[0-9a-f]{8}(-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/$prefix\1/g" "$f" >"$tmp/copies/$i/$(basename "$f")"
  done
done

mem() { grep -E "^$1:" "/proc/$pid/status" | awk '{printf "%.1f MiB", $2/1024}'; }

for backend in $backends; do
  data="$tmp/data-$backend"
  mkdir -p "$data"
  case $backend in
  sqlite) db=() ;;
  postgres)
    pgdb="concord_export_$$"
    psql -q "$pg_base/postgres" -c "CREATE DATABASE $pgdb" >/dev/null
    db=(--db "$pg_base/$pgdb")
    ;;
  *) echo "unknown backend $backend (sqlite or postgres)" >&2; exit 2 ;;
  esac
  start=$(date +%s.%N)
  "$tmp/concord" import --data "$data" "${db[@]}" --log-level warn "$tmp/copies"/* >"$tmp/import-$backend.log"
  echo "== $backend: imported in $(echo "$(date +%s.%N) - $start" | bc) s: $(tail -1 "$tmp/import-$backend.log")"
  token=$("$tmp/concord" token create --role integration --label export-bench --data "$data" "${db[@]}" --log-level warn)
  "$tmp/concord" serve --data "$data" "${db[@]}" --http "127.0.0.1:$port" --mllp off --dicom off \
    --log-level warn 2>"$tmp/serve-$backend.log" &
  pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "concord serve pid $pid: VmRSS before the export $(mem VmRSS), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  base="http://127.0.0.1:$port/fhir"
  auth=(-H "Authorization: Bearer $token")
  start=$(date +%s.%N)
  status=$(curl -fsS -o /dev/null -D - "${auth[@]}" -H "Prefer: respond-async" "$base/\$export" |
    tr -d '\r' | awk -F': ' 'tolower($1)=="content-location"{print $2}')
  [ -n "$status" ] || { echo "kick-off refused" >&2; exit 1; }
  while :; do
    code=$(curl -sS -o "$tmp/manifest.json" -w '%{http_code}' "${auth[@]}" "$status")
    [ "$code" = 202 ] || break
    sleep 0.2
  done
  elapsed=$(echo "$(date +%s.%N) - $start" | bc)
  [ "$code" = 200 ] || { echo "export failed: $code $(cat "$tmp/manifest.json")" >&2; exit 1; }
  total=$(jq '[.output[].count] | add // 0' "$tmp/manifest.json")
  files=$(jq '.output | length' "$tmp/manifest.json")
  echo "export: $total resources in $files files, $elapsed s: $(echo "$total / $elapsed" | bc) resources/s; VmHWM $(mem VmHWM)"
  start=$(date +%s.%N)
  bytes=0
  while read -r url count; do
    curl -fsS "${auth[@]}" "$url" -o "$tmp/file.ndjson"
    lines=$(wc -l <"$tmp/file.ndjson")
    [ "$lines" = "$count" ] || { echo "$url: $lines lines, manifest says $count" >&2; exit 1; }
    bytes=$((bytes + $(stat -c %s "$tmp/file.ndjson")))
  done < <(jq -r '.output[] | "\(.url) \(.count)"' "$tmp/manifest.json")
  elapsed=$(echo "$(date +%s.%N) - $start" | bc)
  echo "download: $((bytes / 1048576)) MiB in $elapsed s: $(echo "$bytes / 1048576 / $elapsed" | bc) MiB/s; VmHWM $(mem VmHWM)"
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
done
