package convert

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/terminology"
)

// ObservationResultStatusCodesInterpretation (table 0085) →
// observation-status, as the IG maps it; the codes it leaves open (B, I,
// N, O, R, S, U, V) are unknown.
var resultStatusMap = map[string]string{
	"A": "amended", "C": "corrected", "D": "entered-in-error", "F": "final",
	"P": "preliminary", "W": "entered-in-error", "X": "cancelled",
}

// interpretationCodes are the codes of table 0078 the IG maps to the same
// code of v3 ObservationInterpretation.
var interpretationCodes = map[string]bool{
	"<": true, ">": true, "A": true, "AA": true, "B": true, "CAR": true, "D": true, "DET": true, "E": true,
	"EX": true, "EXP": true, "H": true, "HH": true, "HU": true, "I": true, "IE": true, "IND": true, "L": true,
	"LL": true, "LU": true, "MS": true, "N": true, "NCL": true, "ND": true, "NEG": true, "NR": true, "NS": true,
	"POS": true, "R": true, "RR": true, "S": true, "SDD": true, "SYN-R": true, "SYN-S": true, "U": true,
	"VS": true, "UNE": true, "W": true, "WR": true,
}

// imagingSections are the diagnostic service sections (table 0074) whose
// results are imaging; the others are laboratory.
var imagingSections = map[string]bool{"RAD": true, "CT": true, "RX": true, "NMS": true, "NMR": true,
	"RUS": true, "OUS": true, "VUS": true, "CUS": true, "XRC": true}

// observation converts an OBX (OBX[Observation]) into an Observation: in
// an order o, keyed by each order number with the test (OBR-4), the
// observation code (OBX-3) and sub-ID (OBX-4); outside any order, by the
// patient, the visit, the code, sub-ID and time. A repeated code and
// sub-ID under one key gets its own key. Fields: status (OBX-11), code,
// value (OBX-2/5, units OBX-6), reference range (OBX-7),
// interpretation (OBX-8), effective (OBX-14, else OBR-7), issued
// (OBR-22), performer (OBX-16, OBX-23), method (OBX-17), body site
// (OBX-20), identifier (OBX-21), basedOn the order, subject, encounter.
func (c *Context) observation(ctx context.Context, it labItem, o *order, scope *Entry) (*Entry, error) {
	seg := it.seg
	code := c.ClinicalCode(ctx, seg.Field(3).Rep(1), "OBX-3")
	if code == nil {
		if t := strings.ToUpper(compText(seg.Field(2), 1)); t == "ED" || t == "RP" {
			// The OBX of an ORDER_DOCUMENT (with TXA): a document, not
			// an observation.
			return nil, nil
		}
		return nil, concord.Errorf(concord.EINVALID, "%s: no observation identifier", it.loc(3))
	}
	s := c.lab()
	codeK := c.codeKey(seg.Field(3).Rep(1), "")
	subID := Text(seg.Field(4))
	effective := c.DateTime(seg.Field(14))
	if effective == "" && o != nil {
		effective = c.DateTime(o.obr.field(7))
	}
	var e *Entry
	extra := appendNonEmpty(nil, c.EIIdentifier(seg.Field(21).Rep(1)))
	var extras []map[string]any
	for _, x := range extra {
		extras = append(extras, x.(map[string]any))
	}
	if o != nil {
		seen := strings.Join(o.keys, ",") + "|" + o.codeKey + "|" + codeK + "|" + subID
		s.codeSeen[seen]++
		rep := ""
		if n := s.codeSeen[seen]; n > 1 {
			rep = strconv.Itoa(n)
		}
		var keys []map[string]any
		ps, pv := c.PatientKey()
		for _, k := range o.keys {
			keys = append(keys, DerivedIdentifier("Observation", ps, pv, k, o.codeKey, codeK, subID, rep))
		}
		e = c.upsertAny("Observation", keys, extras)
	} else {
		ps, pv := c.PatientKey()
		parts := []string{ps, pv, c.visitKey(), codeK, subID, effective}
		if scope != nil {
			ss, sv := entryKey(scope)
			parts = append(parts, ss+"|"+sv)
		}
		seen := strings.Join(parts, "|")
		s.codeSeen[seen]++
		if n := s.codeSeen[seen]; n > 1 {
			parts = append(parts, strconv.Itoa(n))
		}
		e = c.upsertAny("Observation", []map[string]any{DerivedIdentifier("Observation", parts...)}, extras)
	}
	r := e.Resource
	st := resultStatusMap[compText(seg.Field(11), 1)]
	if st == "" {
		st = "unknown"
	}
	r["status"] = st
	if o != nil && o.mode == labResults {
		cat := "laboratory"
		if imagingSections[compText(o.obr.field(24), 1)] {
			cat = "imaging"
		}
		r["category"] = []any{map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": cat}}}}
	}
	r["code"] = code
	r["subject"] = c.Patient.Ref()
	if c.Encounter != nil {
		r["encounter"] = c.Encounter.Ref()
	}
	if o != nil {
		if ref := o.srRef(); ref != nil {
			setRefs(e, "basedOn", ref)
		}
		setv(r, "issued", c.Instant(o.obr.field(22)))
	}
	if scope != nil {
		setRefs(e, "specimen", scope.Ref())
	}
	setv(r, "effectiveDateTime", effective)
	unit := c.unit(seg.Field(6))
	if err := c.observationValue(ctx, it, r, code, unit); err != nil {
		return nil, err
	}
	setv(r, "referenceRange", referenceRange(Text(seg.Field(7)), unit))
	var interp []any
	for _, rep := range repsOf(seg.Field(8)) {
		cd := compText(rep, 1)
		if cd == "" {
			continue
		}
		co := map[string]any{"system": v2System("0078"), "code": cd}
		if interpretationCodes[cd] {
			co["system"] = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
		}
		setv(co, "display", compText(rep, 2))
		interp = append(interp, map[string]any{"coding": []any{co}})
	}
	setv(r, "interpretation", interp)
	var perf []any
	for _, rep := range repsOf(seg.Field(16)) {
		if ref := c.Practitioner(rep); ref != nil {
			perf = append(perf, ref)
		}
	}
	perf = appendNonEmpty(perf, c.Organization(seg.Field(23).Rep(1), seg.Field(24).Rep(1)))
	setv(r, "performer", perf)
	setv(r, "method", c.CodeableConcept(seg.Field(17).Rep(1), ""))
	setv(r, "bodySite", c.CodeableConcept(seg.Field(20).Rep(1), ""))
	return e, nil
}

// textTypes are the OBX-2 value types whose repetitions are lines of one
// text.
var textTypes = map[string]bool{"ST": true, "TX": true, "FT": true}

// observationValue sets value[x] from OBX-5 by its type OBX-2 (the IG's
// OBX-5 rows): NM Quantity (OBX-6 unit), SN Quantity with comparator,
// Range or Ratio, ST/TX/FT string (repetitions as lines), CWE/CE/CNE/CF
// CodeableConcept (through the code maps), IS/ID a code, DT/DTM/TS
// dateTime, TM time, DR Period, NR Range; anything else (NA, RP, …) as
// its text. Several repetitions of another type become components with
// the observation's code.
func (c *Context) observationValue(ctx context.Context, it labItem, r map[string]any, code, unit map[string]any) error {
	seg := it.seg
	typ := strings.ToUpper(compText(seg.Field(2), 1))
	reps := repsOf(seg.Field(5))
	if len(reps) == 0 {
		return nil
	}
	if textTypes[typ] || len(reps) == 1 || typ == "NA" {
		if textTypes[typ] {
			var lines []string
			for _, rep := range reps {
				lines = append(lines, rep.String())
			}
			if t := cleanText(strings.Join(lines, "\n")); t != "" {
				r["valueString"] = t
			}
			return nil
		}
		if typ == "NA" {
			var vals []string
			for _, rep := range reps {
				vals = append(vals, Text(rep))
			}
			r["valueString"] = strings.Join(vals, "~")
			return nil
		}
		k, v := c.value(ctx, it, typ, reps[0], unit)
		setv(r, k, v)
		return nil
	}
	var comps []any
	for _, rep := range reps {
		k, v := c.value(ctx, it, typ, rep, unit)
		if k == "" {
			continue
		}
		comps = append(comps, map[string]any{"code": code, k: v})
	}
	setv(r, "component", comps)
	return nil
}

// value maps one repetition of OBX-5: the value[x] element name and its
// value ("" when empty).
func (c *Context) value(ctx context.Context, it labItem, typ string, rep hl7v2.Value, unit map[string]any) (string, any) {
	text := Text(rep)
	switch typ {
	case "NM":
		if q := quantity(rep.String(), unit); q != nil {
			return "valueQuantity", q
		}
	case "SN":
		if k, v := structuredNumeric(rep, unit); k != "" {
			return k, v
		}
	case "CWE", "CE", "CNE", "CF":
		if cc := c.ClinicalCode(ctx, rep, "OBX-5"); cc != nil {
			return "valueCodeableConcept", cc
		}
	case "IS", "ID":
		if v := compText(rep, 1); v != "" {
			return "valueCodeableConcept", map[string]any{"coding": []any{map[string]any{"code": v}}}
		}
	case "DT", "DTM", "TS":
		if d := c.DateTime(rep); d != "" {
			return "valueDateTime", d
		}
	case "TM":
		if t := fhirTime(compText(rep, 1)); t != "" {
			return "valueTime", t
		}
	case "DR":
		p := map[string]any{}
		setv(p, "start", c.DateTime(rep.Component(1)))
		setv(p, "end", c.DateTime(rep.Component(2)))
		if len(p) > 0 {
			return "valuePeriod", p
		}
	case "NR":
		rg := map[string]any{}
		setv(rg, "low", quantity(compText(rep, 1), unit))
		setv(rg, "high", quantity(compText(rep, 2), unit))
		if len(rg) > 0 {
			return "valueRange", rg
		}
	}
	if typ == "CWE" || typ == "CE" || typ == "CNE" || typ == "CF" || typ == "SN" || typ == "DR" || typ == "NR" {
		// a composite that did not map: its components as text
		var parts []string
		for i := 1; i <= 9; i++ {
			if t := compText(rep, i); t != "" {
				parts = append(parts, t)
			}
		}
		text = strings.Join(parts, " ")
	}
	if text == "" {
		return "", nil
	}
	return "valueString", text
}

// unit maps OBX-6 (CWE) to the unit part of a Quantity: unit the text
// (OBX-6.2, else OBX-6.1), and when terminology.UCUM reads OBX-6.1 as a
// UCUM unit, system UCUM and its code; nil when empty.
func (c *Context) unit(v hl7v2.Value) map[string]any {
	id, text := compText(v, 1), compText(v, 2)
	if id == "" && text == "" {
		return nil
	}
	u := map[string]any{"unit": hdText(id, text)}
	if code, ok := terminology.UCUM(hdText(id, text)); ok {
		u["system"] = terminology.UCUMSystem
		u["code"] = code
	}
	return u
}

// decimal writes an NM as a JSON number with the precision it was sent
// with (4.10 stays 4.10); ok false when it is not a number.
func decimal(s string) (json.Number, bool) {
	s = strings.TrimSpace(s)
	if _, err := hl7v2.ParseNumber(s); err != nil {
		return "", false
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	intPart, frac, dot := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if dot && frac != "" {
		out += "." + frac
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return json.Number(out), true
}

// quantity returns a Quantity of the number s with the unit, nil when s
// is not a number.
func quantity(s string, unit map[string]any) map[string]any {
	n, ok := decimal(s)
	if !ok {
		return nil
	}
	q := map[string]any{"value": n}
	for k, v := range unit {
		q[k] = v
	}
	return q
}

// structuredNumeric maps an SN (comparator, number, separator/suffix,
// number): a lone number is a Quantity (with the comparator < <= > >=),
// "n1-n2" a Range, "n1:n2" or "n1/n2" a Ratio; anything else is not
// mapped ("").
func structuredNumeric(rep hl7v2.Value, unit map[string]any) (string, any) {
	cmp, n1, sep, n2 := compText(rep, 1), compText(rep, 2), compText(rep, 3), compText(rep, 4)
	switch {
	case sep == "" && n2 == "":
		q := quantity(n1, unit)
		if q == nil {
			return "", nil
		}
		switch cmp {
		case "<", "<=", ">", ">=":
			q["comparator"] = cmp
		case "", "=":
		default:
			return "", nil
		}
		return "valueQuantity", q
	case cmp != "" && cmp != "=":
		return "", nil
	case sep == "-":
		lo, hi := quantity(n1, unit), quantity(n2, unit)
		if lo == nil || hi == nil {
			return "", nil
		}
		return "valueRange", map[string]any{"low": lo, "high": hi}
	case sep == ":" || sep == "/":
		num, den := quantity(n1, nil), quantity(n2, nil)
		if num == nil || den == nil {
			return "", nil
		}
		return "valueRatio", map[string]any{"numerator": num, "denominator": den}
	}
	return "", nil
}

// rangePattern reads a reference range "low-high", "<high", "<=high",
// ">low", ">=low".
var rangePattern = regexp.MustCompile(`^\s*(?:(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)|(<=?)\s*(-?\d+(?:\.\d+)?)|(>=?)\s*(-?\d+(?:\.\d+)?))\s*$`)

// referenceRange maps OBX-7 to Observation.referenceRange: its text, and
// low/high in the value's unit when it reads as numbers.
func referenceRange(text string, unit map[string]any) []any {
	if text == "" {
		return nil
	}
	rr := map[string]any{"text": text}
	if m := rangePattern.FindStringSubmatch(text); m != nil {
		switch {
		case m[1] != "":
			setv(rr, "low", quantity(m[1], unit))
			setv(rr, "high", quantity(m[2], unit))
		case m[3] != "":
			setv(rr, "high", quantity(m[4], unit))
		case m[5] != "":
			setv(rr, "low", quantity(m[6], unit))
		}
	}
	return []any{rr}
}

// fhirTime writes a TM (HH[MM[SS[.S…]]]) as a FHIR time (hh:mm:ss); ""
// when it is not one.
func fhirTime(s string) string {
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		s = s[:i] // FHIR times have no zone
	}
	frac := ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, frac = s[:i], s[i+1:]
	}
	if len(s) != 2 && len(s) != 4 && len(s) != 6 {
		return ""
	}
	for len(s) < 6 {
		s += "00"
	}
	for i := 0; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return ""
		}
	}
	if s[:2] > "23" || s[2:4] > "59" || s[4:] > "59" {
		return ""
	}
	out := s[:2] + ":" + s[2:4] + ":" + s[4:]
	if frac != "" {
		for i := 0; i < len(frac); i++ {
			if frac[i] < '0' || frac[i] > '9' {
				return out
			}
		}
		out += "." + frac
	}
	return out
}

// Organization maps an XON (one repetition) to a Reference to an
// Organization entry, upserted by XON-10 (with XON-6 as the authority),
// else by a derived identifier on the name; address from addr (XAD); nil
// when the XON is empty.
func (c *Context) Organization(v, addr hl7v2.Value) map[string]any {
	name := compText(v, 1)
	id := compText(v, 10)
	if id == "" {
		id = compText(v, 3) // XON-3, the ID number before v2.5
	}
	if name == "" && id == "" {
		return nil
	}
	var key map[string]any
	if id != "" {
		sys := AuthoritySystem(readHD(v.Component(6)))
		if sys == "" {
			sys = senderBase + uriPart(c.sender) + ":organization"
		}
		key = map[string]any{"system": sys, "value": id}
	} else {
		key = DerivedIdentifier("Organization", c.sender, strings.ToLower(name))
	}
	e, fresh := c.Upsert("Organization", key)
	if fresh {
		setv(e.Resource, "name", name)
		setv(e.Resource, "address", appendNonEmpty(nil, c.Address(addr)))
	}
	ref := e.Ref()
	setv(ref, "display", name)
	return ref
}
