package convert

import (
	"context"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

// SIU (scheduling information unsolicited) S12–S22 and S26: the SCH
// makes the Appointment, identified by the filler appointment ID
// (SCH-2), else the placer's (SCH-1); the patient (PID, which comes
// after SCH), AIP, AIL and AIG become its participants, AIS its service
// type. S23/S24 (blocked/opened slots) are about Slots, not appointments,
// and are not registered.
var scheduleTypes = []string{"SIU^S12", "SIU^S13", "SIU^S14", "SIU^S15", "SIU^S16", "SIU^S17",
	"SIU^S18", "SIU^S19", "SIU^S20", "SIU^S21", "SIU^S22", "SIU^S26"}

func init() {
	for _, t := range scheduleTypes {
		RegisterMessage(t, scheduleMessage)
	}
	RegisterSegment("SCH", schSegment)
	RegisterSegment("AIS", aisSegment)
	RegisterSegment("AIG", aigSegment)
	RegisterSegment("AIL", ailSegment)
	RegisterSegment("AIP", aipSegment)
}

var scheduleOverrides = ownOverrides(map[string]SegmentFunc{"TQ1": scheduleTQ1, "NTE": scheduleNTE})

const appointmentKey = "own.appointment"

func scheduleMessage(ctx context.Context, c *Context) error {
	if err := c.WalkSegments(ctx, scheduleOverrides); err != nil {
		return err
	}
	e, _ := c.Group[appointmentKey].(*Entry)
	if e == nil {
		return concord.Errorf(concord.EINVALID, "SCH: the message has no SCH segment")
	}
	r := e.Resource
	if c.Patient != nil {
		parts, _ := r["participant"].([]any)
		p := map[string]any{"actor": c.Patient.Ref(), "status": "accepted"}
		r["participant"] = append([]any{p}, parts...)
	}
	if parts, _ := r["participant"].([]any); len(parts) == 0 {
		return concord.Errorf(concord.EINVALID, "PID: the appointment has no patient nor resource")
	}
	return finishAppointmentTime(r)
}

// fillerStatus maps table 0278 (filler status codes) to
// Appointment.status (the IG's FillerStatusCodes[Appointment] map;
// Discontinued as cancelled, Blocked and Overbook as booked).
var fillerStatus = map[string]string{
	"PENDING": "pending", "WAITLIST": "waitlist", "BOOKED": "booked", "STARTED": "checked-in",
	"COMPLETE": "fulfilled", "CANCELLED": "cancelled", "DISCONTINUED": "cancelled", "DELETED": "entered-in-error",
	"BLOCKED": "booked", "OVERBOOK": "booked", "NOSHOW": "noshow",
}

// participantStatus maps a resource's filler status (AIx) to
// participant.status.
func participantStatus(code string) string {
	switch strings.ToUpper(code) {
	case "CANCELLED", "DISCONTINUED", "DELETED", "NOSHOW":
		return "declined"
	case "PENDING", "WAITLIST":
		return "tentative"
	}
	return "accepted"
}

// appointmentStatus is the status by trigger: S15 (cancel) and S16
// (discontinue) cancelled, S17 (delete) entered-in-error, S26 (no-show)
// noshow; the other triggers take SCH-25 (filler status), booked when
// empty.
func appointmentStatus(trigger, filler string) string {
	switch trigger {
	case "S15", "S16":
		return "cancelled"
	case "S17":
		return "entered-in-error"
	case "S26":
		return "noshow"
	}
	if s := fillerStatus[strings.ToUpper(filler)]; s != "" {
		return s
	}
	return "booked"
}

// minutesOf converts a duration with its units (CNE/CWE: s, min, h, d
// and their ISO+ spellings) to whole minutes; 0 when unknown.
func minutesOf(amount string, unit hl7v2.Value) int {
	n, ok := nmDecimal(amount)
	if !ok {
		return 0
	}
	f, err := n.Float64()
	if err != nil || f <= 0 || f > 1e7 {
		return 0
	}
	switch strings.ToLower(hdText(compText(unit, 1), compText(unit, 2))) {
	case "s", "sec", "second", "seconds":
		f /= 60
	case "h", "hr", "hour", "hours":
		f *= 60
	case "d", "day", "days":
		f *= 1440
	}
	m := int(f + 0.5)
	if m < 1 {
		return 0
	}
	return m
}

// schSegment maps SCH to an Appointment (SCH[Appointment]): identifiers
// SCH-2 (filler, FILL) and SCH-1 (placer, PLAC), event reason (6) as
// the cancellation reason of a cancel or no-show, else a reason,
// appointment reason (7, table 0276) as the appointment type, duration
// (9, 10), timing (11: start, end), status by trigger and SCH-25.
func schSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	filler := c.placerFillerID(seg.Field(2), "FILL")
	placer := c.placerFillerID(seg.Field(1), "PLAC")
	var e *Entry
	switch {
	case filler != nil:
		e, _ = c.Upsert("Appointment", filler)
		addIdentifiers(e, placer)
	case placer != nil:
		e, _ = c.Upsert("Appointment", placer)
	default:
		return concord.Errorf(concord.EINVALID, "%s: no placer or filler appointment ID (SCH-1, SCH-2)", c.Loc(seg, 1))
	}
	r := e.Resource
	status := appointmentStatus(c.Trigger, compText(seg.Field(25), 1))
	r["status"] = status
	reason := c.CodeableConcept(seg.Field(6), "")
	if status == "cancelled" || status == "noshow" {
		setv(r, "cancelationReason", reason)
	} else {
		setv(r, "reasonCode", appendNonEmpty(nil, reason))
	}
	setv(r, "appointmentType", c.CodeableConcept(seg.Field(7), "0276"))
	if m := minutesOf(Text(seg.Field(9)), seg.Field(10)); m > 0 {
		r["minutesDuration"] = m
	}
	tq := seg.Field(11).Rep(1)
	setv(r, "start", c.Instant(tq.Component(4)))
	setv(r, "end", c.Instant(tq.Component(5)))
	c.Group[appointmentKey] = e
	c.setTarget(e, "SCH")
	return nil
}

// currentAppointment returns the Appointment of the message, nil before
// the SCH.
func (c *Context) currentAppointment() *Entry {
	e, _ := c.Group[appointmentKey].(*Entry)
	return e
}

// scheduleTQ1 takes the appointment's start and end from TQ1-7/TQ1-8:
// TQ1 replaces SCH-11, deprecated since v2.6, so it wins when both are
// given.
func scheduleTQ1(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	e := c.currentAppointment()
	if e == nil {
		return nil
	}
	if start := c.Instant(seg.Field(7)); start != "" {
		e.Resource["start"] = start
		delete(e.Resource, "end")
		setv(e.Resource, "end", c.Instant(seg.Field(8)))
	}
	return nil
}

// scheduleNTE adds the NTE that follow SCH (before the patient and
// resource groups) to the appointment's comment. In the patient group
// an NTE follows a patient OBX and goes to the global converter; those
// after the resource segments describe the resources and are skipped.
func scheduleNTE(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if c.currentAppointment() == nil {
		return delegate(ctx, c, seg)
	}
	for _, id := range []string{"RGS", "AIS", "AIG", "AIL", "AIP"} {
		if c.counts[id] > 0 {
			return nil
		}
	}
	if c.counts["PID"] > 0 {
		return delegate(ctx, c, seg)
	}
	return noteSegment(ctx, c, seg)
}

// resourcePeriod reads a resource segment's start (startField), else
// the appointment's start plus the offset (startField+1, units +2), and
// its end: start plus the duration (durField, units durField+1). It
// returns FHIR instants, "" where unknown.
func (c *Context) resourcePeriod(seg hl7v2.Segment, startField, durField int, apptStart string) (string, string) {
	start := c.Instant(seg.Field(startField))
	if start == "" && apptStart != "" {
		if off := minutesOf(Text(seg.Field(startField+1)), seg.Field(startField+2)); off > 0 {
			if t, err := time.Parse(time.RFC3339, apptStart); err == nil {
				start = t.Add(time.Duration(off) * time.Minute).Format(time.RFC3339)
			}
		}
	}
	end := ""
	if start != "" {
		if d := minutesOf(Text(seg.Field(durField)), seg.Field(durField+1)); d > 0 {
			if t, err := time.Parse(time.RFC3339, start); err == nil {
				end = t.Add(time.Duration(d) * time.Minute).Format(time.RFC3339)
			}
		}
	}
	return start, end
}

// addParticipant appends a participant with its actor, type, status and
// period to the appointment; the appointment takes the period as its
// own start and end when it has none.
func (c *Context) addParticipant(actor, typ map[string]any, status, start, end string) {
	e := c.currentAppointment()
	if e == nil || (actor == nil && typ == nil) {
		return
	}
	p := map[string]any{"status": status}
	setv(p, "actor", actor)
	if typ != nil {
		p["type"] = []any{typ}
	}
	per := map[string]any{}
	setv(per, "start", start)
	setv(per, "end", end)
	setv(p, "period", per)
	list, _ := e.Resource["participant"].([]any)
	e.Resource["participant"] = append(list, p)
	if _, ok := e.Resource["start"]; !ok && start != "" {
		e.Resource["start"] = start
		setv(e.Resource, "end", end)
	}
}

func apptStart(c *Context) string {
	if e := c.currentAppointment(); e != nil {
		s, _ := e.Resource["start"].(string)
		return s
	}
	return ""
}

// aisSegment maps AIS (appointment information – service): the
// universal service identifier (3) is a service type; its start (4,
// else offset 5, 6) and duration (7, 8) give the appointment's times
// when SCH did not.
func aisSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	e := c.currentAppointment()
	if e == nil {
		return nil
	}
	if cc := c.CodeableConcept(seg.Field(3), ""); cc != nil {
		list, _ := e.Resource["serviceType"].([]any)
		e.Resource["serviceType"] = append(list, cc)
	}
	if _, ok := e.Resource["start"]; !ok {
		start, end := c.resourcePeriod(seg, 4, 7, "")
		setv(e.Resource, "start", start)
		setv(e.Resource, "end", end)
	}
	return nil
}

// aigSegment maps AIG (general resource) to a participant whose actor is
// a Location identified by the resource ID (AIG-3, CWE: code and coding
// system), as the IG maps it; type AIG-4, period AIG-8..12, status
// AIG-14.
func aigSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	var actor map[string]any
	if id := compText(seg.Field(3), 1); id != "" {
		sys := c.CodeSystem(compText(seg.Field(3), 3))
		if sys == "" {
			sys = senderBase + uriPart(c.sender) + ":resource"
		}
		loc, fresh := c.Upsert("Location", map[string]any{"system": sys, "value": id})
		if fresh {
			setv(loc.Resource, "name", hdText(compText(seg.Field(3), 2), id))
			loc.Resource["mode"] = "instance"
		}
		actor = loc.Ref()
		setv(actor, "display", compText(seg.Field(3), 2))
	}
	start, end := c.resourcePeriod(seg, 8, 11, apptStart(c))
	c.addParticipant(actor, c.CodeableConcept(seg.Field(4).Rep(1), ""), participantStatus(compText(seg.Field(14), 1)), start, end)
	return nil
}

// ailSegment maps AIL (location resource) to a participant whose actor
// is the Location (AIL-3, PL); type AIL-4, period AIL-6..10, status
// AIL-12.
func ailSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	start, end := c.resourcePeriod(seg, 6, 9, apptStart(c))
	c.addParticipant(c.Location(seg.Field(3).Rep(1)), c.CodeableConcept(seg.Field(4).Rep(1), "0305"), participantStatus(compText(seg.Field(12), 1)), start, end)
	return nil
}

// aipSegment maps AIP (personnel resource) to a participant whose actor
// is the Practitioner (AIP-3, XCN); type AIP-4 (role), period
// AIP-6..10, status AIP-12.
func aipSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	start, end := c.resourcePeriod(seg, 6, 9, apptStart(c))
	c.addParticipant(c.Practitioner(seg.Field(3).Rep(1)), c.CodeableConcept(seg.Field(4).Rep(1), ""), participantStatus(compText(seg.Field(12), 1)), start, end)
	return nil
}

// finishAppointmentTime keeps the Appointment valid: FHIR wants start and
// end together (app-3), and both unless the appointment is proposed,
// cancelled or waitlisted. A start without an end takes start +
// minutesDuration, else the latest end of its participants; an end
// before the start is dropped. An appointment that still lacks a time it
// needs is refused (EINVALID at SCH-11): inventing one would mislead.
func finishAppointmentTime(r map[string]any) error {
	start, _ := r["start"].(string)
	end, _ := r["end"].(string)
	ts, errStart := time.Parse(time.RFC3339Nano, start)
	if te, err := time.Parse(time.RFC3339Nano, end); err == nil && errStart == nil && te.Before(ts) {
		delete(r, "end")
		end = ""
	}
	if start != "" && end == "" && errStart == nil {
		if m, ok := r["minutesDuration"].(int); ok && m > 0 {
			end = ts.Add(time.Duration(m) * time.Minute).Format(time.RFC3339)
		} else {
			var latest time.Time
			for _, p := range r["participant"].([]any) {
				per, _ := p.(map[string]any)["period"].(map[string]any)
				pe, _ := per["end"].(string)
				if t, err := time.Parse(time.RFC3339Nano, pe); err == nil && t.After(latest) && !t.Before(ts) {
					latest, end = t, pe
				}
			}
		}
		setv(r, "end", end)
	}
	if start == "" {
		delete(r, "end")
		end = ""
	}
	if start != "" && end != "" {
		return nil
	}
	switch r["status"] {
	case "proposed", "cancelled", "waitlist":
		delete(r, "start")
		delete(r, "end")
		return nil
	}
	if start == "" {
		return concord.Errorf(concord.EINVALID, "SCH-11: the %s appointment has no start time (SCH-11, TQ1-7 or AIS-4)", r["status"])
	}
	return concord.Errorf(concord.EINVALID, "SCH-11: the %s appointment has a start but no end nor duration (SCH-9, AIS-7)", r["status"])
}
