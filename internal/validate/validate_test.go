package validate

import (
	"context"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
)

// All resources here are synthetic and small: one violation each.

func check(t *testing.T, src string) []concord.Issue {
	t.Helper()
	doc, err := fhirpath.ParseJSON([]byte(src))
	if err != nil {
		t.Fatalf("test JSON: %v", err)
	}
	return Resource(context.Background(), doc)
}

func errorsOf(issues []concord.Issue) []concord.Issue {
	var out []concord.Issue
	for _, is := range issues {
		if is.IsError() {
			out = append(out, is)
		}
	}
	return out
}

// narrative is a valid text element, so that dom-6 stays quiet.
const narrative = `"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">synthetic</div>"}`

// TestValid: well-formed resources give no issue at all.
func TestValid(t *testing.T) {
	for name, src := range map[string]string{
		"patient": `{"resourceType":"Patient","id":"syn-1",` + narrative + `,"active":true,"gender":"female","birthDate":"1970-02-28",
			"name":[{"use":"official","family":"Synthetic","given":["Ann","B"],"_given":[null,{"extension":[{"url":"http://example.org/fhir/initial","valueBoolean":true}]}]}],
			"extension":[{"url":"http://example.org/fhir/unknown-but-fine","extension":[{"url":"part","valueCode":"x"}]}],
			"managingOrganization":{"reference":"Organization/org-1"},"generalPractitioner":[{"reference":"https://example.org/fhir/Practitioner/p1/_history/2"}]}`,
		"observation": `{"resourceType":"Observation",` + narrative + `,"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},
			"subject":{"reference":"Patient?identifier=http://example.org/mrn|123"},"effectiveDateTime":"2020-01-01T10:00:00+01:00",
			"valueQuantity":{"value":72.5e0,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},
			"component":[{"code":{"text":"part"},"valueString":"x"}]}`,
		"primitive only by extension": `{"resourceType":"Patient",` + narrative + `,"_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}}`,
		"contained and referenced": `{"resourceType":"Observation",` + narrative + `,"status":"final","code":{"text":"x"},
			"contained":[{"resourceType":"Patient","id":"p"}],"subject":{"reference":"#p"}}`,
		// ref-1 inside a contained resource looks in the container's
		// contained list (%rootResource is the container).
		"contained refers to contained": `{"resourceType":"Observation",` + narrative + `,"status":"final","code":{"text":"x"},
			"contained":[{"resourceType":"Provenance","id":"pv","target":[{"reference":"#"}],"recorded":"2020-01-01T00:00:00Z",
			"agent":[{"who":{"reference":"#pr"}}]},{"resourceType":"Practitioner","id":"pr"}],"focus":[{"reference":"#pv"}]}`,
		"narrative with an id": `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>","_div":{"id":"d"}}}`,
		"unexpanded value set": `{"resourceType":"Patient",` + narrative + `,"photo":[{"contentType":"application/x-synthetic","data":"QUJD\nREVG"}]}`,
	} {
		if issues := check(t, src); len(issues) != 0 {
			t.Errorf("%s: %+v", name, issues)
		}
	}
}

// TestViolations: each kind of violation gives an error with its code and
// the FHIRPath of the element.
func TestViolations(t *testing.T) {
	cases := []struct {
		name, src, code, expr, text string
	}{
		// Unknown elements.
		{"unknown element", `{"resourceType":"Patient","foo":1}`, CodeStructure, "Patient.foo", "unknown element"},
		{"unknown in a complex type", `{"resourceType":"Patient","name":[{"family":"X","nickname":"Y"}]}`, CodeStructure, "Patient.name[0].nickname", "unknown"},
		{"unknown in a backbone element", `{"resourceType":"Patient","contact":[{"gender":"male","foo":true}]}`, CodeStructure, "Patient.contact[0].foo", "unknown"},
		{"unknown twin", `{"resourceType":"Patient","_foo":{"id":"x"}}`, CodeStructure, "Patient.foo", "_foo"},
		{"resourceType inside an element", `{"resourceType":"Patient","name":[{"resourceType":"HumanName","family":"X"}]}`, CodeStructure, "Patient.name[0].resourceType", "unknown"},
		{"primitive value as a member", `{"resourceType":"Patient","_gender":{"value":"male"}}`, CodeStructure, "Patient.gender.value", "unknown"},

		// JSON shape.
		{"array wanted", `{"resourceType":"Patient","name":{"family":"X"}}`, CodeStructure, "Patient.name", "JSON array"},
		{"single value wanted", `{"resourceType":"Patient","gender":["male"]}`, CodeStructure, "Patient.gender", "not be a JSON array"},
		{"object wanted", `{"resourceType":"Patient","name":["X"]}`, CodeStructure, "Patient.name[0]", "JSON object"},
		{"boolean wanted", `{"resourceType":"Patient","active":"true"}`, CodeStructure, "Patient.active", "JSON boolean"},
		{"string wanted", `{"resourceType":"Patient","gender":1}`, CodeStructure, "Patient.gender", "JSON string"},
		{"number wanted", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":"72"}}`, CodeStructure, "Observation.valueQuantity.value", "JSON number"},
		{"null value", `{"resourceType":"Patient","gender":null}`, CodeStructure, "Patient.gender", "null"},
		{"null item", `{"resourceType":"Patient","name":[{"given":["A",null]}]}`, CodeStructure, "Patient.name[0].given[1]", "null"},
		{"twins of different lengths", `{"resourceType":"Patient","name":[{"given":["A","B"],"_given":[{"id":"x"}]}]}`, CodeStructure, "Patient.name[0].given", "must match"},
		{"twin of a complex element", `{"resourceType":"Patient","_name":[{"id":"x"}]}`, CodeStructure, "Patient.name", "only primitive"},
		{"twin not an object", `{"resourceType":"Patient","gender":"male","_gender":"x"}`, CodeStructure, "Patient.gender", "JSON object"},
		{"empty array", `{"resourceType":"Patient","name":[]}`, CodeStructure, "Patient.name", "empty array"},
		{"duplicate member", `{"resourceType":"Patient","gender":"male","gender":"female"}`, CodeStructure, "Patient.gender", "twice"},
		{"prohibited element", `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>","_div":{"extension":[{"url":"http://example.org/x","valueString":"y"}]}}}`,
			CodeStructure, "Patient.text.div.extension", "maximum 0"},

		// Empty content (ele-1).
		{"empty object", `{"resourceType":"Patient","name":[{}]}`, CodeInvariant, "Patient.name[0]", "ele-1"},
		{"only an id", `{"resourceType":"Patient","maritalStatus":{"id":"m"}}`, CodeInvariant, "Patient.maritalStatus", "ele-1"},
		{"twin without extension", `{"resourceType":"Patient","_gender":{"id":"g"}}`, CodeInvariant, "Patient.gender", "ele-1"},
		{"empty string", `{"resourceType":"Patient","name":[{"family":""}]}`, CodeValue, "Patient.name[0].family", "empty string"},

		// Cardinality and choices.
		{"required element", `{"resourceType":"Observation","code":{"text":"x"}}`, CodeRequired, "Observation.status", "required"},
		{"required in a backbone element", `{"resourceType":"Patient","link":[{"type":"seealso"}]}`, CodeRequired, "Patient.link[0].other", "required"},
		{"required choice", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"component":[{"code":{"text":"y"}}],"referenceRange":[{"text":"r"}]}`, "", "", ""},
		{"required choice missing", `{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"1","type":"string","enableWhen":[{"question":"0","operator":"exists"}]}]}`,
			CodeRequired, "Questionnaire.item[0].enableWhen[0].answer", "required"},
		{"two choices", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","valueBoolean":true}`, CodeStructure, "Observation.valueBoolean", "choice"},
		{"choice without its type", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"value":"a"}`, CodeStructure, "Observation.value", "such as value"},
		{"extension without url", `{"resourceType":"Patient","extension":[{"valueString":"x"}]}`, CodeRequired, "Patient.extension[0].url", "required"},

		// Primitive formats.
		{"bad date", `{"resourceType":"Patient","birthDate":"1980-13-01"}`, CodeValue, "Patient.birthDate", "date"},
		{"no such day", `{"resourceType":"Patient","birthDate":"1981-02-29"}`, CodeValue, "Patient.birthDate", "no such day"},
		{"dateTime without zone", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"2020-01-01T10:00:00"}`, CodeValue, "Observation.effectiveDateTime", "dateTime"},
		{"bad instant", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"issued":"2020-01-01"}`, CodeValue, "Observation.issued", "instant"},
		{"bad time", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueTime":"25:00:00"}`, CodeValue, "Observation.valueTime", "time"},
		{"integer with a fraction", `{"resourceType":"Patient","multipleBirthInteger":1.5}`, CodeValue, "Patient.multipleBirthInteger", "integer"},
		{"integer out of range", `{"resourceType":"Patient","multipleBirthInteger":3000000000}`, CodeValue, "Patient.multipleBirthInteger", "out of range"},
		{"unsignedInt negative", `{"resourceType":"Patient","photo":[{"size":-1}]}`, CodeValue, "Patient.photo[0].size", "unsignedInt"},
		{"positiveInt zero", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueSampledData":{"origin":{"value":0},"period":1,"dimensions":0}}`, CodeValue, "Observation.valueSampledData.dimensions", "positiveInt"},
		{"bad id", `{"resourceType":"Patient","id":"a b"}`, CodeValue, "Patient.id", "id"},
		{"bad uri", `{"resourceType":"Patient","implicitRules":"a b"}`, CodeValue, "Patient.implicitRules", "uri"},
		{"bad base64", `{"resourceType":"Patient","photo":[{"data":"abc"}]}`, CodeValue, "Patient.photo[0].data", "base64"},
		{"bad code", `{"resourceType":"Patient","communication":[{"language":{"text":"x"}}],"language":"en  US"}`, CodeValue, "Patient.language", "code"},
		{"bad oid", `{"resourceType":"Patient","identifier":[{"system":"urn:oid:1.2.x","value":"1"}]}`, "", "", ""},

		// Required bindings.
		{"code not in value set", `{"resourceType":"Patient","gender":"m"}`, CodeCodeInvalid, "Patient.gender", "administrative-gender"},
		{"code in a complex type", `{"resourceType":"Patient","name":[{"use":"nick","family":"X"}]}`, CodeCodeInvalid, "Patient.name[0].use", "name-use"},
		{"CodeableConcept not in value set", `{"resourceType":"Condition","subject":{"reference":"Patient/p"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"gone"}]}}`,
			CodeCodeInvalid, "Condition.clinicalStatus", "condition-clinical"},
		{"CodeableConcept in another system", `{"resourceType":"Condition","subject":{"reference":"Patient/p"},"clinicalStatus":{"coding":[{"system":"http://example.org/status","code":"active"}]}}`,
			CodeCodeInvalid, "Condition.clinicalStatus", "condition-clinical"},

		// References.
		{"reference to a type not allowed", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Medication/m1"}}`,
			CodeInvalid, "Observation.subject.reference", "Medication"},
		{"absolute reference to a type not allowed", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"https://example.org/fhir/Medication/m1"}}`,
			CodeInvalid, "Observation.subject.reference", "Medication"},
		{"reference not of the form Type/id", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient"}}`,
			CodeInvalid, "Observation.subject.reference", "Type/id"},
		{"reference to an unknown type", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patiant/1"}}`,
			CodeInvalid, "Observation.subject.reference", "Type/id"},

		// Invariants.
		{"resource invariant", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueString":"a","dataAbsentReason":{"text":"b"}}`, CodeInvariant, "Observation", "obs-6"},
		{"type invariant", `{"resourceType":"Patient","name":[{"period":{"start":"2020-01-02","end":"2020-01-01"}}]}`, CodeInvariant, "Patient.name[0].period", "per-1"},
		{"quantity invariant", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1,"code":"mg"}}`, CodeInvariant, "Observation.valueQuantity", "qty-3"},
		{"SimpleQuantity profile", `{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/p"},"medicationCodeableConcept":{"text":"m"},"dosageInstruction":[{"doseAndRate":[{"doseQuantity":{"value":1,"comparator":"<"}}]}]}`,
			CodeInvariant, "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity", "sqty-1"},
		{"extension with value and extensions", `{"resourceType":"Patient","extension":[{"url":"http://example.org/x","valueString":"a","extension":[{"url":"y","valueString":"b"}]}]}`,
			CodeInvariant, "Patient.extension[0]", "ext-1"},
		{"extension with neither value nor extensions", `{"resourceType":"Patient","modifierExtension":[{"url":"http://example.org/x"}]}`,
			CodeInvariant, "Patient.modifierExtension[0]", "ext-1"},
		{"narrative not XHTML", `{"resourceType":"Patient","text":{"status":"generated","div":"<p>x</p>"}}`, CodeInvariant, "Patient.text.div", "txt-1"},
		{"contained not referenced", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p"}]}`, CodeInvariant, "Observation", "dom-3"},
		{"contained in contained", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"#p"},"contained":[{"resourceType":"Patient","id":"p","contained":[{"resourceType":"Organization","id":"o"}]}]}`,
			CodeInvariant, "Observation", "dom-2"},
		{"repeating when with offset", `{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/p"},"medicationCodeableConcept":{"text":"m"},"dosageInstruction":[{"timing":{"repeat":{"when":["C","ACM"],"offset":10}}}]}`,
			CodeInvariant, "MedicationRequest.dosageInstruction[0].timing.repeat", "tim-9"},

		// Resources inside resources.
		{"contained resource", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"#p"},"contained":[{"resourceType":"Patient","id":"p","gender":"m"}]}`,
			CodeCodeInvalid, "Observation.contained[0].gender", "administrative-gender"},
		{"contained of an unknown type", `{"resourceType":"Patient","contained":[{"resourceType":"Pationt","id":"p"}]}`, CodeStructure, "Patient.contained[0]", "not an R4 resource type"},
		{"bundle entry", `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0","resource":{"resourceType":"Patient","foo":1}}]}`,
			CodeStructure, "Bundle.entry[0].resource.foo", "unknown"},
		{"parameters resource", `{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Observation","code":{"text":"x"}}}]}`,
			CodeRequired, "Parameters.parameter[0].resource.status", "required"},
		{"not a resource type", `{"resourceType":"HumanName","family":"x"}`, CodeStructure, "", "not an R4 resource type"},
		{"no resourceType", `{"family":"x"}`, CodeStructure, "", "resourceType"},
		{"not an object", `[1,2]`, CodeStructure, "", "JSON object"},
	}
	for _, c := range cases {
		issues := errorsOf(check(t, c.src))
		if c.code == "" {
			if len(issues) != 0 {
				t.Errorf("%s: want no error, got %+v", c.name, issues)
			}
			continue
		}
		found := false
		for _, is := range issues {
			if is.Code == c.code && is.Expression == c.expr && strings.Contains(is.Diagnostics, c.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want %s at %q mentioning %q, got %+v", c.name, c.code, c.expr, c.text, issues)
		}
	}
}

// TestWarnings: a warning constraint gives a warning, not an error.
func TestWarnings(t *testing.T) {
	issues := check(t, `{"resourceType":"Patient","active":true}`)
	if len(issues) != 1 || issues[0].Severity != concord.SeverityWarning || issues[0].Code != CodeInvariant ||
		!strings.Contains(issues[0].Diagnostics, "dom-6") || issues[0].Expression != "Patient" || HasErrors(issues) {
		t.Fatalf("got %+v", issues)
	}
}

// TestIssueCap: a resource with very many errors lists MaxIssues of them
// and says validation stopped.
func TestIssueCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Patient","name":[`)
	for i := range 500 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"use":"bad"}`)
	}
	b.WriteString(`]}`)
	issues := check(t, b.String())
	if len(issues) != MaxIssues+1 { // the cap and its note
		t.Fatalf("%d issues", len(issues))
	}
	last := issues[len(issues)-1]
	if last.Code != CodeTooCostly || !last.IsError() {
		t.Fatalf("last issue %+v", last)
	}
}
