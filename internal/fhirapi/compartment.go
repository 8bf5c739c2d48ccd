package fhirapi

import (
	"context"
	"net/http"
	"slices"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/internal/httperr"
)

// compartmentOf returns the compartment of owner for resources of typ:
// nil when typ has no place in that kind of compartment (and is not the
// owner's own type).
func compartmentOf(owner concord.Ref, typ string) *concord.SearchCompartment {
	params := slices.DeleteFunc(slices.Clone(fhir.CompartmentParams(owner.Type, typ)), func(p string) bool {
		return p == fhir.CompartmentDefiner
	})
	if len(params) == 0 && owner.Type != typ {
		return nil
	}
	return &concord.SearchCompartment{Owner: owner, Params: params}
}

// patientLimit returns the compartment a patient-context caller is
// limited to for resources of typ: nil for other callers, and for types
// that are not patient data (Practitioner, Medication, …).
func patientLimit(ctx context.Context, typ string) *concord.SearchCompartment {
	g, ok := concord.GrantFrom(ctx)
	if !ok || g.Patient == "" {
		if p := concord.PrincipalFrom(ctx); p != nil && p.Patient != "" {
			// A patient-bound caller without a grant in the context: limit
			// to its patient all the same.
			g.Patient = p.Patient
		} else {
			return nil
		}
	}
	return compartmentOf(concord.Ref{Type: fhir.CompartmentPatient, ID: g.Patient}, typ)
}

// visible reports whether a patient-context caller may see res (other
// callers see everything their scopes allow).
func (a *api) visible(ctx context.Context, res *concord.Resource) (bool, error) {
	c := patientLimit(ctx, res.Type)
	if c == nil {
		return true, nil
	}
	q := &concord.SearchQuery{Type: res.Type, Count: 1, Compartment: c,
		Where: []concord.SearchClause{{Param: "_id", Kind: concord.SearchKindID, Values: []concord.SearchValue{{Code: res.ID}}}}}
	page, _, err := a.store.Search(ctx, q)
	return len(page) == 1, err
}

// compartmentSearch is GET /fhir/{compartment}/{id}/{type}.
func (a *api) compartmentSearch(compartment string) func(w http.ResponseWriter, r *http.Request, typ string) {
	return func(w http.ResponseWriter, r *http.Request, typ string) {
		id := r.PathValue("id")
		if !concord.IsFHIRID(id) {
			httperr.Write(w, r, concord.Errorf(concord.EINVALID, "%q is not a FHIR id", id))
			return
		}
		a.search(w, r, typ, compartmentOf(concord.Ref{Type: compartment, ID: id}, typ))
	}
}

// hidden returns ENOTFOUND when a patient-context caller may not see res
// (as if it did not exist: its existence is not the caller's to know).
// A version is judged by the resource's current place.
func (a *api) hidden(ctx context.Context, res *concord.Resource) error {
	if patientLimit(ctx, res.Type) == nil {
		return nil
	}
	ok, err := a.visible(ctx, res)
	if err != nil {
		return err
	}
	if !ok {
		return concord.Errorf(concord.ENOTFOUND, "no %s/%s", res.Type, res.ID)
	}
	return nil
}

// PatientCompartment returns the compartment of patient for resources of
// typ (what a caller limited to that patient may see of them), or nil
// when typ is not patient data.
func PatientCompartment(patient, typ string) *concord.SearchCompartment {
	return compartmentOf(concord.Ref{Type: fhir.CompartmentPatient, ID: patient}, typ)
}
