package fhirpath

import (
	"math"
	"strconv"
	"strings"
)

// UCUM support (https://ucum.org/ucum) for comparing and converting
// quantities: the base units and the derived units used by FHIR vital
// signs and common laboratory results, with the metric prefixes, products
// (.), quotients (/), exponents (m2) and annotations ({beats}). A unit
// outside this set is compared only with the same unit.

// dims are the exponents of the base dimensions: mass, length, time,
// amount of substance, temperature, and "count" for unitless ratios of
// like things that must not mix with others.
type dims [5]int8

type unitDef struct {
	factor float64 // to the base units (g, m, s, mol, K)
	dims   dims
	offset float64 // affine units (Cel, [degF]): base = (v + offset) × factor
}

var ucumAtoms = map[string]unitDef{
	"g":   {1, dims{1, 0, 0, 0, 0}, 0},
	"m":   {1, dims{0, 1, 0, 0, 0}, 0},
	"s":   {1, dims{0, 0, 1, 0, 0}, 0},
	"mol": {1, dims{0, 0, 0, 1, 0}, 0},
	"K":   {1, dims{0, 0, 0, 0, 1}, 0},
	"L":   {1e-3, dims{0, 3, 0, 0, 0}, 0},
	"l":   {1e-3, dims{0, 3, 0, 0, 0}, 0},
	"min": {60, dims{0, 0, 1, 0, 0}, 0},
	"h":   {3600, dims{0, 0, 1, 0, 0}, 0},
	"d":   {86400, dims{0, 0, 1, 0, 0}, 0},
	"wk":  {604800, dims{0, 0, 1, 0, 0}, 0},
	"mo":  {2629800, dims{0, 0, 1, 0, 0}, 0},  // 1/12 of a Julian year
	"a":   {31557600, dims{0, 0, 1, 0, 0}, 0}, // Julian year
	"Cel": {1, dims{0, 0, 0, 0, 1}, 273.15},
	// Fahrenheit: K = (F + 459.67) × 5/9.
	"[degF]":  {5.0 / 9.0, dims{0, 0, 0, 0, 1}, 459.67},
	"[lb_av]": {453.59237, dims{1, 0, 0, 0, 0}, 0},
	"[oz_av]": {28.349523125, dims{1, 0, 0, 0, 0}, 0},
	"[in_i]":  {0.0254, dims{0, 1, 0, 0, 0}, 0},
	"[ft_i]":  {0.3048, dims{0, 1, 0, 0, 0}, 0},
	"Pa":      {1000, dims{1, -1, -2, 0, 0}, 0}, // kg/(m·s²) in g
	"bar":     {1e8, dims{1, -1, -2, 0, 0}, 0},
	"mm[Hg]":  {133322.387415, dims{1, -1, -2, 0, 0}, 0},
	"[iU]":    {1, dims{}, 0},
	"U":       {1, dims{}, 0},
	"eq":      {1, dims{0, 0, 0, 1, 0}, 0},
	"%":       {0.01, dims{}, 0},
	"1":       {1, dims{}, 0},
}

var ucumPrefixes = map[byte]float64{
	'k': 1e3, 'h': 1e2, 'd': 1e-1, 'c': 1e-2, 'm': 1e-3, 'u': 1e-6, 'n': 1e-9, 'p': 1e-12, 'f': 1e-15, 'M': 1e6, 'G': 1e9,
}

// parseUCUM reads a unit expression into its factor and dimensions.
func parseUCUM(unit string) (unitDef, bool) {
	if unit == "" {
		return unitDef{1, dims{}, 0}, true
	}
	out := unitDef{factor: 1}
	terms := splitUnit(unit)
	if len(terms) == 0 {
		return unitDef{}, false
	}
	for i, t := range terms {
		sign := int8(1)
		if i > 0 {
			if t.op == '/' {
				sign = -1
			}
		} else if t.op == '/' {
			sign = -1 // a leading slash: /min
		}
		d, ok := parseTerm(t.text)
		if !ok {
			return unitDef{}, false
		}
		if d.offset != 0 {
			if len(terms) != 1 {
				return unitDef{}, false // temperatures only alone
			}
			return d, true
		}
		if sign < 0 {
			out.factor /= d.factor
		} else {
			out.factor *= d.factor
		}
		for k := range out.dims {
			out.dims[k] += sign * d.dims[k]
		}
	}
	return out, true
}

type unitTerm struct {
	op   byte // '.' or '/' before it ('.' for the first)
	text string
}

// splitUnit splits at . and / outside brackets and braces.
func splitUnit(u string) []unitTerm {
	var out []unitTerm
	depth, start := 0, 0
	op := byte('.')
	if strings.HasPrefix(u, "/") {
		op, start = '/', 1
	}
	for i := start; i < len(u); i++ {
		switch u[i] {
		case '[', '{', '(':
			depth++
		case ']', '}', ')':
			depth--
		case '.', '/':
			if depth == 0 {
				out = append(out, unitTerm{op, u[start:i]})
				op, start = u[i], i+1
			}
		}
	}
	return append(out, unitTerm{op, u[start:]})
}

// parseTerm reads one term: an optional prefix, an atom and an exponent,
// or an annotation alone ({beats} counts as 1), or a number (10*3).
func parseTerm(t string) (unitDef, bool) {
	// Annotations carry no meaning.
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			return unitDef{}, false
		}
		t = t[:i] + t[i+j+1:]
	}
	if t == "" {
		return unitDef{1, dims{}, 0}, true
	}
	// 10*3 and 10^3: powers of ten.
	if b, e, ok := strings.Cut(t, "*"); ok && b == "10" {
		n, err := strconv.Atoi(e)
		return unitDef{math.Pow10(n), dims{}, 0}, err == nil
	}
	// A trailing exponent: m2, s-1.
	exp := 1
	j := len(t)
	for j > 0 && (isDigit(t[j-1]) || t[j-1] == '-' || t[j-1] == '+') && t[j-1] != ']' {
		j--
	}
	if j < len(t) && j > 0 {
		n, err := strconv.Atoi(t[j:])
		if err != nil {
			return unitDef{}, false
		}
		exp, t = n, t[:j]
	}
	d, ok := ucumAtoms[t]
	if !ok && len(t) > 1 {
		if p, okp := ucumPrefixes[t[0]]; okp {
			if a, oka := ucumAtoms[t[1:]]; oka && a.offset == 0 {
				d, ok = unitDef{p * a.factor, a.dims, 0}, true
			}
		}
		if !ok && strings.HasPrefix(t, "da") {
			if a, oka := ucumAtoms[t[2:]]; oka && a.offset == 0 {
				d, ok = unitDef{10 * a.factor, a.dims, 0}, true
			}
		}
	}
	if !ok {
		return unitDef{}, false
	}
	if exp != 1 {
		if d.offset != 0 {
			return unitDef{}, false
		}
		d.factor = math.Pow(d.factor, float64(exp))
		for k := range d.dims {
			d.dims[k] *= int8(exp)
		}
	}
	return d, true
}

// commensurable brings two quantities to a common unit (the first's) and
// returns their values. Calendar words equal their UCUM codes for weeks
// and shorter; years and months only under equivalence (~).
func commensurable(x, y Value, equivalence bool) (decimal, decimal, bool) {
	ux, uy := x.s, y.s
	cx, cy := calendarUnits[ux], calendarUnits[uy]
	if cx {
		ux = calendarToUCUM[ux]
	}
	if cy {
		uy = calendarToUCUM[uy]
	}
	if (cx != cy) && !equivalence && (ux == "a" || ux == "mo" || uy == "a" || uy == "mo") {
		return decimal{}, decimal{}, false
	}
	if ux == uy {
		return x.decimal(), y.decimal(), true
	}
	dx, ok1 := parseUCUM(ux)
	dy, ok2 := parseUCUM(uy)
	if !ok1 || !ok2 || dx.dims != dy.dims {
		return decimal{}, decimal{}, false
	}
	// y in x's unit, to eight digits after the point (float conversion
	// noise beyond that is dropped).
	base := (y.decimal().float() + dy.offset) * dy.factor
	v := base/dx.factor - dx.offset
	conv, err := parseDecimal(strconv.FormatFloat(v, 'f', maxScale, 64))
	if err != nil {
		return decimal{}, decimal{}, false
	}
	return x.decimal(), conv.trim(y.scale), true
}

// quantityProduct multiplies or divides two quantities, combining units.
func quantityProduct(pos int, op string, x, y Value) (Collection, error) {
	var r decimal
	var err error
	if op == "*" {
		r, err = x.decimal().mul(y.decimal())
	} else {
		if y.decimal().c == 0 {
			return nil, nil
		}
		r, err = x.decimal().div(y.decimal())
	}
	if err != nil {
		return nil, nil
	}
	ux, uy := x.s, y.s
	if calendarUnits[ux] || calendarUnits[uy] {
		return nil, evalErrorf(pos, "%s on calendar durations", op)
	}
	var unit string
	switch {
	case ux == uy && op == "/":
		unit = "1"
	case uy == "1":
		unit = ux
	case ux == "1" && op == "*":
		unit = uy
	case op == "*":
		if ux == uy {
			unit = ux + "2"
		} else {
			unit = ux + "." + uy
		}
	default:
		unit = ux + "/" + uy
	}
	return Collection{quantityValue(r, unit)}, nil
}

// UCUMCanonical converts value in a UCUM unit to the base units (g, m, s,
// mol, K) and returns it with a key naming those units, such as "g.m-3"
// or "s-1", so that quantities in commensurable units (mg/dL and g/L, Cel
// and [degF]) compare as numbers. ok is false for a unit outside the
// supported set.
func UCUMCanonical(value float64, unit string) (float64, string, bool) {
	d, ok := parseUCUM(unit)
	if !ok {
		return 0, "", false
	}
	v := (value + d.offset) * d.factor
	names := [...]string{"g", "m", "s", "mol", "K"}
	var b strings.Builder
	for i, e := range d.dims {
		if e == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(names[i])
		if e != 1 {
			b.WriteString(strconv.Itoa(int(e)))
		}
	}
	if b.Len() == 0 {
		b.WriteByte('1')
	}
	return v, b.String(), true
}
