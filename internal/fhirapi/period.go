package fhirapi

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/concord-health/concord"
)

// dateTimeRE matches a FHIR date, dateTime or instant: a year, month,
// day, then hours and minutes with optional seconds and fraction, and a
// zone.
var dateTimeRE = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$`)

// datePeriod returns the period a FHIR date or date-time value stands for
// at its precision, as [lo, hi): 2026 is the year, 2026-01-01 that day,
// 2026-01-01T10:00Z that minute, 2026-01-01T10:00:00.5Z that tenth of a
// second (never less than a microsecond, the store's resolution). Values
// without a time zone are read in UTC, the server's time zone for stored
// times.
func datePeriod(s string) (lo, hi time.Time, err error) {
	m := dateTimeRE.FindStringSubmatch(s)
	if m == nil {
		return lo, hi, concord.Errorf(concord.EINVALID, "%q is not a FHIR date or dateTime (such as 2026-01-02 or 2026-01-02T03:04:05Z)", s)
	}
	num := func(i, def int) int {
		if m[i] == "" {
			return def
		}
		n, _ := strconv.Atoi(m[i])
		return n
	}
	loc := time.UTC
	if z := m[8]; z != "" && z != "Z" {
		h, _ := strconv.Atoi(z[1:3])
		mi, _ := strconv.Atoi(z[4:6])
		off := h*3600 + mi*60
		if z[0] == '-' {
			off = -off
		}
		loc = time.FixedZone(z, off)
	}
	year, month, day := num(1, 0), num(2, 1), num(3, 1)
	hour, minute, sec := num(4, 0), num(5, 0), num(6, 0)
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return lo, hi, concord.Errorf(concord.EINVALID, "%q is not a valid date", s)
	}
	nanos := 0
	frac := m[7]
	if frac != "" {
		nanos, _ = strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
	}
	lo = time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	switch {
	case m[2] == "":
		hi = lo.AddDate(1, 0, 0)
	case m[3] == "":
		hi = lo.AddDate(0, 1, 0)
	case m[4] == "":
		hi = lo.AddDate(0, 0, 1)
	case m[6] == "":
		hi = lo.Add(time.Minute)
	case frac == "":
		hi = lo.Add(time.Second)
	default:
		unit := time.Duration(1)
		for range 9 - len(frac) {
			unit *= 10
		}
		lo = lo.Truncate(time.Microsecond)
		hi = lo.Add(max(unit, time.Microsecond))
	}
	return lo.UTC(), hi.UTC(), nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
