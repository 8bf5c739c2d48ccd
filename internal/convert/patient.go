package convert

import (
	"context"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

func init() {
	RegisterSegment("PID", pidSegment)
	RegisterSegment("PD1", pd1Segment)
	RegisterSegment("MRG", mrgSegment)
}

// patientKey picks the identifier a patient is upserted by: the first
// PID-3 repetition typed MR (medical record number), else the first one
// valued, else PID-2 (the external ID of v2.3 and before).
func (c *Context) patientKey(seg hl7v2.Segment) (map[string]any, []any) {
	var all []any
	var key map[string]any
	for _, r := range repsOf(seg.Field(3)) {
		id := c.Identifier(r)
		if id == nil {
			continue
		}
		all = append(all, id)
		if key == nil && compText(r, 5) == "MR" {
			key = id
		}
	}
	if key == nil && len(all) > 0 {
		key = all[0].(map[string]any)
	}
	for _, r := range repsOf(seg.Field(2)) {
		if id := c.Identifier(r); id != nil {
			all = append(all, id)
			if key == nil {
				key = id
			}
		}
	}
	return key, all
}

// pidSegment maps PID to Patient (PID[Patient]): identifiers (PID-2, 3,
// 4, 19 SSN, 20 driver's licence), names (5, 9), mother's maiden name,
// race (10) and ethnicity (22) as the US Core extensions,
// birth date (7), gender (8), addresses (11), telecom (13 home, 14 work,
// 40), language (15), marital status (16), multiple birth (24, 25),
// death (29, 30), and the account (18) it opens. The Patient becomes the
// current patient: the visit and clinical segments that follow are
// about it.
func pidSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	key, ids := c.patientKey(seg)
	if key == nil {
		return concord.Errorf(concord.EINVALID, "%s: no patient identifier", c.Loc(seg, 3))
	}
	e, _ := c.Upsert("Patient", key)
	// A later PID for the same patient (A17 swaps two) starts afresh.
	for k := range e.Resource {
		if k != "resourceType" {
			delete(e.Resource, k)
		}
	}
	r := e.Resource
	ordered := []any{key}
	for _, id := range ids {
		if !sameIdentifier(id.(map[string]any), key) {
			ordered = append(ordered, id)
		}
	}
	for _, r := range repsOf(seg.Field(4)) {
		ordered = appendNonEmpty(ordered, c.Identifier(r))
	}
	if ssn := Text(seg.Field(19)); ssn != "" {
		ordered = append(ordered, map[string]any{"system": "http://hl7.org/fhir/sid/us-ssn", "value": ssn,
			"type": map[string]any{"coding": []any{map[string]any{"system": v2System("0203"), "code": "SS"}}}})
	}
	if dl := compText(seg.Field(20), 1); dl != "" {
		sys := senderBase + uriPart(c.sender) + ":DL"
		if st := compText(seg.Field(20), 2); st != "" {
			sys = senderBase + uriPart(c.sender) + ":DL:" + uriPart(st)
		}
		id := map[string]any{"system": sys, "value": dl,
			"type": map[string]any{"coding": []any{map[string]any{"system": v2System("0203"), "code": "DL"}}}}
		if end := c.Date(seg.Field(20).Component(3)); end != "" {
			id["period"] = map[string]any{"end": end}
		}
		ordered = append(ordered, id)
	}
	r["identifier"] = ordered
	r["active"] = true
	names := c.HumanNames(seg.Field(5))
	for _, n := range c.HumanNames(seg.Field(9)) {
		n.(map[string]any)["use"] = "usual" // PID-9 patient alias
		names = append(names, n)
	}
	setv(r, "name", names)
	var ext []any
	if mm := compText(seg.Field(6), 1); mm != "" {
		ext = append(ext, map[string]any{"url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName", "valueString": mm})
	}
	ext = appendNonEmpty(ext, raceExtension(seg.Field(10)))
	ext = appendNonEmpty(ext, ethnicityExtension(seg.Field(22)))
	setv(r, "extension", ext)
	var telecom []any
	telecom = append(telecom, c.ContactPoints(seg.Field(13), "home")...)
	telecom = append(telecom, c.ContactPoints(seg.Field(14), "work")...)
	telecom = append(telecom, c.ContactPoints(seg.Field(40), "")...)
	setv(r, "telecom", telecom)
	setv(r, "gender", genderMap[compText(seg.Field(8), 1)])
	setv(r, "birthDate", c.Date(seg.Field(7)))
	if dead := Text(seg.Field(30)); dead == "Y" || c.DateTime(seg.Field(29)) != "" {
		if dt := c.DateTime(seg.Field(29)); dt != "" {
			r["deceasedDateTime"] = dt
		} else {
			r["deceasedBoolean"] = true
		}
	} else if dead == "N" {
		r["deceasedBoolean"] = false
	}
	setv(r, "address", c.Addresses(seg.Field(11)))
	if ms := compText(seg.Field(16), 1); ms != "" {
		cc := c.CodeableConcept(seg.Field(16), "0002")
		if code, ok := maritalMap[ms]; ok {
			sys := "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
			if code == "UNK" || code == "OTH" || code == "NAVU" {
				sys = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
			}
			co := map[string]any{"system": sys, "code": code}
			setv(co, "display", compText(seg.Field(16), 2))
			cc = map[string]any{"coding": []any{co}}
		}
		setv(r, "maritalStatus", cc)
	}
	switch Text(seg.Field(24)) {
	case "Y":
		if n, err := seg.Field(25).Number(); err == nil && n >= 1 && n < 100 {
			r["multipleBirthInteger"] = int(n)
		} else {
			r["multipleBirthBoolean"] = true
		}
	case "N":
		r["multipleBirthBoolean"] = false
	}
	if lang := c.CodeableConcept(seg.Field(15), "0296"); lang != nil {
		r["communication"] = []any{map[string]any{"language": lang}}
	}
	c.Patient = e
	c.Encounter = nil
	c.Account = nil
	c.Last = map[string]*Entry{"PID": e}
	if acct := c.Identifier(seg.Field(18).Rep(1)); acct != nil {
		a, _ := c.Upsert("Account", acct)
		a.Resource["status"] = "active"
		a.Resource["subject"] = []any{e.Ref()}
		c.Account = a
	}
	return nil
}

func sameIdentifier(a, b map[string]any) bool {
	return a["system"] == b["system"] && a["value"] == b["value"]
}

// pd1Segment maps PD1-4 (primary care provider) to
// Patient.generalPractitioner.
func pd1Segment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if c.Patient == nil {
		return nil
	}
	var gps []any
	for _, r := range repsOf(seg.Field(4)) {
		if ref := c.Practitioner(r); ref != nil && ref["reference"] != nil {
			gps = append(gps, ref)
		}
	}
	setv(c.Patient.Resource, "generalPractitioner", gps)
	return nil
}

// mrgSegment maps MRG (A34, A40 …) onto the merge the IG describes: the
// patient MRG-1 names (the source, merged away) becomes inactive with a
// link replaced-by the current patient (the PID's, the survivor), which
// gets a link replaces. The source's record is written with the
// identifiers MRG-1 gives and the name MRG-7 gives (its earlier versions
// keep the rest of its content). Outside A34 and A40, an MRG without
// MRG-1 or with the patient's own identifier there names a prior account
// or visit only, and changes no Patient.
func mrgSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if c.Patient == nil {
		return concord.Errorf(concord.EINVALID, "%s: MRG without a PID before it", c.Loc(seg, 1))
	}
	var ids []any
	for _, r := range repsOf(seg.Field(1)) {
		ids = appendNonEmpty(ids, c.Identifier(r))
	}
	merge := c.Trigger == "A34" || c.Trigger == "A40"
	if len(ids) == 0 {
		if !merge {
			return nil // A06, A07 …: MRG names a prior account or visit
		}
		return concord.Errorf(concord.EINVALID, "%s: no prior patient identifier", c.Loc(seg, 1))
	}
	key := ids[0].(map[string]any)
	ts, tv := c.PatientKey()
	if key["system"] == ts && key["value"] == tv {
		if !merge {
			// A06, A07 …: MRG-1 (required) repeats the patient's own
			// identifier; only the account or visit (MRG-3, MRG-5) changes.
			return nil
		}
		return concord.Errorf(concord.EINVALID, "%s: the prior identifier is the surviving patient's", c.Loc(seg, 1))
	}
	src, _ := c.Upsert("Patient", key)
	src.Resource["identifier"] = ids
	src.Resource["active"] = false
	setv(src.Resource, "name", c.HumanNames(seg.Field(7)))
	src.Resource["link"] = []any{map[string]any{"other": c.Patient.Ref(), "type": "replaced-by"}}
	links, _ := c.Patient.Resource["link"].([]any)
	c.Patient.Resource["link"] = append(links, map[string]any{"other": src.Ref(), "type": "replaces"})
	return nil
}
