package convert

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// Identifier systems of order and specimen numbers that name no assigning
// authority. A placer number without a namespace is written by the
// ordering system and echoed by the lab in its results, so it cannot be
// scoped to the sender of either message: it is taken as unique within
// the installation, per kind of number.
const (
	placerSystem         = "urn:concord:v2:order:placer"
	fillerSystem         = "urn:concord:v2:order:filler"
	specimenPlacerSystem = "urn:concord:v2:specimen:placer"
	specimenFillerSystem = "urn:concord:v2:specimen:filler"
)

// The IG's maps for an order's status.
var (
	// OrderControlCode[ServiceRequest.status] (table 0119), with CA
	// (cancel request) read as revoked: Concord is the order's system of
	// record on the receiving side, so a placer's cancel revokes it (the
	// IG keeps it active until the filler confirms with CR or OC).
	orderControlStatus = map[string]string{
		"AF": "active", "CA": "revoked", "CR": "revoked", "DC": "revoked", "DF": "revoked", "DR": "revoked",
		"FU": "completed", "HD": "active", "HR": "on-hold", "NW": "active", "OC": "revoked", "OD": "revoked",
		"OH": "on-hold", "OK": "active", "PR": "active", "PY": "active", "RL": "active", "RO": "active", "RQ": "active",
	}
	// OrderStatus (table 0038) → request-status.
	orderStatusMap = map[string]string{
		"CA": "revoked", "CM": "completed", "DC": "revoked", "ER": "entered-in-error", "HD": "on-hold",
		"IP": "active", "RP": "revoked", "SC": "active",
	}
	// ResultStatus[Non-Queries] (table 0123) → diagnostic-report-status,
	// with A (some, not all, results available), which the IG leaves
	// open, read as partial, FHIR's definition of it. Other codes are
	// unknown.
	reportStatusMap = map[string]string{
		"O": "registered", "I": "registered", "S": "registered", "A": "partial", "P": "preliminary",
		"C": "corrected", "R": "partial", "F": "final", "X": "cancelled",
	}
	// placerControls are the order control codes (table 0119) a placer
	// sends: an order message with one of them is the order itself, and
	// replaces what Concord holds. Others (OK, SC, CR, OC, … from the
	// filler) and result messages only update the order's status.
	placerControls = map[string]bool{"NW": true, "CA": true, "DC": true, "XO": true, "HD": true, "RL": true,
		"RP": true, "CH": true, "PA": true}
	// ExtendedPriorityCodes (table 0485) → request-priority.
	priorityMap = map[string]string{"S": "stat", "A": "asap", "R": "routine", "P": "urgent", "T": "urgent", "C": "urgent"}
)

// order is one order group being converted.
type order struct {
	orc, obr *labItem
	mode     labMode
	// owner is set when the message is the order itself (a placer's
	// order message): its ServiceRequest replaces the stored one. Else
	// the ServiceRequest is created when Concord has none, and otherwise
	// only its status changes.
	owner bool
	// keys are the order's numbers as system|value (placer, filler): what
	// the report and its results are keyed by.
	keys []string
	// ids are the placer and filler Identifiers.
	ids []map[string]any
	// concordID is the id of the ServiceRequest a Concord placer number
	// names (then sr is nil: the order is Concord's own, and a result
	// only updates its status).
	concordID string
	sr, dr    *Entry
	// status is the order's status as the message says it; statusSaid
	// is false when it is only the default.
	status     string
	statusSaid bool
	// codeKey identifies the ordered test (OBR-4) for the report's key.
	codeKey string
}

// field returns field n of the item's segment, empty when there is no
// such segment.
func (it *labItem) field(n int) hl7v2.Value {
	if it == nil {
		return hl7v2.Value{}
	}
	return it.seg.Field(n)
}

// either returns OBR's field b when valued, else ORC's field a (the IG
// maps ORC-2 and ORC-3 "IF OBR-2 NOT VALUED").
func (o *order) either(a, b int) hl7v2.Value {
	if v := o.obr.field(b); compText(v, 1) != "" {
		return v
	}
	return o.orc.field(a)
}

// orderIdentifier maps an order number (EI) to an Identifier typed
// PLAC or FILL (v2-0203); the system is the assigning authority's, else
// unscoped (see placerSystem). It returns nil when EI-1 is empty.
func orderIdentifier(v hl7v2.Value, kind, fallback string) map[string]any {
	val := compText(v, 1)
	if val == "" {
		return nil
	}
	sys := AuthoritySystem(hl7v2.HD{Namespace: compText(v, 2), UniversalID: compText(v, 3), UniversalIDType: compText(v, 4)})
	if sys == "" {
		sys = fallback
	}
	return map[string]any{"system": sys, "value": val,
		"type": map[string]any{"coding": []any{map[string]any{"system": v2System("0203"), "code": kind}}}}
}

// token returns an identifier's system|value.
func token(id map[string]any) string {
	s, _ := id["system"].(string)
	v, _ := id["value"].(string)
	return s + "|" + v
}

// isFHIRID reports whether s can be a resource id.
func isFHIRID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '.') {
			return false
		}
	}
	return true
}

// concordPlacer returns the ServiceRequest id a placer number written by
// Concord's outbound side names ("<id>^CONCORD", see OutboundIDSystem),
// or "".
func (c *Context) concordPlacer(v hl7v2.Value) string {
	ns := c.Opt.OrderNamespace
	if ns == "" {
		ns = OutboundDefaultNamespace
	}
	id := compText(v, 1)
	if !strings.EqualFold(compText(v, 2), ns) || compText(v, 3) != "" || !isFHIRID(id) {
		return ""
	}
	return id
}

// buildOrder converts a group's ORC and OBR into its ServiceRequest (ORC
// [ServiceRequest], OBR[ServiceRequest]) and, in a result message, its
// DiagnosticReport (OBR[DiagnosticReport], ORC[DiagnosticReport]).
func (c *Context) buildOrder(ctx context.Context, g *labGroup) (*order, error) {
	s := c.lab()
	o := &order{orc: g.orc, obr: g.obr, mode: s.mode}
	control := compText(o.orc.field(1), 1)
	o.owner = s.mode == labOrders && (control == "" || placerControls[control])
	placerV := o.either(2, 2)
	o.concordID = c.concordPlacer(placerV)
	if o.concordID != "" {
		o.keys = append(o.keys, OutboundIDSystem+"|"+o.concordID)
	} else if id := orderIdentifier(placerV, "PLAC", placerSystem); id != nil {
		o.ids = append(o.ids, id)
	}
	if id := orderIdentifier(o.either(3, 3), "FILL", fillerSystem); id != nil {
		o.ids = append(o.ids, id)
	}
	for _, id := range o.ids {
		o.keys = append(o.keys, token(id))
	}
	code := c.ClinicalCode(ctx, o.obr.field(4).Rep(1), "OBR-4")
	if o.obr != nil {
		o.codeKey = c.codeKey(o.obr.field(4).Rep(1), "")
	}
	if len(o.keys) == 0 {
		// No order number: one order per patient, test and time.
		when := hdText(c.DateTime(o.orc.field(9)), c.DateTime(o.obr.field(7)), c.DateTime(o.obr.field(6)), c.Msg.ControlID())
		ps, pv := c.PatientKey()
		d := DerivedIdentifier("ServiceRequest", ps, pv, o.codeKey, when)
		o.ids = append(o.ids, d)
		o.keys = append(o.keys, token(d))
	}
	o.orderStatus()
	if o.concordID == "" {
		o.sr = c.upsertAny("ServiceRequest", o.ids, nil)
		c.fillServiceRequest(ctx, o, code)
	}
	if o.mode == labResults && o.obr != nil {
		if code == nil {
			return nil, concord.Errorf(concord.EINVALID, "%s: no universal service identifier", o.obr.loc(4))
		}
		c.buildReport(o, code)
	}
	return o, nil
}

// orderStatus works out the order's status: a cancel (ORC-1 CA, DC, OC
// …) revokes it; a final result (ORC-5 CM, or OBR-25 F or C in a result
// message) completes it; else ORC-5 (OrderStatus), a cancelled report
// (OBR-25 X), then ORC-1 (OrderControlCode) decide; else it is active.
func (o *order) orderStatus() {
	control := compText(o.orc.field(1), 1)
	orcStatus := compText(o.orc.field(5), 1)
	result := compText(o.obr.field(25), 1)
	o.statusSaid = true
	switch {
	case orderControlStatus[control] == "revoked":
		o.status = "revoked"
	case orcStatus == "CM" || o.mode == labResults && (result == "F" || result == "C"):
		o.status = "completed"
	case orderStatusMap[orcStatus] != "":
		o.status = orderStatusMap[orcStatus]
	case o.mode == labResults && result == "X":
		o.status = "revoked"
	case orderControlStatus[control] != "":
		o.status = orderControlStatus[control]
	default:
		o.status, o.statusSaid = "active", false
	}
}

// fillServiceRequest writes the ServiceRequest: identifiers (ORC-2/OBR-2
// placer, ORC-3/OBR-3 filler), requisition (ORC-4), status, intent
// order, code (OBR-4), subject, encounter, authored (ORC-9), requester
// (ORC-12, else OBR-16), priority (OBR-5), occurrence (OBR-6), reason
// (OBR-31).
func (c *Context) fillServiceRequest(ctx context.Context, o *order, code map[string]any) {
	r := o.sr.Resource
	r["status"] = o.status
	r["intent"] = "order"
	if _, ok := r["code"]; !ok {
		// Two OBRs with one order number: the first test names it.
		setv(r, "code", code)
	}
	r["subject"] = c.Patient.Ref()
	if c.Encounter != nil {
		r["encounter"] = c.Encounter.Ref()
	}
	if id := c.placerGroup(o.orc.field(4)); id != nil {
		r["requisition"] = id
		addIdentifier(o.sr, id)
	}
	// Alternate placer numbers (OBR-53, else ORC-33; CX), typed PLAC.
	alt := o.obr.field(53)
	if len(repsOf(alt)) == 0 {
		alt = o.orc.field(33)
	}
	for _, rep := range repsOf(alt) {
		if id := c.Identifier(rep); id != nil {
			id["type"] = map[string]any{"coding": []any{map[string]any{"system": v2System("0203"), "code": "PLAC"}}}
			addIdentifier(o.sr, id)
		}
	}
	setv(r, "authoredOn", c.DateTime(o.orc.field(9)))
	req := c.Practitioner(o.orc.field(12).Rep(1))
	if req == nil {
		req = c.Practitioner(o.obr.field(16).Rep(1))
	}
	setv(r, "requester", req)
	prio := compText(o.obr.field(5), 1)
	if prio == "" {
		prio = compText(o.orc.field(7), 6) // TQ-6 before v2.5
	}
	setv(r, "priority", priorityMap[prio])
	if _, timed := r["occurrenceTiming"]; !timed {
		// Two order groups with the same numbers share the entry: a TQ1 of
		// the first already gave the occurrence (occurrence[x] is one).
		setv(r, "occurrenceDateTime", c.DateTime(o.obr.field(6)))
	}
	var reasons []any
	if o.obr != nil {
		for _, rep := range repsOf(o.obr.field(31)) {
			reasons = appendNonEmpty(reasons, c.CodeableConcept(rep, ""))
		}
	}
	setv(r, "reasonCode", reasons)
}

// placerGroup maps ORC-4 (placer group number: an EI before v2.5, an EIP
// whose first component is the placer's EI in subcomponents from v2.5) to
// an Identifier typed PGN; nil when empty.
func (c *Context) placerGroup(v hl7v2.Value) map[string]any {
	const sys = "urn:concord:v2:order:group"
	if ver := c.Msg.Get("MSH-12"); ver >= "2.5" || Text(v.Component(1).Sub(2)) != "" {
		return eiSubs(v.Component(1), "PGN", sys)
	}
	return orderIdentifier(v, "PGN", sys)
}

// addIdentifier adds id to an entry's identifiers unless it has it (not
// as a key: the entry is not searched by it).
func addIdentifier(e *Entry, id map[string]any) {
	ids, _ := e.Resource["identifier"].([]any)
	for _, x := range ids {
		if m, ok := x.(map[string]any); ok && token(m) == token(id) {
			return
		}
	}
	e.Resource["identifier"] = append(ids, id)
}

// timing adds TQ1 to the ServiceRequest (TQ1[ServiceRequest]): priority
// (TQ1-9) and the period the service is wanted in (TQ1-7, TQ1-8) as
// occurrenceTiming's bounds.
func (o *order) timing(c *Context, seg hl7v2.Segment) {
	if o.sr == nil {
		return
	}
	r := o.sr.Resource
	if p := priorityMap[compText(seg.Field(9), 1)]; p != "" {
		r["priority"] = p
	}
	bounds := map[string]any{}
	setv(bounds, "start", c.DateTime(seg.Field(7)))
	setv(bounds, "end", c.DateTime(seg.Field(8)))
	if len(bounds) > 0 {
		delete(r, "occurrenceDateTime")
		r["occurrenceTiming"] = map[string]any{"repeat": map[string]any{"boundsPeriod": bounds}}
	}
}

// srRef is the Reference to the order's ServiceRequest: its entry, or
// for a Concord order the conditional reference ServiceRequest?_id=<id>.
func (o *order) srRef() map[string]any {
	if o.sr != nil {
		return o.sr.Ref()
	}
	if o.concordID != "" {
		return map[string]any{"reference": "ServiceRequest?_id=" + url.QueryEscape(o.concordID)}
	}
	return nil
}

// noteTarget is what an NTE right after the order annotates: the
// ServiceRequest (NTE[ServiceRequest]); nil for a Concord order, whose
// content the message does not own.
func (o *order) noteTarget() *Entry { return o.sr }

// buildReport writes the order's DiagnosticReport (result messages):
// keyed by the order numbers with the test code (OBR-4), identifiers
// placer and filler, status OBR-25, category OBR-24, code OBR-4,
// effective OBR-7 (to OBR-8), issued OBR-22, interpreter OBR-32,
// technician OBR-34 as performer.
func (c *Context) buildReport(o *order, code map[string]any) {
	var keys []map[string]any
	ps, pv := c.PatientKey()
	for _, k := range o.keys {
		keys = append(keys, DerivedIdentifier("DiagnosticReport", ps, pv, k, o.codeKey))
	}
	o.dr = c.upsertAny("DiagnosticReport", keys, o.ids)
	r := o.dr.Resource
	st := reportStatusMap[compText(o.obr.field(25), 1)]
	if st == "" {
		st = "unknown"
	}
	r["status"] = st
	if cat := compText(o.obr.field(24), 1); cat != "" {
		r["category"] = []any{map[string]any{"coding": []any{map[string]any{"system": v2System("0074"), "code": cat}}}}
	}
	r["code"] = code
	r["subject"] = c.Patient.Ref()
	if c.Encounter != nil {
		r["encounter"] = c.Encounter.Ref()
	}
	start, end := c.DateTime(o.obr.field(7)), c.DateTime(o.obr.field(8))
	if end != "" {
		p := map[string]any{"end": end}
		setv(p, "start", start)
		r["effectivePeriod"] = p
	} else {
		setv(r, "effectiveDateTime", start)
	}
	setv(r, "issued", c.Instant(o.obr.field(22)))
	var interp, perf []any
	for _, rep := range repsOf(o.obr.field(32)) {
		interp = appendNonEmpty(interp, c.ndlPractitioner(rep))
	}
	for _, rep := range repsOf(o.obr.field(34)) {
		perf = appendNonEmpty(perf, c.ndlPractitioner(rep))
	}
	setv(r, "resultsInterpreter", interp)
	setv(r, "performer", perf)
	if ref := o.srRef(); ref != nil {
		setRefs(o.dr, "basedOn", ref)
	}
}

// ndlPractitioner maps an NDL (OBR-32, 33, 34: its first component is a
// CNN in subcomponents: ID, family, given, middle, suffix, prefix,
// degree, source table, authority namespace, universal ID, type) to a
// Reference like Practitioner does for an XCN.
func (c *Context) ndlPractitioner(v hl7v2.Value) map[string]any {
	cnn := v.Component(1)
	sub := func(n int) string { return Text(cnn.Sub(n)) }
	id := sub(1)
	display := strings.Join(strings.Fields(strings.Join([]string{sub(6), sub(3), sub(4), sub(2), sub(5)}, " ")), " ")
	if id == "" {
		if display == "" {
			return nil
		}
		return map[string]any{"display": display}
	}
	sys := AuthoritySystem(hl7v2.HD{Namespace: sub(9), UniversalID: sub(10), UniversalIDType: sub(11)})
	if sys == "" {
		sys = senderBase + uriPart(c.sender) + ":practitioner"
	}
	e, fresh := c.Upsert("Practitioner", map[string]any{"system": sys, "value": id})
	if fresh {
		name := map[string]any{}
		setv(name, "family", sub(2))
		setv(name, "given", appendNonEmpty(appendNonEmpty(nil, sub(3)), sub(4)))
		setv(e.Resource, "name", appendNonEmpty(nil, name))
	}
	ref := e.Ref()
	setv(ref, "display", display)
	return ref
}

// finish links the order's resources once the group is read: the
// ServiceRequest's specimens (and, in order messages, the observations
// as supporting information), the report's specimens and results, and
// for a Concord order a patch of its status.
func (o *order) finish(c *Context, specimens, results []*Entry) {
	for _, sp := range specimens {
		if o.sr != nil {
			setRefs(o.sr, "specimen", sp.Ref())
		}
		if o.dr != nil {
			setRefs(o.dr, "specimen", sp.Ref())
		}
	}
	for _, r := range results {
		if o.mode == labOrders && o.sr != nil {
			setRefs(o.sr, "supportingInfo", r.Ref())
		}
		if o.dr != nil {
			setRefs(o.dr, "result", r.Ref())
		}
		if len(specimens) > 0 {
			setRefs(r, "specimen", specimens[0].Ref())
		}
	}
	switch {
	case o.concordID != "" && o.statusSaid:
		c.patchStatus("ServiceRequest|patch|"+o.concordID, "_id="+url.QueryEscape(o.concordID), o.status, false)
	case o.sr != nil && !o.owner:
		// Create it as the message describes it, or else change only
		// its status.
		o.sr.IfNoneExist = o.sr.Search
		if o.statusSaid {
			c.patchStatus("ServiceRequest|patch|"+o.sr.FullURL, o.sr.Search, o.status, true)
		}
	}
}

// patchStatus adds a conditional JSON Patch of a ServiceRequest's status
// (the ServiceRequest that search finds; key names the patch in the
// message): for a Concord order, or an order the message does not own.
// Replaying it changes nothing. noTarget leaves it out of the
// Provenance's targets.
func (c *Context) patchStatus(key, search, status string, noTarget bool) {
	doc, _ := json.Marshal([]any{map[string]any{"op": "replace", "path": "/status", "value": status}})
	bin := map[string]any{"resourceType": "Binary", "contentType": "application/json-patch+json",
		"data": base64.StdEncoding.EncodeToString(doc)}
	if e := c.lab().byKey[key]; e != nil {
		e.Resource, e.Search = bin, search // the last status the message gives wins
		return
	}
	e := &Entry{Type: "ServiceRequest", FullURL: "urn:uuid:" + nameUUID(key), Resource: bin,
		Search: search, Method: "PATCH", noTarget: noTarget}
	c.lab().byKey[key] = e
	c.entries = append(c.entries, e)
}

// upsertAny returns the entry of the resource of type typ that any of
// keys identifies (already in the Bundle, or added: a conditional update
// searching on every key, so that a message carrying a second number
// finds the resource made from the first), with keys and then extra in
// its identifiers.
func (c *Context) upsertAny(typ string, keys, extra []map[string]any) *Entry {
	s := c.lab()
	var e *Entry
	for _, k := range keys {
		if x := s.byKey[typ+"|"+token(k)]; x != nil {
			e = x
			break
		}
	}
	if e == nil {
		e, _ = c.Upsert(typ, keys[0])
	}
	ids, _ := e.Resource["identifier"].([]any)
	have := map[string]bool{}
	for _, x := range ids {
		if m, ok := x.(map[string]any); ok {
			have[token(m)] = true
		}
	}
	for _, k := range keys {
		s.byKey[typ+"|"+token(k)] = e
		if !have[token(k)] {
			ids = append(ids, k)
			have[token(k)] = true
		}
	}
	for _, x := range extra {
		if !have[token(x)] {
			ids = append(ids, x)
			have[token(x)] = true
		}
	}
	e.Resource["identifier"] = ids
	// The search: every key, any of which may match.
	var vals []string
	for _, x := range ids {
		m := x.(map[string]any)
		if s.byKey[typ+"|"+token(m)] == e {
			sys, _ := m["system"].(string)
			val, _ := m["value"].(string)
			vals = append(vals, tokenValue(sys, val))
		}
	}
	e.Search = "identifier=" + strings.Join(vals, ",")
	if typ == "ServiceRequest" || typ == "Specimen" {
		// Order and specimen numbers are the patient's: the same number
		// for another patient is another order.
		if ps, pv := c.PatientKey(); pv != "" {
			e.Search += "&subject:Patient.identifier=" + tokenValue(ps, pv)
		}
	}
	return e
}
