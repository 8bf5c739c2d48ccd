package fhirapi

import (
	"testing"
	"time"

	"github.com/concord-health/concord"
)

func TestDatePeriod(t *testing.T) {
	d := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		in     string
		lo, hi string
	}{
		{"2026", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"2026-02", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"2024-02-29", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"2026-01-02T03:04Z", "2026-01-02T03:04:00Z", "2026-01-02T03:05:00Z"},
		{"2026-01-02T03:04:05+02:00", "2026-01-02T01:04:05Z", "2026-01-02T01:04:06Z"},
		{"2026-01-02T03:04:05.12Z", "2026-01-02T03:04:05.12Z", "2026-01-02T03:04:05.13Z"},
		{"2026-01-02T03:04:05.123Z", "2026-01-02T03:04:05.123Z", "2026-01-02T03:04:05.124Z"},
		{"2026-01-02T03:04:05.1234567Z", "2026-01-02T03:04:05.123456Z", "2026-01-02T03:04:05.123457Z"},
	} {
		lo, hi, err := datePeriod(c.in)
		if err != nil || !lo.Equal(d(c.lo)) || !hi.Equal(d(c.hi)) {
			t.Errorf("%s: [%v, %v) %v, want [%s, %s)", c.in, lo, hi, err, c.lo, c.hi)
		}
	}
	for _, bad := range []string{"", "26", "2026-1-1", "2026-13", "2023-02-29", "2026-01-01T25:00Z", "2026-01-01T10", "tomorrow"} {
		if _, _, err := datePeriod(bad); concord.ErrorCode(err) != concord.EINVALID {
			t.Errorf("%q: %v, want EINVALID", bad, err)
		}
	}
}

func TestCurrentDuringIntersects(t *testing.T) {
	var f concord.HistoryFilter
	ok, err := currentDuring([]string{"ge2026-01-01", "lt2026-02-01"}, &f)
	if err != nil || !ok || !f.CurrentFrom.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || !f.CurrentTo.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("January: [%v, %v) %v %v", f.CurrentFrom, f.CurrentTo, ok, err)
	}
	if ok, err := currentDuring([]string{"gt2026", "lt2026"}, &f); ok || err != nil {
		t.Errorf("after and before 2026: %v %v, want an empty period", ok, err)
	}
}
