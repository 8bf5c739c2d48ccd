package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/concord-health/concord/fhir/internal/defs"
)

const spPrefix = "http://hl7.org/fhir/SearchParameter/"

type searchParameter struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Version     string   `json:"version"`
	Name        string   `json:"name"`
	Code        string   `json:"code"`
	Base        []string `json:"base"`
	Type        string   `json:"type"`
	Expression  string   `json:"expression"`
	Target      []string `json:"target"`
	MultipleOr  *bool    `json:"multipleOr"`
	MultipleAnd *bool    `json:"multipleAnd"`
	Modifier    []string `json:"modifier"`
	Comparator  []string `json:"comparator"`
	Component   []struct {
		Definition string `json:"definition"`
		Expression string `json:"expression"`
	} `json:"component"`
}

// r4Targets restores the targets of the two search parameters whose
// target lists Medplum changed, as the HL7 4.0.1 search-parameters.json
// gives them (found by comparing the two files).
var r4Targets = map[string][]string{
	spPrefix + "clinical-patient":      {"Patient", "Group"},
	spPrefix + "MeasureReport-subject": {"Practitioner", "Group", "Device", "Patient", "PractitionerRole", "RelatedPerson", "Location"},
}

// readSearchParams keeps the R4 search parameters: HL7 URLs, version
// 4.0.1, on R4 resource types, and (except for the ones on Resource and
// DomainResource) listed for their resource in the R4 base
// CapabilityStatement, which names every search parameter of the
// specification.
func (g *generator) readSearchParams(files map[string][]byte) error {
	listed, err := capabilityParams(files["profiles-resources.json"])
	if err != nil {
		return err
	}
	entries, err := bundle(files["search-parameters.json"])
	if err != nil {
		return fmt.Errorf("search-parameters.json: %w", err)
	}
	g.defs.SourceSearchParams = len(entries)
	for _, raw := range entries {
		var sp searchParameter
		if err := json.Unmarshal(raw, &sp); err != nil {
			return fmt.Errorf("search-parameters.json: %w", err)
		}
		if reason := g.spExcluded(&sp, listed); reason != "" {
			g.exclude("SearchParameter", sp.URL, reason)
			continue
		}
		p := defs.SearchParam{
			Code:        sp.Code,
			Name:        sp.Name,
			URL:         sp.URL,
			Type:        sp.Type,
			Expression:  sp.Expression,
			Base:        sp.Base,
			Targets:     sp.Target,
			MultipleOr:  triState(sp.MultipleOr),
			MultipleAnd: triState(sp.MultipleAnd),
			Modifiers:   sp.Modifier,
			Comparators: sp.Comparator,
		}
		if t, ok := r4Targets[sp.URL]; ok {
			g.exclude("SearchParameter", sp.URL, fmt.Sprintf("targets %v changed by Medplum; reverted to the R4 targets %v", sp.Target, t))
			p.Targets = t
		}
		for _, c := range sp.Component {
			p.Components = append(p.Components, defs.Component{Definition: c.Definition, Expression: c.Expression})
		}
		g.defs.SearchParams = append(g.defs.SearchParams, p)
	}
	sort.SliceStable(g.defs.SearchParams, func(i, j int) bool { return g.defs.SearchParams[i].URL < g.defs.SearchParams[j].URL })
	return nil
}

func (g *generator) spExcluded(sp *searchParameter, listed map[string]bool) string {
	if !strings.HasPrefix(sp.URL, spPrefix) {
		return "not an HL7 FHIR search parameter"
	}
	if sp.Version != g.version {
		return "version " + sp.Version + ", not " + g.version
	}
	for _, b := range sp.Base {
		sd := g.sdByName[b]
		if sd == nil || sd.Kind != "resource" {
			return "base " + b + " is not an R4 resource type"
		}
		if b == "Resource" || b == "DomainResource" {
			continue
		}
		if !listed[b+" "+sp.Code] {
			return "not in the R4 base CapabilityStatement's parameters for " + b + " (added by Medplum)"
		}
	}
	for _, t := range sp.Target {
		if g.sdByName[t] == nil {
			return "target " + t + " is not an R4 resource type"
		}
	}
	return ""
}

func triState(b *bool) int8 {
	switch {
	case b == nil:
		return 0
	case *b:
		return 1
	default:
		return 2
	}
}

// capabilityParams returns "Type code" for every search parameter the R4
// base CapabilityStatement lists.
func capabilityParams(data []byte) (map[string]bool, error) {
	entries, err := bundle(data)
	if err != nil {
		return nil, err
	}
	for _, raw := range entries {
		if resourceType(raw) != "CapabilityStatement" {
			continue
		}
		var cs struct {
			URL  string `json:"url"`
			Rest []struct {
				Resource []struct {
					Type        string `json:"type"`
					SearchParam []struct {
						Name string `json:"name"`
					} `json:"searchParam"`
				} `json:"resource"`
			} `json:"rest"`
		}
		if err := json.Unmarshal(raw, &cs); err != nil {
			return nil, err
		}
		if cs.URL != "http://hl7.org/fhir/CapabilityStatement/base" {
			continue
		}
		out := map[string]bool{}
		for _, r := range cs.Rest {
			for _, res := range r.Resource {
				for _, p := range res.SearchParam {
					out[res.Type+" "+p.Name] = true
				}
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("profiles-resources.json: no base CapabilityStatement")
}
