package fhirpath

import (
	"sort"
)

// boundaryFn is lowBoundary(precision) and highBoundary(precision)
// (FHIRPath 3.0 / R5, also in the R4 test suite): the least or greatest
// value an imprecise decimal, quantity, date, date-time or time could
// stand for, at the given precision (digits after the point for numbers,
// digits of the value for dates and times).
func boundaryFn(high bool) func(*env, *call, Collection) (Collection, error) {
	return func(e *env, c *call, in Collection) (Collection, error) {
		v, ok, err := singleSystem(c, in)
		if err != nil || !ok {
			return nil, err
		}
		p, given := int64(-1), false
		if len(c.args) == 1 {
			n, ok, err := intArg(e, c, 0)
			if err != nil || !ok {
				return nil, err
			}
			p, given = n, true
		}
		switch v.kind {
		case KindInteger, KindLong, KindDecimal, KindQuantity:
			if !given {
				p = maxScale
			}
			if p < 0 || p > 28 {
				return nil, nil
			}
			d := numberOf(v)
			if v.kind == KindQuantity {
				d = v.decimal()
			}
			half := decimal{c: 5, s: d.s + 1}
			var b decimal
			if high {
				b, err = d.add(half)
			} else {
				b, err = d.sub(half)
			}
			if err != nil {
				return nil, nil
			}
			b = toPrecision(b, int8(p), high)
			if abs64(b.c) <= 1 && b.s == int8(p) && d.s > int8(p) {
				// A value smaller than the precision's unit, whose interval
				// reaches no further than the next digit, bounds at zero
				// (the R4 suite's LowBoundaryDecimal15 and
				// HighBoundaryDecimal15/16: 0.0034 at one digit is 0.0).
				if half, _ := d.rescale(d.s); abs64(half.c)*2 < pow10[min(d.s-int8(p), 18)] {
					b.c = 0
				}
			}
			if v.kind == KindQuantity {
				return Collection{quantityValue(b, v.s)}, nil
			}
			return Collection{decimalValue(b)}, nil
		case KindDate, KindDateTime, KindTime:
			t, ok := temporalOf(v)
			if !ok {
				return nil, nil
			}
			if !given {
				p = map[Kind]int64{KindDate: 8, KindDateTime: 17, KindTime: 9}[v.kind]
			}
			prec, ok := precisionOfDigits(p, t.isTime)
			if !ok {
				return nil, nil
			}
			b := t
			fill := func(pr Precision, lowV, highV int, field *int) {
				if t.prec < pr {
					if high {
						*field = highV
					} else {
						*field = lowV
					}
				}
			}
			fill(PrecMonth, 1, 12, &b.month)
			fill(PrecHour, 0, 23, &b.hour)
			fill(PrecMinute, 0, 59, &b.minute)
			fill(PrecSecond, 0, 59, &b.second)
			fill(PrecMillisecond, 0, 999_000_000, &b.nanosecond)
			if t.prec < PrecDay && !t.isTime {
				if high {
					b.day = daysIn(b.year, max(b.month, 1))
				} else {
					b.day = 1
				}
			}
			b.prec = prec
			kind := v.kind
			if !t.isTime && prec >= PrecHour && !t.hasZone {
				// An unknown zone: the earliest instant is at +14:00, the
				// latest at -12:00.
				b.hasZone = true
				if high {
					b.zone = -12 * 60
				} else {
					b.zone = 14 * 60
				}
			}
			if !t.isTime && prec <= PrecDay {
				b.hasZone = false
			}
			return Collection{{kind: kind, s: b.format()}}, nil
		}
		return nil, nil
	}
}

// toPrecision cuts a decimal to p digits after the point, toward the
// boundary (up for the high one, down for the low one), or extends it.
func toPrecision(d decimal, p int8, up bool) decimal {
	if p >= d.s {
		r, err := d.rescale(p)
		if err != nil {
			return d
		}
		return r
	}
	f := pow10[d.s-p]
	q, r := d.c/f, d.c%f
	if r != 0 {
		if up && d.c > 0 {
			q++
		} else if !up && d.c < 0 {
			q--
		}
	}
	return decimal{c: q, s: p}
}

// precisionOfDigits maps a digit count to a precision: 4 year, 6 month,
// 8 day, 10 hour, 12 minute, 14 second, 17 millisecond; for times 2, 4,
// 6 and 9.
func precisionOfDigits(p int64, isTime bool) (Precision, bool) {
	if isTime {
		switch p {
		case 2:
			return PrecHour, true
		case 4:
			return PrecMinute, true
		case 6:
			return PrecSecond, true
		case 9:
			return PrecMillisecond, true
		}
		return 0, false
	}
	switch p {
	case 4:
		return PrecYear, true
	case 6:
		return PrecMonth, true
	case 8:
		return PrecDay, true
	case 10:
		return PrecHour, true
	case 12:
		return PrecMinute, true
	case 14:
		return PrecSecond, true
	case 17:
		return PrecMillisecond, true
	}
	return 0, false
}

// digitsOf is the precision of a date, date-time or time in digits.
func digitsOf(t temporal) int {
	if t.isTime {
		return [...]int{0, 0, 0, 0, 2, 4, 6, 9}[t.prec]
	}
	return [...]int{0, 4, 6, 8, 10, 12, 14, 17}[t.prec]
}

// sortFn is sort(key…) (FHIRPath 3.0): items ordered by their keys, each
// key ascending, or descending when written with a leading minus; with
// no key, by the items themselves.
func sortFn(e *env, c *call, in Collection) (Collection, error) {
	type keyed struct {
		v    Value
		keys []Collection
	}
	items := make([]keyed, len(in))
	for i, v := range in {
		items[i].v = v
	}
	for k := range c.args {
		err := c.each(e, in, k, func(i int, _ Value, r Collection) (bool, error) {
			items[i].keys = append(items[i].keys, r)
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	var sortErr error
	less := func(a, b Collection) int {
		if len(a) == 0 || len(b) == 0 {
			switch {
			case len(a) == 0 && len(b) > 0:
				return -1
			case len(b) == 0 && len(a) > 0:
				return 1
			}
			return 0
		}
		cmp, _, err := compareValues(c.at, a[0], b[0])
		if err != nil && sortErr == nil {
			sortErr = err
		}
		return cmp
	}
	sort.SliceStable(items, func(i, j int) bool {
		if len(c.args) == 0 {
			return less(Collection{items[i].v}, Collection{items[j].v}) < 0
		}
		for k := range c.args {
			a, b := items[i].keys[k], items[j].keys[k]
			cmp := less(a, b)
			// An empty key sorts first in either direction (the R4
			// suite's testSort10).
			if c.desc[k] && len(a) > 0 && len(b) > 0 {
				cmp = -cmp
			}
			if cmp != 0 {
				return cmp < 0
			}
		}
		return false
	})
	if sortErr != nil {
		return nil, sortErr
	}
	out := make(Collection, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out, nil
}
