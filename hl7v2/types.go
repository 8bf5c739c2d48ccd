package hl7v2

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Precision says how much of a date and time a TS or DTM value gave.
type Precision int

// The precisions of HL7 date/time values.
const (
	PrecisionYear Precision = iota + 1
	PrecisionMonth
	PrecisionDay
	PrecisionHour
	PrecisionMinute
	PrecisionSecond
	PrecisionFraction
)

// Time is a TS or DTM value: the instant, how precisely it was given, and
// whether it carried a UTC offset.
type Time struct {
	time.Time
	Precision Precision
	HasZone   bool
}

// ParseTime reads a DTM value (or the first component of a TS):
// YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]. Without an offset the
// time is read in loc (time.UTC when nil).
func ParseTime(s string, loc *time.Location) (Time, error) {
	bad := func(why string) (Time, error) { return Time{}, fmt.Errorf("hl7v2: time %q: %s", s, why) }
	if loc == nil {
		loc = time.UTC
	}
	body, zone := s, ""
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		body, zone = s[:i], s[i:]
	}
	frac := ""
	if i := strings.IndexByte(body, '.'); i >= 0 {
		body, frac = body[:i], body[i+1:]
		if len(body) != 14 || frac == "" || len(frac) > 4 {
			return bad("fractions of seconds need all of YYYYMMDDHHMMSS and 1 to 4 digits")
		}
	}
	var p Precision
	switch len(body) {
	case 4:
		p = PrecisionYear
	case 6:
		p = PrecisionMonth
	case 8:
		p = PrecisionDay
	case 10:
		p = PrecisionHour
	case 12:
		p = PrecisionMinute
	case 14:
		p = PrecisionSecond
	default:
		return bad("want YYYY[MM[DD[HH[MM[SS]]]]]")
	}
	if frac != "" {
		p = PrecisionFraction
	}
	digits := body + frac
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return bad("digits expected")
		}
	}
	num := func(from, to int, def int) int {
		if len(body) < to {
			return def
		}
		n, _ := strconv.Atoi(body[from:to])
		return n
	}
	year, month, day := num(0, 4, 0), num(4, 6, 1), num(6, 8, 1)
	hour, minute, sec := num(8, 10, 0), num(10, 12, 0), num(12, 14, 0)
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return bad("date or time out of range")
	}
	nsec := 0
	if frac != "" {
		f, _ := strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
		nsec = f
	}
	t := Time{Precision: p}
	if zone != "" {
		if len(zone) != 5 {
			return bad("UTC offset must be +HHMM or -HHMM")
		}
		hh, err1 := strconv.Atoi(zone[1:3])
		mm, err2 := strconv.Atoi(zone[3:5])
		if err1 != nil || err2 != nil || hh > 14 || mm > 59 {
			return bad("bad UTC offset")
		}
		off := (hh*60 + mm) * 60
		if zone[0] == '-' {
			off = -off
		}
		loc = time.FixedZone(zone, off)
		t.HasZone = true
	}
	t.Time = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	return t, nil
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Time reads the value (or its first component, for a TS) as a date/time.
func (v Value) Time(loc *time.Location) (Time, error) {
	return ParseTime(v.Component(1).String(), loc)
}

// FormatTime writes t as a DTM at the given precision, with its UTC offset
// when withZone is set.
func FormatTime(t time.Time, p Precision, withZone bool) string {
	layouts := map[Precision]string{
		PrecisionYear: "2006", PrecisionMonth: "200601", PrecisionDay: "20060102",
		PrecisionHour: "2006010215", PrecisionMinute: "200601021504", PrecisionSecond: "20060102150405",
		PrecisionFraction: "20060102150405.0000",
	}
	l, ok := layouts[p]
	if !ok {
		l = layouts[PrecisionSecond]
	}
	if withZone {
		l += "-0700"
	}
	return t.Format(l)
}

// ParseNumber reads an NM value: an optional sign, digits and an optional
// decimal point, with no exponent (HL7 v2.8 section 2.A.47).
func ParseNumber(s string) (float64, error) {
	t := strings.TrimSpace(s)
	body := strings.TrimLeft(t, "+-")
	if len(t)-len(body) > 1 || body == "" || body == "." || strings.Count(body, ".") > 1 {
		return 0, fmt.Errorf("hl7v2: number %q: want digits with an optional sign and decimal point", s)
	}
	for i := 0; i < len(body); i++ {
		if body[i] != '.' && (body[i] < '0' || body[i] > '9') {
			return 0, fmt.Errorf("hl7v2: number %q: want digits with an optional sign and decimal point", s)
		}
	}
	return strconv.ParseFloat(t, 64)
}

// Number reads the value as an NM.
func (v Value) Number() (float64, error) { return ParseNumber(v.String()) }

// HD is a hierarchic designator: a namespace and/or a universal ID (such
// as an OID) with its type.
type HD struct {
	Namespace, UniversalID, UniversalIDType string
}

// CX is an extended composite identifier, such as a medical record number.
type CX struct {
	ID, CheckDigit, CheckDigitScheme string
	AssigningAuthority               HD
	IdentifierType                   string
	AssigningFacility                HD
	EffectiveDate, ExpirationDate    string
}

// XPN is an extended person name.
type XPN struct {
	Family, Given, Middle, Suffix, Prefix, Degree, NameType string
}

// XAD is an extended address.
type XAD struct {
	Street, Other, City, State, Zip, Country, AddressType, OtherGeographic, County string
}

// CWE is a coded value with its text and coding system, and an alternate
// coding (CE before v2.5, CWE and CNE after).
type CWE struct {
	Code, Text, System          string
	AltCode, AltText, AltSystem string
	SystemVersion, AltVersion   string
	OriginalText                string
}

// hd reads an HD from the subcomponents of a component, or from the
// components of a repetition when v is a repetition.
func hd(v Value) HD {
	if v.level <= levelRep {
		return HD{v.Component(1).String(), v.Component(2).String(), v.Component(3).String()}
	}
	return HD{v.Sub(1).String(), v.Sub(2).String(), v.Sub(3).String()}
}

// CX reads the value (a field's first repetition, or a repetition) as a CX.
func (v Value) CX() CX {
	r := v.Rep(1)
	return CX{
		ID: r.Component(1).String(), CheckDigit: r.Component(2).String(), CheckDigitScheme: r.Component(3).String(),
		AssigningAuthority: hd(r.Component(4)), IdentifierType: r.Component(5).String(),
		AssigningFacility: hd(r.Component(6)), EffectiveDate: r.Component(7).String(), ExpirationDate: r.Component(8).String(),
	}
}

// XPN reads the value as an XPN. The family name is the first
// subcomponent of component 1 (its surname), as in v2.3 and later.
func (v Value) XPN() XPN {
	r := v.Rep(1)
	return XPN{
		Family: r.Component(1).Sub(1).String(), Given: r.Component(2).String(), Middle: r.Component(3).String(),
		Suffix: r.Component(4).String(), Prefix: r.Component(5).String(), Degree: r.Component(6).String(),
		NameType: r.Component(7).String(),
	}
}

// XAD reads the value as an XAD. The street is the first subcomponent of
// component 1 (its street or mailing address).
func (v Value) XAD() XAD {
	r := v.Rep(1)
	return XAD{
		Street: r.Component(1).Sub(1).String(), Other: r.Component(2).String(), City: r.Component(3).String(),
		State: r.Component(4).String(), Zip: r.Component(5).String(), Country: r.Component(6).String(),
		AddressType: r.Component(7).String(), OtherGeographic: r.Component(8).String(), County: r.Component(9).String(),
	}
}

// CWE reads the value as a CE, CWE or CNE.
func (v Value) CWE() CWE {
	r := v.Rep(1)
	c := func(n int) string { return r.Component(n).String() }
	return CWE{Code: c(1), Text: c(2), System: c(3), AltCode: c(4), AltText: c(5), AltSystem: c(6),
		SystemVersion: c(7), AltVersion: c(8), OriginalText: c(9)}
}
