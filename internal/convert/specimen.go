package convert

import (
	"context"

	"github.com/concord-health/concord/hl7v2"
)

// eiSubs reads an EI written in subcomponents (as in an EIP: SPM-2's
// placer and filler parts) as an Identifier typed kind; the system is
// the assigning authority's, else fallback. It returns nil when empty.
func eiSubs(v hl7v2.Value, kind, fallback string) map[string]any {
	val := Text(v.Sub(1))
	if val == "" {
		return nil
	}
	sys := AuthoritySystem(hl7v2.HD{Namespace: Text(v.Sub(2)), UniversalID: Text(v.Sub(3)), UniversalIDType: Text(v.Sub(4))})
	if sys == "" {
		sys = fallback
	}
	return map[string]any{"system": sys, "value": val,
		"type": map[string]any{"coding": []any{map[string]any{"system": v2System("0203"), "code": kind}}}}
}

// specimen converts an SPM (SPM[Specimen]) into a Specimen, upserted by
// SPM-2 (its placer and filler parts, either of which finds it), else
// the accession ID (SPM-30), else a derived identifier on the patient,
// the order, the type and the collection time. Fields: type (SPM-4),
// collection method (7), site (8), quantity (12), note (14), collected
// (17, a DR), received (18), status (SPM-20 availability; a reject
// reason in SPM-21 makes it unsatisfactory), condition (24, with the
// reject reasons), container type (27), accession (30).
func (c *Context) specimen(ctx context.Context, it labItem, o *order) (*Entry, error) {
	seg := it.seg
	var keys []map[string]any
	id := seg.Field(2).Rep(1)
	if p := eiSubs(id.Component(1), "PLAC", specimenPlacerSystem); p != nil {
		keys = append(keys, p)
	}
	if f := eiSubs(id.Component(2), "FILL", specimenFillerSystem); f != nil {
		keys = append(keys, f)
	}
	acc := c.Identifier(seg.Field(30).Rep(1))
	if len(keys) == 0 && acc != nil {
		keys = append(keys, acc)
	}
	collected := c.DateTime(seg.Field(17).Component(1))
	if len(keys) == 0 {
		ps, pv := c.PatientKey()
		orderKey := ""
		if o != nil {
			orderKey = o.keys[0]
		}
		keys = append(keys, DerivedIdentifier("Specimen", ps, pv, orderKey, c.codeKey(seg.Field(4), ""), collected))
	}
	e := c.upsertAny("Specimen", keys, nil)
	r := e.Resource
	setv(r, "accessionIdentifier", acc)
	setv(r, "type", c.CodeableConcept(seg.Field(4).Rep(1), "0487"))
	r["subject"] = c.Patient.Ref()
	coll := map[string]any{}
	if end := c.DateTime(seg.Field(17).Component(2)); end != "" {
		p := map[string]any{"end": end}
		setv(p, "start", collected)
		coll["collectedPeriod"] = p
	} else {
		setv(coll, "collectedDateTime", collected)
	}
	setv(coll, "method", c.CodeableConcept(seg.Field(7).Rep(1), "0488"))
	setv(coll, "bodySite", c.CodeableConcept(seg.Field(8).Rep(1), ""))
	setv(coll, "quantity", quantity(compText(seg.Field(12), 1), c.unit(seg.Field(12).Component(2))))
	setv(r, "collection", coll)
	received := c.DateTime(seg.Field(18))
	setv(r, "receivedTime", received)
	var cond []any
	for _, rep := range repsOf(seg.Field(24)) {
		cond = appendNonEmpty(cond, c.CodeableConcept(rep, "0493"))
	}
	rejected := false
	for _, rep := range repsOf(seg.Field(21)) {
		if cc := c.CodeableConcept(rep, "0490"); cc != nil {
			cond = append(cond, cc)
			rejected = true
		}
	}
	setv(r, "condition", cond)
	switch avail := compText(seg.Field(20), 1); {
	case rejected:
		r["status"] = "unsatisfactory"
	case avail == "Y":
		r["status"] = "available"
	case avail == "N":
		r["status"] = "unavailable"
	case received != "":
		r["status"] = "available"
	}
	if t := Text(seg.Field(14)); t != "" {
		r["note"] = []any{map[string]any{"text": t}}
	}
	if ct := c.CodeableConcept(seg.Field(27).Rep(1), ""); ct != nil {
		r["container"] = []any{map[string]any{"type": ct}}
	}
	return e, nil
}

// container adds a SAC's container identifier (SAC-3) to the specimen's
// container, and its accession (SAC-2) when the specimen has none.
func (c *Context) container(sp *Entry, seg hl7v2.Segment) {
	r := sp.Resource
	if _, ok := r["accessionIdentifier"]; !ok {
		setv(r, "accessionIdentifier", c.EIIdentifier(seg.Field(2)))
	}
	id := c.EIIdentifier(seg.Field(3))
	if id == nil {
		return
	}
	list, _ := r["container"].([]any)
	for _, x := range list {
		if m, ok := x.(map[string]any); ok && m["identifier"] != nil {
			if token(m["identifier"].([]any)[0].(map[string]any)) == token(id) {
				return
			}
		}
	}
	if len(list) == 1 {
		if m, ok := list[0].(map[string]any); ok && m["identifier"] == nil {
			m["identifier"] = []any{id}
			return
		}
	}
	r["container"] = append(list, map[string]any{"identifier": []any{id}})
}

// obrSpecimen makes the Specimen an order without SPM describes in its
// OBR (OBR[Specimen], v2.3-style): source (OBR-15), collected (OBR-7 to
// OBR-8), received (OBR-14); nil when OBR has neither a source nor a
// received time.
func (c *Context) obrSpecimen(o *order) *Entry {
	if o.obr == nil {
		return nil
	}
	source := o.obr.field(15).Component(1)
	received := c.DateTime(o.obr.field(14))
	if received == "" && Text(source.Sub(1)) == "" && Text(source.Sub(2)) == "" {
		return nil
	}
	var keys []map[string]any
	ps, pv := c.PatientKey()
	for _, k := range o.keys {
		keys = append(keys, DerivedIdentifier("Specimen", ps, pv, k, o.codeKey, "OBR"))
	}
	e := c.upsertAny("Specimen", keys, nil)
	r := e.Resource
	r["subject"] = c.Patient.Ref()
	typ := map[string]any{}
	if code := Text(source.Sub(1)); code != "" {
		co := map[string]any{"code": code}
		sys := c.CodeSystem(Text(source.Sub(3)))
		if sys == "" {
			sys = v2System("0070")
		}
		co["system"] = sys
		setv(co, "display", Text(source.Sub(2)))
		typ["coding"] = []any{co}
	} else {
		setv(typ, "text", Text(source.Sub(2)))
	}
	setv(r, "type", typ)
	coll := map[string]any{}
	start, end := c.DateTime(o.obr.field(7)), c.DateTime(o.obr.field(8))
	if end != "" {
		p := map[string]any{"end": end}
		setv(p, "start", start)
		coll["collectedPeriod"] = p
	} else {
		setv(coll, "collectedDateTime", start)
	}
	setv(r, "collection", coll)
	setv(r, "receivedTime", received)
	if received != "" {
		r["status"] = "available"
	}
	return e
}
