package convert

import (
	"context"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

func init() {
	RegisterSegment("AL1", al1Segment)
	RegisterSegment("IAM", iamSegment)
	RegisterSegment("DG1", dg1Segment)
	RegisterSegment("PR1", pr1Segment)
}

// codeKey is what identifies a coded thing for a derived identifier:
// the sender's code (CWE-1) with its system (CWE-3), else the text
// (CWE-2, else text given apart), whether or not a code map adds a
// standard coding, so that the identifier stays the same when a mapping
// is added later.
func (c *Context) codeKey(v hl7v2.Value, text string) string {
	if code := compText(v, 1); code != "" {
		return c.CodeSystem(compText(v, 3)) + "|" + code
	}
	if t := compText(v, 2); t != "" {
		text = t
	}
	return "text|" + strings.ToLower(text)
}

// needPatient fails a segment that comes before any PID.
func (c *Context) needPatient(seg hl7v2.Segment) error {
	if c.Patient == nil {
		return concord.Errorf(concord.EINVALID, "%s: %s without a PID before it", c.Loc(seg, 1), seg.Name())
	}
	return nil
}

// allergy fills an AllergyIntolerance from the fields AL1 and IAM share:
// type (AL1-2/IAM-2), code (3), severity (4), reaction (5).
func (c *Context) allergy(ctx context.Context, seg hl7v2.Segment, e *Entry, code map[string]any) {
	r := e.Resource
	r["clinicalStatus"] = map[string]any{"coding": []any{map[string]any{
		"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}}}
	r["patient"] = c.Patient.Ref()
	r["code"] = code
	t := compText(seg.Field(2), 1)
	if cat := allergyCategory[t]; cat != "" {
		r["category"] = []any{cat}
	}
	setv(r, "type", allergyType[t])
	sev := compText(seg.Field(4), 1)
	setv(r, "criticality", criticalityMap[sev])
	reaction := map[string]any{}
	var manifest []any
	for _, rep := range repsOf(seg.Field(5)) {
		if t := Text(rep); t != "" {
			manifest = append(manifest, map[string]any{"text": t})
		}
	}
	if len(manifest) > 0 {
		reaction["manifestation"] = manifest
		setv(reaction, "severity", reactionSeverity[sev])
		r["reaction"] = []any{reaction}
	}
}

// al1Segment maps AL1 to AllergyIntolerance (AL1[AllergyIntolerance]),
// identified by a derived identifier on the patient and the allergen
// (AL1-3). AL1-6 is the onset.
func al1Segment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	code := c.ClinicalCode(ctx, seg.Field(3), c.Loc(seg, 3))
	if code == nil {
		return concord.Errorf(concord.EINVALID, "%s: no allergen", c.Loc(seg, 3))
	}
	e, _ := c.UpsertDerived("AllergyIntolerance", c.codeKey(seg.Field(3), ""))
	c.allergy(ctx, seg, e, code)
	setv(e.Resource, "onsetDateTime", c.DateTime(seg.Field(6)))
	c.Last["AL1"] = e
	return nil
}

// iamSegment maps IAM (patient adverse reaction information) like AL1;
// IAM-7 (allergy unique identifier), when valued, is the business
// identifier, and IAM-6 action code D marks it entered-in-error, I
// inactive.
func iamSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	code := c.ClinicalCode(ctx, seg.Field(3), c.Loc(seg, 3))
	if code == nil {
		return concord.Errorf(concord.EINVALID, "%s: no allergen", c.Loc(seg, 3))
	}
	var e *Entry
	if id := c.EIIdentifier(seg.Field(7)); id != nil {
		e, _ = c.Upsert("AllergyIntolerance", id)
	} else {
		e, _ = c.UpsertDerived("AllergyIntolerance", c.codeKey(seg.Field(3), ""))
	}
	c.allergy(ctx, seg, e, code)
	setv(e.Resource, "onsetDateTime", c.DateTime(seg.Field(11)))
	setv(e.Resource, "recordedDate", c.DateTime(seg.Field(13)))
	switch compText(seg.Field(6), 1) {
	case "D":
		delete(e.Resource, "clinicalStatus")
		e.Resource["verificationStatus"] = map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "entered-in-error"}}}
	case "I":
		e.Resource["clinicalStatus"] = map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "inactive"}}}
	}
	c.Last["IAM"] = e
	return nil
}

// visitKey is the current visit's identifier value ("" without one), for
// derived identifiers of things recorded per visit.
func (c *Context) visitKey() string {
	if c.Encounter == nil {
		return ""
	}
	s, v := entryKey(c.Encounter)
	return s + "|" + v
}

// dg1Segment maps DG1 to Condition (DG1[Condition]): code (DG1-3, text
// DG1-4), onset (5), diagnosis type (6) as the category
// encounter-diagnosis with the type's code, asserter (16), recorded date
// (19), identifier (DG1-20, else derived from the patient, the visit and
// the code). The Condition is an encounter diagnosis of the current
// visit.
func dg1Segment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	code, err := c.requiredCode(ctx, seg, 3, 4, "diagnosis")
	if err != nil {
		return err
	}
	var e *Entry
	if id := c.EIIdentifier(seg.Field(20)); id != nil {
		e, _ = c.Upsert("Condition", id)
	} else {
		e, _ = c.UpsertDerived("Condition", c.visitKey(), c.codeKey(seg.Field(3), Text(seg.Field(4))))
	}
	r := e.Resource
	r["subject"] = c.Patient.Ref()
	r["code"] = code
	cat := []any{map[string]any{"coding": []any{map[string]any{
		"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis"}}}}
	if t := compText(seg.Field(6), 1); t != "" {
		cat = append(cat, map[string]any{"coding": []any{map[string]any{"system": v2System("0052"), "code": t}}})
	}
	r["category"] = cat
	if c.Encounter != nil {
		r["encounter"] = c.Encounter.Ref()
		c.encounterDiagnosis(e, diagnosisRole[compText(seg.Field(6), 1)])
	}
	setv(r, "onsetDateTime", c.DateTime(seg.Field(5)))
	setv(r, "recordedDate", c.DateTime(seg.Field(19)))
	if ref := c.Practitioner(seg.Field(16).Rep(1)); ref != nil {
		r["asserter"] = ref
	}
	if compText(seg.Field(21), 1) == "D" {
		r["verificationStatus"] = map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "entered-in-error"}}}
	}
	c.Last["DG1"] = e
	return nil
}

// encounterDiagnosis lists a Condition in the current visit's diagnosis,
// with its role (diagnosis-role) when DG1-6 has one.
func (c *Context) encounterDiagnosis(cond *Entry, role string) {
	d := map[string]any{"condition": cond.Ref()}
	if role != "" {
		d["use"] = map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/diagnosis-role", "code": role}}}
	}
	seen, _ := c.Group["diagnosis"].(map[string]bool) // encounter|condition, listed already
	if seen == nil {
		seen = map[string]bool{}
		c.Group["diagnosis"] = seen
	}
	if k := c.Encounter.FullURL + "|" + cond.FullURL; !seen[k] {
		seen[k] = true
		list, _ := c.Encounter.Resource["diagnosis"].([]any)
		c.Encounter.Resource["diagnosis"] = append(list, d)
	}
}

// pr1Segment maps PR1 to Procedure (PR1[Procedure]): code (PR1-3, text
// PR1-4), performed (5), category (6), performers (8 anesthesiologist,
// 11 surgeon, 12 other), reason (15), identifier (PR1-19, else derived
// from the patient, the code and the time). The status is completed: ADT
// and BAR report procedures done.
func pr1Segment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	code, err := c.requiredCode(ctx, seg, 3, 4, "procedure")
	if err != nil {
		return err
	}
	when := c.DateTime(seg.Field(5))
	var e *Entry
	if id := c.EIIdentifier(seg.Field(19)); id != nil {
		e, _ = c.Upsert("Procedure", id)
	} else {
		e, _ = c.UpsertDerived("Procedure", c.codeKey(seg.Field(3), Text(seg.Field(4))), when)
	}
	r := e.Resource
	r["status"] = "completed"
	r["subject"] = c.Patient.Ref()
	r["code"] = code
	setv(r, "performedDateTime", when)
	setv(r, "category", c.CodeableConcept(seg.Field(6), "0230"))
	if c.Encounter != nil {
		r["encounter"] = c.Encounter.Ref()
	}
	var perf []any
	for _, p := range []struct {
		field int
		code  string
	}{{8, "88189002"}, {11, "304292004"}, {12, ""}} {
		for _, rep := range repsOf(seg.Field(p.field)) {
			ref := c.Practitioner(rep)
			if ref == nil {
				continue
			}
			pe := map[string]any{"actor": ref}
			if p.code != "" {
				pe["function"] = map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": p.code}}}
			}
			perf = append(perf, pe)
		}
	}
	setv(r, "performer", perf)
	setv(r, "reasonCode", appendNonEmpty(nil, c.CodeableConcept(seg.Field(15), "")))
	c.Last["PR1"] = e
	return nil
}
