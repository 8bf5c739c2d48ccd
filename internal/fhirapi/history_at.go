package fhirapi

import (
	"time"

	"github.com/concord-health/concord"
)

// Bounds for open-ended _at periods, beyond any stored time.
var (
	beginningOfTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	endOfTime       = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// currentDuring limits a history to the versions that were current at
// some moment of the period the _at values give (FHIR R4 http.html#history:
// "only include resource versions that were current at some point during
// the time period specified in the date time value"). A value's period is
// its precision (datePeriod): _at=2026-01-01 keeps every version current
// at some moment of that day, an instant keeps the one current then. The
// date prefixes eq, ge, gt (sa), le and lt (eb) open the period on one
// side; several values are intersected (_at=ge2026-01-01&_at=lt2026-02-01
// is January). A deletion current in the period is listed as such. It
// returns false when the period is empty.
func currentDuring(values []string, f *concord.HistoryFilter) (bool, error) {
	from, to := beginningOfTime, endOfTime
	for _, v := range values {
		prefix := ""
		if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
			prefix, v = v[:2], v[2:]
		}
		lo, hi, err := datePeriod(v)
		if err != nil {
			return false, concord.Errorf(concord.EINVALID, "_at: %s", concord.ErrorMessage(err))
		}
		switch prefix {
		case "", "eq":
		case "ge":
			hi = endOfTime
		case "gt", "sa":
			lo, hi = hi, endOfTime
		case "le":
			lo = beginningOfTime
		case "lt", "eb":
			lo, hi = beginningOfTime, lo
		default:
			return false, concord.Errorf(concord.EINVALID, "_at: prefix %q is not one of eq, ge, gt, le, lt, sa, eb", prefix)
		}
		if lo.After(from) {
			from = lo
		}
		if hi.Before(to) {
			to = hi
		}
	}
	f.CurrentFrom, f.CurrentTo = from, to
	return from.Before(to), nil
}
