package search

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Open ends of a date range (a Period without a start or an end).
const (
	MinTime int64 = math.MinInt64 / 2
	MaxTime int64 = math.MaxInt64 / 2
)

// DateRange returns the range a FHIR date, dateTime or instant covers at
// the precision it is written with, in microseconds since 1970 UTC, both
// ends included: 2024 covers the whole year, 2024-03-05T10:15 a minute.
// A value without a time zone is read as UTC.
func DateRange(s string) (lo, hi int64, err error) {
	bad := func() (int64, int64, error) { return 0, 0, fmt.Errorf("%q is not a FHIR date or dateTime", s) }
	num := func(t string) (int, bool) {
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return 0, false
			}
		}
		n, err := strconv.Atoi(t)
		return n, err == nil && t != ""
	}
	datePart, timePart, hasTime := strings.Cut(s, "T")
	parts := strings.Split(datePart, "-")
	if len(parts) > 3 || len(parts[0]) != 4 {
		return bad()
	}
	year, ok := num(parts[0])
	if !ok {
		return bad()
	}
	month, day := 1, 1
	prec := 0 // 0 year, 1 month, 2 day, 3 minute, 4 second, 5 fraction
	if len(parts) > 1 {
		if month, ok = num(parts[1]); !ok || len(parts[1]) != 2 || month < 1 || month > 12 {
			return bad()
		}
		prec = 1
	}
	if len(parts) > 2 {
		if day, ok = num(parts[2]); !ok || len(parts[2]) != 2 || day < 1 || day > 31 {
			return bad()
		}
		prec = 2
	}
	hour, minute, sec, micro, fracDigits := 0, 0, 0, 0, 0
	loc := time.UTC
	if hasTime {
		if prec != 2 {
			return bad()
		}
		// The zone: Z, +hh:mm or -hh:mm.
		clock := timePart
		if strings.HasSuffix(clock, "Z") {
			clock = clock[:len(clock)-1]
		} else if i := strings.LastIndexAny(clock, "+-"); i >= 0 {
			zone := clock[i+1:]
			zh, ok1 := num(zone[:min(2, len(zone))])
			zm, ok2 := 0, true
			if len(zone) == 5 && zone[2] == ':' {
				zm, ok2 = num(zone[3:])
			} else if len(zone) != 2 {
				return bad()
			}
			if !ok1 || !ok2 || zh > 14 || zm > 59 {
				return bad()
			}
			off := zh*3600 + zm*60
			if clock[i] == '-' {
				off = -off
			}
			loc = time.FixedZone("", off)
			clock = clock[:i]
		}
		hms := strings.Split(clock, ":")
		if len(hms) < 2 || len(hms) > 3 {
			return bad()
		}
		if hour, ok = num(hms[0]); !ok || len(hms[0]) != 2 || hour > 24 {
			return bad()
		}
		if minute, ok = num(hms[1]); !ok || len(hms[1]) != 2 || minute > 59 {
			return bad()
		}
		prec = 3
		if len(hms) == 3 {
			secs, frac, hasFrac := strings.Cut(hms[2], ".")
			if sec, ok = num(secs); !ok || len(secs) != 2 || sec > 60 {
				return bad()
			}
			prec = 4
			if hasFrac {
				if _, ok := num(frac); !ok || len(frac) > 9 {
					return bad()
				}
				fracDigits = len(frac)
				f := frac + strings.Repeat("0", 6)
				micro, _ = strconv.Atoi(f[:6])
				prec = 5
			}
		}
	}
	start := time.Date(year, time.Month(month), day, hour, minute, sec, micro*1000, loc)
	if start.Month() != time.Month(month) || start.Day() != day {
		return bad() // 2023-02-30
	}
	var end time.Time
	switch prec {
	case 0:
		end = start.AddDate(1, 0, 0)
	case 1:
		end = start.AddDate(0, 1, 0)
	case 2:
		end = start.AddDate(0, 0, 1)
	case 3:
		end = start.Add(time.Minute)
	case 4:
		end = start.Add(time.Second)
	default:
		step := time.Duration(1)
		for i := fracDigits; i < 9; i++ {
			step *= 10
		}
		end = start.Add(max(step, time.Microsecond))
	}
	return start.UnixMicro(), end.UnixMicro() - 1, nil
}
