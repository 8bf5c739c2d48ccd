package fhirpath

import (
	"strconv"
	"time"
)

// Precision is how much of a date, date-time or time is given.
type Precision int8

// Precisions, coarsest first.
const (
	PrecYear Precision = iota + 1
	PrecMonth
	PrecDay
	PrecHour
	PrecMinute
	PrecSecond
	PrecMillisecond
)

// temporal is a parsed Date, DateTime or Time: the fields given, up to
// prec, and the time zone when one is given (FHIRPath 2.0 section 2.1.20
// and 5.1.1: values are compared field by field to the coarser precision).
type temporal struct {
	prec                             Precision
	year, month, day                 int
	hour, minute, second, nanosecond int
	hasZone                          bool
	zone                             int // offset east of UTC, in minutes
	isTime                           bool
}

// parseDate reads YYYY(-MM(-DD)?)?.
func parseDate(s string) (temporal, int, bool) {
	var t temporal
	n, ok := digitsN(s, 0, 4)
	if !ok {
		return t, 0, false
	}
	t.year, t.prec = n, PrecYear
	i := 4
	if i+3 <= len(s) && s[i] == '-' {
		if t.month, ok = digitsN(s, i+1, 2); !ok || t.month < 1 || t.month > 12 {
			return t, 0, false
		}
		t.prec, i = PrecMonth, i+3
		if i+3 <= len(s) && s[i] == '-' {
			if t.day, ok = digitsN(s, i+1, 2); !ok || t.day < 1 || t.day > daysIn(t.year, t.month) {
				return t, 0, false
			}
			t.prec, i = PrecDay, i+3
		}
	}
	return t, i, true
}

// parseClock reads hh(:mm(:ss(.f+)?)?)? into t from s[i:].
func parseClock(t *temporal, s string, i int) (int, bool) {
	var ok bool
	if t.hour, ok = digitsN(s, i, 2); !ok || t.hour > 23 {
		return i, false
	}
	t.prec, i = PrecHour, i+2
	if i+3 <= len(s) && s[i] == ':' {
		if t.minute, ok = digitsN(s, i+1, 2); !ok || t.minute > 59 {
			return i, false
		}
		t.prec, i = PrecMinute, i+3
		if i+3 <= len(s) && s[i] == ':' {
			if t.second, ok = digitsN(s, i+1, 2); !ok || t.second > 59 {
				return i, false
			}
			t.prec, i = PrecSecond, i+3
			if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
				i++
				start, frac, scale := i, 0, 1_000_000_000
				for i < len(s) && isDigit(s[i]) {
					if i-start < 9 {
						scale /= 10
						frac += int(s[i]-'0') * scale
					}
					i++
				}
				t.nanosecond, t.prec = frac, PrecMillisecond
			}
		}
	}
	return i, true
}

// parseDateTimeText reads a FHIRPath DateTime (without the @): a date,
// optionally T, a time and a zone (Z or ±hh:mm). FHIR dateTime and
// instant values have the same form.
func parseDateTimeText(s string) (temporal, bool) {
	t, i, ok := parseDate(s)
	if !ok {
		return t, false
	}
	if i == len(s) {
		return t, true
	}
	if s[i] != 'T' {
		return t, false
	}
	i++
	if i == len(s) {
		return t, true // @2015T: a date-time with no time
	}
	if t.prec < PrecDay {
		return t, false
	}
	if i, ok = parseClock(&t, s, i); !ok {
		return t, false
	}
	if i < len(s) {
		switch s[i] {
		case 'Z':
			t.hasZone, i = true, i+1
		case '+', '-':
			h, ok1 := digitsN(s, i+1, 2)
			m, ok2 := digitsN(s, i+4, 2)
			if !ok1 || !ok2 || i+3 >= len(s) || s[i+3] != ':' || h > 14 || m > 59 {
				return t, false
			}
			t.hasZone, t.zone = true, h*60+m
			if s[i] == '-' {
				t.zone = -t.zone
			}
			i += 6
		}
	}
	return t, i == len(s)
}

// parseTimeText reads a FHIRPath Time (without @T): hh(:mm(:ss(.fff)?)?)?.
func parseTimeText(s string) (temporal, bool) {
	t := temporal{isTime: true}
	i, ok := parseClock(&t, s, 0)
	return t, ok && i == len(s)
}

// parseDateText reads a FHIRPath Date.
func parseDateText(s string) (temporal, bool) {
	t, i, ok := parseDate(s)
	return t, ok && i == len(s)
}

// instant returns the moment a date-time with a zone (or, without one,
// assumed UTC) stands for, at its precision.
func (t temporal) instant() time.Time {
	month, day := max(t.month, 1), max(t.day, 1)
	return time.Date(t.year, time.Month(month), day, t.hour, t.minute, t.second, t.nanosecond,
		time.FixedZone("", t.zone*60))
}

// compareTemporal compares two values of the same kind field by field
// (after moving b to a's time zone when both have one). It returns -1, 0
// or 1, and ok false when the answer is unknown because one value stops
// at a coarser precision before they differ (FHIRPath 2.0 section 6.2).
// Seconds and fractions count as one precision.
func compareTemporal(a, b temporal) (int, bool) {
	if !a.isTime && a.prec >= PrecHour && b.prec >= PrecHour && a.hasZone != b.hasZone {
		return 0, false // one is in an unknown time zone
	}
	if !a.isTime && a.hasZone && b.hasZone && a.zone != b.zone && a.prec >= PrecHour && b.prec >= PrecHour {
		b = fromInstant(b.instant().In(time.FixedZone("", a.zone*60)), b.prec, a.zone)
	}
	fa, fb := a.fields(), b.fields()
	pa, pb := precIndex(a), precIndex(b)
	for k := 0; k < len(fa); k++ {
		if k > pa || k > pb {
			if pa == pb {
				return 0, true
			}
			return 0, false
		}
		if fa[k] != fb[k] {
			if fa[k] < fb[k] {
				return -1, true
			}
			return 1, true
		}
	}
	return 0, true
}

// fields lists a value's fields, coarsest first: year, month, day, hour,
// minute, and seconds with fractions in nanoseconds; a time starts at the
// hour.
func (t temporal) fields() []int {
	f := []int{t.year, t.month, t.day, t.hour, t.minute, t.second*1_000_000_000 + t.nanosecond}
	if t.isTime {
		return f[3:]
	}
	return f
}

// precIndex is the index in fields of the finest field given.
func precIndex(t temporal) int {
	i := int(t.prec) - 1
	if i > 5 {
		i = 5 // seconds and milliseconds are one field
	}
	if t.isTime {
		i -= 3
	}
	return i
}

func fromInstant(x time.Time, prec Precision, zone int) temporal {
	return temporal{prec: prec, year: x.Year(), month: int(x.Month()), day: x.Day(), hour: x.Hour(), minute: x.Minute(),
		second: x.Second(), nanosecond: x.Nanosecond(), hasZone: true, zone: zone}
}

// format writes t in FHIRPath literal form (without the @).
func (t temporal) format() string {
	b := make([]byte, 0, 32)
	pad := func(n, w int) {
		s := strconv.Itoa(n)
		for len(s) < w {
			s = "0" + s
		}
		b = append(b, s...)
	}
	if !t.isTime {
		pad(t.year, 4)
		if t.prec >= PrecMonth {
			b = append(b, '-')
			pad(t.month, 2)
		}
		if t.prec >= PrecDay {
			b = append(b, '-')
			pad(t.day, 2)
		}
		if t.prec < PrecHour {
			return string(b)
		}
		b = append(b, 'T')
	}
	pad(t.hour, 2)
	if t.prec >= PrecMinute {
		b = append(b, ':')
		pad(t.minute, 2)
	}
	if t.prec >= PrecSecond {
		b = append(b, ':')
		pad(t.second, 2)
	}
	if t.prec >= PrecMillisecond {
		b = append(b, '.')
		pad(t.nanosecond/1_000_000, 3)
	}
	if t.hasZone && !t.isTime {
		if t.zone == 0 {
			b = append(b, 'Z')
		} else {
			z := t.zone
			sign := byte('+')
			if z < 0 {
				sign, z = '-', -z
			}
			b = append(b, sign)
			pad(z/60, 2)
			b = append(b, ':')
			pad(z%60, 2)
		}
	}
	return string(b)
}

func digitsN(s string, i, n int) (int, bool) {
	if i < 0 || i+n > len(s) {
		return 0, false
	}
	v := 0
	for j := i; j < i+n; j++ {
		if !isDigit(s[j]) {
			return 0, false
		}
		v = v*10 + int(s[j]-'0')
	}
	return v, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
