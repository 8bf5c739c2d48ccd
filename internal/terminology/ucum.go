package terminology

import (
	"strings"

	"github.com/concord-health/concord/fhirpath"
)

// UCUM returns the UCUM code (system http://unitsofmeasure.org) for a unit
// as HL7 v2 results carry it (OBX-6.1, RXE-5, …), and whether it could
// tell one: a valid UCUM code is returned as it is; the usual variants are
// normalised — case (mg/dl → mg/dL, MMOL/L → mmol/L), litres written l,
// powers of ten (10^3/uL, K/uL, x10E9/L, giga.l-1 → 10*3/uL, 10*9/L), mc
// and µ for micro, words for time (sec → s, hr → h, days → d), mEq → meq,
// IU → [IU], mmHg → mm[Hg], degrees (°C → Cel), beats/min → /min, US
// customary units ([lb_av], [in_i]) — and anything else is not a unit
// Concord recognises (ok false: keep the text as the unit, with no code).
// Every code returned is checked by the FHIRPath engine's UCUM parser
// (package fhirpath), so it compares and converts in searches.
//
// A unit that reads as UCUM but is surely not what the sender meant (a
// negative exponent after a slash, g/l-1, which is g·L) is refused.
func UCUM(unit string) (code string, ok bool) {
	u := strings.TrimSpace(unit)
	if u == "" || len(u) > 64 {
		return "", false
	}
	if c, ok := ucumAliases[strings.ToLower(u)]; ok {
		return c, true
	}
	// The rules first: mg/dl is valid UCUM, but mg/dL is how it is
	// written.
	if c := rewriteUnit(u); ucumValid(c) {
		return c, true
	}
	if ucumValid(u) {
		return u, true
	}
	// All capitals (older systems): read it in lower case, but not a lone
	// letter or MM (M may be molar, S siemens: no guess).
	if strings.ToUpper(u) == u && strings.ToLower(u) != u && len(u) > 1 && u != "MM" {
		if c := rewriteUnit(strings.ToLower(u)); ucumValid(c) {
			return c, true
		}
	}
	return "", false
}

// ucumAliases are whole unit strings (lower case) seen in v2 results that
// no rule below reads right, with their UCUM codes.
var ucumAliases = map[string]string{
	"k/ul": "10*3/uL", "k/µl": "10*3/uL", "k/mm3": "10*3/uL", "thou/ul": "10*3/uL", "thou/mm3": "10*3/uL",
	"k/mcl": "10*3/uL", "x10e3/ul": "10*3/uL", "x10^3/ul": "10*3/uL", "x 10^3/ul": "10*3/uL", "10e3/ul": "10*3/uL",
	"m/ul": "10*6/uL", "m/µl": "10*6/uL", "m/mm3": "10*6/uL", "mil/ul": "10*6/uL", "mill/ul": "10*6/uL",
	"m/mcl": "10*6/uL", "x10e6/ul": "10*6/uL", "x10^6/ul": "10*6/uL", "x 10^6/ul": "10*6/uL", "10e6/ul": "10*6/uL",
	"giga.l-1": "10*9/L", "giga/l": "10*9/L", "g/l (giga)": "10*9/L",
	"tera.l-1": "10*12/L", "tera/l": "10*12/L",
	"beats/min": "/min", "beats/minute": "/min", "bpm": "/min", "breaths/min": "/min", "breaths/minute": "/min",
	"/min": "/min", "per min": "/min",
	"percent": "%", "pct": "%",
	"ratio": "{ratio}", "index": "{index}",
	"deg c": "Cel", "degc": "Cel", "°c": "Cel", "c°": "Cel", "celsius": "Cel",
	"deg f": "[degF]", "degf": "[degF]", "°f": "[degF]", "f°": "[degF]", "fahrenheit": "[degF]",
	"mmhg": "mm[Hg]", "mm hg": "mm[Hg]",
	"cmh2o": "cm[H2O]", "cm h2o": "cm[H2O]",
	"in": "[in_i]", "inch": "[in_i]", "inches": "[in_i]",
	"lb": "[lb_av]", "lbs": "[lb_av]", "pound": "[lb_av]", "pounds": "[lb_av]",
	"u/l": "U/L", "iu/l": "[IU]/L", "iu/ml": "[IU]/mL", "miu/ml": "m[IU]/mL", "uiu/ml": "u[IU]/mL", "µiu/ml": "u[IU]/mL",
	"meq/l": "meq/L", "mosm/kg": "mosm/kg",
	"cc": "mL", "kg/m^2": "kg/m2", "kg/m²": "kg/m2",
	"ml/min/1.73m2": "mL/min/{1.73_m2}", "ml/min/1.73 m2": "mL/min/{1.73_m2}", "ml/min/1.73m^2": "mL/min/{1.73_m2}",
	"ml/min/1.73m²": "mL/min/{1.73_m2}", "ml/min/1.73 m²": "mL/min/{1.73_m2}",
	"cells/ul": "{cells}/uL", "cells/µl": "{cells}/uL", "cells/mm3": "{cells}/uL", "copies/ml": "{copies}/mL",
}

// ucumTerms are single terms (between . and /) written other than UCUM.
var ucumTerms = map[string]string{
	"sec": "s", "secs": "s", "second": "s", "seconds": "s",
	"mins": "min", "minute": "min", "minutes": "min",
	"hr": "h", "hrs": "h", "hour": "h", "hours": "h",
	"day": "d", "days": "d", "week": "wk", "weeks": "wk", "wks": "wk",
	"month": "mo", "months": "mo", "yr": "a", "yrs": "a", "year": "a", "years": "a",
	"giga": "10*9", "tera": "10*12", "mega": "10*6",
	"IU": "[IU]", "iU": "[IU]", "[iU]": "[IU]",
	"Eq": "eq", "mEq": "meq", "uEq": "ueq",
	"Osm": "osm", "mOsm": "mosm",
	"mmHg": "mm[Hg]", "cc": "mL",
	"lb": "[lb_av]", "lbs": "[lb_av]", "oz": "[oz_av]", "ft": "[ft_i]", "in": "[in_i]",
	"degC": "Cel", "°C": "Cel", "degF": "[degF]", "°F": "[degF]",
	"u": "U", "gm": "g", "gms": "g", "GM": "g",
	"HPF": "[HPF]", "hpf": "[HPF]", "LPF": "[LPF]", "lpf": "[LPF]",
	"24hr": "(24.h)", "24hrs": "(24.h)", "24h": "(24.h)",
}

// rewriteUnit applies the term rules to each term of u, keeping its
// operators; a term with a trailing exponent keeps it.
func rewriteUnit(u string) string {
	u = strings.NewReplacer("µ", "u", "μ", "u", " ", "").Replace(u)
	var b strings.Builder
	depth, start := 0, 0
	flush := func(end int) { b.WriteString(rewriteTerm(u[start:end])) }
	for i := 0; i < len(u); i++ {
		switch u[i] {
		case '[', '{', '(':
			depth++
		case ']', '}', ')':
			depth--
		case '.', '/':
			if depth == 0 {
				flush(i)
				b.WriteByte(u[i])
				start = i + 1
			}
		}
	}
	flush(len(u))
	return b.String()
}

// rewriteTerm rewrites one term: powers of ten, litres, micro written mc,
// and the words of ucumTerms.
func rewriteTerm(t string) string {
	if t == "" || strings.HasPrefix(t, "{") {
		return t
	}
	// Powers of ten: 10^3, 10E3, x10^9, x10E9, 10(3).
	if p, ok := powerOfTen(t); ok {
		return p
	}
	if c, ok := ucumTerms[t]; ok {
		return c
	}
	// Split a trailing exponent (m2, l-1) off, rewrite, put it back.
	j := len(t)
	for j > 0 && (t[j-1] >= '0' && t[j-1] <= '9' || t[j-1] == '-' || t[j-1] == '+') {
		j--
	}
	base, exp := t[:j], t[j:]
	if base == "" {
		return t
	}
	if c, ok := ucumTerms[base]; ok {
		return c + exp
	}
	if rest, ok := strings.CutPrefix(base, "mc"); ok && rest != "" {
		base = "u" + rest
	}
	// Litres: l with an optional prefix.
	if strings.HasSuffix(base, "l") && len(base) <= 2 && (len(base) == 1 || strings.ContainsRune("dcmunpf", rune(base[0]))) {
		base = base[:len(base)-1] + "L"
	}
	if c, ok := ucumTerms[base]; ok {
		return c + exp
	}
	return base + exp
}

// powerOfTen reads 10^N, 10EN, x10^N, x10EN, 10*N and 10(N) as 10*N.
func powerOfTen(t string) (string, bool) {
	s := strings.TrimPrefix(strings.TrimPrefix(t, "x"), "X")
	rest, ok := strings.CutPrefix(s, "10")
	if !ok || rest == "" {
		return "", false
	}
	switch rest[0] {
	case '^', 'e', 'E', '*':
		rest = rest[1:]
	case '(':
		if !strings.HasSuffix(rest, ")") {
			return "", false
		}
		rest = rest[1 : len(rest)-1]
	default:
		return "", false
	}
	if !isDigits(rest) || len(rest) > 2 {
		return "", false
	}
	return "10*" + rest, true
}

// ucumValid reports whether code parses as UCUM in the FHIRPath engine's
// unit set (which lacks osmoles, microscope fields and parentheses, and
// writes the international unit [iU]),
// and is not a unit a sender surely did not mean (see UCUM).
func ucumValid(code string) bool {
	if strings.ContainsAny(code, " ^") {
		return false
	}
	if i := strings.IndexByte(code, '/'); i >= 0 && strings.Contains(code[i:], "-") {
		return false // g/l-1: a double negation, g·L
	}
	check := strings.NewReplacer("[IU]", "[iU]", "osm", "mol", "[HPF]", "{HPF}", "[LPF]", "{LPF}", "(24.h)", "d").Replace(code)
	_, _, ok := fhirpath.UCUMCanonical(1, check)
	return ok
}
