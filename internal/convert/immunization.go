package convert

import (
	"context"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// VXU^V04 (unsolicited vaccination record update): each ORDER group
// (ORC, TQ1, RXA, RXR, OBX, NTE) is one Immunization. The OBX after an
// RXA describe the vaccination (CDC's immunization messaging guide):
// funding, eligibility and the vaccine information statements fill
// Immunization fields; any other becomes an Observation partOf the
// Immunization (a reaction, 31044-1, is also listed in reaction).
func init() {
	RegisterMessage("VXU^V04", vaccinationMessage)
}

var vaccinationOverrides = ownOverrides(map[string]SegmentFunc{"ORC": ownORC, "OBX": vaccinationOBX, "NTE": noteSegment})

func vaccinationMessage(ctx context.Context, c *Context) error {
	if err := c.WalkSegments(ctx, vaccinationOverrides); err != nil {
		return err
	}
	if c.Patient == nil {
		return concord.Errorf(concord.EINVALID, "PID: the message has no PID segment")
	}
	finishEducation(c)
	return nil
}

// immunizationStatus maps RXA-20 (completion status) and RXA-21 (action
// code D) to Immunization.status (CompletionStatus map).
func immunizationStatus(seg hl7v2.Segment) string {
	if compText(seg.Field(21), 1) == "D" {
		return "entered-in-error"
	}
	switch compText(seg.Field(20), 1) {
	case "RE", "NA":
		return "not-done"
	}
	return "completed"
}

// immunizationRXA maps RXA in VXU to an Immunization
// (RXA[Immunization], ORC[Immunization]), identified by the filler
// order number (ORC-3, the sending system's immunization ID), else the
// placer's (ORC-2), else derived from the patient, the vaccine and the
// date: occurrence (RXA-3), vaccine (5, CVX), dose (6, 7; 999 is
// unknown), information source (9: 00 new record → primary source),
// administering provider (10, function AP) and ordering provider
// (ORC-12, OP), location (27, else 11), lot (15), expiry (16),
// manufacturer (17, MVX), refusal reason (18), indication (19), status
// (20, 21; PA partially administered is subpotent), recorded (22, else
// ORC-9).
func immunizationRXA(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	code := c.ClinicalCode(ctx, seg.Field(5), c.Loc(seg, 5))
	if code == nil {
		return concord.Errorf(concord.EINVALID, "%s: no administered code", c.Loc(seg, 5))
	}
	when := c.DateTime(seg.Field(3))
	if when == "" {
		return concord.Errorf(concord.EINVALID, "%s: no administration date", c.Loc(seg, 3))
	}
	o := c.currentRxOrder()
	var e *Entry
	switch {
	case o != nil && o.filler != nil:
		e, _ = c.Upsert("Immunization", o.filler)
		addIdentifiers(e, o.placer)
	case o != nil && o.placer != nil:
		e, _ = c.Upsert("Immunization", o.placer)
	default:
		e, _ = c.UpsertDerived("Immunization", c.codeKey(seg.Field(5), ""), c.Date(seg.Field(3)))
	}
	r := e.Resource
	r["status"] = immunizationStatus(seg)
	r["vaccineCode"] = code
	r["patient"] = c.Patient.Ref()
	if c.Encounter != nil {
		r["encounter"] = c.Encounter.Ref()
	}
	r["occurrenceDateTime"] = when
	recorded := c.DateTime(seg.Field(22))
	if recorded == "" && o != nil {
		recorded = o.when
	}
	setv(r, "recorded", recorded)
	if amt := Text(seg.Field(6)); amt != "999" {
		setv(r, "doseQuantity", nmQuantity(amt, seg.Field(7).Rep(1)))
	}
	switch src := compText(seg.Field(9), 1); src {
	case "":
	case "00":
		r["primarySource"] = true
	default:
		r["primarySource"] = false
		setv(r, "reportOrigin", c.CodeableConcept(seg.Field(9).Rep(1), ""))
	}
	var perf []any
	if o != nil && o.orderer != nil {
		perf = append(perf, map[string]any{"function": oneCoding(v2System("0443"), "OP", "Ordering Provider"), "actor": o.orderer})
	}
	if who := c.Practitioner(seg.Field(10).Rep(1)); who != nil {
		perf = append(perf, map[string]any{"function": oneCoding(v2System("0443"), "AP", "Administering Provider"), "actor": who})
	}
	setv(r, "performer", perf)
	loc := c.Location(seg.Field(27).Rep(1))
	if loc == nil {
		loc = c.Location(seg.Field(11).Rep(1))
	}
	setv(r, "location", loc)
	setv(r, "lotNumber", compText(seg.Field(15), 1))
	setv(r, "expirationDate", c.Date(seg.Field(16).Rep(1)))
	if mvx := seg.Field(17).Rep(1); compText(mvx, 1) != "" || compText(mvx, 2) != "" {
		m := map[string]any{}
		setv(m, "display", compText(mvx, 2))
		if id := compText(mvx, 1); id != "" {
			sys := c.CodeSystem(compText(mvx, 3))
			if sys == "" {
				sys = knownSystems["MVX"]
			}
			m["identifier"] = map[string]any{"system": sys, "value": id}
		}
		r["manufacturer"] = m
	}
	if r["status"] == "not-done" {
		setv(r, "statusReason", c.CodeableConcept(seg.Field(18).Rep(1), ""))
	}
	var reasons []any
	for _, rep := range repsOf(seg.Field(19)) {
		reasons = appendNonEmpty(reasons, c.CodeableConcept(rep, ""))
	}
	setv(r, "reasonCode", reasons)
	if compText(seg.Field(20), 1) == "PA" {
		r["isSubpotent"] = true
	}
	c.setTarget(e, "RXA")
	return nil
}

// educationOf returns the education element of an Immunization for a
// vaccine information statement group (OBX-4), adding it when new.
func educationOf(c *Context, e *Entry, group string) map[string]any {
	key := "own.education|" + e.FullURL + "|" + group
	if ed, ok := c.Group[key].(map[string]any); ok {
		return ed
	}
	ed := map[string]any{}
	c.Group[key] = ed
	list, _ := e.Resource["education"].([]any)
	e.Resource["education"] = append(list, ed)
	return ed
}

// finishEducation drops education elements with neither a document type
// nor a reference (imm-1), which the OBX of a VXU may leave when they
// only give dates.
func finishEducation(c *Context) {
	for _, e := range c.entries {
		if e.Type != "Immunization" {
			continue
		}
		list, _ := e.Resource["education"].([]any)
		var keep []any
		for _, x := range list {
			ed := x.(map[string]any)
			if ed["documentType"] != nil || ed["reference"] != nil {
				keep = append(keep, ed)
			}
		}
		if len(keep) == 0 {
			delete(e.Resource, "education")
		} else {
			e.Resource["education"] = keep
		}
	}
}

// vaccinationOBX maps an OBX after an RXA in VXU. Every one becomes an
// Observation partOf the Immunization (the IG maps VXU's
// ORDER.OBSERVATION.OBX to Observation); those CDC's guide gives a place
// in the Immunization fill it too: 64994-7 (eligibility) →
// programEligibility, 30963-3 (funding source) → fundingSource, 69764-9
// (VIS document type) → education.documentType, 30956-7 (vaccine type of
// the VIS) → education.documentType when none is given, 29768-9 /
// 29769-7 (VIS published / presented) → education dates, the OBX-4
// sub-ID grouping them, 31044-1 (reaction) → reaction.detail. An OBX
// before any RXA (the patient observations of VXU's PERSON_OBSERVATION
// group) goes to the global OBX converter.
func vaccinationOBX(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	t := c.currentTarget()
	if t == nil || t.e.Type != "Immunization" {
		return delegate(ctx, c, seg)
	}
	c.Group[delegatedKey] = false
	r := t.e.Resource
	value := seg.Field(5).Rep(1)
	group := Text(seg.Field(4))
	switch compText(seg.Field(3), 1) {
	case "64994-7":
		if cc := c.CodeableConcept(value, "0064"); cc != nil {
			list, _ := r["programEligibility"].([]any)
			r["programEligibility"] = append(list, cc)
		}
	case "30963-3":
		setv(r, "fundingSource", c.CodeableConcept(value, ""))
	case "69764-9":
		if s := hdText(compText(value, 2), compText(value, 1)); s != "" {
			educationOf(c, t.e, group)["documentType"] = s
		}
	case "30956-7":
		ed := educationOf(c, t.e, group)
		if _, ok := ed["documentType"]; !ok {
			setv(ed, "documentType", hdText(compText(value, 2), compText(value, 1)))
		}
	case "29768-9":
		setv(educationOf(c, t.e, group), "publicationDate", c.DateTime(value))
	case "29769-7":
		setv(educationOf(c, t.e, group), "presentationDate", c.DateTime(value))
	}
	obs, err := c.partObservation(ctx, seg, t.e)
	if err != nil || obs == nil {
		return err
	}
	if compText(seg.Field(3), 1) == "31044-1" {
		reaction := map[string]any{"detail": obs.Ref()}
		setv(reaction, "date", c.DateTime(seg.Field(14)))
		list, _ := r["reaction"].([]any)
		r["reaction"] = append(list, reaction)
	}
	return nil
}

// observationStatus maps OBX-11 (table 0085) to Observation.status.
func observationStatus(code string) string {
	switch code {
	case "P", "R", "S", "I":
		return "preliminary"
	case "C":
		return "corrected"
	case "X":
		return "cancelled"
	case "W", "D":
		return "entered-in-error"
	case "A":
		return "amended"
	}
	return "final"
}

// partOfObservation makes an Observation of an OBX that describes an
// event (an Immunization), partOf it: identified by a derived identifier
// on the event, the code (OBX-3) and the sub-ID (OBX-4); value by OBX-2
// (NM → Quantity, CE/CWE/CNE → CodeableConcept, DT/DTM/TS → dateTime,
// anything else → string), status (11), effective (14).
func (c *Context) partObservation(ctx context.Context, seg hl7v2.Segment, of *Entry) (*Entry, error) {
	code := c.ClinicalCode(ctx, seg.Field(3), c.Loc(seg, 3))
	if code == nil {
		return nil, concord.Errorf(concord.EINVALID, "%s: no observation code", c.Loc(seg, 3))
	}
	os, ov := entryKey(of)
	e, _ := c.UpsertDerived("Observation", of.Type, os, ov, c.codeKey(seg.Field(3), ""), Text(seg.Field(4)))
	r := e.Resource
	r["status"] = observationStatus(compText(seg.Field(11), 1))
	r["code"] = code
	r["subject"] = c.Patient.Ref()
	r["partOf"] = []any{of.Ref()}
	if c.Encounter != nil {
		r["encounter"] = c.Encounter.Ref()
	}
	setv(r, "effectiveDateTime", c.DateTime(seg.Field(14)))
	value := seg.Field(5).Rep(1)
	switch strings.ToUpper(Text(seg.Field(2))) {
	case "NM":
		setv(r, "valueQuantity", nmQuantity(compText(value, 1), seg.Field(6).Rep(1)))
	case "CE", "CWE", "CNE":
		setv(r, "valueCodeableConcept", c.CodeableConcept(value, ""))
	case "DT", "DTM", "TS":
		setv(r, "valueDateTime", c.DateTime(value))
	default:
		setv(r, "valueString", Text(seg.Field(5)))
	}
	return e, nil
}
