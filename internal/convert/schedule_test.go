package convert

import (
	"strings"
	"testing"
)

// TestSIUNewThenCancel checks that an SIU^S12 books one Appointment with
// the patient, the practitioner, the room and the equipment as
// participants, that replaying it stores nothing, that an S14 with a new
// time makes version 2 of the same Appointment, and that an S15 cancels
// it (version 3), and an S26 marks it no-show.
func TestSIUNewThenCancel(t *testing.T) {
	ctx, im, st := newImporter(t)
	s12 := goldenMessage(t, "siu_s12")
	if _, err := im.Bundle(ctx, convertString(t, s12, Options{MessageID: "s12"}).Bundle); err != nil {
		t.Fatal(err)
	}
	again, err := im.Bundle(ctx, convertString(t, s12, Options{MessageID: "s12"}).Bundle)
	if err != nil || again.Created != 0 || again.Updated != 0 {
		t.Fatalf("replay %+v %v", again, err)
	}
	appts := storedOf(t, st, "Appointment")
	if len(appts) != 1 {
		t.Fatalf("%d appointments", len(appts))
	}
	a := appts[0]
	if a["status"] != "booked" || a["start"] != "2026-04-15T10:00:00Z" || a["end"] != "2026-04-15T10:30:00Z" {
		t.Errorf("appointment %v", a)
	}
	kinds := map[string]bool{}
	for _, p := range a["participant"].([]any) {
		ref, _ := p.(map[string]any)["actor"].(map[string]any)["reference"].(string)
		kinds[strings.Split(ref, "/")[0]] = true
	}
	if !kinds["Patient"] || !kinds["Practitioner"] || !kinds["Location"] {
		t.Errorf("participants %v", a["participant"])
	}
	s14 := strings.Replace(strings.Replace(s12, "SIU^S12^", "SIU^S14^", 1), "^^^202604151000+0000^202604151030+0000", "^^^202604161400+0000^202604161430+0000", 1)
	if _, err := im.Bundle(ctx, convertString(t, s14, Options{MessageID: "s14"}).Bundle); err != nil {
		t.Fatal(err)
	}
	a = storedOf(t, st, "Appointment")[0]
	if a["meta"].(map[string]any)["versionId"] != "2" || a["start"] != "2026-04-16T14:00:00Z" {
		t.Errorf("after S14: %v %v", a["meta"], a["start"])
	}
	if _, err := im.Bundle(ctx, convertString(t, goldenMessage(t, "siu_s15"), Options{MessageID: "s15"}).Bundle); err != nil {
		t.Fatal(err)
	}
	appts = storedOf(t, st, "Appointment")
	if len(appts) != 1 || appts[0]["status"] != "cancelled" || appts[0]["meta"].(map[string]any)["versionId"] != "3" {
		t.Fatalf("after S15: %v", appts)
	}
	if appts[0]["cancelationReason"] == nil {
		t.Errorf("no cancelation reason: %v", appts[0])
	}
	if _, err := im.Bundle(ctx, convertString(t, goldenMessage(t, "siu_s26"), Options{MessageID: "s26"}).Bundle); err != nil {
		t.Fatal(err)
	}
	if a := storedOf(t, st, "Appointment")[0]; a["status"] != "noshow" {
		t.Errorf("after S26: %v", a["status"])
	}
}

// TestSIUWithoutIDs checks the answer to an SCH with neither placer nor
// filler appointment ID.
func TestSIUWithoutIDs(t *testing.T) {
	msg := strings.Replace(goldenMessage(t, "siu_s12"), "SCH|PL-3001^CPOE|FL-9001^SCHED|", "SCH|||", 1)
	_, err := ToFHIR(t.Context(), parseString(t, msg), Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "SCH-1: no placer or filler appointment ID") {
		t.Errorf("got %v", err)
	}
}

// TestAppointmentStartWithoutEnd checks that an appointment with a start
// and a duration but no end gets its end, that one with no duration
// takes the end of its resources, and that a booked appointment with a
// start and nothing to end it is refused at SCH-11 (FHIR wants start and
// end together).
func TestAppointmentStartWithoutEnd(t *testing.T) {
	s12 := goldenMessage(t, "siu_s12")
	noEnd := strings.Replace(s12, "^^^202604151000+0000^202604151030+0000", "^^^202604151000+0000", 1)
	res := convertString(t, noEnd, Options{})
	if a := bundleResources(t, res.Bundle, "Appointment")[0]; a["end"] != "2026-04-15T10:30:00Z" {
		t.Errorf("from the duration: %v", a)
	}
	noDuration := strings.Replace(noEnd, "|Normal|30|min|", "|Normal|||", 1)
	res = convertString(t, noDuration, Options{})
	if a := bundleResources(t, res.Bundle, "Appointment")[0]; a["end"] != "2026-04-15T10:30:00Z" {
		t.Errorf("from the resources: %v", a)
	}
	bare := noDuration[:strings.Index(noDuration, "RGS|")]
	_, err := ToFHIR(t.Context(), parseString(t, bare), Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "SCH-11: the booked appointment has a start but no end") {
		t.Errorf("got %v", err)
	}
	cancelled := strings.Replace(bare, "SIU^S12^", "SIU^S15^", 1)
	res = convertString(t, cancelled, Options{})
	if a := bundleResources(t, res.Bundle, "Appointment")[0]; a["status"] != "cancelled" || a["start"] != nil {
		t.Errorf("a cancelled appointment without an end: %v", a)
	}
}
