#!/usr/bin/env bash
# FHIRPath: every R4 search parameter expression evaluated on every
# resource of the shared Synthea bundles, Concord's fhirpath against
# fhirpath@5.2.0 (the HL7 reference JavaScript engine), in one run.
#   bench/fhirpath.sh [COUNT]     (default 3 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3}
params=$(mktemp)
trap 'rm -f "$params"' EXIT
go run ./bench/fhirpath-params >"$params"
go test -run '^$' -bench SearchParams -benchtime 3x -count "$count" ./fhirpath | grep '^Benchmark'
(cd bench/fhirpath-js && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
node bench/fhirpath-js/searchparams.js "$params" ../shared/data/synthea "$count"
