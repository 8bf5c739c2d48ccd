package bulk

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/concord-health/concord"
	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
	"github.com/concord-health/concord/internal/search"
)

// Export levels.
const (
	levelSystem  = "system"  // GET [base]/$export
	levelPatient = "patient" // GET [base]/Patient/$export
	levelGroup   = "group"   // GET [base]/Group/[id]/$export
)

// Limits on a kick-off request.
const (
	maxParametersBody = 1 << 20 // a POST Parameters body
	maxTypeFilters    = 100     // _typeFilter values
	maxPatientParams  = 1000    // patient values
)

// ndjson is the one output format, and the Content-Type of every file.
const ndjson = "application/fhir+ndjson"

// outputFormats are the _outputFormat values that mean NDJSON (Bulk Data
// Access 2.0.0: the server SHALL accept the full MIME type and these
// abbreviations).
var outputFormats = map[string]bool{"application/fhir+ndjson": true, "application/ndjson": true, "ndjson": true}

// params is a parsed kick-off request, kept with the job as JSON.
type params struct {
	Level string `json:"level"`
	Group string `json:"group,omitempty"`
	// Patients are the patients whose compartments are exported: the
	// patient parameter's ids (Patient level), the Group's members
	// (Group level, an empty list when it has none); nil for every
	// patient.
	Patients []string `json:"patients"`
	// Skipped are the Group's members that are not Patients, reported in
	// the error file.
	Skipped []string `json:"skipped,omitempty"`
	// Types are the types to export, in order.
	Types []string  `json:"types"`
	Since time.Time `json:"since,omitzero"`
	// TypeFilters are each type's _typeFilter searches (query strings).
	TypeFilters map[string][]string `json:"typeFilters,omitempty"`
}

// rawParams are a kick-off's parameters as given, by name.
type rawParams map[string][]string

// fromQuery takes the parameters of a GET kick-off.
func fromQuery(q url.Values) rawParams { return rawParams(q) }

// fromParameters reads the parameters of a POST kick-off: a FHIR
// Parameters resource with valueString, valueInstant (_since) and
// valueReference (patient) parameters.
func fromParameters(body []byte) (rawParams, error) {
	if len(body) > maxParametersBody {
		return nil, concord.Errorf(concord.ETOOLARGE, "a Parameters body is at most %d bytes", maxParametersBody)
	}
	doc, err := fhirpath.ParseJSON(body)
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "the body is not valid JSON: %v", err)
	}
	root := doc.Root()
	if rt, ok := root.Get("resourceType"); !ok || rt.Kind() != fhirpath.JSONString || rt.String() != "Parameters" {
		return nil, concord.Errorf(concord.EINVALID, "the body of a POST $export is a Parameters resource")
	}
	out := rawParams{}
	list, ok := root.Get("parameter")
	if !ok {
		return out, nil
	}
	if list.Kind() != fhirpath.JSONArray {
		return nil, concord.Errorf(concord.EINVALID, "Parameters.parameter is not an array")
	}
	var bad error
	i := -1
	list.Each(func(_ string, p fhirpath.JSONRef) bool {
		i++
		if p.Kind() != fhirpath.JSONObject {
			bad = concord.Errorf(concord.EINVALID, "Parameters.parameter[%d] is not an object", i)
			return false
		}
		name, ok := p.Get("name")
		if !ok || name.Kind() != fhirpath.JSONString {
			bad = concord.Errorf(concord.EINVALID, "Parameters.parameter[%d] has no name", i)
			return false
		}
		var val string
		found := false
		p.Each(func(k string, v fhirpath.JSONRef) bool {
			switch k {
			case "valueString", "valueInstant", "valueDateTime", "valueCode", "valueUri", "valueCanonical":
				if v.Kind() == fhirpath.JSONString {
					val, found = v.String(), true
				}
			case "valueReference":
				if v.Kind() != fhirpath.JSONObject {
					break
				}
				if ref, ok := v.Get("reference"); ok && ref.Kind() == fhirpath.JSONString {
					val, found = ref.String(), true
				}
			}
			return !found
		})
		if !found {
			bad = concord.Errorf(concord.EINVALID, "Parameters.parameter[%d] (%s) has no value this server reads (a string, instant or reference)", i, name.String())
			return false
		}
		out[name.String()] = append(out[name.String()], val)
		return true
	})
	if bad != nil {
		return nil, bad
	}
	return out, nil
}

// parse checks the parameters of a kick-off at level (group: the Group's
// id) and returns what to export. Unknown parameters are refused rather
// than ignored: an export that silently leaves a filter out would give
// more data than asked for.
func parse(level, group string, raw rawParams, now time.Time) (*params, error) {
	bad := func(format string, a ...any) error { return concord.Errorf(concord.EINVALID, format, a...) }
	p := &params{Level: level, Group: group}
	for name := range raw {
		switch name {
		case "_outputFormat", "_since", "_type", "_typeFilter", "_format":
		case "patient":
			if level == levelSystem {
				return nil, bad("the patient parameter applies to Patient and Group exports only")
			}
		case "_elements", "includeAssociatedData", "organizeOutputBy", "_until", "allowPartialManifests":
			return nil, bad("%s is not supported by this server", name)
		default:
			return nil, bad("unknown $export parameter %q", name)
		}
	}
	if fs := raw["_outputFormat"]; len(fs) > 0 {
		// A "+" a client left unescaped in the URL arrives as a space.
		if len(fs) > 1 || !outputFormats[strings.ReplaceAll(fs[0], " ", "+")] {
			return nil, bad("_outputFormat %q: this server writes application/fhir+ndjson (also asked for as application/ndjson or ndjson)", strings.Join(fs, ","))
		}
	}
	if ss := raw["_since"]; len(ss) > 0 {
		if len(ss) > 1 {
			return nil, bad("_since is given more than once")
		}
		t, err := time.Parse(time.RFC3339Nano, ss[0])
		if err != nil {
			return nil, bad("_since %q is not a FHIR instant (such as 2026-01-02T03:04:05Z)", ss[0])
		}
		p.Since = t.UTC()
	}
	// The types: those asked for, else every type the level covers.
	universe := fhir.ResourceTypes()
	if level != levelSystem {
		universe = fhir.CompartmentTypes(fhir.CompartmentPatient)
	}
	if ts := raw["_type"]; len(ts) > 0 {
		for _, v := range ts {
			for _, t := range strings.Split(v, ",") {
				t = strings.TrimSpace(t)
				switch {
				case !fhir.IsResource(t):
					return nil, bad("_type: %q is not a FHIR R4 resource type", t)
				case !slices.Contains(universe, t):
					return nil, bad("_type: %s is not in the Patient compartment, so a %s-level export has none", t, level)
				case !slices.Contains(p.Types, t):
					p.Types = append(p.Types, t)
				}
			}
		}
	} else {
		p.Types = universe
	}
	tf := raw["_typeFilter"]
	if len(tf) > maxTypeFilters {
		return nil, bad("at most %d _typeFilter values", maxTypeFilters)
	}
	for _, v := range tf {
		typ, query, ok := strings.Cut(v, "?")
		if !ok || !fhir.IsResource(typ) {
			return nil, bad("_typeFilter %q is not of the form Type?search", v)
		}
		if !slices.Contains(p.Types, typ) {
			return nil, bad("_typeFilter %q: %s is not among the exported types", v, typ)
		}
		if _, err := typeFilter(typ, query, now); err != nil {
			return nil, err
		}
		if p.TypeFilters == nil {
			p.TypeFilters = map[string][]string{}
		}
		p.TypeFilters[typ] = append(p.TypeFilters[typ], query)
	}
	if ps := raw["patient"]; len(ps) > 0 {
		if len(ps) > maxPatientParams {
			return nil, bad("at most %d patient values", maxPatientParams)
		}
		for _, v := range ps {
			id, ok := strings.CutPrefix(v, "Patient/")
			if !ok || !concord.IsFHIRID(id) {
				return nil, bad("patient %q is not a reference Patient/id", v)
			}
			if !slices.Contains(p.Patients, id) {
				p.Patients = append(p.Patients, id)
			}
		}
	}
	return p, nil
}

// typeFilter parses one _typeFilter search on typ through the search
// parser, strictly: a parameter it does not know, or one that shapes
// results rather than selecting them (_count, _sort, _include, …), is
// refused.
func typeFilter(typ, query string, now time.Time) (*concord.SearchQuery, error) {
	vals, err := url.ParseQuery(query)
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "_typeFilter %s?%s: %v", typ, query, err)
	}
	if len(vals) == 0 {
		return nil, concord.Errorf(concord.EINVALID, "_typeFilter %s?%s has no search parameter", typ, query)
	}
	for k := range vals {
		switch {
		case k == "_count" || k == "_offset" || k == "_sort" || k == "_total" || k == "_summary" || k == "_elements" ||
			k == "_format" || k == "_pretty" || strings.HasPrefix(k, "_include") || strings.HasPrefix(k, "_revinclude"):
			return nil, concord.Errorf(concord.EINVALID, "_typeFilter %s?%s: %s is not supported in a _typeFilter", typ, query, k)
		}
	}
	req, err := search.Parse(typ, vals, search.Options{Strict: true, Now: now})
	if err != nil {
		return nil, concord.Errorf(concord.EINVALID, "_typeFilter %s?%s: %s", typ, query, concord.ErrorMessage(err))
	}
	return &req.Query, nil
}

// encode returns p as the job's JSON.
func (p *params) encode() string {
	b, _ := json.Marshal(p)
	return string(b)
}

// decodeParams reads a job's params.
func decodeParams(s string) (*params, error) {
	var p params
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, concord.WrapError(concord.EINTERNAL, err, "export job parameters unreadable")
	}
	return &p, nil
}
