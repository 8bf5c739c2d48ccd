package convert

import (
	"context"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// The pharmacy message types: encoded orders (RDE^O11, and RDE^O25, the
// refill authorization request of the same structure), dispenses
// (RDS^O13) and administrations (RAS^O17). The ORC of each order group
// gives the MedicationRequest its placer/filler identifiers and status;
// RXO and RXE fill it; RXD makes a MedicationDispense, RXA a
// MedicationAdministration; RXR, RXC, TQ1 and NTE complete the resource
// before them.
func init() {
	for _, t := range []string{"RDE^O11", "RDE^O25", "RDS^O13", "RAS^O17"} {
		RegisterMessage(t, pharmacyMessage)
	}
	RegisterSegment("RXO", rxoSegment)
	RegisterSegment("RXE", rxeSegment)
	RegisterSegment("RXR", rxrSegment)
	RegisterSegment("RXC", rxcSegment)
	RegisterSegment("RXD", rxdSegment)
	RegisterSegment("RXA", rxaSegment)
}

// pharmacyOverrides are the order-family converters of the pharmacy
// messages.
var pharmacyOverrides = ownOverrides(map[string]SegmentFunc{"ORC": ownORC, "TQ1": rxTQ1, "NTE": noteSegment})

func pharmacyMessage(ctx context.Context, c *Context) error {
	if err := c.WalkSegments(ctx, pharmacyOverrides); err != nil {
		return err
	}
	if c.Patient == nil {
		return concord.Errorf(concord.EINVALID, "PID: the message has no PID segment")
	}
	return nil
}

// prescriptionIdentifier is the Identifier of a prescription number
// (RXE-15, RXD-7), which HL7 v2 gives without an authority: local to the
// sender.
func (c *Context) prescriptionIdentifier(num string) map[string]any {
	return map[string]any{"system": senderBase + uriPart(c.sender) + ":prescription", "value": num,
		"type": map[string]any{"coding": []any{map[string]any{"system": v2System("0203"), "code": "RXN"}}}}
}

// medicationRequest returns the MedicationRequest of the current order
// group, making it on first use: identified by the placer order number
// (ORC-2), else the filler's (ORC-3), else the prescription number
// (RXE-15), else derived from the patient, the visit, the drug code and
// the order time. status and intent follow ORC-1/ORC-5; authoredOn is
// ORC-9, requester ORC-12, recorder ORC-10.
func (c *Context) medicationRequest(seg hl7v2.Segment, prescription string, drug hl7v2.Value) *Entry {
	o := c.currentRxOrder()
	if o != nil && o.request != nil {
		if prescription != "" {
			addIdentifiers(o.request, c.prescriptionIdentifier(prescription))
		}
		return o.request
	}
	var e *Entry
	switch {
	case o != nil && o.placer != nil:
		e, _ = c.Upsert("MedicationRequest", o.placer)
	case o != nil && o.filler != nil:
		e, _ = c.Upsert("MedicationRequest", o.filler)
	case prescription != "":
		e, _ = c.Upsert("MedicationRequest", c.prescriptionIdentifier(prescription))
	default:
		when := ""
		if o != nil {
			when = o.when
		}
		e, _ = c.UpsertDerived("MedicationRequest", c.visitKey(), c.codeKey(drug, ""), when)
	}
	if o != nil {
		addIdentifiers(e, o.filler)
	}
	if prescription != "" {
		addIdentifiers(e, c.prescriptionIdentifier(prescription))
	}
	r := e.Resource
	r["status"] = medicationRequestStatus(o)
	r["intent"] = "order"
	r["subject"] = c.Patient.Ref()
	if c.Encounter != nil {
		r["encounter"] = c.Encounter.Ref()
	}
	if o != nil {
		setv(r, "authoredOn", o.when)
		setv(r, "requester", o.orderer)
		setv(r, "recorder", o.enterer)
		o.request = e
		if tq, ok := c.Group["own.pendingTQ1"].(hl7v2.Segment); ok {
			c.applyTQ1(r, tq)
		}
	} else {
		// Without an ORC each RXO/RXE pair stands alone.
		c.Group[rxOrderKey] = &rxOrder{request: e}
	}
	return e
}

// setMedication sets the drug of a resource: medicationCodeableConcept,
// or the code of the Medication RXC made for it (then referenced by
// medicationReference).
func (c *Context) setMedication(e *Entry, code map[string]any) {
	if ref, ok := e.Resource["medicationReference"].(map[string]any); ok {
		if o := c.currentRxOrder(); o != nil && o.medication != nil && ref["reference"] == o.medication.FullURL {
			o.medication.Resource["code"] = code
			return
		}
	}
	e.Resource["medicationCodeableConcept"] = code
}

// drugCode maps a drug code (RXO-1, RXE-2, RXD-2, RXA-5) through the
// sender's code maps (local codes → RxNorm); nil when empty.
func (c *Context) drugCode(ctx context.Context, seg hl7v2.Segment, field int) map[string]any {
	return c.ClinicalCode(ctx, seg.Field(field), c.Loc(seg, field))
}

// dosageOf returns the first dosage instruction of a MedicationRequest
// or MedicationDispense, adding it when there is none.
func dosageOf(r map[string]any) map[string]any {
	list, _ := r["dosageInstruction"].([]any)
	if len(list) == 0 {
		d := map[string]any{}
		r["dosageInstruction"] = []any{d}
		return d
	}
	return list[0].(map[string]any)
}

// pruneDosage removes an empty dosage instruction (FHIR forbids empty
// elements).
func pruneDosage(r map[string]any) {
	if list, _ := r["dosageInstruction"].([]any); len(list) == 1 && len(list[0].(map[string]any)) == 0 {
		delete(r, "dosageInstruction")
	}
}

// instructionText joins the text of every repetition of a CWE field of
// instructions (CWE-2, else CWE-1, else CWE-9).
func instructionText(f hl7v2.Value) string {
	var parts []string
	for _, r := range repsOf(f) {
		t := compText(r, 2)
		if t == "" {
			t = compText(r, 9)
		}
		if t == "" {
			t = compText(r, 1)
		}
		if t != "" {
			parts = append(parts, t)
		}
	}
	return strings.Join(parts, "; ")
}

// doseAndRate sets a dosage's dose: a range low..high when both are
// valued and differ, else a quantity.
func doseAndRate(d map[string]any, min, max string, unit hl7v2.Value) {
	lo, hi := nmQuantity(min, unit), nmQuantity(max, unit)
	dr := map[string]any{}
	switch {
	case lo != nil && hi != nil && min != max:
		dr["doseRange"] = map[string]any{"low": lo, "high": hi}
	case lo != nil:
		dr["doseQuantity"] = lo
	case hi != nil:
		dr["doseQuantity"] = hi
	}
	if len(dr) > 0 {
		d["doseAndRate"] = []any{dr}
	}
}

// rxoSegment maps RXO (pharmacy/treatment order) to the group's
// MedicationRequest (RXO[MedicationRequest]): requested give code (1)
// as the drug unless RXE names one, dose (2..4), pharmacy instructions
// (6) as a note, administration instructions (7) as the dosage text,
// substitution (9, table 0161), dispense amount (11, 12), refills (13).
func rxoSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	code := c.drugCode(ctx, seg, 1)
	if code == nil {
		return concord.Errorf(concord.EINVALID, "%s: no requested give code", c.Loc(seg, 1))
	}
	e := c.medicationRequest(seg, "", seg.Field(1))
	r := e.Resource
	if _, ok := r["medicationCodeableConcept"]; !ok {
		if _, ok := r["medicationReference"]; !ok {
			c.setMedication(e, code)
		}
	}
	d := dosageOf(r)
	setv(d, "text", instructionText(seg.Field(7)))
	doseAndRate(d, Text(seg.Field(2)), Text(seg.Field(3)), seg.Field(4).Rep(1))
	pruneDosage(r)
	if t := instructionText(seg.Field(6)); t != "" {
		list, _ := r["note"].([]any)
		r["note"] = append(list, map[string]any{"text": t})
	}
	if s := compText(seg.Field(9), 1); s != "" {
		r["substitution"] = map[string]any{"allowedBoolean": s != "N",
			"reason": oneCoding(v2System("0161"), s, "")}
	}
	c.dispenseRequest(r, Text(seg.Field(11)), seg.Field(12).Rep(1), Text(seg.Field(13)))
	c.setTarget(e, "RXO")
	return nil
}

// dispenseRequest sets MedicationRequest.dispenseRequest: the quantity
// and the number of refills allowed.
func (c *Context) dispenseRequest(r map[string]any, amount string, unit hl7v2.Value, refills string) {
	dr, _ := r["dispenseRequest"].(map[string]any)
	if dr == nil {
		dr = map[string]any{}
	}
	setv(dr, "quantity", nmQuantity(amount, unit))
	if n, ok := nmDecimal(refills); ok {
		if i, err := n.Int64(); err == nil && i >= 0 {
			dr["numberOfRepeatsAllowed"] = i
		}
	}
	setv(r, "dispenseRequest", dr)
}

// rxeSegment maps RXE (pharmacy/treatment encoded order) to the group's
// MedicationRequest (RXE[MedicationRequest]): give code (2) as the drug,
// dose (3..5), administration instructions (7) as the dosage text,
// dispense amount (10, 11), refills (12), prescription number (15) as
// an identifier, rate (22, 23), original order time (32) when ORC-9 is
// empty.
func rxeSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	code := c.drugCode(ctx, seg, 2)
	if code == nil {
		return concord.Errorf(concord.EINVALID, "%s: no give code", c.Loc(seg, 2))
	}
	e := c.medicationRequest(seg, Text(seg.Field(15)), seg.Field(2))
	r := e.Resource
	c.setMedication(e, code)
	d := dosageOf(r)
	setv(d, "text", instructionText(seg.Field(7)))
	doseAndRate(d, Text(seg.Field(3)), Text(seg.Field(4)), seg.Field(5).Rep(1))
	if rate := nmQuantity(Text(seg.Field(22)), seg.Field(23).Rep(1)); rate != nil {
		dr, _ := d["doseAndRate"].([]any)
		if len(dr) == 0 {
			dr = []any{map[string]any{}}
			d["doseAndRate"] = dr
		}
		dr[0].(map[string]any)["rateQuantity"] = rate
	}
	pruneDosage(r)
	c.dispenseRequest(r, Text(seg.Field(10)), seg.Field(11).Rep(1), Text(seg.Field(12)))
	if _, ok := r["authoredOn"]; !ok {
		setv(r, "authoredOn", c.DateTime(seg.Field(32)))
	}
	c.setTarget(e, "RXE")
	return nil
}

// rxTQ1 completes the MedicationRequest before it with its timing
// (TQ1[MedicationRequest]): the repeat pattern (TQ1-3) as the timing
// code, start and end (7, 8) as the bounds, priority (9, table 0485).
// A TQ1 before any RXO/RXE waits for it: the order's first TQ1 is kept.
func rxTQ1(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	t := c.currentTarget()
	if t == nil {
		if o := c.currentRxOrder(); o != nil && o.request == nil {
			c.Group["own.pendingTQ1"] = seg
		}
		return nil
	}
	if t.e.Type != "MedicationRequest" {
		return nil
	}
	c.applyTQ1(t.e.Resource, seg)
	return nil
}

// applyTQ1 writes a TQ1's timing and priority into a MedicationRequest.
func (c *Context) applyTQ1(r map[string]any, seg hl7v2.Segment) {
	timing := map[string]any{}
	if code := compText(seg.Field(3), 1); code != "" {
		timing["code"] = map[string]any{"coding": []any{map[string]any{"system": v2System("0335"), "code": code}}, "text": code}
	}
	bounds := map[string]any{}
	setv(bounds, "start", c.DateTime(seg.Field(7)))
	setv(bounds, "end", c.DateTime(seg.Field(8)))
	if len(bounds) > 0 {
		timing["repeat"] = map[string]any{"boundsPeriod": bounds}
	}
	if len(timing) > 0 {
		dosageOf(r)["timing"] = timing
	}
	switch compText(seg.Field(9), 1) {
	case "S":
		r["priority"] = "stat"
	case "A":
		r["priority"] = "asap"
	case "R":
		r["priority"] = "routine"
	}
}

// rxrSegment maps RXR (route) into the resource before it: route (1,
// table 0162), site (2, table 0163), method (4, table 0165), as the
// dosage of a MedicationRequest, MedicationDispense or
// MedicationAdministration, or Immunization.route and site.
func rxrSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	t := c.currentTarget()
	if t == nil {
		return nil
	}
	route := c.CodeableConcept(seg.Field(1).Rep(1), "0162")
	site := c.CodeableConcept(seg.Field(2).Rep(1), "0163")
	method := c.CodeableConcept(seg.Field(4).Rep(1), "0165")
	r := t.e.Resource
	var d map[string]any
	switch t.e.Type {
	case "Immunization":
		setv(r, "route", route)
		setv(r, "site", site)
		return nil
	case "MedicationAdministration":
		d, _ = r["dosage"].(map[string]any)
		if d == nil {
			d = map[string]any{}
		}
		defer setv(r, "dosage", d)
	case "MedicationRequest", "MedicationDispense":
		d = dosageOf(r)
		defer pruneDosage(r)
	default:
		return nil
	}
	setv(d, "route", route)
	setv(d, "site", site)
	setv(d, "method", method)
	return nil
}

// rxcSegment maps RXC (component order) to an ingredient of a
// Medication made for the resource before it (RXC[Medication]): the
// drug code moves from the resource to Medication.code and the resource
// refers to the Medication; component code (2) is the ingredient, its
// strength the component strength (5, 6), else the amount (3, 4). The
// RXC after RXE replace those after RXO.
func rxcSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	t := c.currentTarget()
	o := c.currentRxOrder()
	if t == nil || o == nil || (t.e.Type != "MedicationRequest" && t.e.Type != "MedicationDispense" && t.e.Type != "MedicationAdministration") {
		return nil
	}
	item := c.ClinicalCode(ctx, seg.Field(2), c.Loc(seg, 2))
	if item == nil {
		return concord.Errorf(concord.EINVALID, "%s: no component code", c.Loc(seg, 2))
	}
	r := t.e.Resource
	med := o.medication
	if med == nil || o.medSeg != t.seg || r["medicationReference"] == nil {
		ts, tv := entryKey(t.e)
		med, _ = c.UpsertDerived("Medication", t.e.Type, ts, tv)
		if code, ok := r["medicationCodeableConcept"].(map[string]any); ok {
			med.Resource["code"] = code
			delete(r, "medicationCodeableConcept")
		}
		delete(med.Resource, "ingredient")
		r["medicationReference"] = med.Ref()
		o.medication, o.medSeg = med, t.seg
	}
	ing := map[string]any{"itemCodeableConcept": item}
	strength := nmQuantity(Text(seg.Field(5)), seg.Field(6).Rep(1))
	if strength == nil {
		strength = nmQuantity(Text(seg.Field(3)), seg.Field(4).Rep(1))
	}
	if strength != nil {
		ing["strength"] = map[string]any{"numerator": strength, "denominator": map[string]any{"value": 1}}
	}
	if compText(seg.Field(1), 1) == "B" {
		ing["isActive"] = false
	}
	list, _ := med.Resource["ingredient"].([]any)
	med.Resource["ingredient"] = append(list, ing)
	return nil
}

// substituted maps RXD-11 (substitution status, table 0167) to whether
// the dispensed drug was substituted: N and 0 (none) are false, any
// other code true.
func substituted(code string) bool { return code != "N" && code != "0" }

// rxdSegment maps RXD (pharmacy/treatment dispense) to a
// MedicationDispense, identified by the prescription number (RXD-7) and
// the dispense sub-ID counter (RXD-1), else the dispense time (RXD-3);
// without RXD-7, derived from the patient, the drug and the time. Drug
// (2), handed over (3), quantity (4, 5), special instructions (9) as a
// note, dispensing provider (10), substitution (11), the group's
// MedicationRequest as the authorizing prescription.
func rxdSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	code := c.drugCode(ctx, seg, 2)
	if code == nil {
		return concord.Errorf(concord.EINVALID, "%s: no dispense/give code", c.Loc(seg, 2))
	}
	rx := Text(seg.Field(7))
	when := c.DateTime(seg.Field(3))
	sub := Text(seg.Field(1))
	if sub == "" {
		sub = when
	}
	var e *Entry
	if rx != "" {
		e, _ = c.Upsert("MedicationDispense", map[string]any{"system": senderBase + uriPart(c.sender) + ":dispense", "value": rx + "-" + sub})
	} else {
		e, _ = c.UpsertDerived("MedicationDispense", c.codeKey(seg.Field(2), ""), when, sub)
	}
	r := e.Resource
	r["status"] = "completed"
	c.setMedication(e, code)
	r["subject"] = c.Patient.Ref()
	if c.Encounter != nil {
		r["context"] = c.Encounter.Ref()
	}
	setv(r, "whenHandedOver", when)
	setv(r, "quantity", nmQuantity(Text(seg.Field(4)), seg.Field(5).Rep(1)))
	if t := instructionText(seg.Field(9)); t != "" {
		r["note"] = []any{map[string]any{"text": t}}
	}
	if who := c.Practitioner(seg.Field(10).Rep(1)); who != nil {
		r["performer"] = []any{map[string]any{"actor": who}}
	}
	if s := compText(seg.Field(11), 1); s != "" {
		r["substitution"] = map[string]any{"wasSubstituted": substituted(s), "type": oneCoding(v2System("0167"), s, "")}
	}
	if o := c.currentRxOrder(); o != nil && o.request != nil {
		r["authorizingPrescription"] = []any{o.request.Ref()}
	} else if rx != "" {
		r["authorizingPrescription"] = []any{map[string]any{"type": "MedicationRequest", "identifier": c.prescriptionIdentifier(rx)}}
	}
	c.setTarget(e, "RXD")
	return nil
}

// rxaSegment maps RXA: to an Immunization in VXU (immunization.go), to a
// MedicationAdministration otherwise.
func rxaSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	if code, _, _ := c.Msg.MessageType(); code == "VXU" {
		return immunizationRXA(ctx, c, seg)
	}
	return administrationRXA(ctx, c, seg)
}

// administrationStatus maps RXA-20 (completion status, table 0322) and
// RXA-21 (action code) to MedicationAdministration.status.
func administrationStatus(seg hl7v2.Segment) string {
	if compText(seg.Field(21), 1) == "D" {
		return "entered-in-error"
	}
	switch compText(seg.Field(20), 1) {
	case "RE", "NA":
		return "not-done"
	}
	return "completed"
}

// administrationRXA maps RXA (pharmacy/treatment administration) to a
// MedicationAdministration (RXA[MedicationAdministration]), identified
// by a derived identifier on the order (ORC-2, else ORC-3) and the give
// and administration sub-ID counters (RXA-1, RXA-2), else the drug and
// the time: effective (3, 4), drug (5), dose (6, 7), administration
// notes (9), performer (10), refusal reason (18), indication (19),
// status (20, 21), the group's MedicationRequest as the request.
func administrationRXA(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	code := c.drugCode(ctx, seg, 5)
	if code == nil {
		return concord.Errorf(concord.EINVALID, "%s: no administered code", c.Loc(seg, 5))
	}
	start, end := c.DateTime(seg.Field(3)), c.DateTime(seg.Field(4))
	if start == "" {
		return concord.Errorf(concord.EINVALID, "%s: no administration time", c.Loc(seg, 3))
	}
	o := c.currentRxOrder()
	var e *Entry
	if o != nil && (o.placer != nil || o.filler != nil) {
		id := o.placer
		if id == nil {
			id = o.filler
		}
		e, _ = c.UpsertDerived("MedicationAdministration", "order", id["system"].(string), id["value"].(string), Text(seg.Field(1)), Text(seg.Field(2)))
	} else {
		e, _ = c.UpsertDerived("MedicationAdministration", c.codeKey(seg.Field(5), ""), start, Text(seg.Field(1)), Text(seg.Field(2)))
	}
	r := e.Resource
	r["status"] = administrationStatus(seg)
	c.setMedication(e, code)
	r["subject"] = c.Patient.Ref()
	if c.Encounter != nil {
		r["context"] = c.Encounter.Ref()
	}
	if end != "" && end != start {
		r["effectivePeriod"] = map[string]any{"start": start, "end": end}
	} else {
		r["effectiveDateTime"] = start
	}
	if amt := Text(seg.Field(6)); amt != "999" {
		if q := nmQuantity(amt, seg.Field(7).Rep(1)); q != nil {
			r["dosage"] = map[string]any{"dose": q}
		}
	}
	if t := instructionText(seg.Field(9)); t != "" {
		r["note"] = []any{map[string]any{"text": t}}
	}
	var perf []any
	for _, rep := range repsOf(seg.Field(10)) {
		if who := c.Practitioner(rep); who != nil {
			perf = append(perf, map[string]any{"actor": who})
		}
	}
	setv(r, "performer", perf)
	var reasons []any
	for _, rep := range repsOf(seg.Field(19)) {
		reasons = appendNonEmpty(reasons, c.CodeableConcept(rep, ""))
	}
	setv(r, "reasonCode", reasons)
	if r["status"] == "not-done" {
		setv(r, "statusReason", appendNonEmpty(nil, c.CodeableConcept(seg.Field(18).Rep(1), "")))
	}
	if o != nil && o.request != nil {
		r["request"] = o.request.Ref()
	} else if o != nil && (o.placer != nil || o.filler != nil) {
		id := o.placer
		if id == nil {
			id = o.filler
		}
		r["request"] = map[string]any{"type": "MedicationRequest", "identifier": id}
	}
	c.setTarget(e, "RXA")
	return nil
}
