package convert

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// The HL7 v2 data types the outbound messages are written in, built from
// FHIR elements. Every text goes through outEsc, so a delimiter in a name
// or a note reads back as the same character.

// outEsc escapes text for one leaf value with the standard delimiters.
// Control characters other than line breaks (which hl7v2.Escape writes as
// \.br\ and \X0D\) are written as \Xhh\ so that no byte of the text can
// be mistaken for message structure.
func outEsc(text string) string {
	d := &hl7v2.DefaultDelimiters
	var b []byte
	start := 0
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= 0x20 && c != 0x7f || c == '\n' || c == '\r' {
			continue
		}
		b = hl7v2.Escape(b, text[start:i], d)
		b = append(b, d.Escape, 'X', "0123456789ABCDEF"[c>>4], "0123456789ABCDEF"[c&15], d.Escape)
		start = i + 1
	}
	if b == nil {
		return string(hl7v2.Escape(nil, text, d))
	}
	return string(hl7v2.Escape(b, text[start:], d))
}

// outJoin joins encoded parts with sep, leaving out trailing empty ones.
func outJoin(sep string, parts []string) string {
	n := len(parts)
	for n > 0 && parts[n-1] == "" {
		n--
	}
	return strings.Join(parts[:n], sep)
}

// outComps joins encoded components.
func outComps(parts ...string) string { return outJoin("^", parts) }

// outSubs joins encoded subcomponents.
func outSubs(parts ...string) string { return outJoin("&", parts) }

// outReps joins encoded repetitions, leaving out empty ones.
func outReps(reps []string) string {
	kept := reps[:0:0]
	for _, r := range reps {
		if r != "" {
			kept = append(kept, r)
		}
	}
	return strings.Join(kept, "~")
}

// outSeg is one segment being built: its name and its encoded fields.
type outSeg struct {
	name   string
	fields []string
}

func outNewSeg(name string) *outSeg { return &outSeg{name: name} }

// set stores the encoded value of field n (1-based).
func (s *outSeg) set(n int, raw string) {
	for len(s.fields) < n {
		s.fields = append(s.fields, "")
	}
	s.fields[n-1] = raw
}

// field returns the encoded value of field n, "" when unset.
func (s *outSeg) field(n int) string {
	if n < 1 || n > len(s.fields) {
		return ""
	}
	return s.fields[n-1]
}

// text stores escaped text in field n.
func (s *outSeg) text(n int, text string) { s.set(n, outEsc(text)) }

// encode writes the segment without its trailing empty fields.
func (s *outSeg) encode() string {
	return s.name + "|" + outJoin("|", s.fields)
}

// Identifier and code system conversions.

// outV2Code returns the code of the first coding of cc in the HL7 v2
// table (http://terminology.hl7.org/CodeSystem/v2-<table>), or of any
// coding when none is from that table.
func outV2Code(cc *outCodeableConcept, table string) string {
	if cc == nil {
		return ""
	}
	sys := "http://terminology.hl7.org/CodeSystem/v2-" + table
	for _, c := range cc.Coding {
		if c.System == sys && c.Code != "" {
			return c.Code
		}
	}
	for _, c := range cc.Coding {
		if c.Code != "" {
			return c.Code
		}
	}
	return ""
}

// outHasType reports whether an identifier's type is code in table 0203.
func outHasType(id outIdentifier, code string) bool {
	if id.Type == nil {
		return false
	}
	for _, c := range id.Type.Coding {
		if c.Code == code && (c.System == "" || c.System == "http://terminology.hl7.org/CodeSystem/v2-0203") {
			return true
		}
	}
	return false
}

// outHD returns the subcomponents of an HD (namespace, universal ID and
// its type) for an identifier or code system URI: the namespace the
// options give for it, an OID from urn:oid:, or the URI itself.
func (c *outConv) outHD(system string) []string {
	if system == "" {
		return nil
	}
	ns, listed := c.opt.Authorities[system]
	if !listed && system == OutboundIDSystem {
		ns = c.opt.Namespace
	}
	switch {
	case strings.HasPrefix(system, "urn:oid:"):
		return []string{outEsc(ns), outEsc(strings.TrimPrefix(system, "urn:oid:")), "ISO"}
	case ns != "":
		return []string{outEsc(ns)}
	default:
		return []string{"", outEsc(system), "URI"}
	}
}

// cx writes an identifier as a CX: ID, assigning authority (HD as
// subcomponents), identifier type (table 0203) and validity dates.
func (c *outConv) cx(id outIdentifier, where string) string {
	if id.Value == "" {
		return ""
	}
	var from, to string
	if id.Period != nil {
		from = c.dt(where+".period.start", id.Period.Start)
		to = c.dt(where+".period.end", id.Period.End)
	}
	return outComps(outEsc(id.Value), "", "", outSubs(c.outHD(id.System)...), outEsc(outV2Code(id.Type, "0203")), "", from, to)
}

// ei writes an identifier as an EI: entity ID, namespace, universal ID
// and its type.
func (c *outConv) ei(id outIdentifier) string { return outComps(c.eiParts(id)...) }

// eiParts returns the encoded components of an EI, for use as
// components or as subcomponents (SPM-2's EIP).
func (c *outConv) eiParts(id outIdentifier) []string {
	if id.Value == "" {
		return nil
	}
	return append([]string{outEsc(id.Value)}, c.outHD(id.System)...)
}

// outSystemNames maps code system URIs to their names in HL7 table 0396.
var outSystemNames = map[string]string{
	"http://loinc.org":                                                   "LN",
	"http://snomed.info/sct":                                             "SCT",
	"http://unitsofmeasure.org":                                          "UCUM",
	"http://www.nlm.nih.gov/research/umls/rxnorm":                        "RXNORM",
	"http://hl7.org/fhir/sid/icd-10":                                     "I10",
	"http://hl7.org/fhir/sid/icd-10-cm":                                  "I10C",
	"http://www.cms.gov/Medicare/Coding/ICD10":                           "I10P",
	"http://hl7.org/fhir/sid/icd-9-cm":                                   "I9C",
	"http://www.ama-assn.org/go/cpt":                                     "C4",
	"http://hl7.org/fhir/sid/cvx":                                        "CVX",
	"http://hl7.org/fhir/sid/ndc":                                        "NDC",
	"http://dicom.nema.org/resources/ontology/DCM":                       "DCM",
	"http://www.radlex.org":                                              "RADLEX",
	"http://www.whocc.no/atc":                                            "ATC",
	"urn:iso:std:iso:3166":                                               "ISO3166_1",
	"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation": "HL70078",
	"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus":             "HL70002",
}

// systemName returns the HL7 table 0396 name of a code system URI: the
// options' name for it, a well-known name, HL7nnnn for the FHIR code
// systems of the v2 tables, or L (a local code) for any other.
func (c *outConv) systemName(uri string) string {
	if n, ok := c.opt.CodingSystems[uri]; ok {
		return n
	}
	if n, ok := outSystemNames[uri]; ok {
		return n
	}
	if t, ok := strings.CutPrefix(uri, "http://terminology.hl7.org/CodeSystem/v2-"); ok && len(t) == 4 {
		return "HL7" + t
	}
	if uri == "" {
		return ""
	}
	return "L"
}

// cwe writes a CodeableConcept as a CWE (a CE before v2.5): the coding
// whose system is prefer (or the first with a code) as the identifier,
// the next coding as the alternate, and the concept's text as the
// original text (CWE-9, v2.5 on). A concept with only a text gives a
// CWE with only a text.
func (c *outConv) cwe(cc *outCodeableConcept, prefer string) string {
	if cc == nil {
		return ""
	}
	var codings []outCoding
	for _, cd := range cc.Coding {
		if cd.Code != "" {
			codings = append(codings, cd)
		}
	}
	for i, cd := range codings {
		if prefer != "" && cd.System == prefer && i > 0 {
			codings[0], codings[i] = codings[i], codings[0]
			break
		}
	}
	parts := make([]string, 9)
	for i, cd := range codings[:min(len(codings), 2)] {
		text := cd.Display
		if text == "" && i == 0 {
			text = cc.Text
		}
		parts[3*i] = outEsc(cd.Code)
		parts[3*i+1] = outEsc(text)
		parts[3*i+2] = outEsc(c.systemName(cd.System))
		parts[6+i] = outEsc(cd.Version)
	}
	if len(codings) == 0 {
		parts[1] = outEsc(cc.Text)
	} else if cc.Text != "" && !c.legacy {
		parts[8] = outEsc(cc.Text)
	}
	if c.legacy {
		parts = parts[:6]
	}
	return outComps(parts...)
}

// cweCode writes one coding as a CWE.
func (c *outConv) cweCode(cd *outCoding) string {
	if cd == nil {
		return ""
	}
	return c.cwe(&outCodeableConcept{Coding: []outCoding{*cd}}, "")
}

// xpn writes a HumanName as an XPN: family, given, further given names,
// suffix, prefix and the name type (table 0200) from its use. A name with
// only a text puts the text in the family name.
func (c *outConv) xpn(n outHumanName) string {
	family := n.Family
	if family == "" && len(n.Given) == 0 {
		family = n.Text
	}
	var given, middle string
	if len(n.Given) > 0 {
		given = n.Given[0]
		middle = strings.Join(n.Given[1:], " ")
	}
	typ := map[string]string{"official": "L", "usual": "D", "nickname": "N", "maiden": "M", "anonymous": "S", "old": "BAD"}[n.Use]
	return outComps(outEsc(family), outEsc(given), outEsc(middle), outEsc(strings.Join(n.Suffix, " ")),
		outEsc(strings.Join(n.Prefix, " ")), "", typ)
}

// xad writes an Address as an XAD: street, other designation, city,
// state, postal code, country, address type (table 0190) and county.
func (c *outConv) xad(a outAddress) string {
	var street, other string
	if len(a.Line) > 0 {
		street = a.Line[0]
		other = strings.Join(a.Line[1:], ", ")
	}
	if street == "" && a.City == "" && a.PostalCode == "" {
		street = a.Text
	}
	typ := map[string]string{"home": "H", "work": "B", "temp": "C", "old": "BA", "billing": "BI"}[a.Use]
	if typ == "" && a.Type == "postal" {
		typ = "M"
	}
	return outComps(outEsc(street), outEsc(other), outEsc(a.City), outEsc(a.State), outEsc(a.PostalCode),
		outEsc(a.Country), typ, "", outEsc(a.District))
}

// xtn writes a ContactPoint as an XTN: the number (XTN-1), use (table
// 0201), equipment (table 0202), and for e-mail the address in XTN-4.
func (c *outConv) xtn(cp outContactPoint) string {
	if cp.Value == "" {
		return ""
	}
	use := map[string]string{"home": "PRN", "work": "WPN", "mobile": "PRN", "temp": "ORN"}[cp.Use]
	switch cp.System {
	case "email":
		return outComps("", "NET", "Internet", outEsc(cp.Value))
	case "fax":
		return outComps(outEsc(cp.Value), use, "FX")
	case "pager":
		return outComps(outEsc(cp.Value), "BPN", "BP")
	case "url":
		return outComps("", "NET", "Internet", outEsc(cp.Value))
	}
	equip := "PH"
	if cp.Use == "mobile" {
		equip = "CP"
	}
	return outComps(outEsc(cp.Value), use, equip)
}

// xcn writes a practitioner as an XCN: the first identifier with its
// assigning authority and type, and the first name. Without a
// Practitioner resource, the reference's display stands as the family
// name.
func (c *outConv) xcn(p *outPractitioner, ref *outReference) string {
	if p == nil {
		if ref == nil || ref.Display == "" {
			return ""
		}
		return outComps("", outEsc(ref.Display))
	}
	var id outIdentifier
	if len(p.Identifier) > 0 {
		id = p.Identifier[0]
	}
	var n outHumanName
	if len(p.Name) > 0 {
		n = p.Name[0]
	}
	family := n.Family
	if family == "" && len(n.Given) == 0 {
		family = n.Text
	}
	var given, middle string
	if len(n.Given) > 0 {
		given = n.Given[0]
		middle = strings.Join(n.Given[1:], " ")
	}
	var hd []string
	if id.Value != "" {
		hd = c.outHD(id.System)
	}
	return outComps(outEsc(id.Value), outEsc(family), outEsc(given), outEsc(middle), outEsc(strings.Join(n.Suffix, " ")),
		outEsc(strings.Join(n.Prefix, " ")), "", "", outSubs(hd...), "", "", "", outEsc(outV2Code(id.Type, "0203")))
}

// Dates, times and numbers.

// dtm converts a FHIR date, dateTime or instant to an HL7 DTM at the
// precision it was given, keeping its UTC offset (Z becomes +0000) and at
// most four digits of fractional seconds. An invalid value sets the
// conversion's error, naming where it was.
func (c *outConv) dtm(where, s string) string {
	if s == "" {
		return ""
	}
	out, ok := outDTM(s)
	if !ok {
		c.fail(concord.Errorf(concord.EINVALID, "convert: %s %q is not a FHIR date or dateTime", where, s))
		return ""
	}
	return out
}

// dt converts a FHIR date or dateTime to an HL7 DT (the date only).
func (c *outConv) dt(where, s string) string {
	out := c.dtm(where, s)
	return out[:min(len(out), 8)]
}

// outDTM does dtm's conversion and reports whether s was valid.
func outDTM(s string) (string, bool) {
	var b strings.Builder
	date, rest, hasTime := strings.Cut(s, "T")
	parts := strings.Split(date, "-")
	if len(parts) > 3 || len(parts[0]) != 4 || hasTime && len(parts) != 3 {
		return "", false
	}
	for i, p := range parts {
		if i > 0 && len(p) != 2 || !outDigits(p) {
			return "", false
		}
		b.WriteString(p)
	}
	if hasTime {
		zone := ""
		switch {
		case strings.HasSuffix(rest, "Z"):
			rest, zone = rest[:len(rest)-1], "+0000"
		case strings.LastIndexAny(rest, "+-") > 0:
			i := strings.LastIndexAny(rest, "+-")
			z := rest[i+1:]
			if len(z) != 5 || z[2] != ':' || !outDigits(z[:2]) || !outDigits(z[3:]) {
				return "", false
			}
			rest, zone = rest[:i], rest[i:i+1]+z[:2]+z[3:]
		}
		clock, frac, hasFrac := strings.Cut(rest, ".")
		hms := strings.Split(clock, ":")
		if len(hms) < 2 || len(hms) > 3 || hasFrac && (len(hms) != 3 || frac == "" || !outDigits(frac)) {
			return "", false
		}
		for _, p := range hms {
			if len(p) != 2 || !outDigits(p) {
				return "", false
			}
			b.WriteString(p)
		}
		if hasFrac {
			b.WriteString("." + frac[:min(len(frac), 4)])
		}
		b.WriteString(zone)
	}
	out := b.String()
	if _, err := hl7v2.ParseTime(out, nil); err != nil {
		return "", false
	}
	return out, true
}

func outDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// nm writes a FHIR decimal as an HL7 NM: as given, or in plain notation
// when JSON wrote it with an exponent (NM has none).
func (c *outConv) nm(where string, n json.Number) string {
	s := string(n)
	if s == "" {
		return ""
	}
	if _, err := hl7v2.ParseNumber(s); err == nil {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		c.fail(concord.Errorf(concord.EINVALID, "convert: %s %q is not a number", where, s))
		return ""
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
