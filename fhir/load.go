package fhir

import (
	_ "embed"
	"fmt"
	"sync"

	"github.com/concord-health/concord/fhir/internal/defs"
)

//go:embed r4.defs.gz
var encoded []byte

// store is the decoded, linked data.
type store struct {
	sourceParams  int
	types         []*TypeDef
	typeByName    map[string]*TypeDef
	params        []*SearchParameter
	paramByURL    map[string]*SearchParameter
	paramsOf      map[string][]*SearchParameter          // resource type → its parameters and the inherited ones, by code
	paramByCode   map[string]map[string]*SearchParameter // resource type → code → parameter
	valueSets     map[string]*Expansion
	valueSetsList []*Expansion
	excluded      []Exclusion

	compartmentParams compartments
	compartmentTypes  map[string][]string
}

var (
	loadOnce sync.Once
	loaded   *store
)

// data returns the definitions, decoding them on the first call. The data
// is embedded at build time, so failing to decode it is a build defect.
func data() *store {
	loadOnce.Do(func() {
		d, err := defs.Decode(encoded)
		if err != nil {
			panic(fmt.Sprintf("fhir: embedded definitions: %v", err))
		}
		loaded = link(d)
	})
	return loaded
}

// link builds the in-memory form: pointers between types, elements and
// their children, and the lookup maps.
func link(d *defs.Defs) *store {
	s := &store{
		sourceParams: d.SourceSearchParams,
		typeByName:   make(map[string]*TypeDef, len(d.Types)),
	}
	constraints := make([]*Constraint, len(d.Constraints))
	for i, c := range d.Constraints {
		constraints[i] = &Constraint{Key: c.Key, Severity: c.Severity, Human: c.Human, Expression: c.Expression, Source: c.Source}
	}
	for i := range d.Types {
		t := linkType(&d.Types[i], constraints)
		s.types = append(s.types, t)
		s.typeByName[t.Name] = t
	}
	for _, t := range s.types {
		t.BaseType = s.typeByName[t.Base]
	}
	s.linkSearchParams(d)
	s.linkValueSets(d)
	s.compartmentParams, s.compartmentTypes = linkCompartments(d)
	for _, x := range d.Excluded {
		s.excluded = append(s.excluded, Exclusion(x))
	}
	return s
}
