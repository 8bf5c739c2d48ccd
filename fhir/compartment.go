package fhir

import "github.com/concord-health/concord/fhir/internal/defs"

// Compartment names of FHIR R4.
const (
	CompartmentPatient       = "Patient"
	CompartmentEncounter     = "Encounter"
	CompartmentRelatedPerson = "RelatedPerson"
	CompartmentPractitioner  = "Practitioner"
	CompartmentDevice        = "Device"
)

// CompartmentDefiner is the parameter name the specification lists for
// the resource that defines a compartment (Encounter in the Encounter
// compartment): that resource is in its own compartment by identity, not
// through a search parameter.
const CompartmentDefiner = "{def}"

// compartments maps a compartment code to resource type to the parameters.
type compartments map[string]map[string][]string

func linkCompartments(d *defs.Defs) (compartments, map[string][]string) {
	params := compartments{}
	types := map[string][]string{}
	for _, c := range d.Compartments {
		m := make(map[string][]string, len(c.Resources))
		for _, r := range c.Resources {
			m[r.Type] = r.Params
			types[c.Code] = append(types[c.Code], r.Type)
		}
		params[c.Code] = m
	}
	return params, types
}

// CompartmentParams returns the codes of the search parameters of
// resourceType that put a resource in the compartment (Patient, Encounter,
// RelatedPerson, Practitioner or Device), as the R4 CompartmentDefinitions
// give them: a resource is in the compartment of X when any of them refers
// to X. For Patient in the Patient compartment it is "link"; the resource
// that defines a compartment may be listed as CompartmentDefiner. It
// returns nil when resourceType cannot be in the compartment, or the
// compartment is unknown.
func CompartmentParams(compartment, resourceType string) []string {
	return data().compartmentParams[compartment][resourceType]
}

// CompartmentTypes returns the resource types that can be in a
// compartment, sorted, or nil for an unknown compartment.
func CompartmentTypes(compartment string) []string {
	return data().compartmentTypes[compartment]
}
