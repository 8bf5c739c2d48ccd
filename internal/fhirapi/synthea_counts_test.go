package fhirapi

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/internal/search"
)

// syntheaCounts are the search answers the Synthea Bundles imply,
// computed from the files (not from the store): resources of each type,
// each patient's resources by type (those that refer to the patient),
// each patient's body-height Observations, and the patients matching a
// name and birth date.
type syntheaCounts struct {
	byType     map[string]int
	byPatient  map[string]map[string]int // Patient id → type → count
	heights    map[string]int            // Patient id → Observations with LOINC 8302-2
	allPatient []syntheaPatient
}

type syntheaPatient struct {
	id, family, birthDate string
	nameParts             []string // normalised
}

func (c *syntheaCounts) init() {
	c.byType, c.byPatient, c.heights = map[string]int{}, map[string]map[string]int{}, map[string]int{}
}

// add counts one Bundle; where maps its fullUrls to the stored Type/id.
func (c *syntheaCounts) add(t *testing.T, body []byte, where map[string]string) {
	var b struct {
		Entry []struct {
			FullURL  string         `json:"fullUrl"`
			Resource map[string]any `json:"resource"`
		}
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	patientURL := ""
	for _, e := range b.Entry {
		typ, _ := e.Resource["resourceType"].(string)
		c.byType[typ]++
		if typ == "Patient" {
			patientURL = e.FullURL
			p := syntheaPatient{id: strings.TrimPrefix(where[e.FullURL], "Patient/")}
			p.birthDate, _ = e.Resource["birthDate"].(string)
			names, _ := e.Resource["name"].([]any)
			for i, n := range names {
				nm, _ := n.(map[string]any)
				if f, ok := nm["family"].(string); ok {
					if i == 0 {
						p.family = f
					}
					p.nameParts = append(p.nameParts, search.Normalize(f))
				}
				for _, k := range []string{"given", "prefix", "suffix"} {
					parts, _ := nm[k].([]any)
					for _, g := range parts {
						if gs, ok := g.(string); ok {
							p.nameParts = append(p.nameParts, search.Normalize(gs))
						}
					}
				}
				if tx, ok := nm["text"].(string); ok {
					p.nameParts = append(p.nameParts, search.Normalize(tx))
				}
			}
			c.allPatient = append(c.allPatient, p)
		}
	}
	if patientURL == "" {
		return
	}
	pid := strings.TrimPrefix(where[patientURL], "Patient/")
	c.byPatient[pid] = map[string]int{}
	for _, e := range b.Entry {
		typ, _ := e.Resource["resourceType"].(string)
		if typ == "Patient" || !refersTo(e.Resource, patientURL) {
			continue
		}
		c.byPatient[pid][typ]++
		if typ == "Observation" && hasCoding(e.Resource["code"], "http://loinc.org", "8302-2") {
			c.heights[pid]++
		}
	}
}

// refersTo reports whether v holds a reference to url anywhere.
func refersTo(v any, url string) bool {
	switch x := v.(type) {
	case map[string]any:
		if r, ok := x["reference"].(string); ok && r == url {
			return true
		}
		for _, m := range x {
			if refersTo(m, url) {
				return true
			}
		}
	case []any:
		for _, m := range x {
			if refersTo(m, url) {
				return true
			}
		}
	}
	return false
}

func hasCoding(cc any, system, code string) bool {
	m, _ := cc.(map[string]any)
	codings, _ := m["coding"].([]any)
	for _, c := range codings {
		cm, _ := c.(map[string]any)
		if cm["system"] == system && cm["code"] == code {
			return true
		}
	}
	return false
}

// check runs the searches and compares their totals with the counts.
func (c *syntheaCounts) check(t *testing.T, st concord.Store) {
	ctx := context.Background()
	count := func(typ, query string, compartment *concord.SearchCompartment) int64 {
		t.Helper()
		vals, _ := url.ParseQuery(query)
		req, err := search.Parse(typ, vals, search.Options{Strict: true})
		if err != nil {
			t.Fatalf("%s?%s: %v", typ, query, err)
		}
		req.Query.Count, req.Query.Total, req.Query.Compartment = 0, true, compartment
		_, total, err := st.Search(ctx, &req.Query)
		if err != nil {
			t.Fatalf("%s?%s: %v", typ, query, err)
		}
		return total
	}
	searches := 0
	for typ, n := range c.byType {
		if got := count(typ, "", nil); got != int64(n) {
			t.Errorf("%s: %d resources found, the Bundles hold %d", typ, got, n)
		}
		searches++
	}
	for pid, types := range c.byPatient {
		owner := concord.Ref{Type: "Patient", ID: pid}
		for typ, n := range types {
			comp := compartmentOf(owner, typ)
			if comp == nil {
				continue // not patient data (Organization, Practitioner …)
			}
			if got := count(typ, "", comp); got != int64(n) {
				t.Errorf("Patient/%s/%s: %d found, the Bundle implies %d", pid, typ, got, n)
			}
			searches++
		}
		if got := count("Observation", "patient=Patient/"+pid+"&code=http://loinc.org|8302-2", nil); got != int64(c.heights[pid]) {
			t.Errorf("Observation?patient=%s&code=8302-2: %d found, the Bundle implies %d", pid, got, c.heights[pid])
		}
		searches++
	}
	for _, p := range c.allPatient {
		prefix := search.Normalize(p.family)
		if len(prefix) > 4 {
			prefix = prefix[:4]
		}
		want := 0
		for _, q := range c.allPatient {
			if q.birthDate != p.birthDate {
				continue
			}
			for _, part := range q.nameParts {
				if strings.HasPrefix(part, prefix) {
					want++
					break
				}
			}
		}
		if got := count("Patient", "name="+url.QueryEscape(prefix)+"&birthdate="+p.birthDate, nil); got != int64(want) {
			t.Errorf("Patient?name=%s&birthdate=%s: %d found, the Bundles imply %d", prefix, p.birthDate, got, want)
		}
		searches++
	}
	t.Logf("%d searches gave the counts the Bundles imply", searches)
}
