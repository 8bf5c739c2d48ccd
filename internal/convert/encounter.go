package convert

import (
	"context"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

func init() {
	RegisterSegment("PV1", pv1Segment)
	RegisterSegment("PV2", pv2Segment)
}

// encounterKey picks the identifier a visit is upserted by: PV1-19 (visit
// number), else PV1-50 (alternate visit ID), else one derived from the
// patient and the admit time (PV1-44), else nil (no visit to record).
func (c *Context) encounterKey(seg hl7v2.Segment) (map[string]any, bool) {
	if id := c.Identifier(seg.Field(19).Rep(1)); id != nil {
		return id, true
	}
	if id := c.Identifier(seg.Field(50).Rep(1)); id != nil {
		return id, true
	}
	if admit := c.DateTime(seg.Field(44)); admit != "" {
		ps, pv := c.PatientKey()
		return DerivedIdentifier("Encounter", ps, pv, admit), false
	}
	return nil, false
}

// pv1Segment maps PV1 to Encounter (PV1[Encounter]): identifier (19),
// class (2), status (from the trigger, PV1-45, else PV1-2), type (4),
// locations (3 current, 6 prior, 11 temporary, 42 pending; Location
// resources, see Context.Location), participants
// (7 attending, 8 referring, 9 consulting, 17 admitting), service type
// (10), hospitalization (5, 13, 14, 36, 38), period (44, 45). A PV1 with
// no visit number, no admit time, and class N or none (A28, A31 …) makes
// no Encounter.
func pv1Segment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if c.Patient == nil {
		return concord.Errorf(concord.EINVALID, "%s: PV1 without a PID before it", c.Loc(seg, 1))
	}
	key, business := c.encounterKey(seg)
	class := compText(seg.Field(2), 1)
	if key == nil {
		if class == "" || class == "N" || Text(seg.Field(3)) == "" {
			return nil
		}
		// A visit with neither number nor admit time: one per message.
		ps, pv := c.PatientKey()
		key = DerivedIdentifier("Encounter", ps, pv, "message", c.sender, c.Msg.ControlID())
	}
	e, _ := c.Upsert("Encounter", key)
	r := e.Resource
	if business {
		id := r["identifier"].([]any)[0].(map[string]any)
		if _, typed := id["type"]; !typed {
			id["type"] = map[string]any{"coding": []any{map[string]any{"system": v2System("0203"), "code": "VN"}}, "text": "visit number"}
		}
	}
	if m, ok := classMap[class]; ok {
		r["class"] = map[string]any{"system": m[0], "code": m[1], "display": classDisplay[m[1]]}
	} else if class != "" {
		r["class"] = map[string]any{"system": v2System("0004"), "code": class}
	} else {
		r["class"] = map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK"}
	}
	end := c.DateTime(seg.Field(45))
	if c.Trigger == "A13" {
		end = "" // the discharge is cancelled: PV1-45 is the one undone
	}
	// A trigger the IG's Event[EncounterStatus] map names decides the
	// status; the others (A08 and the updates, BAR) keep what the visit
	// says: finished when PV1-45 is valued, else from the patient class.
	status := eventStatus[c.Trigger]
	if status == "" {
		switch s, ok := classStatus[class]; {
		case end != "":
			status = "finished"
		case ok:
			status = s
		default:
			status = "in-progress"
		}
	}
	r["status"] = status
	r["subject"] = c.Patient.Ref()
	setv(r, "type", appendNonEmpty(nil, c.CodeableConcept(seg.Field(4), "0007")))
	setv(r, "serviceType", c.CodeableConcept(seg.Field(10), "0069"))
	period := map[string]any{}
	setv(period, "start", c.DateTime(seg.Field(44)))
	setv(period, "end", end)
	setv(r, "period", period)
	var locs []any
	current := "active"
	if status == "finished" || status == "cancelled" {
		current = "completed"
	}
	if status == "planned" {
		current = "planned"
	}
	for _, l := range []struct {
		field  int
		status string
	}{{3, current}, {6, "completed"}, {11, "active"}, {42, "planned"}} {
		if ref := c.Location(seg.Field(l.field).Rep(1)); ref != nil {
			locs = append(locs, map[string]any{"location": ref, "status": l.status})
		}
	}
	setv(r, "location", locs)
	var parts []any
	for _, p := range []struct {
		field         int
		code, display string
	}{{7, "ATND", "attender"}, {8, "REF", "referrer"}, {9, "CON", "consultant"}, {17, "ADM", "admitter"}} {
		for _, rep := range repsOf(seg.Field(p.field)) {
			if ref := c.Practitioner(rep); ref != nil {
				parts = append(parts, map[string]any{
					"type": []any{map[string]any{"coding": []any{map[string]any{
						"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": p.code, "display": p.display}}}},
					"individual": ref,
				})
			}
		}
	}
	setv(r, "participant", parts)
	h := map[string]any{}
	setv(h, "preAdmissionIdentifier", c.Identifier(seg.Field(5).Rep(1)))
	setv(h, "reAdmission", c.CodeableConcept(seg.Field(13), "0092"))
	setv(h, "admitSource", c.CodeableConcept(seg.Field(14), "0023"))
	setv(h, "dischargeDisposition", c.CodeableConcept(seg.Field(36), "0112"))
	setv(h, "dietPreference", appendNonEmpty(nil, c.CodeableConcept(seg.Field(38), "0114")))
	setv(r, "hospitalization", h)
	if c.Account != nil {
		r["account"] = []any{c.Account.Ref()}
	}
	c.Encounter = e
	return nil
}

// pv2Segment adds PV2-3 (admit reason) to the visit's reasonCode, and
// for a planned visit (A04, A05 …) without PV1-44/45, the expected admit
// and discharge times (PV2-8, PV2-9) as its period: in R4 a planned
// Encounter's period is the planned one (the IG maps them to R5's
// plannedStartDate and plannedEndDate, which R4 lacks).
func pv2Segment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if c.Encounter == nil {
		return nil
	}
	r := c.Encounter.Resource
	setv(r, "reasonCode", appendNonEmpty(nil, c.CodeableConcept(seg.Field(3), "")))
	if r["status"] == "planned" {
		p, _ := r["period"].(map[string]any)
		if p == nil {
			p = map[string]any{}
		}
		if p["start"] == nil {
			setv(p, "start", c.DateTime(seg.Field(8)))
		}
		if p["end"] == nil {
			setv(p, "end", c.DateTime(seg.Field(9)))
		}
		setv(r, "period", p)
	}
	return nil
}
