package fhirpath

import (
	"encoding/base64"
	"encoding/hex"
	"html"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Conversion functions (FHIRPath 2.0 section 5.5): each reads one item
// and gives its converted value, or false when it does not convert.

func converter(f func(Value) (Value, bool)) func(*env, *call, Collection) (Collection, error) {
	return func(e *env, c *call, in Collection) (Collection, error) {
		v, ok, err := singleSystem(c, in)
		if err != nil || !ok {
			return nil, err
		}
		r, ok := f(v)
		if !ok {
			return nil, nil
		}
		return Collection{r}, nil
	}
}

func converts(f func(Value) (Value, bool)) func(*env, *call, Collection) (Collection, error) {
	return func(e *env, c *call, in Collection) (Collection, error) {
		v, ok, err := singleSystem(c, in)
		if err != nil || !ok {
			return nil, err
		}
		_, ok = f(v)
		return bools(ok), nil
	}
}

func toBoolean(v Value) (Value, bool) {
	switch v.kind {
	case KindBoolean:
		return v, true
	case KindInteger, KindLong:
		if v.i == 0 || v.i == 1 {
			return boolValue(v.i == 1), true
		}
	case KindDecimal:
		switch v.decimal().cmp(decimalOf(1)) {
		case 0:
			return boolValue(true), true
		}
		if v.decimal().cmp(decimalOf(0)) == 0 {
			return boolValue(false), true
		}
	case KindString:
		switch strings.ToLower(v.s) {
		case "true", "t", "yes", "y", "1", "1.0":
			return boolValue(true), true
		case "false", "f", "no", "n", "0", "0.0":
			return boolValue(false), true
		}
	}
	return Value{}, false
}

var integerRE = regexp.MustCompile(`^[+-]?[0-9]+$`)

func toInteger(v Value) (Value, bool) {
	switch v.kind {
	case KindInteger:
		return v, true
	case KindLong:
		if v.i >= -1<<31 && v.i < 1<<31 {
			return intValue(v.i), true
		}
	case KindBoolean:
		return intValue(v.i), true
	case KindString:
		if integerRE.MatchString(v.s) {
			n, err := strconv.ParseInt(v.s, 10, 64)
			if err == nil {
				return intValue(n), true
			}
		}
	}
	return Value{}, false
}

var decimalRE = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

func toDecimal(v Value) (Value, bool) {
	switch v.kind {
	case KindDecimal:
		return v, true
	case KindInteger, KindLong:
		return decimalValue(decimalOf(v.i)), true
	case KindBoolean:
		return decimalValue(decimal{c: v.i * 10, s: 1}), true
	case KindString:
		if decimalRE.MatchString(v.s) {
			if d, err := parseDecimal(strings.TrimPrefix(v.s, "+")); err == nil {
				return decimalValue(d), true
			}
		}
	}
	return Value{}, false
}

func toStringValue(v Value) (Value, bool) {
	if v.kind == KindString {
		return v, true
	}
	s := v.String()
	if v.kind == KindQuantity {
		s = v.decimal().String() + " " + quoteUnit(v.s)
	}
	return stringValue(s), true
}

func toDate(v Value) (Value, bool) {
	switch v.kind {
	case KindDate:
		return v, true
	case KindDateTime:
		t, ok := parseDateTimeText(v.s)
		if !ok {
			return Value{}, false
		}
		t.prec = min(t.prec, PrecDay)
		t.hasZone = false
		return Value{kind: KindDate, s: t.format()}, true
	case KindString:
		if _, ok := parseDateText(v.s); ok {
			return Value{kind: KindDate, s: v.s}, true
		}
		if t, ok := parseDateTimeText(v.s); ok {
			t.prec, t.hasZone = min(t.prec, PrecDay), false
			return Value{kind: KindDate, s: t.format()}, true
		}
	}
	return Value{}, false
}

func toDateTime(v Value) (Value, bool) {
	switch v.kind {
	case KindDateTime:
		return v, true
	case KindDate:
		return Value{kind: KindDateTime, s: v.s}, true
	case KindString:
		if t, ok := parseDateTimeText(v.s); ok {
			return Value{kind: KindDateTime, s: t.format()}, true
		}
	}
	return Value{}, false
}

func toTime(v Value) (Value, bool) {
	switch v.kind {
	case KindTime:
		return v, true
	case KindString:
		if _, ok := parseTimeText(v.s); ok {
			return Value{kind: KindTime, s: v.s}, true
		}
	}
	return Value{}, false
}

var quantityRE = regexp.MustCompile(`^([+-]?[0-9]+(?:\.[0-9]+)?)\s*(?:'([^']+)'|([a-zA-Z]+))?$`)

// toQuantity converts a number, a string such as "5.5 'mg'" or "4 days",
// or a quantity.
func toQuantity(v Value) (Value, bool) {
	switch v.kind {
	case KindQuantity:
		return v, true
	case KindInteger, KindLong:
		return quantityValue(decimalOf(v.i), "1"), true
	case KindDecimal:
		return quantityValue(v.decimal(), "1"), true
	case KindBoolean:
		return quantityValue(decimal{c: v.i * 10, s: 1}, "1"), true
	case KindString:
		m := quantityRE.FindStringSubmatch(strings.TrimSpace(v.s))
		if m == nil {
			return Value{}, false
		}
		d, err := parseDecimal(strings.TrimPrefix(m[1], "+"))
		if err != nil {
			return Value{}, false
		}
		unit := m[2]
		if m[3] != "" {
			if !calendarUnits[m[3]] {
				return Value{}, false
			}
			unit = m[3]
		}
		if unit == "" {
			unit = "1"
		}
		return quantityValue(d, unit), true
	}
	return Value{}, false
}

// nowValue gives the evaluation's moment as a DateTime, Date or Time.
func nowValue(e *env, kind Kind) Collection {
	t := e.now
	switch kind {
	case KindDate:
		return Collection{{kind: KindDate, s: t.Format("2006-01-02")}}
	case KindTime:
		return Collection{{kind: KindTime, s: t.Format("15:04:05.000")}}
	}
	return Collection{{kind: KindDateTime, s: fromInstant(t, PrecMillisecond, zoneMinutes(t)).format()}}
}

func zoneMinutes(t time.Time) int {
	_, off := t.Zone()
	return off / 60
}

// encode, decode, escape and unescape (FHIRPath 2.0 / R5 section 5.6).
func encodeString(s string, a []string) Collection {
	switch a[0] {
	case "base64":
		return strs(base64.StdEncoding.EncodeToString([]byte(s)))
	case "urlbase64":
		return strs(base64.URLEncoding.EncodeToString([]byte(s)))
	case "hex":
		return strs(hex.EncodeToString([]byte(s)))
	}
	return nil
}

func decodeString(s string, a []string) Collection {
	var b []byte
	var err error
	switch a[0] {
	case "base64":
		b, err = base64.StdEncoding.DecodeString(s)
	case "urlbase64":
		b, err = base64.URLEncoding.DecodeString(s)
	case "hex":
		b, err = hex.DecodeString(s)
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	return strs(string(b))
}

func escapeString(s string, a []string) Collection {
	switch a[0] {
	case "html":
		r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")
		return strs(r.Replace(s))
	case "json":
		q := strconv.Quote(s)
		return strs(q[1 : len(q)-1])
	case "url":
		return strs(url.QueryEscape(s))
	}
	return nil
}

func unescapeString(s string, a []string) Collection {
	switch a[0] {
	case "html":
		return strs(html.UnescapeString(s))
	case "json":
		// The escapes of a JSON string's content; a bare quote stays.
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if s[i] != '\\' || i+1 >= len(s) {
				b.WriteByte(s[i])
				continue
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'u':
				if i+4 < len(s) {
					if n, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
						b.WriteRune(rune(n))
						i += 4
						continue
					}
				}
				b.WriteString("\\u")
			default:
				b.WriteByte(s[i])
			}
		}
		return strs(b.String())
	case "url":
		u, err := url.QueryUnescape(s)
		if err != nil {
			return nil
		}
		return strs(u)
	}
	return nil
}
