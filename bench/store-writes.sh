#!/usr/bin/env bash
# Audited small writes per second (issuing a token: the token row and its
# audit record in one durable transaction) on SQLite and PostgreSQL with 1,
# 8 and 32 concurrent writers, in one run. Prints the raw go test output,
# then a Markdown table of medians and the SQLite 32-vs-1 writer ratio.
#
#   bench/store-writes.sh [COUNT]        (default 5 runs of each)
#
# PostgreSQL rows need CONCORD_TEST_POSTGRES (default: the local server).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5}
export CONCORD_TEST_POSTGRES=${CONCORD_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
out=$(mktemp)
go test -run '^$' -bench 'AuditedWrites' -benchtime 3s -count "$count" \
	./internal/store/sqlite ./internal/store/postgres | tee "$out"
echo
awk '
/^pkg: / { pkg = $2; sub(/.*\//, "", pkg) }
/^BenchmarkAuditedWrites/ {
	split($1, a, "="); w = a[2]; sub(/-.*/, "", w)
	for (i = 1; i <= NF; i++) if ($(i+1) == "writes/s") v = $i
	key = pkg " " w; n[key]++; vals[key, n[key]] = v
}
function median(key,   i, j, t, m) {
	m = n[key]
	for (i = 1; i <= m; i++) s[i] = vals[key, i] + 0
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
	return (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
}
END {
	print "| store | writers | writes/s (median of " n["sqlite 1"] ") | min | max |"
	print "|---|---|---|---|---|"
	split("sqlite postgres", stores, " ")
	split("1 8 32", ws, " ")
	for (si = 1; si <= 2; si++) for (wi = 1; wi <= 3; wi++) {
		key = stores[si] " " ws[wi]
		if (!(key in n)) continue
		lo = hi = vals[key, 1] + 0
		for (i = 2; i <= n[key]; i++) { x = vals[key, i] + 0; if (x < lo) lo = x; if (x > hi) hi = x }
		printf "| %s | %s | %.0f | %.0f | %.0f |\n", stores[si], ws[wi], median(key), lo, hi
	}
	if (("sqlite 1" in n) && ("sqlite 32" in n))
		printf "\nSQLite, 32 writers vs 1: %.2fx (medians)\n", median("sqlite 32") / median("sqlite 1")
	if (("postgres 1" in n) && ("postgres 32" in n))
		printf "PostgreSQL, 32 writers vs 1: %.2fx (medians)\n", median("postgres 32") / median("postgres 1")
}' "$out"
rm -f "$out"
