package convert

import (
	"context"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// DFT^P03 (post detail financial transactions) and DFT^P11 (the same,
// expanded): each FT1 is a ChargeItem of the patient, the visit and the
// account. The ORC, OBR and OBX it may carry go to the orders-and-results
// converters; an NTE after an FT1 is a note on its ChargeItem; DG1, PR1
// and IN1 are converted as in ADT.
func init() {
	RegisterMessage("DFT^P03", chargeMessage)
	RegisterMessage("DFT^P11", chargeMessage)
	RegisterSegment("FT1", ft1Segment)
}

var chargeOverrides = ownOverrides(map[string]SegmentFunc{"NTE": noteSegment})

func chargeMessage(ctx context.Context, c *Context) error {
	// The ORC/OBR/OBX a DFT repeats are orders with their results, as in
	// ORU.
	c.lab().mode = labResults
	if err := c.WalkSegments(ctx, chargeOverrides); err != nil {
		return err
	}
	if err := c.closeGroup(ctx); err != nil {
		return err
	}
	if c.Patient == nil {
		return concord.Errorf(concord.EINVALID, "PID: the message has no PID segment")
	}
	return nil
}

// chargeStatus maps FT1-6 (transaction type, table 0017) to
// ChargeItem.status: charges, credits and adjustments are billable;
// a payment is not a charge (not-billable).
func chargeStatus(typ string) string {
	switch typ {
	case "PY":
		return "not-billable"
	}
	return "billable"
}

// moPrice reads a CP/MO (price: quantity & denomination in
// subcomponents of component 1) as a Money; nil when no number.
func moPrice(v hl7v2.Value) map[string]any {
	amt, ok := nmDecimal(Text(v.Component(1).Sub(1)))
	if !ok {
		return nil
	}
	m := map[string]any{"value": amt}
	if cur := Text(v.Component(1).Sub(2)); len(cur) == 3 {
		m["currency"] = cur
	}
	return m
}

// ft1Segment maps FT1 to a ChargeItem, identified by the transaction ID
// (FT1-2) within its batch (FT1-3), else derived from the patient, the
// visit, the transaction code, the date, the quantity and the amount:
// occurrence (4), entered (5), status (6), code (7, through the code
// maps; text 8), quantity (10), price (11 extended amount, as
// priceOverride), department (13) as the performing organization's
// display, diagnoses (19) as reasons, performed by (20) and ordered by
// (21, function OP) as performers, product (29, NDC, through the code
// maps), the current visit and account.
func ft1Segment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	code, err := c.requiredCode(ctx, seg, 7, 8, "transaction")
	if err != nil {
		return err
	}
	when := c.DateTime(seg.Field(4).Component(1))
	var e *Entry
	if tx := Text(seg.Field(2)); tx != "" {
		value := tx
		if batch := Text(seg.Field(3)); batch != "" {
			value = batch + "/" + tx
		}
		e, _ = c.Upsert("ChargeItem", map[string]any{"system": senderBase + uriPart(c.sender) + ":transaction", "value": value})
	} else {
		e, _ = c.UpsertDerived("ChargeItem", c.visitKey(), c.codeKey(seg.Field(7), Text(seg.Field(8))), when,
			Text(seg.Field(10)), Text(seg.Field(11)))
	}
	r := e.Resource
	r["status"] = chargeStatus(compText(seg.Field(6), 1))
	r["code"] = code
	r["subject"] = c.Patient.Ref()
	if c.Encounter != nil {
		r["context"] = c.Encounter.Ref()
	}
	if c.Account != nil {
		r["account"] = []any{c.Account.Ref()}
	}
	end := c.DateTime(seg.Field(4).Component(2))
	if end != "" && end != when {
		per := map[string]any{"end": end}
		setv(per, "start", when)
		r["occurrencePeriod"] = per
	} else {
		setv(r, "occurrenceDateTime", when)
	}
	setv(r, "enteredDate", c.DateTime(seg.Field(5)))
	if q, ok := nmDecimal(Text(seg.Field(10))); ok {
		r["quantity"] = map[string]any{"value": q}
	}
	setv(r, "priceOverride", moPrice(seg.Field(11)))
	if dept := hdText(compText(seg.Field(13), 2), compText(seg.Field(13), 1)); dept != "" {
		r["performingOrganization"] = map[string]any{"display": dept}
	}
	var reasons []any
	for _, rep := range repsOf(seg.Field(19)) {
		reasons = appendNonEmpty(reasons, c.ClinicalCode(ctx, rep, c.Loc(seg, 19)))
	}
	setv(r, "reason", reasons)
	var perf []any
	for _, rep := range repsOf(seg.Field(20)) {
		if who := c.Practitioner(rep); who != nil {
			perf = append(perf, map[string]any{"actor": who})
		}
	}
	for _, rep := range repsOf(seg.Field(21)) {
		if who := c.Practitioner(rep); who != nil {
			perf = append(perf, map[string]any{"function": oneCoding(v2System("0443"), "OP", "Ordering Provider"), "actor": who})
		}
	}
	setv(r, "performer", perf)
	setv(r, "productCodeableConcept", c.ClinicalCode(ctx, seg.Field(29).Rep(1), c.Loc(seg, 29)))
	c.setTarget(e, "FT1")
	return nil
}
