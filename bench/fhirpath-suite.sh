#!/usr/bin/env bash
# The official FHIRPath suites (R4 and R5) run by Concord and by
# fhirpath@5.2.0, the HL7 reference JavaScript engine, in one run; fails
# if fhirpath.js passes a test that Concord does not.
#   bench/fhirpath-suite.sh
set -euo pipefail
cd "$(dirname "$0")/.."
data=../shared/data/fhirpath
(cd bench/fhirpath-js && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/concord" ./cmd/concord
status=0
for r in r4 r5; do
	suite="$data/$r/tests-fhir-$r.xml"
	"$bin/concord" fhirpath suite --list "$suite" >"$bin/go.txt"
	node bench/fhirpath-js/suite.js "$suite" "$r" --list 2>/dev/null >"$bin/js.txt"
	echo "$r: Concord:      $(tail -1 "$bin/go.txt")"
	echo "$r: fhirpath.js:  $(tail -1 "$bin/js.txt")"
	grep -P '\tpass$' "$bin/js.txt" | cut -f1 | sort >"$bin/js-pass"
	grep -vP '\tpass$' "$bin/go.txt" | sed '$d' | cut -f1 | sed 's#^[^/]*/##' | sort >"$bin/go-notpass"
	missed=$(comm -12 "$bin/js-pass" "$bin/go-notpass")
	if [ -n "$missed" ]; then
		echo "$r: tests fhirpath.js passes and Concord does not:"
		echo "$missed"
		status=1
	else
		echo "$r: Concord passes every test fhirpath.js passes"
	fi
done
exit $status
