#!/usr/bin/env bash
# Soak run: `concord serve` (SQLite, validation on) takes a steady MLLP
# load for a long time while its resident memory is sampled. The default
# channel only stores and acknowledges here (--default-fhir=false): this
# measures the interface engine (issue 3); FHIR_DEST=1 keeps the default
# channel's conversion into the FHIR store on.
#
#   bench/ingest-soak.sh [DURATION] [RATE] [CONNS]     default: 10m 1000 8
#
# Prints the load generator's per-minute lines (throughput, ACK p50/p99),
# its total, and the server's resident set size (VmRSS) every 10 seconds,
# then a summary: RSS after the first minute, at the end, and the peak.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10m}
rate=${2:-1000}
conns=${3:-8}
port=${SOAK_MLLP_PORT:-23575}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/concord" ./cmd/concord
go build -o "$tmp/mllpload" ./bench/mllpload
"$tmp/concord" serve --data "$tmp/data" --http 127.0.0.1:0 --mllp "127.0.0.1:$port" --dicom off \
  --log-level warn --default-fhir="$([ "${FHIR_DEST:-0}" = 1 ] && echo true || echo false)" 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
start=$(date +%s)
(
  while kill -0 "$pid" 2>/dev/null; do
    echo "$(($(date +%s) - start)) $(awk '/VmRSS/ {print $2}' "/proc/$pid/status")"
    sleep 10
  done
) >"$tmp/rss" &
sampler=$!
"$tmp/mllpload" --to "127.0.0.1:$port" --conns "$conns" --rate "$rate" --duration "$dur" --every 60s
kill "$sampler" 2>/dev/null || true
echo "resident memory of concord serve (seconds, KiB):"
cat "$tmp/rss"
awk '$1 >= 60 && !first {first = $2} {last = $2; if ($2 > peak) peak = $2}
  END {printf "rss after 1 min: %.1f MiB, at end: %.1f MiB, peak: %.1f MiB\n", first/1024, last/1024, peak/1024}' "$tmp/rss"
echo "database size: $(du -sh "$tmp/data" | cut -f1)"
