package fhirapi

import (
	"encoding/json"
	"net/http"

	"github.com/concord-health/concord/fhir"
)

// metadata is the CapabilityStatement: what this build really supports,
// generated from the same lists the routes are registered from.
func (a *api) metadata(w http.ResponseWriter, r *http.Request) {
	interactions := []map[string]string{}
	for _, c := range []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create"} {
		interactions = append(interactions, map[string]string{"code": c})
	}
	var resources []map[string]any
	for _, t := range fhir.ResourceTypes() {
		resources = append(resources, map[string]any{
			"type":              t,
			"profile":           "http://hl7.org/fhir/StructureDefinition/" + t,
			"interaction":       interactions,
			"versioning":        "versioned-update",
			"readHistory":       true,
			"updateCreate":      true,
			"conditionalCreate": false,
			"conditionalUpdate": false,
			"conditionalDelete": "not-supported",
			"operation":         validateOperation,
		})
	}
	cs := map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         a.opt.Now().UTC().Format("2006-01-02"),
		"kind":         "instance",
		"software":     map[string]string{"name": "Concord", "version": a.opt.Version},
		"implementation": map[string]string{
			"description": "Concord clinical store",
		},
		"fhirVersion": fhir.FHIRVersion,
		"format":      []string{"application/fhir+json"},
		"rest": []map[string]any{{
			"mode": "server",
			"documentation": "FHIR JSON only (no XML). Bearer tokens with SMART scopes; callers limited to one " +
				"patient's compartment are refused until compartment checks exist.",
			"resource":    resources,
			"interaction": []map[string]string{{"code": "history-system"}, {"code": "transaction"}, {"code": "batch"}},
		}},
	}
	w.Header().Set("Content-Type", fhirJSON)
	json.NewEncoder(w).Encode(cs)
}
