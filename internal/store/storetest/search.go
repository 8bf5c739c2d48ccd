package storetest

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhirpath"
	"github.com/concord-health/concord/internal/search"
)

// searchFixtures are synthetic resources (no real patient data) covering
// every kind of search parameter.
var searchFixtures = []string{
	`{"resourceType":"Practitioner","id":"dr1","name":[{"family":"Smith","given":["Jane"]}]}`,
	`{"resourceType":"Practitioner","id":"dr2","name":[{"family":"Jones"}]}`,
	`{"resourceType":"Patient","id":"p1","active":true,"gender":"female","birthDate":"1974-12",
	  "identifier":[{"system":"urn:test:mrn","value":"12345","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]}}],
	  "name":[{"family":"Müller","given":["Zoë"]}],"generalPractitioner":[{"reference":"Practitioner/dr1"}]}`,
	`{"resourceType":"Patient","id":"p2","gender":"male","birthDate":"1990-06-15",
	  "identifier":[{"system":"urn:test:mrn","value":"67890"}],
	  "name":[{"family":"Mullins","given":["Sam"]}],"generalPractitioner":[{"reference":"Practitioner/dr2"}]}`,
	`{"resourceType":"Patient","id":"p3","birthDate":"2001-01-01T08:30:00Z","name":[{"family":"Ng"}],
	  "meta":{"tag":[{"system":"urn:test:tags","code":"research"}],"profile":["http://example.org/fhir/StructureDefinition/test-patient"],
	    "security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]}}`,
	`{"resourceType":"Observation","id":"o1","status":"final","subject":{"reference":"Patient/p1"},
	  "code":{"coding":[{"system":"http://loinc.org","code":"2339-0","display":"Glucose"}],"text":"Glucose Bld-mCnc"},
	  "effectiveDateTime":"2024-03-05T10:15:00Z",
	  "valueQuantity":{"value":95,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"}}`,
	`{"resourceType":"Observation","id":"o2","status":"final","subject":{"reference":"Patient/p2"},
	  "code":{"coding":[{"system":"http://loinc.org","code":"2339-0"}]},"effectiveDateTime":"2024-03-06",
	  "valueQuantity":{"value":7.1,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}`,
	`{"resourceType":"Observation","id":"o3","status":"amended","subject":{"reference":"Patient/p1"},
	  "code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"effectivePeriod":{"start":"2024-04-01","end":"2024-04-03"},
	  "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":142,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
	    {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":91,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
	`{"resourceType":"RiskAssessment","id":"r1","status":"final","subject":{"reference":"Patient/p1"},"prediction":[{"probabilityDecimal":0.25}]}`,
	`{"resourceType":"RiskAssessment","id":"r2","status":"final","subject":{"reference":"Patient/p2"},"prediction":[{"probabilityDecimal":0.8}]}`,
	`{"resourceType":"Questionnaire","id":"q1","status":"active","url":"http://example.org/fhir/Questionnaire/intake"}`,
	`{"resourceType":"List","id":"l1","status":"current","mode":"working","entry":[{"item":{"reference":"Patient/p2"}},{"item":{"reference":"Patient/p3"}}]}`,
}

func testSearch(t *testing.T, f *Fixture) {
	ctx := context.Background()
	s := f.Store
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, js := range searchFixtures {
		doc, err := fhirpath.ParseJSON([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		idx, err := search.Index(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		rt, _ := doc.Root().Get("resourceType")
		id, _ := doc.Root().Get("id")
		r := &concord.Resource{Type: rt.String(), ID: id.String(), Version: 1, LastUpdated: at.Add(time.Duration(i) * time.Hour),
			Content: []byte(js), Index: idx}
		if err := putVersion(t, s, r); err != nil {
			t.Fatal(err)
		}
	}
	run := func(typ, query string) ([]string, int64, error) {
		vals, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		req, err := search.Parse(typ, vals, search.Options{Strict: true, Now: at})
		if err != nil {
			return nil, 0, err
		}
		page, total, err := s.Search(ctx, &req.Query)
		var ids []string
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		return ids, total, err
	}
	cases := []struct {
		typ, query string
		want       string // ids in order (sorted by id unless _sort)
	}{
		// string: starts with, no case, no accents; :exact; :contains
		{"Patient", "name=mul", "p1,p2"},
		{"Patient", "family=MULLER", "p1"},
		{"Patient", "name=zoe", "p1"},
		{"Patient", "family:exact=Müller", "p1"},
		{"Patient", "family:exact=muller", ""},
		{"Patient", "family:contains=llin", "p2"},
		{"Patient", "name=mül,ng", "p1,p2,p3"}, // mül is mul: Mullins starts with it too
		{"Patient", "name=zo,ng", "p1,p3"},
		{"Patient", "name=mul&name=sam", "p2"},
		// token: code, system|code, |code, system|, :not, :text, :of-type, :missing
		{"Patient", "gender=female", "p1"},
		{"Patient", "gender:not=female", "p2,p3"},
		{"Patient", "gender:missing=true", "p3"},
		{"Patient", "gender:missing=false", "p1,p2"},
		{"Patient", "identifier=urn:test:mrn|67890", "p2"},
		{"Patient", "identifier=urn:test:mrn|", "p1,p2"},
		{"Patient", "identifier=|12345", ""},
		{"Patient", "identifier=12345", "p1"},
		{"Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|12345", "p1"},
		{"Patient", "active=true", "p1"},
		{"Observation", "code=http://loinc.org|2339-0", "o1,o2"},
		{"Observation", "code=http://snomed.info/sct|2339-0", ""},
		{"Observation", "code:text=glucose", "o1"},
		{"Observation", "status=final,amended", "o1,o2,o3"},
		// date: precision ranges and every prefix
		{"Patient", "birthdate=1974", "p1"},
		{"Patient", "birthdate=1974-12-05", ""},
		{"Patient", "birthdate=eq1974-12", "p1"},
		{"Patient", "birthdate=ne1974-12", "p2,p3"},
		{"Patient", "birthdate=gt1990-06-15", "p3"},
		{"Patient", "birthdate=ge1990-06-15", "p2,p3"},
		{"Patient", "birthdate=lt1990-06-15", "p1"},
		{"Patient", "birthdate=le1990-06-15", "p1,p2"},
		{"Patient", "birthdate=sa1990", "p3"},
		{"Patient", "birthdate=eb1990", "p1"},
		{"Patient", "birthdate=2001-01-01T08:30:00Z", "p3"},
		{"Patient", "birthdate=2001-01-01T09:30:00%2B01:00", "p3"},
		{"Patient", "birthdate=ap1990-07-01", "p2"},
		{"Observation", "date=2024-04-02", ""},
		{"Observation", "date=2024-04", "o3"},
		{"Observation", "date=ge2024-04-02", "o3"},
		{"Observation", "date=gt2024-03-05&date=lt2024-04", "o2"},
		// number: precision of the value
		{"RiskAssessment", "probability=0.25", "r1"},
		{"RiskAssessment", "probability=0.3", "r1"}, // 0.3 covers [0.25, 0.35)
		{"RiskAssessment", "probability=0.30", ""},
		{"RiskAssessment", "probability=gt0.5", "r2"},
		{"RiskAssessment", "probability=le0.25", "r1"},
		{"RiskAssessment", "probability=ap0.26", "r1"},
		// quantity: as written and across UCUM units
		{"Observation", "value-quantity=95", "o1"},
		{"Observation", "value-quantity=gt90|http://unitsofmeasure.org|mg/dL", "o1"},
		{"Observation", "value-quantity=0.95|http://unitsofmeasure.org|g/L", "o1"},
		{"Observation", "value-quantity=lt1|http://unitsofmeasure.org|g/L", "o1"},
		{"Observation", "value-quantity=7.1|http://unitsofmeasure.org|mmol/L", "o2"},
		{"Observation", "value-quantity=7.1||mmol/L", "o2"},
		// reference: typed, bare id, modifier type, :missing
		{"Observation", "subject=Patient/p1", "o1,o3"},
		{"Observation", "patient=p2", "o2"},
		{"Observation", "subject:Patient=p1", "o1,o3"},
		{"Observation", "subject:Group=p1", ""},
		{"Observation", "specimen:missing=true", "o1,o2,o3"},
		// chains (two levels) and _has
		{"Observation", "subject:Patient.name=zoe", "o1,o3"},
		{"Observation", "patient.gender=male", "o2"},
		{"Observation", "subject:Patient.general-practitioner.family=smith", "o1,o3"},
		{"Patient", "_has:Observation:patient:code=2339-0", "p1,p2"},
		{"Patient", "_has:Observation:patient:status=amended", "p1"},
		{"Practitioner", "_has:Patient:general-practitioner:_has:Observation:patient:status=amended", "dr1"},
		// composite
		{"Observation", "component-code-value-quantity=http://loinc.org|8480-6$gt140", "o3"},
		{"Observation", "component-code-value-quantity=http://loinc.org|8462-4$gt140", ""},
		{"Observation", "code-value-quantity=http://loinc.org|2339-0$gt6|http://unitsofmeasure.org|mmol/L", "o2"},
		// combo-X: the rows of X and component-X
		{"Observation", "combo-code=8480-6", "o3"},
		{"Observation", "combo-code=http://loinc.org|2339-0", "o1,o2"},
		{"Observation", "combo-value-quantity=gt100", "o3"},
		{"Observation", "combo-code-value-quantity=http://loinc.org|8480-6$gt140", "o3"},
		{"Observation", "combo-code-value-quantity=http://loinc.org|2339-0$lt1|http://unitsofmeasure.org|g/L", "o1"},
		{"Observation", "combo-code:missing=true", ""},
		// uri with :below and :above
		{"Questionnaire", "url=http://example.org/fhir/Questionnaire/intake", "q1"},
		{"Questionnaire", "url:below=http://example.org/fhir", "q1"},
		{"Questionnaire", "url:above=http://example.org/fhir/Questionnaire/intake/v2", "q1"},
		// _tag, _profile, _security
		{"Patient", "_tag=urn:test:tags|research", "p3"},
		{"Patient", "_tag:not=research", "p1,p2"},
		{"Patient", "_profile=http://example.org/fhir/StructureDefinition/test-patient", "p3"},
		{"Patient", "_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R", "p3"},
		// _id, _lastUpdated, _list
		{"Patient", "_id=p2,p3", "p2,p3"},
		{"Patient", "_lastUpdated=gt2026-01-02T05:30:00Z", "p2,p3"},
		{"Patient", "_list=l1", "p2,p3"},
		// sort
		{"Patient", "_sort=birthdate", "p1,p2,p3"},
		{"Patient", "_sort=-birthdate", "p3,p2,p1"},
		{"Patient", "_sort=gender,-_id", "p1,p2,p3"},
		{"Patient", "_sort=-_lastUpdated", "p3,p2,p1"},
		// paging
		{"Patient", "_sort=birthdate&_count=1&_offset=1", "p2"},
		{"Patient", "_count=2", "p1,p2"},
	}
	for _, c := range cases {
		ids, total, err := run(c.typ, c.query)
		if err != nil {
			t.Errorf("%s?%s: %v", c.typ, c.query, err)
			continue
		}
		got := strings.Join(ids, ",")
		if got != c.want {
			t.Errorf("%s?%s = [%s], want [%s]", c.typ, c.query, got, c.want)
		}
		if !strings.Contains(c.query, "_count") && total != int64(len(ids)) {
			t.Errorf("%s?%s: total %d, %d ids", c.typ, c.query, total, len(ids))
		}
	}
	// Compartments (Patient/p1's): alone (driving the search), with each
	// kind of clause, and where an id clause drives.
	p1 := concord.Ref{Type: "Patient", ID: "p1"}
	for _, c := range []struct {
		typ, query string
		params     []string
		want       string
	}{
		{"Observation", "", []string{"subject", "performer"}, "o1,o3"},
		{"Observation", "status=amended", []string{"subject"}, "o3"},
		{"Observation", "_id=o1,o2", []string{"subject"}, "o1"},
		{"Observation", "_lastUpdated=ge2026-01-02T09:00:00Z", []string{"subject"}, "o3"},
		{"Observation", "_lastUpdated=lt2026-01-02T09:00:00Z&code=http://loinc.org|2339-0", []string{"subject"}, "o1"},
		{"Observation", "date=2024-04", []string{"subject"}, "o3"},
		{"Observation", "code:not=http://loinc.org|2339-0", []string{"subject"}, "o3"},
		{"Observation", "subject=Patient/p2", []string{"subject"}, ""},
		{"Patient", "", []string{"link"}, "p1"},
		{"Patient", "gender=male", []string{"link"}, ""},
		{"Practitioner", "", nil, ""},
	} {
		vals, _ := url.ParseQuery(c.query)
		req, err := search.Parse(c.typ, vals, search.Options{Strict: true, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		req.Query.Compartment = &concord.SearchCompartment{Owner: p1, Params: c.params}
		page, total, err := s.Search(ctx, &req.Query)
		if err != nil {
			t.Errorf("%s?%s in Patient/p1: %v", c.typ, c.query, err)
			continue
		}
		var ids []string
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		if got := strings.Join(ids, ","); got != c.want || total != int64(len(ids)) {
			t.Errorf("%s?%s in Patient/p1 = [%s] (total %d), want [%s]", c.typ, c.query, got, total, c.want)
		}
	}
	// Paging keeps the total.
	if _, total, _ := run("Patient", "_count=1"); total != 3 {
		t.Errorf("total with _count=1: %d", total)
	}
	// Includes: references out and in.
	refs, err := s.References(ctx, "Observation", "subject", []string{"o1", "o2"})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(refs, func(a, b concord.Ref) int { return strings.Compare(a.ID, b.ID) })
	if len(refs) != 2 || refs[0] != (concord.Ref{Type: "Patient", ID: "p1"}) || refs[1] != (concord.Ref{Type: "Patient", ID: "p2"}) {
		t.Errorf("References: %v", refs)
	}
	back, err := s.ReferencedBy(ctx, "Observation", "", []concord.Ref{{Type: "Patient", ID: "p1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 {
		t.Errorf("ReferencedBy: %v", back)
	}
	// Of any type: the RiskAssessment too.
	back, err = s.ReferencedBy(ctx, "", "", []concord.Ref{{Type: "Patient", ID: "p1"}})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(back, func(a, b concord.Ref) int { return strings.Compare(a.Type+"/"+a.ID, b.Type+"/"+b.ID) })
	if want := []concord.Ref{{Type: "Observation", ID: "o1"}, {Type: "Observation", ID: "o3"}, {Type: "RiskAssessment", ID: "r1"}}; !slices.Equal(back, want) {
		t.Errorf("ReferencedBy any type: %v, want %v", back, want)
	}
	got, err := s.Resources(ctx, []concord.Ref{{Type: "Patient", ID: "p1"}, {Type: "Practitioner", ID: "dr2"}, {Type: "Patient", ID: "nope"}})
	if err != nil || len(got) != 2 {
		t.Errorf("Resources: %d, %v", len(got), err)
	}
	// An update replaces the index; a deletion removes it.
	doc, _ := fhirpath.ParseJSON([]byte(`{"resourceType":"Patient","id":"p3","gender":"other","name":[{"family":"Ng"}]}`))
	idx, _ := search.Index(ctx, doc)
	if err := putVersion(t, s, &concord.Resource{Type: "Patient", ID: "p3", Version: 2, LastUpdated: at.Add(24 * time.Hour), Content: []byte(`{}`), Index: idx}); err != nil {
		t.Fatal(err)
	}
	if ids, _, _ := run("Patient", "gender=other"); strings.Join(ids, ",") != "p3" {
		t.Errorf("after update, gender=other: %v", ids)
	}
	if ids, _, _ := run("Patient", "birthdate=2001"); len(ids) != 0 {
		t.Errorf("after update, the old birthdate still matches: %v", ids)
	}
	if err := putVersion(t, s, &concord.Resource{Type: "Patient", ID: "p3", Version: 3, LastUpdated: at.Add(25 * time.Hour), Deleted: true}); err != nil {
		t.Fatal(err)
	}
	if ids, _, _ := run("Patient", "name=ng"); len(ids) != 0 {
		t.Errorf("a deleted resource is found: %v", ids)
	}
	// Inside a transaction (conditional interactions).
	err = s.Update(ctx, func(tx concord.Tx) error {
		vals, _ := url.ParseQuery("identifier=urn:test:mrn|12345")
		req, err := search.Parse("Patient", vals, search.Options{Strict: true})
		if err != nil {
			return err
		}
		ids, err := tx.SearchIDs(ctx, &req.Query, 2)
		if err != nil {
			return err
		}
		if strings.Join(ids, ",") != "p1" {
			t.Errorf("SearchIDs: %v", ids)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
