package convert

import "github.com/concord-health/concord/hl7v2"

// The US Core race and ethnicity extensions (PID-10, PID-22): the IG
// leaves them to local implementations; Concord writes the US Core form,
// with the CDC race and ethnicity code system (urn:oid:2.16.840.1.113883.6.238).
const (
	usCoreRace      = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
	usCoreEthnicity = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
	cdcRace         = "urn:oid:2.16.840.1.113883.6.238"
)

// ombRace are the OMB race categories of the CDC code system (HL7 table
// 0005 uses the same codes).
var ombRace = map[string]string{
	"1002-5": "American Indian or Alaska Native", "2028-9": "Asian", "2054-5": "Black or African American",
	"2076-8": "Native Hawaiian or Other Pacific Islander", "2106-3": "White",
}

// ombEthnicity maps table 0189 (and the CDC codes themselves) to the OMB
// ethnicity categories.
var ombEthnicity = map[string][2]string{
	"H": {"2135-2", "Hispanic or Latino"}, "2135-2": {"2135-2", "Hispanic or Latino"},
	"N": {"2186-5", "Not Hispanic or Latino"}, "2186-5": {"2186-5", "Not Hispanic or Latino"},
}

// raceExtension builds the us-core-race extension from PID-10: the OMB
// categories it names, with the text of every repetition; nil when none
// is valued.
func raceExtension(f hl7v2.Value) map[string]any {
	var subs []any
	var text []string
	for _, r := range repsOf(f) {
		code := compText(r, 1)
		if d, ok := ombRace[code]; ok {
			subs = append(subs, map[string]any{"url": "ombCategory",
				"valueCoding": map[string]any{"system": cdcRace, "code": code, "display": d}})
		}
		if t := compText(r, 2); t != "" {
			text = append(text, t)
		} else if d, ok := ombRace[code]; ok {
			text = append(text, d)
		}
	}
	return usCoreExtension(usCoreRace, subs, text)
}

// ethnicityExtension builds the us-core-ethnicity extension from PID-22.
func ethnicityExtension(f hl7v2.Value) map[string]any {
	var subs []any
	var text []string
	for _, r := range repsOf(f) {
		if m, ok := ombEthnicity[compText(r, 1)]; ok {
			subs = append(subs, map[string]any{"url": "ombCategory",
				"valueCoding": map[string]any{"system": cdcRace, "code": m[0], "display": m[1]}})
			text = append(text, m[1])
		} else if t := compText(r, 2); t != "" {
			text = append(text, t)
		}
	}
	return usCoreExtension(usCoreEthnicity, subs, text)
}

func usCoreExtension(url string, subs []any, text []string) map[string]any {
	if len(text) == 0 {
		return nil
	}
	t := text[0]
	for _, s := range text[1:] {
		t += ", " + s
	}
	subs = append(subs, map[string]any{"url": "text", "valueString": t})
	return map[string]any{"url": url, "extension": subs}
}
