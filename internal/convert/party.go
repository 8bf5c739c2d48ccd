package convert

import (
	"context"
	"strings"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/hl7v2"
)

func init() {
	RegisterSegment("NK1", nk1Segment)
	RegisterSegment("GT1", gt1Segment)
	RegisterSegment("IN1", in1Segment)
	RegisterSegment("IN2", in2Segment)
}

// nameKey writes the first XPN of a field as "family|given", lower case,
// for derived identifiers.
func nameKey(f hl7v2.Value) string {
	return strings.ToLower(compText(f, 1) + "|" + compText(f, 2))
}

// relatedPerson upserts the RelatedPerson of the current patient with the
// given name and relationship (derived identifier on the patient, the
// name and the relationship code), filling name, relationship, address,
// telecom, gender and birth date from the fields given (0 when absent).
func (c *Context) relatedPerson(seg hl7v2.Segment, name, rel, addr, phone, workPhone, gender, birth int) *Entry {
	e, _ := c.UpsertDerived("RelatedPerson", nameKey(seg.Field(name)), compText(seg.Field(rel), 1))
	r := e.Resource
	r["patient"] = c.Patient.Ref()
	setv(r, "name", c.HumanNames(seg.Field(name)))
	if code := compText(seg.Field(rel), 1); code != "" {
		r["relationship"] = []any{map[string]any{"coding": []any{relationship(code, compText(seg.Field(rel), 2))}}}
	}
	if addr > 0 {
		setv(r, "address", c.Addresses(seg.Field(addr)))
	}
	var tel []any
	if phone > 0 {
		tel = append(tel, c.ContactPoints(seg.Field(phone), "home")...)
	}
	if workPhone > 0 {
		tel = append(tel, c.ContactPoints(seg.Field(workPhone), "work")...)
	}
	setv(r, "telecom", tel)
	if gender > 0 {
		setv(r, "gender", genderMap[compText(seg.Field(gender), 1)])
	}
	if birth > 0 {
		setv(r, "birthDate", c.Date(seg.Field(birth)))
	}
	return e
}

// nk1Segment maps NK1 to RelatedPerson (NK1[RelatedPerson]): name (2),
// relationship (3), address (4), telecom (5 home, 6 work), period (8,
// 9), gender (15), birth date (16). An NK1 with no person name (an
// organisation contact) is skipped.
func nk1Segment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	if compText(seg.Field(2), 1) == "" && compText(seg.Field(2), 2) == "" {
		return nil
	}
	e := c.relatedPerson(seg, 2, 3, 4, 5, 6, 15, 16)
	p := map[string]any{}
	setv(p, "start", c.Date(seg.Field(8)))
	setv(p, "end", c.Date(seg.Field(9)))
	setv(e.Resource, "period", p)
	c.Last["NK1"] = e
	return nil
}

// gt1Segment maps GT1 (guarantor) to the account's guarantor: the
// patient itself when GT1-11 is SEL, else a RelatedPerson (name 3,
// address 5, phones 6 and 7, birth date 8, gender 9, relationship 11).
// Without an account (PID-18), one is derived from the patient.
func gt1Segment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	var party map[string]any
	if compText(seg.Field(11), 1) == "SEL" {
		party = c.Patient.Ref()
	} else if compText(seg.Field(3), 1) != "" || compText(seg.Field(3), 2) != "" {
		party = c.relatedPerson(seg, 3, 11, 5, 6, 7, 9, 8).Ref()
	} else {
		return nil
	}
	if c.Account == nil {
		a, _ := c.UpsertDerived("Account", "guarantor-account")
		a.Resource["status"] = "active"
		a.Resource["subject"] = []any{c.Patient.Ref()}
		c.Account = a
	}
	list, _ := c.Account.Resource["guarantor"].([]any)
	c.Account.Resource["guarantor"] = append(list, map[string]any{"party": party})
	return nil
}

// in1Segment maps IN1 to Coverage (IN1[Coverage]): payor (IN1-4 company
// name as a display, IN1-3 company ID as its identifier), period (12,
// 13), type (15), subscriber relationship (17), subscriber ID (IN1-36
// policy number), status active. The derived identifier is on the
// patient, the company (IN1-3, else IN1-4), the plan (IN1-2) and the
// policy number.
func in1Segment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	if err := c.needPatient(seg); err != nil {
		return err
	}
	company := compText(seg.Field(3), 1)
	if company == "" {
		company = compText(seg.Field(4), 1)
	}
	if company == "" && compText(seg.Field(2), 1) == "" {
		return concord.Errorf(concord.EINVALID, "%s: no insurance company or plan", c.Loc(seg, 3))
	}
	policy := Text(seg.Field(36))
	e, _ := c.UpsertDerived("Coverage", company, compText(seg.Field(2), 1), policy)
	r := e.Resource
	r["status"] = "active"
	r["beneficiary"] = c.Patient.Ref()
	payor := map[string]any{}
	setv(payor, "display", compText(seg.Field(4), 1))
	if id := c.Identifier(seg.Field(3).Rep(1)); id != nil {
		payor["identifier"] = id
	}
	if len(payor) == 0 {
		setv(payor, "display", hdText(company, compText(seg.Field(2), 2), compText(seg.Field(2), 1)))
	}
	r["payor"] = []any{payor}
	setv(r, "subscriberId", policy)
	setv(r, "type", c.CodeableConcept(seg.Field(15), "0086"))
	if plan := c.CodeableConcept(seg.Field(2), "0072"); plan != nil {
		if v := compText(seg.Field(2), 1); v != "" {
			r["class"] = []any{map[string]any{"type": map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}}},
				"value": v, "name": compText(seg.Field(2), 2)}}
			if compText(seg.Field(2), 2) == "" {
				delete(r["class"].([]any)[0].(map[string]any), "name")
			}
		}
	}
	p := map[string]any{}
	setv(p, "start", c.Date(seg.Field(12)))
	setv(p, "end", c.Date(seg.Field(13)))
	setv(r, "period", p)
	rel := compText(seg.Field(17), 1)
	if rel != "" {
		r["relationship"] = map[string]any{"coding": []any{map[string]any{
			"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": subscriberRelationship(rel)}}}
	}
	if rel == "SEL" {
		r["subscriber"] = c.Patient.Ref()
	}
	c.Last["IN1"] = e
	return nil
}

// subscriberRelationship maps table 0063 to the subscriber-relationship
// code system (self, spouse, child, parent, common, injured, other).
func subscriberRelationship(code string) string {
	switch code {
	case "SEL":
		return "self"
	case "SPO":
		return "spouse"
	case "DOM":
		return "common"
	case "CHD", "SCH", "FCH", "NCH", "GCH":
		return "child"
	case "PAR", "MTH", "FTH":
		return "parent"
	}
	return "other"
}

// in2Segment completes the Coverage of the IN1 before it: IN2-6
// (Medicare health insurance card number) and IN2-8 (Medicaid case
// number) as Coverage identifiers.
func in2Segment(ctx context.Context, c *Context, seg hl7v2.Segment) error {
	e := c.Last["IN1"]
	if e == nil {
		return nil
	}
	ids, _ := e.Resource["identifier"].([]any)
	if v := Text(seg.Field(6)); v != "" {
		ids = append(ids, map[string]any{"system": "http://hl7.org/fhir/sid/us-medicare", "value": v,
			"type": map[string]any{"coding": []any{map[string]any{"system": v2System("0203"), "code": "MC"}}}})
	}
	if v := Text(seg.Field(8)); v != "" {
		ids = append(ids, map[string]any{"system": senderBase + uriPart(c.sender) + ":MA", "value": v,
			"type": map[string]any{"coding": []any{map[string]any{"system": v2System("0203"), "code": "MA"}}}})
	}
	e.Resource["identifier"] = ids
	return nil
}
