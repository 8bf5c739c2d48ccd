package convert

import (
	"fmt"
	"strings"

	"github.com/concord-health/concord"
)

// OutboundResult is a released DiagnosticReport to send to the systems
// that subscribe to results, with the resources its ORU^R01 describes,
// each as FHIR R4 JSON. Only DiagnosticReport is required.
type OutboundResult struct {
	DiagnosticReport []byte
	// Observations are the report's results, in the order of
	// DiagnosticReport.result: one OBX each (and one per component).
	Observations [][]byte
	// Patient and Encounter give PID and PV1.
	Patient, Encounter []byte
	// ServiceRequest is the order the report is based on: its placer and
	// filler numbers go in ORC-2/OBR-2 and ORC-3/OBR-3, its code in OBR-4
	// when the report has none.
	ServiceRequest []byte
	// Requester is the Practitioner who ordered (ORC-12, OBR-16).
	Requester []byte
	// Specimens give the SPM segments (v2.5 on).
	Specimens [][]byte
}

// outReportStatus maps DiagnosticReport.status to OBR-25 (HL7 table
// 0123), the reverse of the v2-to-FHIR IG's ResultStatus map; partial is
// A (some, but not all, results available).
var outReportStatus = map[string]string{
	"final": "F", "corrected": "C", "amended": "C", "appended": "C", "preliminary": "P", "partial": "A", "cancelled": "X",
}

// ResultMessage writes an ORU^R01 for a DiagnosticReport and its
// Observations: PID and PV1, ORC (RE) and OBR with the order's placer and
// filler numbers, the report code (OBR-4), its effective time (OBR-7,
// OBR-8), issue time (OBR-22), section (OBR-24, from a category of table
// 0074) and status (OBR-25), the conclusion as NTE, then one OBX per
// Observation (see outObservation) with its notes as NTE, and SPM for
// each Specimen.
//
// A registered report (nothing released yet) returns an error wrapping
// ErrNoOutboundMessage; an entered-in-error or unknown report is an
// EUNSUPPORTED error, since a retraction needs a person to tell the
// receiver.
func ResultMessage(in OutboundResult, opt OutboundOptions) ([]byte, error) {
	c, err := outNewConv(opt)
	if err != nil {
		return nil, err
	}
	var dr outDiagnosticReport
	ok, err := outDecode(in.DiagnosticReport, "DiagnosticReport", &dr)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, concord.Errorf(concord.EINVALID, "convert: a result message needs a DiagnosticReport")
	}
	status, ok := outReportStatus[dr.Status]
	switch {
	case dr.Status == "registered":
		return nil, outNothing("DiagnosticReport is registered: no results to send yet")
	case !ok:
		return nil, concord.Errorf(concord.EUNSUPPORTED, "convert: DiagnosticReport status %q has no HL7 v2 result status (OBR-25)", dr.Status)
	}
	var sr outServiceRequest
	hasSR, err := outDecode(in.ServiceRequest, "ServiceRequest", &sr)
	if err != nil {
		return nil, err
	}
	p, err := outDecodeParties(in.Patient, in.Encounter, in.Requester, in.Specimens)
	if err != nil {
		return nil, err
	}
	pat, hasPat, enc, hasEnc, req, hasReq, specimens := p.pat, p.hasPat, p.enc, p.hasEnc, p.req, p.hasReq, p.specimens
	var obs []*outObservation
	for _, data := range in.Observations {
		o := new(outObservation)
		ok, err := outDecode(data, "Observation", o)
		if err != nil {
			return nil, err
		}
		if ok {
			obs = append(obs, o)
		}
	}

	// Placer and filler: the order's, then the report's own identifiers.
	var placer, filler string
	if hasSR {
		if id := outPlacerNumber(&sr); id.Value != "" {
			placer = c.ei(id)
		}
		if id, ok := outTyped(sr.Identifier, "FILL"); ok {
			filler = c.ei(id)
		}
	}
	if placer == "" {
		if id, ok := outTyped(dr.Identifier, "PLAC"); ok {
			placer = c.ei(id)
		}
	}
	if filler == "" {
		if id, ok := outPick(dr.Identifier, "FILL"); ok && !outHasType(id, "PLAC") {
			filler = c.ei(id)
		} else if dr.ID != "" {
			filler = c.ei(outIdentifier{System: OutboundIDSystem, Value: dr.ID})
		}
	}
	code := dr.Code
	if (code == nil || len(code.Coding) == 0 && code.Text == "") && hasSR {
		code = sr.Code
	}
	if code == nil || len(code.Coding) == 0 && code.Text == "" {
		return nil, concord.Errorf(concord.EINVALID, "convert: DiagnosticReport.code (or the order's code) is needed for OBR-4")
	}
	var provider string
	switch {
	case hasReq:
		provider = c.xcn(&req, sr.Requester)
	case hasSR:
		provider = c.xcn(nil, sr.Requester)
	}

	var segs []*outSeg
	if hasPat {
		segs = append(segs, c.pid(&pat))
		if hasEnc {
			segs = append(segs, c.pv1(&enc, ""))
		}
	}
	orc := outNewSeg("ORC")
	orc.set(1, "RE")
	orc.set(2, placer)
	orc.set(3, filler)
	orc.set(12, provider)
	segs = append(segs, orc)

	obr := outNewSeg("OBR")
	obr.set(1, "1")
	obr.set(2, placer)
	obr.set(3, filler)
	obr.set(4, c.cwe(code, "http://loinc.org"))
	switch {
	case dr.EffectiveDateTime != "":
		obr.set(7, c.dtm("DiagnosticReport.effectiveDateTime", dr.EffectiveDateTime))
	case dr.EffectivePeriod != nil:
		obr.set(7, c.dtm("DiagnosticReport.effectivePeriod.start", dr.EffectivePeriod.Start))
		obr.set(8, c.dtm("DiagnosticReport.effectivePeriod.end", dr.EffectivePeriod.End))
	}
	obr.set(16, provider)
	obr.set(22, c.dtm("DiagnosticReport.issued", dr.Issued))
	for _, cat := range dr.Category {
		for _, cd := range cat.Coding {
			if cd.System == "http://terminology.hl7.org/CodeSystem/v2-0074" && cd.Code != "" {
				obr.text(24, cd.Code)
			}
		}
	}
	obr.set(25, status)
	segs = append(segs, obr)
	segs = append(segs, c.nte([]outAnnotation{{Text: dr.Conclusion}})...)

	n := 0
	for i, o := range obs {
		where := fmt.Sprintf("Observation[%d]", i)
		st := c.obxStatus(o.Status, dr.Status)
		if o.ValueQuantity != nil || o.ValueCodeableConcept != nil || o.ValueString != nil || o.ValueBoolean != nil ||
			o.ValueInteger != nil || o.ValueRange != nil || o.ValueRatio != nil || o.ValueTime != nil ||
			o.ValueDateTime != nil || o.ValuePeriod != nil || len(o.Component) == 0 {
			n++
			segs = append(segs, c.obx(n, where, "", o, &o.outObservationComponent, st))
		}
		for k := range o.Component {
			n++
			segs = append(segs, c.obx(n, fmt.Sprintf("%s.component[%d]", where, k), fmt.Sprintf("%d.%d", i+1, k+1),
				o, &o.Component[k], st))
		}
		segs = append(segs, c.nte(o.Note)...)
	}
	if !c.legacy {
		for i, sp := range specimens {
			segs = append(segs, c.spm(i+1, sp))
		}
	}
	return c.message("ORU^R01^ORU_R01", segs)
}

// obxStatus maps Observation.status to OBX-11 (HL7 table 0085), the
// reverse of the IG's map; amended is A from v2.6 (C before), and an
// Observation without a status takes the report's.
func (c *outConv) obxStatus(status, report string) string {
	switch status {
	case "final":
		return "F"
	case "corrected":
		return "C"
	case "amended":
		if c.versionAtLeast("2.6") {
			return "A"
		}
		return "C"
	case "preliminary":
		return "P"
	case "registered":
		return "I"
	case "cancelled":
		return "X"
	case "entered-in-error":
		return "W"
	}
	switch report {
	case "preliminary", "partial":
		return "P"
	case "corrected", "amended", "appended":
		return "C"
	case "cancelled":
		return "X"
	}
	return "F"
}

// obx writes one result: OBX-2 and OBX-5 from value[x] (see outValue),
// OBX-3 the code (LOINC first), OBX-4 the sub-ID (components only),
// OBX-6 the units, OBX-7 the reference range, OBX-8 the interpretation
// codes, OBX-11 the status and OBX-14 the observation time.
func (c *outConv) obx(n int, where, sub string, o *outObservation, v *outObservationComponent, status string) *outSeg {
	s := outNewSeg("OBX")
	s.set(1, fmt.Sprint(n))
	typ, value, units := c.outValue(where, v)
	s.set(2, typ)
	if v.Code == nil || len(v.Code.Coding) == 0 && v.Code.Text == "" {
		c.fail(concord.Errorf(concord.EINVALID, "convert: %s.code is needed for OBX-3", where))
	}
	s.set(3, c.cwe(v.Code, "http://loinc.org"))
	s.text(4, sub)
	s.set(5, value)
	s.set(6, units)
	if len(v.ReferenceRange) > 0 {
		s.set(7, c.referenceRange(where, v.ReferenceRange[0]))
	}
	var flags []string
	for i := range v.Interpretation {
		flags = append(flags, outEsc(outV2Code(&v.Interpretation[i], "0078")))
	}
	s.set(8, outReps(flags))
	s.set(11, status)
	switch {
	case o.EffectiveDateTime != "":
		s.set(14, c.dtm(where+".effectiveDateTime", o.EffectiveDateTime))
	case o.EffectiveInstant != "":
		s.set(14, c.dtm(where+".effectiveInstant", o.EffectiveInstant))
	case o.EffectivePeriod != nil:
		s.set(14, c.dtm(where+".effectivePeriod.start", o.EffectivePeriod.Start))
	}
	return s
}

// outValue returns OBX-2, OBX-5 and OBX-6 for a value[x]:
//
//	Quantity        NM with the unit (SN when it has a comparator)
//	integer         NM
//	CodeableConcept CWE (CE before v2.5)
//	boolean         CWE Y or N of table 0136
//	string          ST, or FT when it holds line breaks, or TX when longer than ST's 199
//	Range           SN low-high (>= low or <= high when one is missing)
//	Ratio           SN numerator:denominator
//	dateTime        DTM (TS before v2.5)
//	time            TM
//	Period          DR
//
// No value gives all three empty.
func (c *outConv) outValue(where string, v *outObservationComponent) (typ, value, units string) {
	cwe := "CWE"
	if c.legacy {
		cwe = "CE"
	}
	switch {
	case v.ValueQuantity != nil:
		q := v.ValueQuantity
		num := c.nm(where+".valueQuantity.value", q.Value)
		units = outComps(c.unitParts(q)...)
		switch q.Comparator {
		case "<", "<=", ">", ">=":
			return "SN", outComps(outEsc(q.Comparator), num), units
		}
		if num == "" {
			return "", "", units
		}
		return "NM", num, units
	case v.ValueInteger != nil:
		return "NM", c.nm(where+".valueInteger", *v.ValueInteger), ""
	case v.ValueCodeableConcept != nil:
		return cwe, c.cwe(v.ValueCodeableConcept, "http://snomed.info/sct"), ""
	case v.ValueBoolean != nil:
		if *v.ValueBoolean {
			return cwe, "Y^Yes^HL70136", ""
		}
		return cwe, "N^No^HL70136", ""
	case v.ValueString != nil:
		s := *v.ValueString
		switch {
		case strings.ContainsAny(s, "\r\n"):
			return "FT", outEsc(s), ""
		case len(s) > 199:
			return "TX", outEsc(s), ""
		}
		return "ST", outEsc(s), ""
	case v.ValueRange != nil:
		r := v.ValueRange
		var low, high string
		if r.Low != nil {
			low = c.nm(where+".valueRange.low", r.Low.Value)
			units = outComps(c.unitParts(r.Low)...)
		}
		if r.High != nil {
			high = c.nm(where+".valueRange.high", r.High.Value)
			if units == "" {
				units = outComps(c.unitParts(r.High)...)
			}
		}
		switch {
		case low != "" && high != "":
			return "SN", outComps("", low, "-", high), units
		case low != "":
			return "SN", outComps(">=", low), units
		case high != "":
			return "SN", outComps("<=", high), units
		}
		return "", "", ""
	case v.ValueRatio != nil:
		r := v.ValueRatio
		var num, den string
		if r.Numerator != nil {
			num = c.nm(where+".valueRatio.numerator", r.Numerator.Value)
		}
		if r.Denominator != nil {
			den = c.nm(where+".valueRatio.denominator", r.Denominator.Value)
		}
		if num == "" || den == "" {
			return "", "", ""
		}
		return "SN", outComps("", num, ":", den), ""
	case v.ValueDateTime != nil:
		typ := "DTM"
		if c.legacy {
			typ = "TS"
		}
		return typ, c.dtm(where+".valueDateTime", *v.ValueDateTime), ""
	case v.ValueTime != nil:
		t, ok := outTM(*v.ValueTime)
		if !ok {
			c.fail(concord.Errorf(concord.EINVALID, "convert: %s.valueTime %q is not a FHIR time", where, *v.ValueTime))
		}
		return "TM", t, ""
	case v.ValuePeriod != nil:
		return "DR", outComps(c.dtm(where+".valuePeriod.start", v.ValuePeriod.Start),
			c.dtm(where+".valuePeriod.end", v.ValuePeriod.End)), ""
	}
	return "", "", ""
}

// outTM converts a FHIR time (hh:mm:ss with optional fraction) to an
// HL7 TM.
func outTM(s string) (string, bool) {
	out, ok := outDTM("2000-01-01T" + s)
	if !ok || len(out) < 14 || strings.ContainsAny(out, "+-") {
		return "", false
	}
	return out[8:], true
}

// referenceRange writes OBX-7: "low-high", ">low" or "<high" from the
// range's quantities, else its text.
func (c *outConv) referenceRange(where string, r outReferenceRange) string {
	var low, high string
	if r.Low != nil {
		low = c.nm(where+".referenceRange.low", r.Low.Value)
	}
	if r.High != nil {
		high = c.nm(where+".referenceRange.high", r.High.Value)
	}
	switch {
	case low != "" && high != "":
		return outEsc(low + "-" + high)
	case low != "":
		return outEsc(">" + low)
	case high != "":
		return outEsc("<" + high)
	}
	return outEsc(r.Text)
}
