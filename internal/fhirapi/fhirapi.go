// Package fhirapi is the FHIR R4 REST API under /fhir: the clinical
// store's front door. It serves create, read, vread, update (with
// If-Match and update-as-create), JSON Patch, delete (versioned
// tombstones), history at instance, type and system level, the CapabilityStatement,
// search (see internal/search), conditional interactions, transaction
// and batch Bundles (POST /fhir, also used by concord import through
// Importer), and validation of every write with $validate (see
// docs/NOTES.md).
package fhirapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/internal/httperr"
)

// Router is where the FHIR API registers its routes; the HTTP server
// guards each with the declared access.
type Router interface {
	Handle(pattern string, access concord.Access, h http.Handler)
}

// Options configure the API.
type Options struct {
	// Version is Concord's version, for the CapabilityStatement.
	Version string
	// Now returns the time; time.Now when nil.
	Now func() time.Time
	// Operations are the system-level operations other packages serve
	// under /fhir (bulk export), for the CapabilityStatement.
	Operations []Operation
	// TypeOperations are the type-level operations other packages serve,
	// by resource type (Patient and Group $export).
	TypeOperations map[string][]Operation
	// Instantiates are the canonical URLs of CapabilityStatements the
	// server also meets (the Bulk Data one), for the CapabilityStatement.
	Instantiates []string
	// Subscriptions, when set, admits every Subscription written
	// (internal/subscription): nil stores them as any resource.
	Subscriptions SubscriptionGate
	// WebsocketPath, when set, is the path (from the server's root) where
	// websocket subscriptions connect; the CapabilityStatement names it.
	WebsocketPath string
	// ResourceExtensions, when set, returns extensions the
	// CapabilityStatement carries on its entry of each resource type
	// named (the subscription topics served, on Subscription).
	ResourceExtensions func(ctx context.Context) (map[string][]any, error)
}

// Operation is an operation in the CapabilityStatement: its name (without
// $) and the canonical URL of its OperationDefinition.
type Operation struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

// SubscriptionGate checks each version of a Subscription resource as it
// is stored, inside the write transaction: it refuses one it cannot
// serve (an error with a code), may rewrite its content (a requested
// subscription becomes active: the content returned, nil to keep it)
// and records in tx on whose behalf it notifies (the principal in ctx).
type SubscriptionGate interface {
	Admit(ctx context.Context, tx concord.Tx, r *concord.Resource) ([]byte, error)
}

type api struct {
	store concord.Store
	opt   Options
	// match finds the resources a conditional interaction or reference
	// names: matchTx, or a stand-in in tests.
	match func(ctx context.Context, tx concord.Tx, typ string, q url.Values) ([]string, error)
}

// newAPI returns the API over store.
func newAPI(store concord.Store, opt Options) *api {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	a := &api{store: store, opt: opt}
	a.match = a.matchTx
	return a
}

// Register adds the FHIR routes to r: for every resource type, the
// instance and type interactions, each guarded by the scope it needs.
func Register(r Router, store concord.Store, opt Options) {
	a := newAPI(store, opt)
	r.Handle("GET /fhir/metadata", concord.Access{Public: true}, http.HandlerFunc(a.metadata))
	// A batch or transaction mixes types: any caller may post one, and
	// each entry is authorised (and audited) on its own.
	// POST [base]/ is the same interaction: clients that join "/" to the
	// base post there (fhir-kit-client's transaction and batch do).
	bundle := concord.Access{AnyCaller: true, Object: "fhir"}
	// A patient-context caller may send a Bundle of reads (see process).
	r.Handle("POST /fhir", bundle, a.compartmented("", a.bundle))
	r.Handle("POST /fhir/{$}", bundle, a.compartmented("", a.bundle))
	// $import writes any type: the route needs write scopes on every
	// type, and each resource is authorised (and audited) on its own.
	r.Handle("POST /fhir/$import", concord.Access{
		Action: concord.Action{ResourceType: "*", Ops: concord.OpCreate | concord.OpUpdate}, Object: "fhir/$import",
	}, a.typed("", a.importNDJSON))
	// The system history spans every type: only a wildcard scope reads it.
	r.Handle("GET /fhir/_history", concord.Access{
		Action: concord.Action{ResourceType: "*", Ops: concord.OpRead | concord.OpSearch}, Audit: concord.AuditRead,
		Object: "fhir/_history",
	}, a.compartmented("", a.historySystem))
	for _, t := range fhir.ResourceTypes() {
		base := "/fhir/" + t
		access := func(ops concord.Ops, audit string) concord.Access {
			return concord.Access{Action: concord.Action{ResourceType: t, Ops: ops}, Audit: audit}
		}
		// Writes append their own audit record in the same transaction as
		// the change; reads are audited by the front door.
		r.Handle("POST "+base, access(concord.OpCreate, ""), a.typed(t, a.create))
		r.Handle("GET "+base, access(concord.OpSearch, concord.AuditRead), a.compartmented(t, a.searchType))
		r.Handle("PUT "+base, access(concord.OpUpdate|concord.OpSearch, ""), a.typed(t, a.conditionalUpdate))
		r.Handle("DELETE "+base, access(concord.OpDelete|concord.OpSearch, ""), a.typed(t, a.conditionalDelete))
		r.Handle("POST "+base+"/_search", access(concord.OpSearch, concord.AuditRead), a.compartmented(t, a.searchType))
		r.Handle("GET "+base+"/{id}", access(concord.OpRead, concord.AuditRead), a.compartmented(t, a.read))
		r.Handle("PUT "+base+"/{id}", access(concord.OpUpdate, ""), a.typed(t, a.update))
		r.Handle("PATCH "+base+"/{id}", access(concord.OpUpdate, ""), a.typed(t, a.patch))
		r.Handle("DELETE "+base+"/{id}", access(concord.OpDelete, ""), a.typed(t, a.delete))
		r.Handle("GET "+base+"/{id}/_history/{vid}", access(concord.OpRead, concord.AuditRead), a.compartmented(t, a.vread))
		r.Handle("GET "+base+"/{id}/_history", access(concord.OpRead, concord.AuditRead), a.compartmented(t, a.historyInstance))
		r.Handle("GET "+base+"/_history", access(concord.OpRead|concord.OpSearch, concord.AuditRead), a.compartmented(t, a.historyType))
		r.Handle("POST "+base+"/$validate", access(concord.OpRead, concord.AuditExecute), a.typed(t, a.validateOp))
		r.Handle("POST "+base+"/{id}/$validate", access(concord.OpRead, concord.AuditExecute), a.typed(t, a.validateOp))
	}
	// Compartment searches: GET /fhir/Patient/123/Observation and the
	// like, one route per compartment and member type.
	for _, c := range []string{fhir.CompartmentPatient, fhir.CompartmentEncounter, fhir.CompartmentRelatedPerson,
		fhir.CompartmentPractitioner, fhir.CompartmentDevice} {
		for _, t := range fhir.CompartmentTypes(c) {
			access := concord.Access{Action: concord.Action{ResourceType: t, Ops: concord.OpSearch}, Audit: concord.AuditRead}
			r.Handle("GET /fhir/"+c+"/{id}/"+t, access, a.compartmented(t, a.compartmentSearch(c)))
		}
	}
	// $everything: the route needs read and search on the owner's type;
	// each type it returns is checked against the caller's scopes.
	for _, c := range []string{fhir.CompartmentPatient, fhir.CompartmentEncounter} {
		access := concord.Access{Action: concord.Action{ResourceType: c, Ops: concord.OpRead | concord.OpSearch}, Audit: concord.AuditRead}
		r.Handle("GET /fhir/"+c+"/{id}/$everything", access, a.compartmented(c, a.everything))
		r.Handle("POST /fhir/"+c+"/{id}/$everything", access, a.compartmented(c, a.everything))
	}
}

// compartmented is typed for the interactions that limit a
// patient-context caller to its compartment (search, read, vread,
// history).
func (a *api) compartmented(typ string, h func(w http.ResponseWriter, r *http.Request, typ string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkFormat(r); err != nil {
			httperr.Write(w, r, err)
			return
		}
		h(w, r, typ)
	})
}

// typed binds a handler to its resource type, after refusing callers
// limited to one patient's compartment: writes and history do not check
// compartments yet, so such callers get nothing here rather than more
// than their own data (search, read, vread and history do: see
// compartmented).
func (a *api) typed(typ string, h func(w http.ResponseWriter, r *http.Request, typ string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := concord.PrincipalFrom(r.Context()); p != nil && p.Patient != "" {
			httperr.Write(w, r, concord.Errorf(concord.EFORBIDDEN,
				"patient-context access to the FHIR API needs compartment checks, which this build does not have yet"))
			return
		}
		if err := checkFormat(r); err != nil {
			httperr.Write(w, r, err)
			return
		}
		h(w, r, typ)
	})
}
