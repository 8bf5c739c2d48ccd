#!/usr/bin/env bash
# HL7 v2 parse throughput: Concord's hl7v2 against github.com/lenaten/hl7
# (Go) and @medplum/hl7 4.5.2 (Node), in one run, on the shared samples.
#   bench/hl7-parse.sh [SECONDS]     (default 3 per benchmark)
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-3}
samples=$(cd ../../shared/data/hl7v2/fhir-converter/input && pwd)
(cd hl7parse && go test -run '^$' -bench . -benchtime "${secs}s" -count 3 -v . | grep -E '^Benchmark|left out' | sort -u)
(cd hl7parse-node && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && for i in 1 2 3; do node parse.js "$samples" "$secs"; done)
