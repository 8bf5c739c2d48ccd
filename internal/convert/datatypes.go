package convert

import (
	"context"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// setv stores v under k unless v is empty ("", nil, an empty object or
// array): FHIR forbids empty values.
func setv(m map[string]any, k string, v any) {
	switch x := v.(type) {
	case nil:
		return
	case string:
		if x == "" {
			return
		}
	case map[string]any:
		if len(x) == 0 {
			return
		}
	case []any:
		if len(x) == 0 {
			return
		}
	}
	m[k] = v
}

// appendNonEmpty appends v to list unless v is empty.
func appendNonEmpty(list []any, v any) []any {
	switch x := v.(type) {
	case nil:
		return list
	case string:
		if x == "" {
			return list
		}
	case map[string]any:
		if len(x) == 0 {
			return list
		}
	}
	return append(list, v)
}

// Text returns a value's decoded text, trimmed, with the HL7 null ("")
// read as empty.
func Text(v hl7v2.Value) string {
	if v.IsNull() {
		return ""
	}
	return cleanText(v.String())
}

// cleanText trims s and reads the HL7 null as empty.
func cleanText(s string) string {
	s = strings.TrimSpace(s)
	if s == `""` {
		return ""
	}
	return s
}

// compText returns component n of v (a repetition or field), first
// subcomponent, as text.
func compText(v hl7v2.Value, n int) string { return Text(v.Component(n).Sub(1)) }

// repsOf returns the repetitions of a field.
func repsOf(v hl7v2.Value) []hl7v2.Value {
	var out []hl7v2.Value
	for r := range v.EachRep {
		if !r.IsEmpty() && !r.IsNull() {
			out = append(out, r)
		}
	}
	return out
}

// Identifier maps a CX (one repetition) to an Identifier (CX[Identifier]):
// CX-1 value, CX-4/CX-6 system, CX-5 type (table 0203), CX-7/CX-8 period.
// It returns nil when CX-1 is empty.
func (c *Context) Identifier(v hl7v2.Value) map[string]any {
	cx := v.CX()
	val := cleanText(cx.ID)
	if val == "" {
		return nil
	}
	cx.AssigningAuthority = readHD(v.Component(4))
	cx.AssigningFacility = readHD(v.Component(6))
	id := map[string]any{"system": c.IdentifierSystem(cx), "value": val}
	if t := cleanText(cx.IdentifierType); t != "" {
		id["type"] = map[string]any{"coding": []any{map[string]any{"system": v2System("0203"), "code": t}}}
	}
	p := map[string]any{}
	setv(p, "start", c.Date(v.Component(7)))
	setv(p, "end", c.Date(v.Component(8)))
	setv(id, "period", p)
	return id
}

// readHD reads an HD component (namespace, universal ID, type as its
// subcomponents).
func readHD(v hl7v2.Value) hl7v2.HD {
	return hl7v2.HD{Namespace: Text(v.Sub(1)), UniversalID: Text(v.Sub(2)), UniversalIDType: Text(v.Sub(3))}
}

// EIIdentifier maps an EI (entity identifier: ID, namespace, universal
// ID, type) to an Identifier; nil when empty.
func (c *Context) EIIdentifier(v hl7v2.Value) map[string]any {
	val := compText(v, 1)
	if val == "" {
		return nil
	}
	sys := AuthoritySystem(hl7v2.HD{Namespace: compText(v, 2), UniversalID: compText(v, 3), UniversalIDType: compText(v, 4)})
	if sys == "" {
		sys = senderBase + uriPart(c.sender) + ":id"
	}
	return map[string]any{"system": sys, "value": val}
}

// nameUse maps table 0200 (name type) to HumanName.use.
var nameUse = map[string]string{
	"L": "official", "A": "usual", "D": "usual", "M": "maiden", "N": "nickname",
	"S": "anonymous", "T": "temp", "BAD": "old", "NB": "old", "C": "official", "R": "official",
}

// HumanName maps an XPN (one repetition) to a HumanName; nil when it
// has no name part.
func (c *Context) HumanName(v hl7v2.Value) map[string]any {
	n := map[string]any{}
	setv(n, "family", compText(v, 1))
	var given []any
	given = appendNonEmpty(given, compText(v, 2))
	for s := range v.Component(3).EachSub {
		given = appendNonEmpty(given, Text(s))
	}
	setv(n, "given", given)
	if len(n) == 0 {
		return nil
	}
	setv(n, "prefix", appendNonEmpty(nil, compText(v, 5)))
	var suffix []any
	suffix = appendNonEmpty(suffix, compText(v, 4))
	suffix = appendNonEmpty(suffix, compText(v, 6))
	setv(n, "suffix", suffix)
	setv(n, "use", nameUse[compText(v, 7)])
	p := map[string]any{}
	setv(p, "start", c.DateTime(v.Component(10).Sub(1)))
	setv(p, "end", c.DateTime(v.Component(10).Sub(2)))
	if len(p) == 0 {
		setv(p, "start", c.DateTime(v.Component(12)))
		setv(p, "end", c.DateTime(v.Component(13)))
	}
	setv(n, "period", p)
	return n
}

// HumanNames maps every repetition of an XPN field.
func (c *Context) HumanNames(f hl7v2.Value) []any {
	var out []any
	for _, r := range repsOf(f) {
		out = appendNonEmpty(out, c.HumanName(r))
	}
	return out
}

// addressUse and addressType map table 0190 to Address.use and type.
var (
	addressUse  = map[string]string{"BA": "old", "BI": "billing", "C": "temp", "B": "work", "H": "home", "O": "work"}
	addressType = map[string]string{"M": "postal", "SH": "postal"}
)

// Address maps an XAD (one repetition) to an Address; nil when empty.
func (c *Context) Address(v hl7v2.Value) map[string]any {
	a := map[string]any{}
	var line []any
	line = appendNonEmpty(line, compText(v, 1))
	line = appendNonEmpty(line, compText(v, 2))
	setv(a, "line", line)
	setv(a, "city", compText(v, 3))
	setv(a, "state", compText(v, 4))
	setv(a, "postalCode", compText(v, 5))
	setv(a, "country", compText(v, 6))
	setv(a, "district", compText(v, 9))
	if len(a) == 0 {
		return nil
	}
	t := compText(v, 7)
	setv(a, "use", addressUse[t])
	setv(a, "type", addressType[t])
	return a
}

// Addresses maps every repetition of an XAD field.
func (c *Context) Addresses(f hl7v2.Value) []any {
	var out []any
	for _, r := range repsOf(f) {
		out = appendNonEmpty(out, c.Address(r))
	}
	return out
}

// telecomUse maps table 0201, and telecomSystem table 0202, to
// ContactPoint.use and system.
var (
	telecomUse    = map[string]string{"PRN": "home", "WPN": "work", "PRS": "mobile", "ORN": "home", "VHN": "home", "EMR": "home"}
	telecomSystem = map[string]string{"PH": "phone", "FX": "fax", "MD": "other", "CP": "phone", "SAT": "other",
		"BP": "pager", "Internet": "email", "X.400": "email", "TDD": "other", "TTY": "other"}
)

// ContactPoint maps an XTN (one repetition) to a ContactPoint, with use
// as the default use (PID-13 home, PID-14 work); nil when empty. The value
// is XTN-4 for e-mail, else the unformatted number (XTN-12), else the
// parts (XTN-5 country, XTN-6 area, XTN-7 local, XTN-8 extension), else
// XTN-1.
func (c *Context) ContactPoint(v hl7v2.Value, use string) map[string]any {
	equip := compText(v, 3)
	value := ""
	sys := telecomSystem[equip]
	if equip == "Internet" || equip == "X.400" || (compText(v, 4) != "" && compText(v, 1) == "" && compText(v, 7) == "") {
		value, sys = compText(v, 4), "email"
	}
	if value == "" {
		value = compText(v, 12)
	}
	if value == "" && compText(v, 7) != "" {
		var b strings.Builder
		if cc := compText(v, 5); cc != "" {
			b.WriteString("+" + cc + " ")
		}
		if area := compText(v, 6); area != "" {
			b.WriteString("(" + area + ") ")
		}
		b.WriteString(compText(v, 7))
		if ext := compText(v, 8); ext != "" {
			b.WriteString(" ext. " + ext)
		}
		value = b.String()
	}
	if value == "" {
		value = compText(v, 1)
	}
	if value == "" {
		return nil
	}
	if sys == "" {
		sys = "phone"
		if strings.Contains(value, "@") {
			sys = "email"
		}
	}
	cp := map[string]any{"system": sys, "value": value}
	if u := telecomUse[compText(v, 2)]; u != "" {
		use = u
	}
	if equip == "CP" && use != "work" {
		use = "mobile"
	}
	setv(cp, "use", use)
	return cp
}

// ContactPoints maps every repetition of an XTN field.
func (c *Context) ContactPoints(f hl7v2.Value, use string) []any {
	var out []any
	for _, r := range repsOf(f) {
		out = appendNonEmpty(out, c.ContactPoint(r, use))
	}
	return out
}

// CodeableConcept maps a CWE/CE/CNE (one repetition) to a
// CodeableConcept: the identifier (CWE-1..3) and the alternate
// (CWE-4..6) as codings, CWE-9 (else CWE-2) as text. table, when not "",
// is the HL7 table the field is bound to, used as the system when CWE-3
// is empty. It returns nil when there is neither code nor text.
func (c *Context) CodeableConcept(v hl7v2.Value, table string) map[string]any {
	cc := map[string]any{}
	var codings []any
	if code := compText(v, 1); code != "" {
		codings = append(codings, c.coding(code, compText(v, 2), compText(v, 3), compText(v, 7), table))
	}
	if code := compText(v, 4); code != "" {
		codings = append(codings, c.coding(code, compText(v, 5), compText(v, 6), compText(v, 8), ""))
	}
	setv(cc, "coding", codings)
	text := compText(v, 9)
	if text == "" && len(codings) == 0 {
		text = compText(v, 2)
	}
	setv(cc, "text", text)
	if len(cc) == 0 {
		return nil
	}
	return cc
}

func (c *Context) coding(code, display, system, version, table string) map[string]any {
	co := map[string]any{"code": code}
	sys := c.CodeSystem(system)
	if sys == "" && table != "" {
		sys = v2System(table)
	}
	setv(co, "system", sys)
	setv(co, "version", version)
	setv(co, "display", display)
	return co
}

// ClinicalCode is CodeableConcept for a clinical code (DG1-3, AL1-3,
// PR1-3, …). With Options.Codes set, a code without a coding system
// (CWE-3) is the sender's local code (system L); when Options.Codes maps
// the code, the mapped coding comes
// first and the sender's coding is kept after it; when it does not, the
// code is listed in Result.Unmapped with where (such as "DG1-3").
func (c *Context) ClinicalCode(ctx context.Context, v hl7v2.Value, where string) map[string]any {
	cc := c.CodeableConcept(v, "")
	if cc == nil || c.Opt.Codes == nil {
		return cc
	}
	codings, _ := cc["coding"].([]any)
	if len(codings) == 0 {
		return cc
	}
	first := codings[0].(map[string]any)
	sys, _ := first["system"].(string)
	if sys == "" {
		sys = localSystem(c.sender, "")
		first["system"] = sys
	}
	code, _ := first["code"].(string)
	disp, _ := first["display"].(string)
	m, ok := c.Opt.Codes.Map(ctx, c.sender, sys, code)
	if !ok || m.Code == "" {
		c.unmapped = append(c.unmapped, Unmapped{Sender: c.sender, System: sys, Code: code, Display: disp, Where: where})
		return cc
	}
	if m.System == sys && m.Code == code {
		if disp == "" {
			setv(first, "display", m.Display)
		}
		return cc // already standard
	}
	mc := map[string]any{"code": m.Code}
	setv(mc, "system", m.System)
	setv(mc, "version", m.Version)
	setv(mc, "display", m.Display)
	cc["coding"] = append([]any{mc}, codings...)
	return cc
}

// Date maps a DT/DTM/TS to a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD, at
// the value's precision); "" when empty or not a date.
func (c *Context) Date(v hl7v2.Value) string {
	t, ok := c.time(v)
	if !ok {
		return ""
	}
	switch t.Precision {
	case hl7v2.PrecisionYear:
		return t.Format("2006")
	case hl7v2.PrecisionMonth:
		return t.Format("2006-01")
	}
	return t.Format("2006-01-02")
}

// DateTime maps a DTM/TS to a FHIR dateTime at the value's precision (a
// time of day needs minutes and a zone in FHIR: hours get ":00", values
// without an offset are read in Options.Zone); "" when empty or invalid.
func (c *Context) DateTime(v hl7v2.Value) string {
	t, ok := c.time(v)
	if !ok {
		return ""
	}
	switch t.Precision {
	case hl7v2.PrecisionYear, hl7v2.PrecisionMonth, hl7v2.PrecisionDay:
		return c.Date(v)
	case hl7v2.PrecisionHour, hl7v2.PrecisionMinute:
		return t.Format("2006-01-02T15:04:00Z07:00")
	case hl7v2.PrecisionSecond:
		return t.Format("2006-01-02T15:04:05Z07:00")
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}

// Instant maps a DTM/TS to a FHIR instant (seconds and zone required):
// values less precise than seconds are taken at the start of their
// period; "" when empty or invalid.
func (c *Context) Instant(v hl7v2.Value) string {
	t, ok := c.time(v)
	if !ok {
		return ""
	}
	if t.Precision == hl7v2.PrecisionFraction {
		return t.Format("2006-01-02T15:04:05.000Z07:00")
	}
	return t.Format("2006-01-02T15:04:05Z07:00")
}

func (c *Context) time(v hl7v2.Value) (hl7v2.Time, bool) {
	if v.IsEmpty() || v.IsNull() {
		return hl7v2.Time{}, false
	}
	zone := c.Opt.Zone
	if zone == nil {
		zone = time.UTC
	}
	t, err := v.Time(zone)
	if err != nil || t.Year() < 1 || t.Year() > 9999 {
		return hl7v2.Time{}, false
	}
	return t, true
}

// Practitioner maps an XCN (one repetition) to a Reference: to a
// Practitioner entry (conditional update on XCN-1 with XCN-9 as the
// authority) when XCN-1 is valued, with the name as display; a
// display-only Reference when only a name is given; nil when empty.
func (c *Context) Practitioner(v hl7v2.Value) map[string]any {
	id := compText(v, 1)
	name := map[string]any{}
	setv(name, "family", compText(v, 2))
	setv(name, "given", appendNonEmpty(appendNonEmpty(nil, compText(v, 3)), compText(v, 4)))
	setv(name, "prefix", appendNonEmpty(nil, compText(v, 6)))
	setv(name, "suffix", appendNonEmpty(appendNonEmpty(nil, compText(v, 5)), compText(v, 7)))
	display := strings.TrimSpace(strings.Join([]string{compText(v, 6), compText(v, 3), compText(v, 4), compText(v, 2), compText(v, 5)}, " "))
	display = strings.Join(strings.Fields(display), " ")
	if id == "" {
		if display == "" {
			return nil
		}
		return map[string]any{"display": display}
	}
	sys := AuthoritySystem(readHD(v.Component(9)))
	if sys == "" {
		t := compText(v, 13)
		if t == "" {
			t = "practitioner"
		}
		sys = senderBase + uriPart(c.sender) + ":" + uriPart(t)
	}
	e, fresh := c.Upsert("Practitioner", map[string]any{"system": sys, "value": id})
	if fresh {
		setv(e.Resource, "name", appendNonEmpty(nil, name))
	}
	ref := e.Ref()
	setv(ref, "display", display)
	return ref
}

// Location maps a PL (one repetition) to a Reference to a Location entry,
// nil when empty. The Location is upserted by an identifier whose system
// is the facility's (PL-4, through AuthoritySystem), else
// urn:concord:v2:sender:<sender>:location, and whose value is the point
// of care, room, bed, building and floor (PL-1, 2, 3, 7, 8) joined with
// "^"; its name is LocationDisplay, its physical type bed, room or ward
// by the most precise part given.
func (c *Context) Location(v hl7v2.Value) map[string]any {
	display := LocationDisplay(v)
	if display == "" {
		return nil
	}
	sys := AuthoritySystem(readHD(v.Component(4)))
	if sys == "" {
		sys = senderBase + uriPart(c.sender) + ":location"
	}
	parts := []string{compText(v, 1), compText(v, 2), compText(v, 3), compText(v, 7), compText(v, 8)}
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	value := strings.Join(parts, "^")
	if value == "" {
		value = display // only a description (PL-9) or a facility
	}
	e, fresh := c.Upsert("Location", map[string]any{"system": sys, "value": value})
	if fresh {
		r := e.Resource
		r["name"] = display
		r["mode"] = "instance"
		kind := ""
		switch {
		case compText(v, 3) != "":
			kind = "bd"
		case compText(v, 2) != "":
			kind = "ro"
		case compText(v, 1) != "":
			kind = "wa"
		}
		if kind != "" {
			r["physicalType"] = map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": kind}}}
		}
	}
	ref := e.Ref()
	ref["display"] = display
	return ref
}

// LocationDisplay writes a PL (point of care, room, bed, facility, …,
// building, floor, description) as text: PL-9 when given, else the
// facility, building, floor, point of care, room and bed that are valued,
// joined with spaces.
func LocationDisplay(v hl7v2.Value) string {
	if d := compText(v, 9); d != "" {
		return d
	}
	var parts []string
	for _, n := range []int{4, 7, 8, 1, 2, 3} {
		if s := compText(v, n); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// requiredCode reads a segment's clinical code (field codeField, through
// the code maps) with the text of field textField, and fails, naming the
// field, when the segment gives neither: what says which code it is
// ("diagnosis").
func (c *Context) requiredCode(ctx context.Context, seg hl7v2.Segment, codeField, textField int, what string) (map[string]any, error) {
	code := c.ClinicalCode(ctx, seg.Field(codeField), c.Loc(seg, codeField))
	if t := Text(seg.Field(textField)); t != "" {
		if code == nil {
			code = map[string]any{}
		}
		code["text"] = t
	}
	if code == nil {
		return nil, concord.Errorf(concord.EINVALID, "%s: no %s code", c.Loc(seg, codeField), what)
	}
	return code, nil
}
