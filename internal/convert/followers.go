package convert

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/concord-health/concord/hl7v2"
	"github.com/concord-health/concord/internal/terminology"
)

// This file holds what the pharmacy, immunization, scheduling, document
// and financial message types share: the current "target" resource that
// follower segments (RXR, RXC, NTE, OBX, TQ1) complete, the ORC of the
// current order group, and NM/CQ quantities.

// The message types of this package's pharmacy, immunization,
// scheduling, document and charge files claim some of the order-family
// segments (ORC, OBR, TQ1, OBX, NTE, SPM), whose global converters
// belong to the orders and results messages, through WalkSegments
// overrides: ORC gives a MedicationRequest's identifiers, OBX in VXU
// describes the vaccination, OBX in MDM is the document's content. What
// they do not claim (a patient observation in SIU or VXU, the order of
// an MDM, the results a DFT repeats) goes to the global converter
// (delegate), as the IG's message maps say.

const delegatedKey = "own.delegated"

// delegate runs the globally registered converter of seg's ID, if any,
// and remembers that the last order-family segment was theirs, so that
// the NTE after it is theirs too (delegateNTE).
func delegate(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	regMu.RLock()
	f := segments[seg.Name()]
	regMu.RUnlock()
	c.Group[delegatedKey] = true
	if f == nil {
		return nil
	}
	return f(ctx, c, seg)
}

// delegated reports whether the last order-family segment went to the
// global converters.
func (c *Context) delegated() bool {
	d, _ := c.Group[delegatedKey].(bool)
	return d
}

// orderFamily are the segment IDs the orders-and-results converters
// register globally.
var orderFamily = []string{"ORC", "OBR", "TQ1", "OBX", "NTE", "SPM"}

// ownOverrides returns the WalkSegments overrides of a message type: the
// converters given, and delegate for the other order-family segments
// (so that an NTE knows whose segment it follows); every other segment
// keeps its global converter.
func ownOverrides(with map[string]SegmentFunc) map[string]SegmentFunc {
	o := map[string]SegmentFunc{}
	for _, id := range orderFamily {
		o[id] = delegate
	}
	for k, f := range with {
		o[k] = f
	}
	return o
}

// target is the resource follower segments (RXR, RXC, NTE, OBX, TQ1)
// complete, and the segment that made it.
type target struct {
	e   *Entry
	seg string // "RXO", "RXE", "RXD", "RXA", "SCH", "TXA", "FT1"
}

const targetKey = "own.target"

// setTarget makes e the resource the following segments complete.
func (c *Context) setTarget(e *Entry, seg string) {
	c.Group[targetKey] = &target{e: e, seg: seg}
	c.Group[delegatedKey] = false
}

// currentTarget returns the current target, nil when none.
func (c *Context) currentTarget() *target {
	t, _ := c.Group[targetKey].(*target)
	return t
}

// noteSegment appends NTE-3 (every repetition, joined by line breaks) to
// the current target: as an Annotation in note for the resource types
// that have one, in Appointment.comment. An NTE after a segment the
// global converters had (a patient OBX, say), or with no target before
// it, goes to the global NTE converter.
func noteSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	t := c.currentTarget()
	if t == nil || c.delegated() {
		return delegate(ctx, c, seg)
	}
	var lines []string
	for _, r := range repsOf(seg.Field(3)) {
		if s := Text(r); s != "" {
			lines = append(lines, s)
		}
	}
	text := strings.Join(lines, "\n")
	if text == "" {
		return nil
	}
	r := t.e.Resource
	switch t.e.Type {
	case "Appointment":
		if prev, _ := r["comment"].(string); prev != "" {
			text = prev + "\n" + text
		}
		r["comment"] = text
	case "MedicationRequest", "MedicationDispense", "MedicationAdministration", "Immunization", "ChargeItem":
		a := map[string]any{"text": text}
		if who := c.Practitioner(seg.Field(5).Rep(1)); who != nil {
			a["authorReference"] = who
		}
		setv(a, "time", c.DateTime(seg.Field(6)))
		list, _ := r["note"].([]any)
		r["note"] = append(list, a)
	}
	return nil
}

// fhirDecimal is the lexical form of a FHIR decimal.
var fhirDecimal = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// nmDecimal reads an NM value as a FHIR decimal (kept as written when
// that is a valid decimal, so 0.50 stays 0.50); false when it is no
// number.
func nmDecimal(s string) (json.Number, bool) {
	s = strings.TrimPrefix(cleanText(s), "+")
	if s == "" {
		return "", false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != f || f > 1e300 || f < -1e300 {
		return "", false
	}
	if fhirDecimal.MatchString(s) {
		return json.Number(s), true
	}
	return json.Number(strconv.FormatFloat(f, 'f', -1, 64)), true
}

// nmQuantity makes a Quantity of an amount (NM) and a unit (CWE, one
// repetition): the unit's text is Quantity.unit (CWE-2, else CWE-1), and
// when CWE-1 (or the text) is a UCUM unit, system and code are UCUM's.
// It returns nil when the amount is no number.
func nmQuantity(amount string, unit hl7v2.Value) map[string]any {
	v, ok := nmDecimal(amount)
	if !ok {
		return nil
	}
	q := map[string]any{"value": v}
	code, text := compText(unit, 1), compText(unit, 2)
	if text == "" {
		text = code
	}
	setv(q, "unit", text)
	if code == "" {
		code = text
	}
	if code != "" {
		if u, ok := terminology.UCUM(code); ok {
			q["system"] = terminology.UCUMSystem
			q["code"] = u
		}
	}
	return q
}

// cqQuantity maps a CQ (quantity^units, the units a CWE in
// subcomponents) to a Quantity; nil when there is no number.
func cqQuantity(v hl7v2.Value) map[string]any {
	unit := v.Component(2)
	// CQ-2's CWE is in subcomponents: read them as components.
	code, text := Text(unit.Sub(1)), Text(unit.Sub(2))
	q, ok := nmDecimal(compText(v, 1))
	if !ok {
		return nil
	}
	out := map[string]any{"value": q}
	if text == "" {
		text = code
	}
	setv(out, "unit", text)
	if code == "" {
		code = text
	}
	if code != "" {
		if u, ok := terminology.UCUM(code); ok {
			out["system"] = terminology.UCUMSystem
			out["code"] = u
		}
	}
	return out
}

// placerFillerID maps an EI order number to an Identifier typed PLAC
// (placer) or FILL (filler), table 0203; nil when empty.
func (c *Context) placerFillerID(v hl7v2.Value, typ string) map[string]any {
	id := c.EIIdentifier(v)
	if id == nil {
		return nil
	}
	id["type"] = map[string]any{"coding": []any{map[string]any{"system": v2System("0203"), "code": typ}}}
	return id
}

// addIdentifiers appends identifiers to an entry's list, skipping any
// with the system and value of one it has.
func addIdentifiers(e *Entry, ids ...map[string]any) {
	list, _ := e.Resource["identifier"].([]any)
	for _, id := range ids {
		if id == nil {
			continue
		}
		dup := false
		for _, have := range list {
			if sameIdentifier(have.(map[string]any), id) {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, id)
		}
	}
	e.Resource["identifier"] = list
}

// rxOrder is what the ORC of the current order group says, kept for the
// pharmacy and immunization segments that follow it.
type rxOrder struct {
	placer, filler map[string]any // ORC-2, ORC-3 (nil when empty)
	control        string         // ORC-1
	status         string         // ORC-5
	when           string         // ORC-9
	enterer        map[string]any // ORC-10
	orderer        map[string]any // ORC-12
	request        *Entry         // the MedicationRequest of the group, once made
	medication     *Entry         // the Medication RXC built for the target
	medSeg         string         // the segment whose RXC fill medication
}

const rxOrderKey = "own.order"

// currentRxOrder returns the ORC of the current order group, nil before
// any.
func (c *Context) currentRxOrder() *rxOrder {
	o, _ := c.Group[rxOrderKey].(*rxOrder)
	return o
}

// ownORC starts an order group (ORC in RDE, RDS, RAS, VXU and MDM): it
// keeps the placer and filler order numbers (with the systems the
// orders-and-results converters give them, order.go), the control code and
// status, the time and the people for the segments that follow, and
// makes no resource of its own.
func ownORC(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	o := &rxOrder{
		placer:  orderIdentifier(seg.Field(2), "PLAC", placerSystem),
		filler:  orderIdentifier(seg.Field(3), "FILL", fillerSystem),
		control: compText(seg.Field(1), 1),
		status:  compText(seg.Field(5), 1),
		when:    c.DateTime(seg.Field(9)),
		enterer: c.Practitioner(seg.Field(10).Rep(1)),
		orderer: c.Practitioner(seg.Field(12).Rep(1)),
	}
	c.Group[rxOrderKey] = o
	c.Group[delegatedKey] = false
	delete(c.Group, targetKey)
	delete(c.Group, "own.pendingTQ1")
	return nil
}

// medicationRequestStatus maps the order control code (ORC-1) and the
// order status (ORC-5) to MedicationRequest.status: cancel and
// discontinue controls first (the IG's OrderControlCode map, in the
// MedicationRequest vocabulary: revoked is cancelled or stopped), then
// the order status (OrderStatus map), else active.
func medicationRequestStatus(o *rxOrder) string {
	if o == nil {
		return "active"
	}
	switch o.control {
	case "CA", "OC", "CR":
		return "cancelled"
	case "DC", "OD", "DR", "DF":
		return "stopped"
	case "HD", "OH", "HR":
		return "on-hold"
	}
	switch o.status {
	case "CA":
		return "cancelled"
	case "CM":
		return "completed"
	case "DC", "RP":
		return "stopped"
	case "ER":
		return "entered-in-error"
	case "HD":
		return "on-hold"
	}
	return "active"
}

// oneCoding builds a CodeableConcept of one coding.
func oneCoding(system, code, display string) map[string]any {
	co := map[string]any{"system": system, "code": code}
	setv(co, "display", display)
	return map[string]any{"coding": []any{co}}
}
