package convert

import (
	"context"
	"time"

	"github.com/concord-health/concord/hl7v2"
)

func init() {
	RegisterSegment("EVN", evnSegment)
}

// evnSegment keeps what EVN says about the event for the Provenance: when
// it occurred (EVN-6, else EVN-2, the recorded time) and who entered it
// (EVN-5, the operator).
func evnSegment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	when := c.DateTime(seg.Field(6))
	if when == "" {
		when = c.DateTime(seg.Field(2))
	}
	if when != "" {
		c.Group["EVN.occurred"] = when
	}
	if op := c.Practitioner(seg.Field(5).Rep(1)); op != nil {
		c.Group["EVN.operator"] = op
	}
	return nil
}

// addProvenance adds the message's Provenance: target every other entry,
// recorded MSH-7 (else Options.Received, else now), occurred EVN-6 (else
// EVN-2), activity the trigger event (table 0003), the sender as the
// author and the EVN-5 operator as the enterer, and an
// entity (role source) whose what.identifier names the stored raw message
// (system urn:concord:message, value Options.MessageID; without a
// MessageID, the sender's MSH-10 in urn:concord:v2:sender:<sender>:
// control-id). It is a conditional create on that identifier
// (ifNoneExist entity:identifier=…), so a replayed message finds its
// Provenance and adds none.
func (c *Context) addProvenance(typ string) {
	sys, val := messageSystem, c.Opt.MessageID
	if val == "" {
		sys, val = senderBase+uriPart(c.sender)+":control-id", c.Msg.ControlID()
	}
	if val == "" {
		val = nameUUID(string(c.Msg.Bytes()))
	}
	targets := make([]any, 0, len(c.entries))
	for _, e := range c.entries {
		if !e.noTarget {
			targets = append(targets, e.Ref())
		}
	}
	recorded := c.Instant(c.Msg.Segment(0).Field(7))
	if recorded == "" {
		t := c.Opt.Received
		if t.IsZero() {
			t = time.Now()
		}
		recorded = t.UTC().Format(time.RFC3339)
	}
	code, _, _ := c.Msg.MessageType()
	agent := map[string]any{
		"type": map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "author"}}},
		"who": map[string]any{"display": c.sender},
	}
	agents := []any{agent}
	if op, ok := c.Group["EVN.operator"].(map[string]any); ok {
		agents = append(agents, map[string]any{
			"type": map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "enterer"}}},
			"who": op,
		})
	}
	p := map[string]any{
		"resourceType": "Provenance",
		"target":       targets,
		"recorded":     recorded,
		"activity": map[string]any{"coding": []any{map[string]any{
			"system": v2System("0003"), "code": c.Trigger}}, "text": typ},
		"agent": agents,
		"entity": []any{map[string]any{
			"role": "source",
			"what": map[string]any{"identifier": map[string]any{"system": sys, "value": val},
				"display": "HL7 v2 " + code + " message " + c.Msg.ControlID()},
		}},
	}
	if when, ok := c.Group["EVN.occurred"].(string); ok {
		p["occurredDateTime"] = when
	}
	e := &Entry{Type: "Provenance", FullURL: "urn:uuid:" + nameUUID("Provenance|"+sys+"|"+val), Resource: p,
		IfNoneExist: "entity:identifier=" + tokenValue(sys, val)}
	c.entries = append(c.entries, e)
}
