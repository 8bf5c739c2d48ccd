package search

import (
	"strings"
	"sync"

	"github.com/concord-health/concord/fhir"
	"github.com/concord-health/concord/fhirpath"
)

// compiled is a search parameter with its expressions compiled.
type compiled struct {
	p     *fhir.SearchParameter
	x     *fhirpath.Expression
	parts []*fhirpath.Expression // a composite's components
	kinds []string               // their parameter types
}

// byType caches each resource type's compiled parameters.
var byType sync.Map // string -> []compiled

// serverParams are the parameters the store answers from its own columns
// (or that have no expression): they are not indexed.
var serverParams = map[string]bool{"_id": true, "_lastUpdated": true, "_content": true, "_text": true, "_query": true}

// paramsOf returns the indexed parameters of a resource type.
func paramsOf(typ string) []compiled {
	if v, ok := byType.Load(typ); ok {
		return v.([]compiled)
	}
	var out []compiled
	for _, p := range fhir.SearchParams(typ) {
		if serverParams[p.Code] || p.Expression == "" || p.Type == fhir.SearchSpecial || Stored(typ, p.Code) != nil {
			continue
		}
		x, err := fhirpath.Compile(p.Expression)
		if err != nil {
			continue // every R4 expression compiles (fhirpath's tests check it)
		}
		c := compiled{p: p, x: x}
		if p.Type == fhir.SearchComposite {
			ok := len(p.Components) == 2
			for _, comp := range p.Components {
				cp, found := fhir.SearchParamByURL(comp.Definition)
				px, err := fhirpath.Compile(comp.Expression)
				if !found || err != nil {
					ok = false
					break
				}
				c.parts = append(c.parts, px)
				c.kinds = append(c.kinds, cp.Type)
			}
			if !ok || c.kinds[0] != fhir.SearchToken {
				continue // composites are indexed when their first part is a token and they have two
			}
		}
		out = append(out, c)
	}
	byType.Store(typ, out)
	return out
}

// Stored returns the parameters whose index rows stand for a parameter
// that is not indexed itself, or nil. R4 defines Observation's combo-X
// parameters (combo-code, combo-value-quantity, combo-code-value-quantity
// …) as X on the Observation and on its components, that is the union of
// X and component-X: their rows would repeat those two parameters' (17%
// of the index rows of the Synthea set), so a search on combo-X reads the
// rows of X and component-X instead.
func Stored(typ, code string) []string {
	x, ok := strings.CutPrefix(code, "combo-")
	if !ok {
		return nil
	}
	if _, ok := fhir.SearchParam(typ, x); !ok {
		return nil
	}
	if _, ok := fhir.SearchParam(typ, "component-"+x); !ok {
		return nil
	}
	return []string{x, "component-" + x}
}
