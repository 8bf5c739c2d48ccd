package fhirapi

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/internal/httperr"
)

// metadata is the CapabilityStatement: what this build really supports,
// generated from the same lists the routes are registered from.
func (a *api) metadata(w http.ResponseWriter, r *http.Request) {
	resources := capabilityResources()
	if len(a.opt.TypeOperations) > 0 {
		resources = slices.Clone(resources)
		for i, res := range resources {
			extra := a.opt.TypeOperations[res["type"].(string)]
			if len(extra) == 0 {
				continue
			}
			ops := []any{validateOperation[0]}
			for _, op := range extra {
				ops = append(ops, op)
			}
			r := maps.Clone(res)
			r["operation"] = ops
			resources[i] = r
		}
	}
	if f := a.opt.ResourceExtensions; f != nil {
		exts, err := f(r.Context())
		if err != nil {
			httperr.Write(w, r, err)
			return
		}
		if len(exts) > 0 {
			resources = slices.Clone(resources)
			for i, res := range resources {
				if x := exts[res["type"].(string)]; len(x) > 0 {
					res = maps.Clone(res)
					res["extension"] = x
					resources[i] = res
				}
			}
		}
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
			"documentation": "FHIR JSON only (XML may follow later). Bearer tokens with SMART scopes; callers limited " +
				"to one patient's compartment see only that compartment in searches, includes, reads and history, " +
				"and may not write. Search: chains up to three links, _has, _include/_revinclude with :iterate, " +
				"_sort, _count (at most 1000) with _offset paging, _total, _summary, _elements; unknown parameters " +
				"are ignored and reported unless Prefer: handling=strict.",
			"resource":    resources,
			"interaction": []map[string]string{{"code": "history-system"}, {"code": "transaction"}, {"code": "batch"}},
		}},
	}
	if len(a.opt.Operations) > 0 {
		cs["rest"].([]map[string]any)[0]["operation"] = a.opt.Operations
	}
	if len(a.opt.Instantiates) > 0 {
		cs["instantiates"] = a.opt.Instantiates
	}
	if a.opt.WebsocketPath != "" {
		// R4's extension for the websocket subscription channel's URL.
		ws := WebsocketURL(r, a.opt.WebsocketPath)
		cs["rest"].([]map[string]any)[0]["extension"] = []map[string]string{{
			"url": "http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket", "valueUri": ws}}
	}
	w.Header().Set("Content-Type", fhirJSON)
	json.NewEncoder(w).Encode(cs)
}

// WebsocketURL is the absolute ws:// (or wss://, behind TLS) URL of path
// (from the server's root) on the host r was sent to.
func WebsocketURL(r *http.Request, path string) string {
	return "ws" + strings.TrimPrefix(strings.TrimSuffix(baseURL(r), "/fhir"), "http") + path
}

// capabilitySearchParams lists the search parameters of a resource type that
// searches take: every one with an expression, and _id, _lastUpdated and
// _list.
func capabilitySearchParams(typ string) []map[string]string {
	out := []map[string]string{
		{"name": "_id", "type": "token"}, {"name": "_lastUpdated", "type": "date"}, {"name": "_list", "type": "special"},
	}
	for _, p := range fhir.SearchParams(typ) {
		if p.Expression == "" || p.Type == fhir.SearchSpecial || p.Code == "_id" || p.Code == "_lastUpdated" ||
			(p.Type == fhir.SearchComposite && len(p.Components) != 2) {
			continue
		}
		out = append(out, map[string]string{"name": p.Code, "definition": p.URL, "type": p.Type})
	}
	return out
}

// referenceParams lists the _include (Type:param of typ) or _revinclude
// (Other:param pointing to typ) values searches on typ take.
func referenceParams(typ string, include bool) []string {
	out := []string{"*"}
	if include {
		for _, p := range fhir.SearchParams(typ) {
			if p.Type == fhir.SearchReference {
				out = append(out, typ+":"+p.Code)
			}
		}
		return out
	}
	for _, other := range fhir.ResourceTypes() {
		for _, p := range fhir.SearchParams(other) {
			if p.Type == fhir.SearchReference && (len(p.Targets) == 0 || slices.Contains(p.Targets, typ)) {
				out = append(out, other+":"+p.Code)
			}
		}
	}
	return out
}

// capabilityResources is the CapabilityStatement's resource list, built
// once: it depends only on the definitions.
var capabilityResources = sync.OnceValue(func() []map[string]any {
	interactions := []map[string]string{}
	for _, c := range []string{"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"} {
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
			"conditionalCreate": true,
			"conditionalUpdate": true,
			"conditionalDelete": "single",
			"searchInclude":     referenceParams(t, true),
			"searchRevInclude":  referenceParams(t, false),
			"searchParam":       capabilitySearchParams(t),
			"operation":         append(slices.Clone(validateOperation), everythingOperation[t]...),
		})
	}
	return resources
})
