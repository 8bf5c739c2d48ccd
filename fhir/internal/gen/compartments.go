package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/concord-health/concord/fhir/internal/defs"
)

// medplumPatientCompartment is Medplum's own copy of the patient
// compartment, shipped beside the bundles. It is read only to report where
// it differs from the R4 definition, which is taken from
// profiles-resources.json.
const medplumPatientCompartment = "compartmentdefinition-patient.json"

type compartmentDefinition struct {
	URL      string `json:"url"`
	Version  string `json:"version"`
	Code     string `json:"code"`
	Resource []struct {
		Code  string   `json:"code"`
		Param []string `json:"param"`
	} `json:"resource"`
}

// readCompartments keeps the five R4 CompartmentDefinitions of
// profiles-resources.json (Patient, Encounter, RelatedPerson,
// Practitioner, Device): for each, the resource types that may be in it
// and the search parameters that put them there. Types listed without a
// parameter (never in the compartment) are left out. Every parameter must
// be a kept search parameter of its type, except "{def}", which the
// specification uses for the resource that defines the compartment.
func (g *generator) readCompartments(files map[string][]byte) error {
	entries, err := bundle(files["profiles-resources.json"])
	if err != nil {
		return err
	}
	known := g.searchParamCodes()
	var r4Patient map[string][]string
	for _, raw := range entries {
		if resourceType(raw) != "CompartmentDefinition" {
			continue
		}
		var cd compartmentDefinition
		if err := json.Unmarshal(raw, &cd); err != nil {
			return fmt.Errorf("profiles-resources.json: %w", err)
		}
		if cd.Version != g.version {
			return fmt.Errorf("CompartmentDefinition %s: version %s, not %s", cd.URL, cd.Version, g.version)
		}
		c := defs.Compartment{Code: cd.Code, URL: cd.URL}
		for _, r := range cd.Resource {
			if len(r.Param) == 0 {
				continue
			}
			if g.sdByName[r.Code] == nil {
				return fmt.Errorf("CompartmentDefinition %s: %s is not an R4 type", cd.URL, r.Code)
			}
			for _, p := range r.Param {
				if p != "{def}" && !known[r.Code+" "+p] {
					return fmt.Errorf("CompartmentDefinition %s: %s has no search parameter %s", cd.URL, r.Code, p)
				}
			}
			c.Resources = append(c.Resources, defs.CompartmentResource{Type: r.Code, Params: r.Param})
		}
		sort.Slice(c.Resources, func(i, j int) bool { return c.Resources[i].Type < c.Resources[j].Type })
		g.defs.Compartments = append(g.defs.Compartments, c)
		if cd.Code == "Patient" {
			r4Patient = paramsByType(c.Resources)
		}
	}
	sort.Slice(g.defs.Compartments, func(i, j int) bool { return g.defs.Compartments[i].Code < g.defs.Compartments[j].Code })
	if len(g.defs.Compartments) != 5 || r4Patient == nil {
		return fmt.Errorf("profiles-resources.json: %d CompartmentDefinitions, want the five of R4", len(g.defs.Compartments))
	}
	return g.compareMedplumPatient(files[medplumPatientCompartment], r4Patient)
}

// compareMedplumPatient records each resource type on which Medplum's own
// patient compartment differs from the R4 one.
func (g *generator) compareMedplumPatient(data []byte, r4 map[string][]string) error {
	var cd compartmentDefinition
	if err := json.Unmarshal(data, &cd); err != nil {
		return fmt.Errorf("%s: %w", medplumPatientCompartment, err)
	}
	var res []defs.CompartmentResource
	for _, r := range cd.Resource {
		if len(r.Param) > 0 {
			res = append(res, defs.CompartmentResource{Type: r.Code, Params: r.Param})
		}
	}
	theirs := paramsByType(res)
	types := map[string]bool{}
	for t := range r4 {
		types[t] = true
	}
	for t := range theirs {
		types[t] = true
	}
	for _, t := range sortedKeys(types) {
		if slices.Equal(r4[t], theirs[t]) {
			continue
		}
		g.exclude("CompartmentDefinition", "Patient "+t, fmt.Sprintf("Medplum's %s gives [%s]; the R4 definition in profiles-resources.json gives [%s], kept",
			medplumPatientCompartment, strings.Join(theirs[t], " "), strings.Join(r4[t], " ")))
	}
	return nil
}

func paramsByType(rs []defs.CompartmentResource) map[string][]string {
	m := make(map[string][]string, len(rs))
	for _, r := range rs {
		m[r.Type] = r.Params
	}
	return m
}

// searchParamCodes returns "Type code" for every kept search parameter,
// those on Resource and DomainResource given to every resource type.
func (g *generator) searchParamCodes() map[string]bool {
	out := map[string]bool{}
	for _, p := range g.defs.SearchParams {
		for _, b := range p.Base {
			if b == "Resource" || b == "DomainResource" {
				for name, sd := range g.sdByName {
					if sd.Kind == "resource" {
						out[name+" "+p.Code] = true
					}
				}
				continue
			}
			out[b+" "+p.Code] = true
		}
	}
	return out
}
