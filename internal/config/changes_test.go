package config

import (
	"strings"
	"testing"
	"time"
)

// TestChangesSource: a channel following the change log, with the HL7
// options of each destination, and the mistakes an operator can make.
func TestChangesSource(t *testing.T) {
	p := write(t, `channels:
  - name: lab-orders
    changes:
      types: [ServiceRequest, Patient]
      filter: 'type != "ServiceRequest" || resource.category.exists(c, c.coding.exists(x, x.code == "108252007"))'
      from: beginning
      poll: 2s
    destinations:
      - name: lis
        mllp: "lis.example:2575"
        hl7:
          type: OML^O21
          version: "2.5.1"
          sending_application: CONCORD
          sending_facility: HOSP
          receiving_application: LIS
          receiving_facility: LAB
          processing_id: T
          partner: LIS^LAB
          authorities: {"urn:oid:2.16.840.1.113883.19.5": HOSP}
      - name: old-lis
        mllp: "old-lis.example:2575"
        hl7: {type: ORM^O01, version: "2.3.1"}
      - name: archive
        file: /tmp/x
`)
	c, err := Load(Sources{File: p})
	if err != nil {
		t.Fatal(err)
	}
	ch := c.Channels[0]
	if ch.Changes == nil || strings.Join(ch.Changes.Types, ",") != "ServiceRequest,Patient" || ch.Changes.From != "beginning" || ch.Changes.Poll != 2*time.Second ||
		!strings.Contains(ch.Changes.Filter, "108252007") {
		t.Fatalf("changes %+v", ch.Changes)
	}
	lis := ch.Destinations[0].HL7
	if lis == nil || lis.Type != "OML^O21" || lis.Version != "2.5.1" || lis.SendingApplication != "CONCORD" || lis.SendingFacility != "HOSP" ||
		lis.ReceivingApplication != "LIS" || lis.ReceivingFacility != "LAB" || lis.ProcessingID != "T" ||
		lis.Authorities["urn:oid:2.16.840.1.113883.19.5"] != "HOSP" || lis.Partner != "LIS^LAB" {
		t.Fatalf("lis hl7 %+v", lis)
	}
	if h := ch.Destinations[1].HL7; h == nil || h.Type != "ORM^O01" || h.Version != "2.3.1" {
		t.Fatalf("old-lis hl7 %+v", h)
	}
	if ch.Destinations[2].HL7 != nil {
		t.Fatal("a destination without hl7 got options")
	}
	if c, err := Load(Sources{File: write(t, "channels:\n  - {name: a, changes: {types: Patient}, destinations: [{name: d, file: x}]}\n")}); err != nil ||
		c.Channels[0].Changes.From != "now" || c.Channels[0].Changes.Poll != 500*time.Millisecond {
		t.Fatalf("default from: %v", err)
	}

	const dest = ", destinations: [{name: d, file: x}]"
	bad := map[string]string{
		"channels:\n  - {name: a, changes: {types: Patient}, destinations: [{name: d, fhir: store}]}\n":                                       "a fhir destination would write it back",
		"channels:\n  - {name: a, changes: {types: Patient}, destinations: [{name: d, file: x, hl7: {partner: \"A|B\"}}]}\n":                  "want the partner's MSH-3^MSH-4",
		"channels:\n  - {name: a, changes: {types: [Observation]}" + dest + "}\n":                                                             `"Observation": want ServiceRequest, DiagnosticReport, Patient`,
		"channels:\n  - {name: a, changes: {types: [Patient, Patient]}" + dest + "}\n":                                                        "listed twice",
		"channels:\n  - {name: a, changes: {filter: x}" + dest + "}\n":                                                                        "changes needs types",
		"channels:\n  - {name: a, changes: {types: Patient, from: yesterday}" + dest + "}\n":                                                  "want now or beginning",
		"channels:\n  - {name: a, changes: {types: Patient, colour: red}" + dest + "}\n":                                                      `unknown key "colour"`,
		"channels:\n  - {name: a, changes: {types: Patient}}\n":                                                                               "needs destinations",
		"channels:\n  - {name: a, mllp: \":1\", changes: {types: Patient}" + dest + "}\n":                                                     "only source",
		"channels:\n  - {name: a, http: true, destinations: [{name: d, file: x, hl7: {type: OML^O21}}]}\n":                                    "hl7 applies to a channel with a changes source",
		"channels:\n  - {name: a, changes: {types: Patient}, destinations: [{name: d, file: x, hl7: {type: ADT^A08}}]}\n":                     "want ORM^O01, OML^O21 or OMI^O23",
		"channels:\n  - {name: a, changes: {types: Patient}, destinations: [{name: d, file: x, hl7: {version: \"3.0\"}}]}\n":                  "want one of 2.3",
		"channels:\n  - {name: a, changes: {types: Patient}, destinations: [{name: d, file: x, hl7: {processing_id: X}}]}\n":                  "want P, T or D",
		"channels:\n  - {name: a, changes: {types: Patient}, destinations: [{name: d, file: x, hl7: {sending_facility: \"A|B\"}}]}\n":         "without HL7 delimiters",
		"channels:\n  - {name: a, changes: {types: Patient}, destinations: [{name: d, file: x, hl7: {type: OML^O21, version: \"2.4\"}}]}\n":   "needs version 2.5 or later",
		"channels:\n  - {name: a, changes: {types: Patient}, destinations: [{name: d, file: x, hl7: {version: \"2.3\"}}]}\n":                  "set type: ORM^O01",
		"channels:\n  - {name: a, changes: {types: Patient}, destinations: [{name: d, file: x, hl7: {type: ORM^O01, version: \"2.7\"}}]}\n":   "withdrawn in version 2.7",
		"channels:\n  - {name: a, changes: {types: Patient}" + dest + "}\n  - {name: b, http: true, destinations: [{name: e, channel: a}]}\n": "no other channel's destination may feed it",
	}
	for in, want := range bad {
		_, err := Load(Sources{File: write(t, in)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
