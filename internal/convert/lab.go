package convert

import (
	"context"
	"fmt"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// The order and result message types this file registers. Orders
// (ORM, OML, OMI) become ServiceRequests with their specimens and
// supporting observations; results (ORU, OUL) become DiagnosticReports
// with their Observations, linked to the ServiceRequest they answer.
var (
	orderTypes  = []string{"ORM^O01", "OML^O21", "OMI^O23"}
	resultTypes = []string{"ORU^R01", "OUL^R22"}
)

func init() {
	for _, t := range orderTypes {
		RegisterMessage(t, walkOrderMessage)
	}
	for _, t := range resultTypes {
		RegisterMessage(t, walkResultMessage)
	}
	RegisterSegment("ORC", orcSegment)
	RegisterSegment("OBR", obrSegment)
	RegisterSegment("TQ1", followerSegment)
	RegisterSegment("OBX", obxSegment)
	RegisterSegment("NTE", nteSegment)
	RegisterSegment("SPM", spmSegment)
	RegisterSegment("SAC", followerSegment)
}

// labMode says what kind of order/result message is being walked.
type labMode int

const (
	labNone    labMode = iota // not an order or result message (ADT with OBX …)
	labOrders                 // ORM, OML, OMI: OBX under an order is supporting information
	labResults                // ORU, OUL: OBX under an order is a result of its report
)

// labItem is a segment kept for its group, with its occurrence number in
// the message (for error locations).
type labItem struct {
	seg hl7v2.Segment
	n   int
}

// loc names field f of the item: "OBX-5", or "OBX[3]-5".
func (it labItem) loc(f int) string {
	if it.n > 1 {
		return fmt.Sprintf("%s[%d]-%d", it.seg.Name(), it.n, f)
	}
	return fmt.Sprintf("%s-%d", it.seg.Name(), f)
}

// labGroup is one order (ORC and/or OBR) with the segments that follow
// it (TQ1, NTE, OBX, SPM, SAC), or, in OUL^R22, a specimen (SPM) with its
// observations before the orders that use it. A group is converted as a
// whole when it ends (at the next ORC/OBR, PID or the end of the
// message), because what identifies an order is spread over ORC and OBR,
// which come in either order.
type labGroup struct {
	orc, obr  *labItem
	spm       *labItem // the specimen that opens an OUL^R22 specimen group
	followers []labItem
	// inherited is the specimen of the OUL^R22 specimen group the order
	// belongs to.
	inherited *Entry
}

// labState is the per-message state of the order/result converters.
type labState struct {
	mode labMode
	// specimenFirst is set for OUL^R22, where SPM opens a group that the
	// orders after it share.
	specimenFirst bool
	cur           *labGroup
	// ctxSpecimen is the specimen of the current OUL^R22 specimen group.
	ctxSpecimen *Entry
	// byKey finds an entry by any of its identifiers (Type|system|value):
	// orders, reports, specimens and results are upserted on several.
	byKey map[string]*Entry
	// codeSeen counts OBX code/sub-ID pairs per report, so that a
	// repeated pair gets a distinct key.
	codeSeen map[string]int
	// lastObs is the Observation NTE segments outside any order attach
	// to, made for patient lastPatient.
	lastObs     *Entry
	lastPatient *Entry
}

// lab returns the message's order/result state.
func (c *Context) lab() *labState {
	if s, ok := c.Group["lab"].(*labState); ok {
		return s
	}
	s := &labState{byKey: map[string]*Entry{}, codeSeen: map[string]int{}}
	c.Group["lab"] = s
	return s
}

// item captures seg with its occurrence number.
func (c *Context) item(seg hl7v2.Segment) labItem {
	return labItem{seg: seg, n: c.counts[seg.Name()]}
}

func walkOrderMessage(ctx context.Context, c *Context) error {
	return c.walkLab(ctx, labOrders)
}

func walkResultMessage(ctx context.Context, c *Context) error {
	return c.walkLab(ctx, labResults)
}

// walkLab walks an order or result message: the segment converters
// collect each order's segments, and the group is converted when the
// next one starts, at a PID (a new patient) and at the end.
func (c *Context) walkLab(ctx context.Context, mode labMode) error {
	s := c.lab()
	s.mode = mode
	code, trigger, _ := c.Msg.MessageType()
	s.specimenFirst = code == "OUL" && trigger == "R22"
	err := c.WalkSegments(ctx, map[string]SegmentFunc{
		"PID": func(ctx context.Context, c *Context, seg hl7v2.Segment) error {
			if err := c.closeGroup(ctx); err != nil {
				return err
			}
			c.lab().ctxSpecimen = nil
			return pidSegment(ctx, c, seg)
		},
	})
	if err != nil {
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

// closeGroup converts the current group, if any.
func (c *Context) closeGroup(ctx context.Context) error {
	s := c.lab()
	g := s.cur
	s.cur = nil
	if g == nil {
		return nil
	}
	return c.convertGroup(ctx, g)
}

// orcSegment starts an order group, or completes the OBR that opened one
// (OUL^R22 puts ORC after OBR).
func orcSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	s := c.lab()
	if s.mode == labNone {
		return nil
	}
	it := c.item(seg)
	if g := s.cur; g != nil && g.orc == nil && g.obr != nil && len(g.followers) == 0 {
		g.orc = &it
		return nil
	}
	if err := c.closeGroup(ctx); err != nil {
		return err
	}
	s.cur = &labGroup{orc: &it, inherited: s.ctxSpecimen}
	return nil
}

// obrSegment completes the order group an ORC opened, or starts one.
func obrSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	s := c.lab()
	if s.mode == labNone {
		return nil
	}
	it := c.item(seg)
	if g := s.cur; g != nil && g.orc != nil && g.obr == nil {
		g.obr = &it
		return nil
	}
	// A second OBR under one ORC (the same placer number) shares it.
	var orc *labItem
	if g := s.cur; g != nil && g.orc != nil && g.obr != nil {
		if p := compText(g.orc.field(2), 1); p != "" && p == compText(seg.Field(2), 1) {
			orc = g.orc
		}
	}
	if err := c.closeGroup(ctx); err != nil {
		return err
	}
	s.cur = &labGroup{orc: orc, obr: &it, inherited: s.ctxSpecimen}
	return nil
}

// spmSegment adds a specimen to the current order; in OUL^R22 (and
// outside any order) it opens a specimen group instead.
func spmSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	s := c.lab()
	if s.mode == labNone {
		return nil
	}
	it := c.item(seg)
	if s.cur != nil && !s.specimenFirst && s.cur.spm == nil {
		s.cur.followers = append(s.cur.followers, it)
		return nil
	}
	if err := c.closeGroup(ctx); err != nil {
		return err
	}
	s.ctxSpecimen = nil
	s.cur = &labGroup{spm: &it}
	return nil
}

// followerSegment keeps TQ1 and SAC (and, in order and result messages,
// OBX and NTE) with the current group; outside any group they are
// dropped.
func followerSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	s := c.lab()
	if s.mode == labNone || s.cur == nil {
		return nil
	}
	s.cur.followers = append(s.cur.followers, c.item(seg))
	return nil
}

// obxSegment keeps an OBX with its order; an OBX outside any order (in
// ADT, or the patient observations of an ORU) becomes an Observation
// about the patient at once.
func obxSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	s := c.lab()
	if s.mode != labNone && s.cur != nil {
		s.cur.followers = append(s.cur.followers, c.item(seg))
		return nil
	}
	if err := c.needPatient(seg); err != nil {
		return err
	}
	e, err := c.observation(ctx, c.item(seg), nil, nil)
	if err != nil || e == nil {
		return err
	}
	s.lastObs, s.lastPatient = e, c.Patient
	return nil
}

// nteSegment keeps an NTE with its order; outside any order it is a note
// on the Observation just made, and is dropped when there is none.
func nteSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	s := c.lab()
	if s.mode != labNone && s.cur != nil {
		s.cur.followers = append(s.cur.followers, c.item(seg))
		return nil
	}
	if s.lastObs != nil && s.lastPatient == c.Patient {
		addNote(s.lastObs, c.note(seg))
	}
	return nil
}

// convertGroup converts one group: the order (ServiceRequest), its report
// (DiagnosticReport, in result messages), specimens (SPM, else OBR-15
// with OBR-14), observations (OBX) and notes (NTE), all linked.
func (c *Context) convertGroup(ctx context.Context, g *labGroup) error {
	s := c.lab()
	if c.Patient == nil {
		first := g.orc
		if first == nil {
			first = g.obr
		}
		if first == nil {
			first = g.spm
		}
		return concord.Errorf(concord.EINVALID, "%s: %s without a PID before it", first.loc(1), first.seg.Name())
	}
	var o *order
	if g.orc != nil || g.obr != nil {
		var err error
		if o, err = c.buildOrder(ctx, g); err != nil {
			return err
		}
	}
	var specimens []*Entry
	if g.inherited != nil {
		specimens = append(specimens, g.inherited)
	}
	// The followers in order: notes attach to what came last.
	var target, scope *Entry
	if o != nil {
		target = o.noteTarget()
	}
	if g.spm != nil {
		sp, err := c.specimen(ctx, *g.spm, nil)
		if err != nil {
			return err
		}
		specimens = append(specimens, sp)
		s.ctxSpecimen, scope, target = sp, sp, sp
	}
	var results []*Entry
	var lastSpec *Entry
	for _, it := range g.followers {
		switch it.seg.Name() {
		case "TQ1":
			if o != nil {
				o.timing(c, it.seg)
			}
		case "NTE":
			if target != nil {
				addNote(target, c.note(it.seg))
			}
		case "SPM":
			sp, err := c.specimen(ctx, it, o)
			if err != nil {
				return err
			}
			specimens = appendEntry(specimens, sp)
			lastSpec, target = sp, sp
		case "SAC":
			if lastSpec != nil {
				c.container(lastSpec, it.seg)
			}
		case "OBX":
			e, err := c.observation(ctx, it, o, scope)
			if err != nil {
				return err
			}
			if e == nil {
				continue
			}
			results = appendEntry(results, e)
			target = e
		}
	}
	if o != nil && len(specimens) == 0 {
		if sp := c.obrSpecimen(o); sp != nil {
			specimens = append(specimens, sp)
		}
	}
	for _, sp := range specimens {
		if o != nil {
			if ref := o.srRef(); ref != nil {
				setRefs(sp, "request", ref)
			}
		}
	}
	if o != nil {
		o.finish(c, specimens, results)
	}
	return nil
}

// appendEntry appends e unless the list has it already.
func appendEntry(list []*Entry, e *Entry) []*Entry {
	for _, x := range list {
		if x == e {
			return list
		}
	}
	return append(list, e)
}

// setRefs adds ref to the list element k of e's resource (or, for
// Observation.specimen and DiagnosticReport-like single references, sets
// it), skipping one already there.
func setRefs(e *Entry, k string, ref map[string]any) {
	single := map[string]bool{"Observation.specimen": true}
	if single[e.Type+"."+k] {
		if _, ok := e.Resource[k]; !ok {
			e.Resource[k] = ref
		}
		return
	}
	list, _ := e.Resource[k].([]any)
	for _, x := range list {
		if m, ok := x.(map[string]any); ok && m["reference"] == ref["reference"] {
			return
		}
	}
	e.Resource[k] = append(list, ref)
}

// addNote appends an Annotation to a resource's note.
func addNote(e *Entry, note map[string]any) {
	if note == nil {
		return
	}
	list, _ := e.Resource["note"].([]any)
	e.Resource["note"] = append(list, note)
}

// note maps an NTE to an Annotation (NTE[Observation],
// NTE[ServiceRequest]): text NTE-3 (repetitions as lines), author NTE-5,
// time NTE-6; nil without text.
func (c *Context) note(seg hl7v2.Segment) map[string]any {
	var lines []string
	for _, r := range repsOf(seg.Field(3)) {
		if t := Text(r); t != "" {
			lines = append(lines, t)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	text := lines[0]
	for _, l := range lines[1:] {
		text += "\n" + l
	}
	n := map[string]any{"text": text}
	if ref := c.Practitioner(seg.Field(5).Rep(1)); ref != nil {
		if ref["reference"] != nil {
			n["authorReference"] = ref
		} else if d, _ := ref["display"].(string); d != "" {
			n["authorString"] = d
		}
	}
	setv(n, "time", c.DateTime(seg.Field(6)))
	return n
}
